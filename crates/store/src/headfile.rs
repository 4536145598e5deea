//! The head file: the log's length and chain head, kept outside sled.
//!
//! sled's recovery stops at the first damaged entry of its log and quietly
//! drops everything after it. The chain alone cannot notice a lost tail, since
//! its head lives in the same files. So after each durable group commit the
//! committer also notes `(count, chain hash of the last record)` here; on open,
//! a log shorter than the note, or whose record at the noted position hashes
//! differently, is refused for writing and reported by `verify`.
//!
//! The note is written after each flush has made its group durable (in the
//! journal), so it never runs ahead of what is durable. It is written without
//! a sync, off the acknowledgement path, and synced at each journal checkpoint
//! (after sled's own files were made durable) and at a clean close: after a
//! power loss it may lag behind the log by the groups since the last
//! checkpoint — which the journal holds — never more. The file's name is made
//! durable in its directory when it is created. Two 64-byte slots are written
//! in turn, each with a sequence number and a CRC, so a torn write damages at
//! most one.

use std::path::Path;

use crate::error::Result;
use crate::io::{self, FileIo, IoFile};
use crate::record::HASH_LEN;

/// File name of the head file inside the store's directory.
pub const HEAD_FILE_NAME: &str = "ecoute-head";
const MAGIC: &[u8; 4] = b"ECHD";
const SLOT: usize = 64;

/// What the head file says: the log held at least `count` events, and the
/// record at `count - 1` had chain hash `hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadNote {
    pub count: u64,
    pub hash: [u8; HASH_LEN],
}

pub(crate) struct HeadFile {
    file: Box<dyn IoFile>,
    seq: u64,
}

/// What reading the head file found.
pub(crate) enum HeadRead {
    /// No note yet (a new store, or one made before head files existed).
    Missing,
    Note(HeadNote),
    /// Both slots are damaged.
    Damaged,
}

fn encode(seq: u64, note: &HeadNote) -> [u8; SLOT] {
    let mut b = [0u8; SLOT];
    b[..4].copy_from_slice(MAGIC);
    b[4..12].copy_from_slice(&seq.to_le_bytes());
    b[12..20].copy_from_slice(&note.count.to_le_bytes());
    b[20..52].copy_from_slice(&note.hash);
    let crc = crc32fast::hash(&b[..52]);
    b[52..56].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<(u64, HeadNote)> {
    if b.len() < 56 || &b[..4] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(b[52..56].try_into().ok()?);
    if crc32fast::hash(&b[..52]) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(b[4..12].try_into().ok()?);
    let count = u64::from_le_bytes(b[12..20].try_into().ok()?);
    let mut hash = [0u8; HASH_LEN];
    hash.copy_from_slice(&b[20..52]);
    Some((seq, HeadNote { count, hash }))
}

impl HeadFile {
    /// Opens (or creates) the head file and reads its note.
    pub(crate) fn open(io: &dyn FileIo, dir: &Path) -> Result<(HeadFile, HeadRead)> {
        let path = dir.join(HEAD_FILE_NAME);
        let file = match io.open(&path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let f = io.open(&path, true)?;
                io.sync_dir(dir)?;
                f
            }
            Err(e) => return Err(e.into()),
        };
        let mut buf = [0u8; 2 * SLOT];
        let len = io::read_full_at(&*file, &mut buf, 0)?;
        let newest = buf[..len]
            .chunks(SLOT)
            .filter_map(decode)
            .max_by_key(|(seq, _)| *seq);
        let (seq, read) = match newest {
            Some((seq, note)) => (seq, HeadRead::Note(note)),
            None if len == 0 => (0, HeadRead::Missing),
            None => (0, HeadRead::Damaged),
        };
        Ok((HeadFile { file, seq }, read))
    }

    /// Notes a new durable head. Not synced: see the module docs.
    pub(crate) fn write(&mut self, note: &HeadNote) -> Result<()> {
        self.seq += 1;
        let slot = u64::try_from(SLOT).unwrap_or(64) * (self.seq % 2);
        io::write_all_at(&*self.file, &encode(self.seq, note), slot)?;
        Ok(())
    }

    /// Makes the notes written so far survive a power loss.
    pub(crate) fn sync(&self) -> Result<()> {
        Ok(self.file.sync_data()?)
    }
}

/// Syncs the head file in `dir`, if there is one (at a journal checkpoint).
pub(crate) fn sync(io: &dyn FileIo, dir: &Path) -> Result<()> {
    match io.open(&dir.join(HEAD_FILE_NAME), false) {
        Ok(f) => Ok(f.sync_data()?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_slot_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, read) = HeadFile::open(&crate::io::RealIo, dir.path()).unwrap();
        assert!(matches!(read, HeadRead::Missing));
        for count in 1..=5u64 {
            f.write(&HeadNote {
                count,
                hash: [count as u8; 32],
            })
            .unwrap();
        }
        drop(f);
        let (_, read) = HeadFile::open(&crate::io::RealIo, dir.path()).unwrap();
        assert!(matches!(read, HeadRead::Note(HeadNote { count: 5, .. })));
        // Tear the newest slot (seq 5 lives in slot 1): the older one answers.
        let path = dir.path().join(HEAD_FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[SLOT + 30] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (mut f, read) = HeadFile::open(&crate::io::RealIo, dir.path()).unwrap();
        assert!(matches!(read, HeadRead::Note(HeadNote { count: 4, .. })));
        // Writing goes on from the highest sequence seen.
        f.write(&HeadNote {
            count: 6,
            hash: [6; 32],
        })
        .unwrap();
        drop(f);
        let (_, read) = HeadFile::open(&crate::io::RealIo, dir.path()).unwrap();
        assert!(matches!(read, HeadRead::Note(HeadNote { count: 6, .. })));
        // Both slots damaged.
        std::fs::write(&path, [0u8; 128]).unwrap();
        assert!(matches!(
            HeadFile::open(&crate::io::RealIo, dir.path()).unwrap().1,
            HeadRead::Damaged
        ));
    }
}
