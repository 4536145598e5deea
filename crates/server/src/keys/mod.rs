//! Encryption of personal values at rest: one key per data subject, wrapped by the
//! key-encryption key (KEK) of the current epoch, itself wrapped by the master key.
//!
//! Every value the domain marks as personal is sealed with XChaCha20-Poly1305 under its
//! subject's key before it reaches the log (a fresh random 24-byte nonce per value; the
//! subject's id is the associated data, so a ciphertext cannot be passed off as another
//! subject's). Subject keys are 256 random bits, kept in `<data>/keys` in plain files
//! of the store's own (`disk.rs` gives their layout): a table of wrapped keys, and a
//! small KEK file overwritten in place. The master key is given from a file or the
//! environment and never written into the data directory.
//!
//! Destroying a subject's key erases every value of that subject at once, wherever it
//! was copied — the log, backups, exports — while the log's hash chain, which covers
//! the ciphertext, still verifies. A destroyed key leaves a marker, so that "erased"
//! and "missing" (damage) are told apart. A destroyed key is then made unrecoverable
//! from the disk by a **new epoch** ([`KeyStore::rewrap`], run by the server's upkeep
//! every scheduler tick, and at open): every live key re-wrapped under a new KEK in a
//! new table, renamed over the old one, and the old KEK overwritten in place. An old
//! table, anywhere, is useless without its KEK, and that KEK exists nowhere.
//!
//! A key is made durable (appended to the table and `fdatasync`ed, one sync shared
//! by concurrent callers) before any value sealed with it is appended, so an
//! acknowledged event never refers to a key a crash could lose.
//!
//! A key is destroyed only once the decision that destroys it (a refused number, an
//! erasure) is in the log: the engine writes an *intent* naming the commit and the
//! keys ([`KeyStore::intend`]) before appending it, destroys the keys once the
//! commit is acknowledged ([`KeyStore::carry_out`]), and at the next start carries
//! out the intents whose commit is in the log and forgets the others — so neither a
//! refused request nor a crash between the commit and the destruction leaves the
//! log and the keys disagreeing.
//!
//! A key store of the sled era (before epochs) is migrated when it is opened, once
//! (`legacy.rs`).

mod disk;
mod legacy;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ecoute_domain::{Sealed, Subject, SubjectId};

use crate::error::AppError;
use disk::{Change, Entry, WRAPPED};
use table::Table;

const NONCE: usize = 24;
/// Most unwrapped keys kept in memory: the subjects of the requests in progress
/// and just before (a call's few persons, a case's history), not a year's
/// subjects — fewer keys in clear in memory, and a table of 8,192 slots (about
/// 400 KiB, kept when cleared) rather than 131,072 (6.5 MiB).
const CACHE_MAX: usize = 4_096;

/// The master key: 256 bits, given as 64 hexadecimal digits; wiped from memory
/// when dropped.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl MasterKey {
    /// Parses 64 hexadecimal digits (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Self, AppError> {
        let s = s.trim();
        let bad = || AppError::bad("master key", "must be 64 hexadecimal digits (256 bits)");
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(MasterKey(key))
    }

    /// Draws a new master key from the operating system.
    pub fn generate() -> Result<Self, AppError> {
        Ok(MasterKey(random()?))
    }

    /// The key as 64 hexadecimal digits, to be written to a protected file.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// A key in clear (a KEK, or a subject's key on its way to a new wrapping), wiped
/// from memory when dropped.
struct Secret([u8; 32]);

impl Secret {
    fn from_slice(b: &[u8]) -> Option<Secret> {
        <[u8; 32]>::try_from(b).ok().map(Secret)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Why the key store cannot do what was asked. Carried as the cause of an
/// [`AppError`] (a wrong master key, or a store in use, is `NotReady`).
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// A file of the key store does not hold what it must: the file, the byte, what.
    #[error("the key store file {file} is damaged at byte {offset}: {what}")]
    Damaged {
        /// The damaged file.
        file: PathBuf,
        /// Where the damage was found.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// The master key does not open the key store.
    #[error("the master key does not match the one this data directory was created with")]
    WrongMasterKey,
    /// Another process (a running server) has the key store open.
    #[error(
        "the key store {0} is in use by another process (stop the server first, or wait \
         for the master key's rotation to end)"
    )]
    InUse(PathBuf),
    /// There is no key store where one was expected.
    #[error("there is no key store in {0}")]
    Missing(PathBuf),
    /// A read, write or sync failed.
    #[error("key store: {what} {file}: {source}")]
    Io {
        /// The step that failed.
        what: &'static str,
        /// The file it was working on.
        file: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A write or sync failed earlier: writes are refused until a restart.
    #[error("the key store refuses writes after a failure: {0}")]
    Failed(String),
    /// The sled key store of an older version could not be read.
    #[error("the sled key store cannot be read: {0}")]
    Legacy(String),
    /// The operating system gave no randomness.
    #[error("no randomness: {0}")]
    Random(String),
}

impl From<KeyStoreError> for AppError {
    fn from(e: KeyStoreError) -> AppError {
        match e {
            KeyStoreError::WrongMasterKey | KeyStoreError::InUse(_) | KeyStoreError::Failed(_) => {
                AppError::NotReady(e.to_string())
            }
            e => AppError::fault("key store", e),
        }
    }
}

fn random<const N: usize>() -> Result<[u8; N], KeyStoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| KeyStoreError::Random(e.to_string()))?;
    Ok(b)
}

fn aad(label: &[u8], subject: SubjectId) -> Vec<u8> {
    let mut a = label.to_vec();
    a.extend_from_slice(subject.as_uuid().as_bytes());
    a
}

/// The associated data of the KEK of `epoch`, wrapped by the master key.
fn kek_aad(epoch: u64) -> Vec<u8> {
    [b"kek".as_slice(), &epoch.to_le_bytes()].concat()
}

fn encrypt(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Result<(Vec<u8>, Vec<u8>), KeyStoreError> {
    let nonce: [u8; NONCE] = random()?;
    let cipher = XChaCha20Poly1305::new(key.into());
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| KeyStoreError::Random("encryption failed".into()))?;
    Ok((nonce.to_vec(), ct))
}

fn decrypt(
    key: &[u8; 32],
    aad: &[u8],
    nonce: &[u8],
    ct: &[u8],
) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    if nonce.len() != NONCE {
        return None;
    }
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
        .map(zeroize::Zeroizing::new)
}

/// A 256-bit key wrapped by another: nonce, ciphertext and tag, 72 bytes.
fn wrap(by: &[u8; 32], aad: &[u8], key: &[u8; 32]) -> Result<[u8; WRAPPED], KeyStoreError> {
    let (nonce, ct) = encrypt(by, aad, key)?;
    let mut out = [0u8; WRAPPED];
    out[..NONCE].copy_from_slice(&nonce);
    out[NONCE..].copy_from_slice(&ct);
    Ok(out)
}

fn unwrap(by: &[u8; 32], aad: &[u8], wrapped: &[u8; WRAPPED]) -> Option<Secret> {
    decrypt(by, aad, &wrapped[..NONCE], &wrapped[NONCE..]).and_then(|k| Secret::from_slice(&k))
}

/// The key slot of a caller's callback number: a key of its own, so that when the
/// caller then refuses that the number be kept, destroying it removes the number and
/// nothing else.
pub fn number_slot(caller: SubjectId) -> SubjectId {
    let mut h = blake3::Hasher::new_derive_key("ecoute 2026 callback number key slot v1");
    h.update(caller.as_uuid().as_bytes());
    let b: [u8; 16] = h.finalize().as_bytes()[..16].try_into().unwrap_or([0; 16]);
    SubjectId::from_uuid(uuid::Builder::from_custom_bytes(b).into_uuid())
}

/// What the store holds for a subject.
#[derive(Clone, Copy)]
enum Slot {
    Key([u8; 32]),
    Erased,
}

fn remember_in(cache: &mut HashMap<SubjectId, Slot>, subject: SubjectId, slot: Slot) {
    if cache.len() >= CACHE_MAX {
        wipe(cache);
    }
    cache.insert(subject, slot);
}

/// Empties the cache of unwrapped keys, wiping each from memory first.
fn wipe(cache: &mut HashMap<SubjectId, Slot>) {
    for slot in cache.values_mut() {
        if let Slot::Key(key) = slot {
            zeroize::Zeroize::zeroize(key);
        }
    }
    cache.clear();
}

impl Drop for KeyStore {
    fn drop(&mut self) {
        wipe(&mut self.cache());
    }
}

/// What `rotate-master-key` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The key store is now opened by the new master key only, from this epoch on.
    Rotated {
        /// The first epoch under the new master key.
        epoch: u64,
    },
    /// The new master key already opened it (a rotation stopped after its commit
    /// point, now finished).
    AlreadyDone,
}

/// The subjects' keys.
///
/// Locks, always taken in this order: a new epoch's turn, the cache of unwrapped
/// keys (never by a new epoch), then the table; the sync counter is taken alone,
/// and takes the table only to find its file.
pub struct KeyStore {
    cache: Mutex<HashMap<SubjectId, Slot>>,
    table: Mutex<Table>,
    /// Taken by a new epoch from its start to its end: one at a time.
    epoch_turn: Mutex<()>,
    /// Writes made so far, and the count the last sync covered: concurrent requests
    /// share one sync (group commit for keys).
    written: AtomicU64,
    synced: Mutex<u64>,
    /// The `flock` on the directory's lock file, held while the store is open.
    _lock: File,
}

impl KeyStore {
    /// Opens (or creates) the key store in `dir`; refuses a master key that does not
    /// match the one the directory was created with. A key store of the sled era is
    /// migrated first; what a stop in the middle of a new epoch left is finished,
    /// and a destruction not yet followed by a new epoch gets one now.
    pub fn open(dir: &Path, master: &MasterKey) -> Result<Self, AppError> {
        Ok(Self::open_inner(dir, master, true)?)
    }

    fn open_inner(dir: &Path, master: &MasterKey, create: bool) -> Result<Self, KeyStoreError> {
        let has_table = disk::path(dir, disk::TABLE).is_file();
        if !create && !has_table && !legacy::present(dir) {
            return Err(KeyStoreError::Missing(dir.to_path_buf()));
        }
        let new_dir = !dir.exists();
        disk::make_dir(dir).map_err(disk::io("creating", dir))?;
        if new_dir {
            if let Some(parent) = dir.parent() {
                disk::sync_dir(parent).map_err(disk::io("syncing", parent))?;
            }
        }
        let lock = lock(dir)?;
        if legacy::present(dir) {
            // The sled store is the truth until it is retired: whatever a stopped
            // migration wrote is written again.
            let old = legacy::read(dir, master)?;
            Table::create(dir, master, &old.entries, &old.intents)?;
            let keys = old.entries.len();
            drop(old);
            disk::step("retiring the sled key store")?;
            legacy::retire(dir)?;
            tracing::info!(keys, "the sled key store was migrated to key epochs");
        } else if !has_table {
            Table::create(dir, master, &[], &[])?;
        }
        let table = Table::load(dir, master)?;
        legacy::scrub(dir)?;
        let due = table.due();
        let store = KeyStore {
            cache: Mutex::new(HashMap::new()),
            table: Mutex::new(table),
            epoch_turn: Mutex::new(()),
            written: AtomicU64::new(0),
            synced: Mutex::new(0),
            _lock: lock,
        };
        if due {
            store.new_epoch(None)?;
        }
        Ok(store)
    }

    /// Makes a new epoch (see [`Table::commit_epoch`]): the snapshot is written
    /// without the table's lock — keys are created, read and destroyed meanwhile —
    /// then what changed since is added under it. One new epoch at a time.
    fn new_epoch(&self, master: Option<&MasterKey>) -> Result<(), KeyStoreError> {
        let _turn = self.epoch_turn.lock().unwrap_or_else(|p| p.into_inner());
        let frozen = self.table().freeze()?;
        let new = frozen.write_snapshot()?;
        self.table().commit_epoch(frozen, new, master)
    }

    /// `ecoute rotate-master-key`: re-wraps the key store in `dir` under `new`, in a
    /// new epoch, atomically (the rename of the new table is the commit point). Run
    /// while no server holds the directory. Run again after a stop, it finishes:
    /// before the commit point `old` still opens the store and the rotation starts
    /// over; after it, `new` opens it and nothing is left to do.
    pub fn rotate_master_key(
        dir: &Path,
        old: &MasterKey,
        new: &MasterKey,
    ) -> Result<Rotation, AppError> {
        match Self::open_inner(dir, old, false) {
            Ok(store) => {
                store.new_epoch(Some(new))?;
                Ok(Rotation::Rotated {
                    epoch: store.epoch(),
                })
            }
            Err(KeyStoreError::WrongMasterKey) => match Self::open_inner(dir, new, false) {
                Ok(_) => Ok(Rotation::AlreadyDone),
                Err(KeyStoreError::WrongMasterKey) => Err(AppError::NotReady(
                    "neither the old nor the new master key opens this key store".into(),
                )),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Makes a new epoch if one is due — a key was destroyed since the last one, or
    /// many keys were added — so that a destroyed key is nowhere on the disk any
    /// more. Returns whether it did. Blocking I/O, about 6 µs a key; the keys are
    /// re-wrapped without holding the table (requests create, read and destroy keys
    /// meanwhile), which is held only to add what changed since and to sync.
    pub fn rewrap(&self) -> Result<bool, AppError> {
        if !self.table().due() {
            return Ok(false);
        }
        self.new_epoch(None)?;
        Ok(true)
    }

    /// The current epoch: 1 when the store was made, one more at every re-wrap.
    pub fn epoch(&self) -> u64 {
        self.table().epoch
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes every write so far durable, sharing the sync with concurrent callers:
    /// whoever holds the lock syncs all that was written before it started, and
    /// those who waited behind it find their writes covered. (A table replaced by a
    /// new epoch meanwhile was synced whole before its rename.)
    fn sync_shared(&self, mine: u64) -> Result<(), AppError> {
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= mine {
            return Ok(());
        }
        let target = self.written.load(Ordering::SeqCst);
        let file = self.table().file.clone();
        if let Err(e) = file.sync_data() {
            let e = KeyStoreError::Io {
                what: "syncing",
                file: PathBuf::from(disk::TABLE),
                source: e,
            };
            self.table().fail(e.to_string());
            return Err(e.into());
        }
        *synced = target;
        Ok(())
    }

    /// Counts a write and syncs it (with whatever else is waiting).
    fn sync_write(&self) -> Result<(), AppError> {
        let mine = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        self.sync_shared(mine)
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<SubjectId, Slot>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The subject's slot, read from the store; `None` when it never had a key.
    ///
    /// A miss reads the store while holding the cache, and an erasure writes the
    /// store while holding it too (`mark_erased`): a key read just before an
    /// erasure can never be cached after it.
    fn slot(&self, subject: SubjectId) -> Result<Option<Slot>, AppError> {
        let mut cache = self.cache();
        if let Some(s) = cache.get(&subject) {
            return Ok(Some(*s));
        }
        let table = self.table();
        let slot = match table.find(subject)? {
            None => return Ok(None),
            Some(Entry::Erased) => Slot::Erased,
            Some(Entry::Key(w)) => {
                let key = unwrap(&table.kek.0, &aad(b"key", subject), &w)
                    .ok_or_else(|| AppError::internal("a subject's key cannot be unwrapped"))?;
                Slot::Key(key.0)
            }
        };
        remember_in(&mut cache, subject, slot);
        Ok(Some(slot))
    }

    /// Makes sure every subject has a key, creating the missing ones durably (one sync
    /// for all, shared with concurrent callers). Blocking I/O: call it off the async
    /// threads. After a failed write or sync it refuses, for every subject: a key
    /// made then may be in memory and not on disk.
    pub fn ensure(&self, subjects: &[SubjectId]) -> Result<(), AppError> {
        let mut created = false;
        {
            // Two requests may create the same subject's key at once: the one that
            // takes the table first creates it, the other finds it.
            let mut cache = self.cache();
            let mut table = self.table();
            table.check()?;
            for &subject in subjects {
                if cache.contains_key(&subject) || table.find(subject)?.is_some() {
                    continue;
                }
                let key = Secret(random()?);
                let wrapped = wrap(&table.kek.0, &aad(b"key", subject), &key.0)?;
                table.append(Change::Key(subject, wrapped))?;
                remember_in(&mut cache, subject, Slot::Key(key.0));
                created = true;
            }
        }
        if created {
            self.sync_write()?;
        }
        Ok(())
    }

    /// Seals a value of `subject` (whose key must exist: see [`KeyStore::ensure`]).
    pub fn seal(&self, subject: Subject, plain: &[u8]) -> Result<Sealed, AppError> {
        match self.slot(subject.id)? {
            Some(Slot::Key(key)) => {
                let (nonce, ciphertext) = encrypt(&key, &aad(b"value", subject.id), plain)?;
                Ok(Sealed { nonce, ciphertext })
            }
            Some(Slot::Erased) => Err(AppError::Gone("the data of this person".into())),
            // No id in the message: internal errors are logged.
            None => Err(AppError::internal("a subject has no key")),
        }
    }

    /// Opens a sealed value: `Some(text)`, or `None` when the subject was erased.
    pub fn unseal(&self, subject: Subject, sealed: &Sealed) -> Result<Option<String>, AppError> {
        match self.slot(subject.id)? {
            Some(Slot::Key(key)) => {
                let plain = decrypt(
                    &key,
                    &aad(b"value", subject.id),
                    &sealed.nonce,
                    &sealed.ciphertext,
                )
                .ok_or_else(|| {
                    AppError::internal("a sealed value does not decrypt: altered or misplaced")
                })?;
                String::from_utf8(plain.to_vec())
                    .map(Some)
                    .map_err(|_| AppError::internal("a decrypted value is not UTF-8"))
            }
            Some(Slot::Erased) => Ok(None),
            None => Err(AppError::internal(
                "a subject has no key: the key store does not match the log",
            )),
        }
    }

    /// A digest of `data` keyed by the subject's key (BLAKE3 in keyed mode, under a
    /// key derived from the subject's for this use only): `None` once the subject
    /// was erased, so that nothing kept can confirm a guess of what they said.
    pub fn mac(&self, subject: SubjectId, data: &[u8]) -> Result<Option<[u8; 32]>, AppError> {
        match self.slot(subject)? {
            Some(Slot::Key(key)) => {
                let mut derived = blake3::derive_key("ecoute 2026 subject mac v1", &key);
                let mac = *blake3::keyed_hash(&derived, data).as_bytes();
                zeroize::Zeroize::zeroize(&mut derived);
                Ok(Some(mac))
            }
            Some(Slot::Erased) => Ok(None),
            None => Err(AppError::internal("a subject has no key")),
        }
    }

    /// Destroys a subject's key, durably: every value sealed with it is erased for good
    /// (and gone from the disk at the next [`KeyStore::rewrap`]). Returns whether the
    /// subject had a key. The engine destroys keys through [`KeyStore::intend`] and
    /// [`KeyStore::carry_out`], once the decision is in the log.
    pub fn destroy(&self, subject: SubjectId) -> Result<bool, AppError> {
        let had = matches!(self.slot(subject)?, Some(Slot::Key(_)));
        self.mark_erased(subject)?;
        self.sync_write()?;
        Ok(had)
    }

    fn mark_erased(&self, subject: SubjectId) -> Result<(), AppError> {
        let mut cache = self.cache();
        self.table().append(Change::Erased(subject))?;
        remember_in(&mut cache, subject, Slot::Erased);
        Ok(())
    }

    /// Records, durably, that the commit whose first event is `commit` destroys these
    /// keys once it is in the log. Written before the commit is appended; nothing is
    /// destroyed yet.
    pub fn intend(&self, commit: uuid::Uuid, subjects: &[SubjectId]) -> Result<(), AppError> {
        self.table()
            .append(Change::Intent(commit, subjects.to_vec()))?;
        self.sync_write()
    }

    /// The destructions decided and not carried out yet: each commit's first event id
    /// and the keys it destroys.
    pub fn pending(&self) -> Result<Vec<(uuid::Uuid, Vec<SubjectId>)>, AppError> {
        Ok(self
            .table()
            .intents
            .iter()
            .map(|(c, s)| (*c, s.clone()))
            .collect())
    }

    /// Carries out the destruction that `commit` decided, now that it is in the log:
    /// destroys the keys and removes the intent, durably (one sync). The keys leave
    /// the disk at the next new epoch (the server's upkeep, within a scheduler tick).
    pub fn carry_out(&self, commit: uuid::Uuid, subjects: &[SubjectId]) -> Result<(), AppError> {
        for &subject in subjects {
            self.mark_erased(subject)?;
        }
        self.forget_intent(commit)
    }

    /// Removes an intent whose commit is not in the log (it was refused, or lost
    /// before it was acknowledged): its keys stay.
    pub fn forget(&self, commit: uuid::Uuid) -> Result<(), AppError> {
        self.forget_intent(commit)
    }

    fn forget_intent(&self, commit: uuid::Uuid) -> Result<(), AppError> {
        {
            let mut table = self.table();
            if table.intents.contains_key(&commit) {
                table.append(Change::Forget(commit))?;
            }
        }
        self.sync_write()
    }

    /// Whether the subject's key was destroyed.
    pub fn is_erased(&self, subject: SubjectId) -> Result<bool, AppError> {
        Ok(matches!(self.slot(subject)?, Some(Slot::Erased)))
    }
}

/// Takes the key store's lock, or says who holds it.
fn lock(dir: &Path) -> Result<File, KeyStoreError> {
    use fs2::FileExt;
    let path = disk::path(dir, disk::LOCK);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(disk::io("opening", &path))?;
    match file.try_lock_exclusive() {
        Ok(()) => Ok(file),
        Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
            Err(KeyStoreError::InUse(dir.to_path_buf()))
        }
        Err(e) => Err(disk::io("locking", &path)(e)),
    }
}
