//! The key store as it was before epochs — a sled database whose subject keys the
//! master key wrapped directly — read once to migrate it, then overwritten and removed.
//!
//! sled is log-structured: a key overwritten by an erasure marker stayed in its
//! files. The migration is one way: the new store is written beside sled's files
//! (the names differ), then sled's data file is renamed (the commit point), then
//! every sled file is overwritten with zeros, synced and removed.

use std::path::Path;

use ecoute_domain::SubjectId;
use uuid::Uuid;

use super::disk::{self, damaged, io};
use super::{aad, decrypt, KeyStoreError, MasterKey, Secret};

const TREE: &str = "subject-keys";
const PENDING_TREE: &str = "pending-destructions";
const CHECK_KEY: &[u8] = b"$check";
const CHECK_TEXT: &[u8] = b"ecoute master key check v1";
const ERASED: &[u8] = b"erased";
const NONCE: usize = 24;
/// sled's data file: while it is there, the sled store is the truth.
const DATA: &str = "db";
/// sled's data file once the new store is complete.
const RETIRED: &str = "db.migrated";

/// What the sled store held.
pub(super) struct Legacy {
    /// Every subject's key in clear (wiped when dropped), or its erasure, sorted.
    pub(super) entries: Vec<(SubjectId, Option<Secret>)>,
    pub(super) intents: Vec<(Uuid, Vec<SubjectId>)>,
}

/// Whether `dir` holds a sled key store not migrated yet.
pub(super) fn present(dir: &Path) -> bool {
    dir.join(DATA).is_file()
}

/// Reads the sled store in `dir`, unwrapping its keys with the master key.
pub(super) fn read(dir: &Path, master: &MasterKey) -> Result<Legacy, KeyStoreError> {
    let file = dir.join(DATA);
    let sled_err = |e: sled::Error| KeyStoreError::Legacy(format!("{}: {e}", dir.display()));
    let config = sled::Config::new().path(dir).cache_capacity(2 << 20);
    let db = ecoute_store::open_sled(&config, std::time::Duration::from_secs(5))
        .map_err(|e| KeyStoreError::Legacy(format!("{}: {e}", dir.display())))?;
    let tree = db.open_tree(TREE).map_err(sled_err)?;
    let pending = db.open_tree(PENDING_TREE).map_err(sled_err)?;
    let mut entries = Vec::new();
    // The check first: a wrong master key is told apart from a damaged key.
    let check = tree.get(CHECK_KEY).map_err(sled_err)?;
    if let Some(v) = &check {
        let ok = v.len() > NONCE
            && decrypt(&master.0, b"check", &v[..NONCE], &v[NONCE..])
                .is_some_and(|t| t.as_slice() == CHECK_TEXT);
        if !ok {
            return Err(KeyStoreError::WrongMasterKey);
        }
    }
    for item in tree.iter() {
        let (k, v) = item.map_err(sled_err)?;
        if k.as_ref() == CHECK_KEY {
            continue;
        }
        let id: [u8; 16] = k
            .as_ref()
            .try_into()
            .map_err(|_| damaged(&file, 0, "a key of the sled key store is not a subject id"))?;
        let subject = disk::subject(id);
        if v.as_ref() == ERASED {
            entries.push((subject, None));
            continue;
        }
        let key = (v.len() > NONCE)
            .then(|| decrypt(&master.0, &aad(b"key", subject), &v[..NONCE], &v[NONCE..]))
            .flatten()
            .and_then(|k| Secret::from_slice(&k))
            .ok_or_else(|| damaged(&file, 0, "a subject's key does not unwrap"))?;
        entries.push((subject, Some(key)));
    }
    if check.is_none() && !entries.is_empty() {
        return Err(damaged(&file, 0, "the master key's check value is missing"));
    }
    let mut intents = Vec::new();
    for item in pending.iter() {
        let (k, v) = item.map_err(sled_err)?;
        let commit = Uuid::from_slice(&k)
            .map_err(|_| damaged(&file, 0, "a pending destruction has a malformed commit id"))?;
        if v.len() % 16 != 0 {
            return Err(damaged(&file, 0, "a pending destruction is malformed"));
        }
        let subjects = v
            .chunks_exact(16)
            .map(|c| {
                let mut b = [0u8; 16];
                b.copy_from_slice(c);
                disk::subject(b)
            })
            .collect();
        intents.push((commit, subjects));
    }
    entries.sort_by(|a, b| a.0.as_uuid().as_bytes().cmp(b.0.as_uuid().as_bytes()));
    Ok(Legacy { entries, intents })
}

/// Retires sled's data file: from now on the new store is the truth.
pub(super) fn retire(dir: &Path) -> Result<(), KeyStoreError> {
    std::fs::rename(dir.join(DATA), dir.join(RETIRED))
        .map_err(io("retiring the sled key store", dir))?;
    disk::sync_dir(dir).map_err(io("syncing", dir))
}

/// sled's files left in `dir` after a migration: overwritten with zeros, synced,
/// removed.
pub(super) fn scrub(dir: &Path) -> Result<(), KeyStoreError> {
    let entries = std::fs::read_dir(dir).map_err(io("listing", dir))?;
    let mut found = false;
    for entry in entries {
        let entry = entry.map_err(io("listing", dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if name == "blobs" && path.is_dir() {
            for blob in std::fs::read_dir(&path).map_err(io("listing", &path))? {
                let blob = blob.map_err(io("listing", &path))?.path();
                overwrite_and_remove(&blob)?;
            }
            std::fs::remove_dir(&path).map_err(io("removing", &path))?;
            found = true;
        } else if name == RETIRED || name == "conf" || name.starts_with("snap.") {
            overwrite_and_remove(&path)?;
            found = true;
        }
    }
    if found {
        disk::sync_dir(dir).map_err(io("syncing", dir))?;
    }
    Ok(())
}

fn overwrite_and_remove(path: &Path) -> Result<(), KeyStoreError> {
    if path.is_file() {
        let file = disk::open_rw(path).map_err(io("scrubbing", path))?;
        let len = file.metadata().map_err(io("scrubbing", path))?.len();
        let zeros = vec![0u8; 1 << 16];
        let mut at = 0u64;
        while at < len {
            let n = usize::try_from((len - at).min(1 << 16)).unwrap_or(1 << 16);
            std::os::unix::fs::FileExt::write_all_at(&file, &zeros[..n], at)
                .map_err(io("scrubbing", path))?;
            at += n as u64;
        }
        file.sync_all().map_err(io("scrubbing", path))?;
    }
    std::fs::remove_file(path).map_err(io("removing", path))
}

/// Tests only: writes a sled key store exactly as the server did before epochs.
#[cfg(test)]
pub(super) fn write_for_test(
    dir: &Path,
    master: &MasterKey,
    keys: &[(SubjectId, [u8; 32])],
    erased: &[SubjectId],
    intents: &[(Uuid, Vec<SubjectId>)],
) -> Vec<Vec<u8>> {
    let db = sled::Config::new().path(dir).open().unwrap();
    let tree = db.open_tree(TREE).unwrap();
    let pending = db.open_tree(PENDING_TREE).unwrap();
    let seal = |key: &[u8; 32], aad: &[u8], plain: &[u8]| {
        let (nonce, ct) = super::encrypt(key, aad, plain).unwrap();
        [nonce, ct].concat()
    };
    tree.insert(CHECK_KEY, seal(&master.0, b"check", CHECK_TEXT))
        .unwrap();
    let mut wrapped = Vec::new();
    for (s, k) in keys {
        let w = seal(&master.0, &aad(b"key", *s), k);
        tree.insert(s.as_uuid().as_bytes(), w.clone()).unwrap();
        wrapped.push(w);
    }
    for s in erased {
        tree.insert(s.as_uuid().as_bytes(), ERASED).unwrap();
    }
    for (c, subjects) in intents {
        let ids: Vec<u8> = subjects
            .iter()
            .flat_map(|s| *s.as_uuid().as_bytes())
            .collect();
        pending.insert(c.as_bytes(), ids).unwrap();
    }
    db.flush().unwrap();
    wrapped
}
