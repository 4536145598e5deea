//! The journal's on-disk format: a segment header, then frames (`docs/storage-format.md`).
//!
//! A segment starts with a 32-byte header: `"ECWL"`, the journal format (2,
//! u32 LE), the segment's preallocated size (u64 LE), 12 zero bytes, and a
//! CRC-32 of the 28 bytes before it. A frame is a 24-byte header — `len`
//! (u32), `flush` (u32: which write of this segment it came in, from 0),
//! `index` and `count` (u32: its place among that write's frames), the CRC-32
//! of the payload, and a CRC-32 of the 20 header bytes before it, all LE —
//! then the payload: `count` (u32 LE), then per pair `key_len` (u32 LE) · key
//! · `value_len` (u32 LE) · value. The header's own CRC lets replay look for
//! intact frames past a damaged one; `flush`, `index` and `count` let it tell
//! a torn last write from damage to data that was synced.

use crate::error::{Result, StoreError};

/// The key-value pairs of one group, as the committer wrote them.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Bytes of a segment's header.
pub(crate) const SEGMENT_HEADER: usize = 32;
/// Bytes of a frame's header.
pub(crate) const FRAME_HEADER: usize = 24;
/// The journal format this code writes and reads.
pub(super) const FORMAT: u32 = 2;
pub(super) const MAGIC: &[u8; 4] = b"ECWL";
/// A frame larger than this is taken for damage, not a frame.
pub(crate) const MAX_FRAME: u32 = 1 << 30;

/// A segment's header, for a segment preallocated to `capacity` bytes.
pub(crate) fn segment_header(capacity: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..4].copy_from_slice(MAGIC);
    h[4..8].copy_from_slice(&FORMAT.to_le_bytes());
    h[8..16].copy_from_slice(&capacity.to_le_bytes());
    let crc = crc32fast::hash(&h[..28]);
    h[28..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The preallocated size a segment's header gives, if the header is intact.
pub(crate) fn read_segment_header(bytes: &[u8]) -> Option<u64> {
    let h = bytes.get(..SEGMENT_HEADER)?;
    if &h[..4] != MAGIC || u32_at(h, 4)? != FORMAT || u32_at(h, 28)? != crc32fast::hash(&h[..28]) {
        return None;
    }
    Some(u64::from_le_bytes(h.get(8..16)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn len32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::InvalidRequest("journal frame part too large".into()))
}

/// Encodes one group's pairs as a frame whose header still lacks its place
/// in a write ([`seal`] adds it). Fails, before anything is written, if the
/// frame would be larger than `max_frame` bytes.
pub(crate) fn encode_frame(pairs: &[(Vec<u8>, Vec<u8>)], max_frame: u32) -> Result<Vec<u8>> {
    let body: usize = pairs.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut frame = Vec::with_capacity(FRAME_HEADER + 4 + body);
    frame.extend_from_slice(&[0; FRAME_HEADER]);
    frame.extend_from_slice(&len32(pairs.len())?.to_le_bytes());
    for (k, v) in pairs {
        frame.extend_from_slice(&len32(k.len())?.to_le_bytes());
        frame.extend_from_slice(k);
        frame.extend_from_slice(&len32(v.len())?.to_le_bytes());
        frame.extend_from_slice(v);
    }
    let payload_len = len32(frame.len() - FRAME_HEADER)?;
    if payload_len > max_frame.min(MAX_FRAME) {
        return Err(StoreError::InvalidRequest(format!(
            "a group of {payload_len} bytes is too large for one journal frame"
        )));
    }
    let crc = crc32fast::hash(&frame[FRAME_HEADER..]);
    frame[..4].copy_from_slice(&payload_len.to_le_bytes());
    frame[16..20].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

/// Completes a frame's header: it is frame `index` of the `count` frames
/// written by write number `flush` of its segment.
pub(crate) fn seal(frame: &mut [u8], flush: u32, index: u32, count: u32) {
    if frame.len() < FRAME_HEADER {
        return;
    }
    frame[4..8].copy_from_slice(&flush.to_le_bytes());
    frame[8..12].copy_from_slice(&index.to_le_bytes());
    frame[12..16].copy_from_slice(&count.to_le_bytes());
    let crc = crc32fast::hash(&frame[..20]);
    frame[20..24].copy_from_slice(&crc.to_le_bytes());
}

/// An intact frame found in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Where its payload starts and where the frame ends, in the segment.
    pub payload: usize,
    pub end: usize,
    pub flush: u32,
    pub index: u32,
    pub count: u32,
}

impl Frame {
    /// Whether this frame was the last of its write.
    pub(crate) fn last_of_write(&self) -> bool {
        self.index.saturating_add(1) >= self.count
    }
}

/// The intact frame at `offset` of a segment, if one is there: its header and
/// payload CRCs match, it fits in the segment, and its payload parses.
pub(crate) fn frame_at(bytes: &[u8], offset: usize) -> Option<Frame> {
    let h = bytes.get(offset..offset.checked_add(FRAME_HEADER)?)?;
    if u32_at(h, 20)? != crc32fast::hash(&h[..20]) {
        return None;
    }
    let len = u32_at(h, 0)?;
    let (flush, index, count) = (u32_at(h, 4)?, u32_at(h, 8)?, u32_at(h, 12)?);
    if len == 0 || len > MAX_FRAME || index >= count {
        return None;
    }
    let payload = offset + FRAME_HEADER;
    let end = payload.checked_add(usize::try_from(len).ok()?)?;
    let body = bytes.get(payload..end)?;
    if crc32fast::hash(body) != u32_at(h, 16)? || !payload_parses(body) {
        return None;
    }
    Some(Frame {
        payload,
        end,
        flush,
        index,
        count,
    })
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Some(head)
}

fn take_u32(b: &mut &[u8]) -> Option<usize> {
    let bytes: [u8; 4] = take(b, 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(bytes)).ok()
}

pub(super) fn payload_parses(payload: &[u8]) -> bool {
    let mut b = payload;
    let Some(count) = take_u32(&mut b) else {
        return false;
    };
    for _ in 0..count {
        for _ in 0..2 {
            let Some(n) = take_u32(&mut b) else {
                return false;
            };
            if take(&mut b, n).is_none() {
                return false;
            }
        }
    }
    b.is_empty()
}

/// Decodes a frame's payload; `None` if it does not parse (damage).
pub(crate) fn decode_payload(payload: &[u8]) -> Option<Pairs> {
    let mut b = payload;
    let count = take_u32(&mut b)?;
    let mut pairs = Vec::with_capacity(count.min(b.len() / 8));
    for _ in 0..count {
        let kl = take_u32(&mut b)?;
        let k = take(&mut b, kl)?.to_vec();
        let vl = take_u32(&mut b)?;
        let v = take(&mut b, vl)?.to_vec();
        pairs.push((k, v));
    }
    b.is_empty().then_some(pairs)
}
