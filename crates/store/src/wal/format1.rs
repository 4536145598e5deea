//! Journal format 1, the version before segment headers: read once, so that
//! a journal left by a crash of that version is replayed, never lost.
//!
//! A format-1 segment is frames from byte 0, each `len` (u32 LE) ·
//! `crc32(payload)` (u32 LE) · the payload (the same as in format 2), then
//! zeros up to its preallocated size. Its frames carry no write number, so a
//! torn last write cannot be told from damage in the last segment: as that
//! version read it, a bad frame is a torn tail in the last segment and damage
//! in any earlier one. After the replay the store deletes the segments and
//! goes on in format 2.
//!
//! Which format a journal is in is decided once, for all its segments (a
//! journal is never mixed: the segments of the last one are deleted before a
//! format-2 segment is made): format 2 if any segment looks like one (an
//! intact or recognisable header, or an intact format-2 frame right after
//! it), else format 1 if any segment begins with an intact format-1 frame;
//! else — every segment zero-filled or beginning with a bad frame — format 2
//! if an intact format-2 frame is anywhere (a header lost with the frames
//! around it), and format 1 otherwise, where it can only be a torn first
//! write in the last segment (or damage, in an earlier one).

use super::frame::{self, Frame, FRAME_HEADER, MAX_FRAME, SEGMENT_HEADER};
use super::replay::End;

/// Bytes of a format-1 frame's header.
const HEADER: usize = 8;

/// A journal's format, as its segments tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// No segment header; frames from byte 0 (this module).
    One,
    /// Segment headers, frames with write numbers (`frame.rs`).
    Two,
}

/// What one segment says of the journal's format, if anything.
pub(super) fn evidence(bytes: &[u8]) -> Option<Format> {
    if looks_like_format2(bytes) {
        return Some(Format::Two);
    }
    frame_at(bytes, 0).map(|_| Format::One)
}

/// Whether an intact format-2 frame is anywhere in a segment: for a journal
/// none of whose segments told its format, that says format 2 (else 1).
pub(super) fn holds_format2_frame(bytes: &[u8]) -> bool {
    (0..bytes.len().saturating_sub(FRAME_HEADER)).any(|o| frame::frame_at(bytes, o).is_some())
}

/// A format-2 segment header, intact or damaged but still recognisable (its
/// magic, or its format number and zero bytes), or an intact format-2 frame
/// where the first one would be. A format-1 frame cannot start with the
/// magic: read as its length, it is over [`MAX_FRAME`].
fn looks_like_format2(bytes: &[u8]) -> bool {
    if frame::read_segment_header(bytes).is_some() || bytes.starts_with(frame::MAGIC) {
        return true;
    }
    let format_and_zeros = bytes.get(4..8) == Some(&frame::FORMAT.to_le_bytes()[..])
        && bytes.get(16..28).is_some_and(|z| z.iter().all(|&b| b == 0));
    format_and_zeros || frame::frame_at(bytes, SEGMENT_HEADER).is_some()
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// The intact format-1 frame at `offset`, if one is there.
fn frame_at(bytes: &[u8], offset: usize) -> Option<Frame> {
    let len = u32_at(bytes, offset)?;
    let crc = u32_at(bytes, offset.checked_add(4)?)?;
    if len == 0 || len > MAX_FRAME {
        return None;
    }
    let payload = offset.checked_add(HEADER)?;
    let end = payload.checked_add(usize::try_from(len).ok()?)?;
    let body = bytes.get(payload..end)?;
    if crc32fast::hash(body) != crc || !frame::payload_parses(body) {
        return None;
    }
    Some(Frame {
        payload,
        end,
        flush: 0,
        index: 0,
        count: 1,
    })
}

/// The intact frames of a format-1 segment, in order, and how they end: the
/// zero-filled rest, a torn tail (last segment), or damage (an earlier one).
pub(super) fn scan(bytes: &[u8], last: bool) -> (Vec<Frame>, End) {
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        let rest = bytes.get(at..).unwrap_or_default();
        if rest.iter().all(|&b| b == 0) {
            return (frames, End::Clean);
        }
        match frame_at(bytes, at) {
            Some(f) => {
                at = f.end;
                frames.push(f);
            }
            None if last => return (frames, End::Torn(at)),
            None => {
                let why = "a bad frame (journal format 1) in a segment that a later one follows";
                return (frames, End::Damaged(at, why.into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::frame::{encode_frame, seal};

    fn payload(n: u8) -> Vec<u8> {
        let pairs: Vec<_> = (0..n).map(|i| (vec![b'e', i], vec![i; 7])).collect();
        encode_frame(&pairs, MAX_FRAME).unwrap()[FRAME_HEADER..].to_vec()
    }

    fn v1_frame(n: u8) -> Vec<u8> {
        let p = payload(n);
        let mut f = u32::try_from(p.len()).unwrap().to_le_bytes().to_vec();
        f.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
        f.extend_from_slice(&p);
        f
    }

    fn v1_segment(frames: &[u8], capacity: usize) -> (Vec<u8>, Vec<usize>) {
        let mut b = Vec::new();
        let mut starts = Vec::new();
        for n in frames {
            starts.push(b.len());
            b.extend_from_slice(&v1_frame(*n));
        }
        b.resize(capacity.max(b.len()), 0);
        (b, starts)
    }

    fn v2_segment(frames: &[u8]) -> Vec<u8> {
        let mut b = frame::segment_header(4096).to_vec();
        for (i, n) in frames.iter().enumerate() {
            let mut f = encode_frame(&[(vec![b'e', *n], vec![1; 9])], MAX_FRAME).unwrap();
            seal(&mut f, u32::try_from(i).unwrap(), 0, 1);
            b.extend_from_slice(&f);
        }
        b.resize(4096, 0);
        b
    }

    #[test]
    fn format1_frames_end_clean_torn_or_damaged() {
        let (seg, starts) = v1_segment(&[1, 2, 3], 2048);
        let check = |b: &[u8], last: bool, n: usize, end: fn(&End) -> bool| {
            let (frames, e) = scan(b, last);
            assert_eq!(frames.len(), n, "{e:?}");
            assert!(end(&e), "{e:?}");
        };
        check(&seg, true, 3, |e| *e == End::Clean);
        check(&seg, false, 3, |e| *e == End::Clean);
        // A full segment (no zeros after its last frame) is clean too.
        check(&seg[..starts[2] + v1_frame(3).len()], false, 3, |e| {
            *e == End::Clean
        });
        let mut b = seg.clone();
        b[starts[1] + 12] ^= 1;
        assert_eq!(
            scan(&b, true),
            (vec![scan(&seg, true).0[0]], End::Torn(starts[1]))
        );
        check(&b, false, 1, |e| matches!(e, End::Damaged(..)));
        let mut b = seg.clone();
        b[1500] = 7;
        check(&b, true, 3, |e| matches!(e, End::Torn(_)));
        check(&b, false, 3, |e| matches!(e, End::Damaged(..)));
    }

    #[test]
    fn the_format_is_told_by_the_segments() {
        let (v1, _) = v1_segment(&[2, 3], 1024);
        let v2 = v2_segment(&[1, 2]);
        assert_eq!(evidence(&v1), Some(Format::One));
        assert_eq!(evidence(&v2), Some(Format::Two));
        assert_eq!(evidence(&[0; 512]), None);
        // A format-2 header damaged anywhere is still format 2.
        for at in 0..SEGMENT_HEADER {
            let mut b = v2.clone();
            b[at] ^= 0x40;
            assert_eq!(evidence(&b), Some(Format::Two), "byte {at}");
        }
        // Header and first frame lost to a zeroed sector: a later intact
        // format-2 frame tells.
        let mut b = v2.clone();
        let second = SEGMENT_HEADER + FRAME_HEADER + 4 + 8 + 2 + 9;
        b[..second].fill(0);
        b[0] = 1;
        assert_eq!(evidence(&b), None);
        assert!(holds_format2_frame(&b));
        // A format-1 segment whose first write was torn: format 1.
        let mut b = v1.clone();
        b[10] ^= 1;
        assert_eq!(evidence(&b), None);
        assert!(!holds_format2_frame(&b));
    }
}
