//! The key store's files and their encodings: the key-encryption key's two slots,
//! the key table (a sorted snapshot, then appended changes), and durable writes.
//!
//! ```text
//! kek    two slots, at bytes 0 and 4096, each: "ecoutekk" | epoch u64 |
//!        the KEK wrapped by the master key (nonce 24 | ciphertext 48) | BLAKE3 32
//!        of what precedes. The epoch's slot is `epoch % 2`; the other is zeros.
//! table  header (64 bytes): "ecoutekt" | version u32 | epoch u64 | count u64 |
//!        BLAKE3 8 of what precedes | zeros;
//!        count records of 97 bytes, sorted by subject: subject 16 | kind 1
//!        (1 key, 2 erased) | the key wrapped by the epoch's KEK 72 (zeros when
//!        erased) | BLAKE3 8;
//!        then changes, appended: kind 1 | body length u32 | body | BLAKE3 8.
//! lock   empty; `flock`ed by the process that has the store open.
//! ```
//!
//! Integers are little-endian.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ecoute_domain::SubjectId;
use uuid::Uuid;

use super::KeyStoreError;

pub(super) const LOCK: &str = "lock";
pub(super) const KEK: &str = "kek";
pub(super) const TABLE: &str = "table";
pub(super) const TABLE_NEW: &str = "table.new";

/// A 256-bit key wrapped: nonce 24, ciphertext 32, tag 16.
pub(super) const WRAPPED: usize = 72;
const SLOT_SPAN: u64 = 4096;
const SLOT_LEN: usize = 8 + 8 + WRAPPED + 32;
const KEK_MAGIC: &[u8; 8] = b"ecoutekk";
const TABLE_MAGIC: &[u8; 8] = b"ecoutekt";
const VERSION: u32 = 1;
pub(super) const HEADER: u64 = 64;
pub(super) const RECORD: usize = 16 + 1 + WRAPPED + 8;
/// Largest body of an appended change: an intent of 65,536 keys.
const BODY_MAX: usize = 16 + 16 * 65_536;

/// A subject's entry in the table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Entry {
    Key([u8; WRAPPED]),
    Erased,
}

/// A change appended to the table after its snapshot.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) enum Change {
    Key(SubjectId, [u8; WRAPPED]),
    Erased(SubjectId),
    Intent(Uuid, Vec<SubjectId>),
    Forget(Uuid),
}

fn sum8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&blake3::hash(bytes).as_bytes()[..8]);
    out
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn id_at(b: &[u8], at: usize) -> [u8; 16] {
    let mut x = [0u8; 16];
    x.copy_from_slice(&b[at..at + 16]);
    x
}

pub(super) fn subject(bytes: [u8; 16]) -> SubjectId {
    SubjectId::from_uuid(Uuid::from_bytes(bytes))
}

// --- the KEK file ---------------------------------------------------------------

/// A slot's bytes for the KEK of `epoch`, wrapped by the master key.
pub(super) fn encode_slot(epoch: u64, wrapped: &[u8; WRAPPED]) -> [u8; SLOT_LEN] {
    let mut b = [0u8; SLOT_LEN];
    b[..8].copy_from_slice(KEK_MAGIC);
    b[8..16].copy_from_slice(&epoch.to_le_bytes());
    b[16..16 + WRAPPED].copy_from_slice(wrapped);
    let sum = blake3::hash(&b[..16 + WRAPPED]);
    b[16 + WRAPPED..].copy_from_slice(sum.as_bytes());
    b
}

/// What one slot holds: its epoch and wrapped KEK, or `None` (zeros, torn, damaged).
pub(super) struct Slots {
    pub(super) slots: [Option<(u64, [u8; WRAPPED])>; 2],
    /// Whether each slot holds anything but zeros.
    pub(super) used: [bool; 2],
}

pub(super) fn read_slots(file: &File) -> std::io::Result<Slots> {
    let len = file.metadata()?.len();
    let mut out = Slots {
        slots: [None, None],
        used: [false, false],
    };
    for i in 0..2 {
        let at = SLOT_SPAN * i as u64;
        if len < at + SLOT_LEN as u64 {
            out.used[i] = len > at;
            continue;
        }
        let mut b = [0u8; SLOT_LEN];
        file.read_exact_at(&mut b, at)?;
        out.used[i] = b.iter().any(|&x| x != 0);
        let sum = blake3::hash(&b[..16 + WRAPPED]);
        if &b[..8] == KEK_MAGIC && &b[16 + WRAPPED..] == sum.as_bytes() {
            let mut w = [0u8; WRAPPED];
            w.copy_from_slice(&b[16..16 + WRAPPED]);
            out.slots[i] = Some((u64_at(&b, 8), w));
        }
    }
    Ok(out)
}

/// Overwrites slot `index` in place and syncs.
pub(super) fn write_slot(file: &File, index: u64, bytes: &[u8; SLOT_LEN]) -> std::io::Result<()> {
    file.write_all_at(bytes, SLOT_SPAN * index)?;
    file.sync_data()
}

/// Overwrites slot `index` with zeros in place and syncs: the KEK it held is gone.
pub(super) fn scrub_slot(file: &File, index: u64) -> std::io::Result<()> {
    write_slot(file, index, &[0u8; SLOT_LEN])
}

/// A new KEK file: zeros, and the slot of `epoch`.
pub(super) fn write_kek_file(
    path: &Path,
    epoch: u64,
    wrapped: &[u8; WRAPPED],
) -> std::io::Result<()> {
    let file = create(path)?;
    file.write_all_at(&vec![0u8; 2 * SLOT_SPAN as usize], 0)?;
    file.write_all_at(&encode_slot(epoch, wrapped), SLOT_SPAN * (epoch % 2))?;
    file.sync_all()
}

// --- the table -------------------------------------------------------------------

pub(super) fn encode_header(epoch: u64, count: u64) -> [u8; HEADER as usize] {
    let mut b = [0u8; HEADER as usize];
    b[..8].copy_from_slice(TABLE_MAGIC);
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[12..20].copy_from_slice(&epoch.to_le_bytes());
    b[20..28].copy_from_slice(&count.to_le_bytes());
    let sum = sum8(&b[..28]);
    b[28..36].copy_from_slice(&sum);
    b
}

/// The table's epoch and snapshot count; `None` when the header is damaged.
pub(super) fn decode_header(b: &[u8; HEADER as usize]) -> Option<(u64, u64)> {
    (&b[..8] == TABLE_MAGIC && u32_at(b, 8) == VERSION && b[28..36] == sum8(&b[..28]))
        .then(|| (u64_at(b, 12), u64_at(b, 20)))
}

pub(super) fn encode_record(subject: SubjectId, entry: &Entry) -> [u8; RECORD] {
    let mut b = [0u8; RECORD];
    b[..16].copy_from_slice(subject.as_uuid().as_bytes());
    match entry {
        Entry::Key(w) => {
            b[16] = 1;
            b[17..17 + WRAPPED].copy_from_slice(w);
        }
        Entry::Erased => b[16] = 2,
    }
    let sum = sum8(&b[..17 + WRAPPED]);
    b[17 + WRAPPED..].copy_from_slice(&sum);
    b
}

/// A snapshot record; `None` when damaged.
pub(super) fn decode_record(b: &[u8]) -> Option<([u8; 16], Entry)> {
    if b.len() != RECORD || b[17 + WRAPPED..] != sum8(&b[..17 + WRAPPED]) {
        return None;
    }
    let entry = match b[16] {
        1 => {
            let mut w = [0u8; WRAPPED];
            w.copy_from_slice(&b[17..17 + WRAPPED]);
            Entry::Key(w)
        }
        2 => Entry::Erased,
        _ => return None,
    };
    Some((id_at(b, 0), entry))
}

pub(super) fn encode_change(change: &Change) -> Vec<u8> {
    let (kind, body): (u8, Vec<u8>) = match change {
        Change::Key(s, w) => (1, [s.as_uuid().as_bytes().as_slice(), w].concat()),
        Change::Erased(s) => (2, s.as_uuid().as_bytes().to_vec()),
        Change::Intent(c, subjects) => {
            let mut body = c.as_bytes().to_vec();
            for s in subjects {
                body.extend_from_slice(s.as_uuid().as_bytes());
            }
            (3, body)
        }
        Change::Forget(c) => (4, c.as_bytes().to_vec()),
    };
    let mut out = Vec::with_capacity(body.len() + 13);
    out.push(kind);
    // Bodies are bounded (`BODY_MAX`), far below u32::MAX.
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&body);
    let sum = sum8(&out);
    out.extend_from_slice(&sum);
    out
}

/// The change at the start of `b` and its length; `None` when incomplete or damaged.
pub(super) fn decode_change(b: &[u8]) -> Option<(Change, usize)> {
    if b.len() < 5 {
        return None;
    }
    let len = usize::try_from(u32_at(b, 1)).ok()?;
    if len > BODY_MAX || b.len() < 5 + len + 8 {
        return None;
    }
    if b[5 + len..5 + len + 8] != sum8(&b[..5 + len]) {
        return None;
    }
    let body = &b[5..5 + len];
    let change = match (b[0], len) {
        (1, 88) => {
            let mut w = [0u8; WRAPPED];
            w.copy_from_slice(&body[16..]);
            Change::Key(subject(id_at(body, 0)), w)
        }
        (2, 16) => Change::Erased(subject(id_at(body, 0))),
        (3, n) if n >= 16 && n % 16 == 0 => Change::Intent(
            Uuid::from_bytes(id_at(body, 0)),
            body[16..]
                .chunks_exact(16)
                .map(|c| subject(id_at(c, 0)))
                .collect(),
        ),
        (4, 16) => Change::Forget(Uuid::from_bytes(id_at(body, 0))),
        _ => return None,
    };
    Some((change, 5 + len + 8))
}

// --- durable writes --------------------------------------------------------------

/// A new file (truncated if it exists), its user's alone.
pub(super) fn create(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// An existing file, for reading and writing.
pub(super) fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// Makes a directory (and its parents), its user's alone.
pub(super) fn make_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Syncs a directory, so that the names created, renamed or removed in it last.
pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Turns an I/O error into the key store's, naming the file and the step.
pub(super) fn io(what: &'static str, file: &Path) -> impl FnOnce(std::io::Error) -> KeyStoreError {
    let file = file.to_path_buf();
    move |source| KeyStoreError::Io { what, file, source }
}

pub(super) fn damaged(file: &Path, offset: u64, what: &str) -> KeyStoreError {
    KeyStoreError::Damaged {
        file: file.to_path_buf(),
        offset,
        what: what.to_string(),
    }
}

pub(super) fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

// --- simulated crashes -----------------------------------------------------------

thread_local! {
    /// Tests only: the step at which this thread's next key-store operation stops,
    /// as a `kill -9` there would (the files stay as the steps before left them).
    static CRASH_AT: Cell<Option<usize>> = const { Cell::new(None) };
    static STEPS: Cell<usize> = const { Cell::new(0) };
}

/// Marks the boundary between two durable writes; in tests, stops there when asked.
pub(super) fn step(what: &'static str) -> Result<(), KeyStoreError> {
    if !cfg!(test) {
        return Ok(());
    }
    let n = STEPS.with(|s| {
        let n = s.get();
        s.set(n + 1);
        n
    });
    if CRASH_AT.with(|c| c.get()) == Some(n) {
        return Err(KeyStoreError::Failed(format!(
            "simulated crash before {what}"
        )));
    }
    Ok(())
}

/// Tests only: stop at the `n`th step from now (`None`: never).
#[cfg(test)]
pub(super) fn crash_at(n: Option<usize>) {
    STEPS.with(|s| s.set(0));
    CRASH_AT.with(|c| c.set(n));
}
