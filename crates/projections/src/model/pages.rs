//! The persisted form of a model: the checkpoint record, snapshot pages and deltas, each sealed by a CRC-32.

use super::len32;
use crate::error::{ProjectionError, Result};

/// Key of the persisted checkpoint: the next position the persisted state will
/// apply (u64), the snapshot in use (u64) and its number of pages (u32), and
/// the numbers of the first delta and of the next one (u64 each), all
/// big-endian — so a lost page or delta is noticed — then the log's chain
/// hash after the event before the checkpoint (32 bytes; zeros at 0), so
/// that a model is never resumed on another log than the one it was built on.
pub(super) const CHECKPOINT_KEY: &[u8] = b"\x00checkpoint";
/// Prefix of the snapshot pages (then the snapshot's number, big-endian u64,
/// and the page's, big-endian u32). A new snapshot is written page by page
/// beside the one in use, then switched to by the checkpoint record: pages of
/// any other snapshot are left over from an interrupted write, or from before
/// the switch, and are removed.
pub(super) const PAGE: u8 = 1;
/// Prefix of the deltas written since the snapshot (then their number, big-endian u64).
pub(super) const DELTA: u8 = 2;

pub(super) fn damaged(what: &str) -> ProjectionError {
    ProjectionError::Model(format!("persisted model damaged: {what}"))
}

pub(super) fn page_prefix(snapshot: u64) -> [u8; 9] {
    let mut k = [PAGE; 9];
    k[1..].copy_from_slice(&snapshot.to_be_bytes());
    k
}

pub(super) fn page_key(snapshot: u64, n: u32) -> [u8; 13] {
    let mut k = [PAGE; 13];
    k[1..9].copy_from_slice(&snapshot.to_be_bytes());
    k[9..].copy_from_slice(&n.to_be_bytes());
    k
}

pub(super) fn delta_key(seq: u64) -> [u8; 9] {
    let mut k = [DELTA; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// One change: key length (u32 LE), key, then 0 (removed) or 1 with the value's
/// length (u32 LE) and the value.
pub(super) fn push_change(out: &mut Vec<u8>, key: &[u8], value: Option<&[u8]>) {
    out.extend_from_slice(&len32(key.len()).to_le_bytes());
    out.extend_from_slice(key);
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&len32(v.len()).to_le_bytes());
            out.extend_from_slice(v);
        }
    }
}

/// `body` followed by its CRC-32.
pub(super) fn seal(body: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(body.len() + 4);
    sealed.extend_from_slice(body);
    sealed.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    sealed
}

/// Checks a sealed page or delta and calls `f` for each change, in order.
pub(super) fn for_each_change(
    sealed: &[u8],
    mut f: impl FnMut(&[u8], Option<&[u8]>),
) -> Result<()> {
    let split = sealed
        .len()
        .checked_sub(4)
        .ok_or_else(|| damaged("a truncated value"))?;
    let (body, crc) = sealed.split_at(split);
    let mut crc = Cursor(crc);
    if crc32fast::hash(body) != crc.u32()? {
        return Err(damaged("a checksum mismatch"));
    }
    let mut rest = Cursor(body);
    while !rest.0.is_empty() {
        let len = rest.u32()? as usize;
        let key = rest.take(len)?;
        let value = match rest.take(1)? {
            [0] => None,
            [1] => {
                let len = rest.u32()? as usize;
                Some(rest.take(len)?)
            }
            _ => return Err(damaged("an unknown change")),
        };
        f(key, value);
    }
    Ok(())
}

pub(super) struct Cursor<'a>(pub(super) &'a [u8]);

impl<'a> Cursor<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(damaged("a truncated change"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| damaged("a truncated number"))
    }

    pub(super) fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(super) fn u32_be(&mut self) -> Result<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub(super) fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_be_bytes)
    }
}
