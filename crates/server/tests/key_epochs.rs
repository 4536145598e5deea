//! A destroyed key leaves the disk: after an erasure through the API, the server's
//! upkeep makes a new epoch of the key store, and no byte of its files gives the
//! person's key back with the master key in hand. The master key is rotated by
//! `ecoute rotate-master-key`, refused while the server runs, and a `kill -9` at any
//! moment of it leaves exactly one master key that opens everything.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use common::*;
use ecoute_domain::{Subject, SubjectId, Whose};
use ecoute_server::keys::KeyStore;
use ecoute_server::MasterKey;
use serde_json::json;

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(files: &[(PathBuf, Vec<u8>)], needle: &[u8]) -> bool {
    files
        .iter()
        .any(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
}

fn raw(master: &MasterKey) -> [u8; 32] {
    let hex = master.to_hex();
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    k
}

/// Opens 72 bytes (nonce 24 | ciphertext 48) as a 256-bit key wrapped by `by`.
fn unwrap(by: &[u8; 32], aad: &[u8], w: &[u8]) -> Option<Vec<u8>> {
    XChaCha20Poly1305::new(by.into())
        .decrypt(
            XNonce::from_slice(&w[..24]),
            Payload {
                msg: &w[24..72],
                aad,
            },
        )
        .ok()
}

fn kek_aad(epoch: u64) -> Vec<u8> {
    [b"kek".as_slice(), &epoch.to_le_bytes()].concat()
}

fn key_aad(subject: &[u8; 16]) -> Vec<u8> {
    [b"key".as_slice(), subject].concat()
}

/// What a reader of the disk holding the master key gets: every KEK that some 72
/// bytes of some file open to (for every epoch up to `epochs`), with its wrapped
/// form.
fn keks(files: &[(PathBuf, Vec<u8>)], master: &[u8; 32], epochs: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for (_, bytes) in files {
        for w in bytes.windows(72) {
            for e in 1..=epochs {
                if let Some(k) = unwrap(master, &kek_aad(e), w) {
                    out.push((k, w.to_vec()));
                }
            }
        }
    }
    out
}

/// The subject's wrapped key as the table holds it: after its id, in a snapshot
/// record (kind 1, then the key) or an appended change (the key right after).
fn wrapped_key(files: &[(PathBuf, Vec<u8>)], subject: &[u8; 16]) -> Vec<u8> {
    let (_, table) = files
        .iter()
        .find(|(p, _)| p.ends_with("table"))
        .expect("a table");
    let at = table
        .windows(16)
        .position(|w| w == subject)
        .expect("the subject in the table");
    let after = &table[at + 16..];
    if after[0] == 1 && after.len() >= 73 {
        after[1..73].to_vec()
    } else {
        after[..72].to_vec()
    }
}

/// Whether any 72 bytes of any file open as `subject`'s key, under the master key
/// or any KEK it opens.
fn key_recoverable(
    files: &[(PathBuf, Vec<u8>)],
    master: &[u8; 32],
    epochs: u64,
    subject: &[u8; 16],
) -> bool {
    let mut by: Vec<[u8; 32]> = keks(files, master, epochs)
        .into_iter()
        .map(|(k, _)| k.try_into().unwrap())
        .collect();
    by.push(*master);
    files.iter().any(|(_, bytes)| {
        bytes
            .windows(72)
            .any(|w| by.iter().any(|k| unwrap(k, &key_aad(subject), w).is_some()))
    })
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} did not happen"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_persons_key_leaves_every_file_within_a_tick() {
    let h = Harness::start_with(|cfg| cfg.app.scheduler_tick = Duration::from_millis(20)).await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let (_, victim) = platform_call(&h, &listener, true).await;
    let (_, other) = platform_call(&h, &listener, true).await;
    let id = |s: &str| *s.parse::<uuid::Uuid>().unwrap().as_bytes();
    let (victim_id, other_id) = (id(&victim), id(&other));
    let keys_dir = h.dir.path().join("keys");
    let master = raw(&h.master);

    // Before: the victim's wrapped key and the epoch's KEK, wrapped and in clear.
    let before = files(&keys_dir);
    let epoch = h.app().keys().epoch();
    let wrapped = wrapped_key(&before, &victim_id);
    let old_keks = keks(&before, &master, epoch + 1);
    assert_eq!(old_keks.len(), 1, "one KEK on disk");
    assert!(
        key_recoverable(&before, &master, epoch + 1, &victim_id),
        "the scan finds a live key"
    );

    h.post(&dpo, &format!("/v1/subjects/{victim}/erasure"), json!({}))
        .await
        .ok();
    let keys = h.app().keys().clone();
    until("the new epoch", || keys.epoch() > epoch).await;
    let epochs = keys.epoch() + 1;

    let after = files(&keys_dir);
    assert!(
        !contains(&after, &wrapped),
        "the old wrapped key is on disk"
    );
    for (kek, kek_wrapped) in &old_keks {
        assert!(!contains(&after, kek), "the old KEK is on disk in clear");
        assert!(
            !contains(&after, kek_wrapped),
            "the old KEK is on disk wrapped"
        );
    }
    assert!(
        !key_recoverable(&after, &master, epochs, &victim_id),
        "a blob opens as her key"
    );
    assert!(
        key_recoverable(&after, &master, epochs, &other_id),
        "another's key is still there"
    );
    let victim_subject = Subject {
        id: SubjectId::from_uuid(victim.parse().unwrap()),
        whose: Whose::Victim,
    };
    assert!(keys.is_erased(victim_subject.id).unwrap());
    // Files stay their user's alone.
    for (path, _) in &after {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{}", path.display());
    }
    h.stop().await;
}

fn rotate(data: &Path, old: &Path, new: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ecoute"));
    c.arg("--data-dir")
        .arg(data)
        .arg("rotate-master-key")
        .arg("--master-key-file")
        .arg(old)
        .arg("--new-master-key-file")
        .arg(new)
        .env_remove("ECOUTE_MASTER_KEY_FILE")
        .env_remove("ECOUTE_NEW_MASTER_KEY_FILE");
    c
}

fn key_file(dir: &Path, name: &str, key: &MasterKey) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, key.to_hex()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_key_is_rotated_with_the_server_stopped() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let case = transferred_case(&h, &listener, "69").await;
    let old = h.master.clone();
    let secrets = tempfile::tempdir().unwrap();
    let old_file = key_file(secrets.path(), "old.key", &old);
    let new_file = secrets.path().join("new.key");

    // Refused while the server holds the data directory; nothing is created.
    let out = rotate(h.dir.path(), &old_file, &new_file)
        .arg("--create-new-master-key")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use") && err.contains("stop the server"),
        "{err}"
    );

    let dir = h.stop().await;
    let out = rotate(dir.path(), &old_file, &new_file)
        .arg("--create-new-master-key")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&new_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0);
    let new = MasterKey::from_hex(&std::fs::read_to_string(&new_file).unwrap()).unwrap();

    // The old key opens nothing any more: the server refuses it.
    assert!(
        ecoute_server::Server::start(config(dir.path(), old.clone()))
            .await
            .is_err()
    );
    let all = files(&dir.path().join("keys"));
    assert!(
        keks(&all, &raw(&old), 16).is_empty(),
        "a KEK opens under the old key"
    );
    // With the new key, everything opens.
    let server = ecoute_server::Server::start(config(dir.path(), new.clone()))
        .await
        .unwrap();
    let history = reqwest::Client::new()
        .get(format!("http://{}/v1/cases/{case}/history", server.addr()))
        .bearer_auth(&referent.token)
        .send()
        .await
        .unwrap();
    assert!(history.status().is_success(), "{}", history.status());
    assert!(history.text().await.unwrap().contains("Jeanne Martin"));
    server.shutdown().await.unwrap();
    // Run again with the old key: the rotation is already done.
    let out = rotate(dir.path(), &old_file, &new_file).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already"));
}

/// A small deterministic generator for the kill delays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn a_rotation_killed_at_any_moment_leaves_exactly_one_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    let mut current = MasterKey::generate().unwrap();
    // Enough keys that a rotation takes a while (its table is rewritten whole).
    let values: Vec<(Subject, ecoute_domain::Sealed)> = {
        let keys = KeyStore::open(&keys_dir, &current).unwrap();
        let all: Vec<SubjectId> = (0..5_000)
            .map(|_| SubjectId::from_uuid(uuid::Uuid::new_v4()))
            .collect();
        for chunk in all.chunks(1_000) {
            keys.ensure(chunk).unwrap();
        }
        keys.rewrap().unwrap();
        all.iter()
            .step_by(499)
            .map(|&id| {
                let s = Subject {
                    id,
                    whose: Whose::Caller,
                };
                (s, keys.seal(s, id.to_string().as_bytes()).unwrap())
            })
            .collect()
    };
    // How long one rotation takes here: kills land before, during and after it.
    let t = std::time::Instant::now();
    let next = MasterKey::generate().unwrap();
    let out = rotate(
        dir.path(),
        &key_file(secrets.path(), "k0", &current),
        &key_file(secrets.path(), "k1", &next),
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let span = u64::try_from(t.elapsed().as_millis()).unwrap().max(20) + 20;
    current = next;

    // Kills swept from the start to past the end of a rotation, with jitter.
    let seed = std::env::var("ECOUTE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3977);
    let mut rng = Lcg(seed);
    let rounds: u64 = 10;
    let (mut rotated, mut interrupted) = (0, 0);
    for round in 0..rounds {
        let next = MasterKey::generate().unwrap();
        let old_file = key_file(secrets.path(), &format!("old{round}"), &current);
        let new_file = key_file(secrets.path(), &format!("new{round}"), &next);
        let mut child = rotate(dir.path(), &old_file, &new_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let at = span * 5 * round / (4 * (rounds - 1)) + rng.below(span / 8 + 1);
        std::thread::sleep(Duration::from_millis(at));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        // Exactly one of the two keys opens the store, and everything under it.
        // (The other is refused as not matching, not for damage.)
        let wrong = |e: &ecoute_server::AppError| e.to_string().contains("does not match");
        let by_old = KeyStore::open(&keys_dir, &current).map(drop);
        let by_new = KeyStore::open(&keys_dir, &next).map(drop);
        let opener = match (by_old, by_new) {
            (Ok(()), Err(e)) if wrong(&e) => {
                interrupted += 1;
                current.clone()
            }
            (Err(e), Ok(())) if wrong(&e) => {
                rotated += 1;
                next.clone()
            }
            other => panic!("round {round} (exit {status:?}): {other:?}"),
        };
        let keys = KeyStore::open(&keys_dir, &opener).unwrap();
        for (s, sealed) in &values {
            assert_eq!(
                keys.unseal(*s, sealed).unwrap(),
                Some(s.id.to_string()),
                "round {round}"
            );
        }
        drop(keys);
        current = opener;
    }
    eprintln!(
        "a rotation takes ~{span} ms; killed {interrupted} times before its commit, \
         {rotated} after (ECOUTE_CRASH_SEED={seed})"
    );
}
