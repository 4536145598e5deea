//! Replay: every intact frame of every segment applied again, and the one
//! allowed kind of loss — a torn last write — told apart from damage.
//!
//! A frame can be cut or garbled by a power loss only if its write was never
//! synced, that is, only in the last write of the last segment: every write
//! is synced before the next begins, and a new segment is started only after
//! the last write of the one before was synced. So a bad frame is a **torn
//! tail** when it is in the last segment, the segment is as long as it was
//! preallocated, and every intact frame after it belongs to the same write as
//! the bad one (its `flush` number). Anything else — a bad frame in an earlier
//! segment, an intact frame of a later write after a bad one, a segment
//! shorter than its preallocated size, a damaged segment header — is
//! **damage**: replay stops there and says where.
//!
//! A journal of format 1, left by a crash of the version before segment
//! headers, is read by that format's rules (`format1.rs`).

use std::path::Path;

use super::format1::{self, Format};
use super::frame::{self, Frame, Pairs, FRAME_HEADER, SEGMENT_HEADER};
use super::segments;
use crate::error::Result;
use crate::io::FileIo;

/// What replaying the journal found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Replayed {
    /// Segments found.
    pub segments: usize,
    /// Frames applied again.
    pub frames: u64,
    /// Whether the journal was of format 1 (left by the version before
    /// format 2); the journal that follows it is of format 2.
    pub format1: bool,
    /// Bytes of a torn last write, ignored (never acknowledged).
    pub torn_bytes: u64,
    /// Damage that stopped the replay: where and what. Frames after it were
    /// not applied.
    pub damage: Option<String>,
}

/// How a segment's frames end.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum End {
    /// Frames, then the zero-filled rest.
    Clean,
    /// A torn last write from this byte on.
    Torn(usize),
    /// Damage at this byte.
    Damaged(usize, String),
}

/// Applies every frame of every segment in `dir`, oldest first, through
/// `apply`; stops at a torn tail or at damage (reported, not an error).
pub(crate) fn replay(
    io: &dyn FileIo,
    dir: &Path,
    apply: &mut dyn FnMut(Pairs) -> Result<()>,
) -> Result<Replayed> {
    let mut report = Replayed::default();
    let segs = segments(io, dir)?;
    report.segments = segs.len();
    let format = format(io, &segs)?;
    report.format1 = format == Format::One && !segs.is_empty();
    for (i, (_, path)) in segs.iter().enumerate() {
        let bytes = io.read(path)?;
        let last = i + 1 == segs.len();
        let (frames, end) = match format {
            Format::One => format1::scan(&bytes, last),
            Format::Two => scan(&bytes, last),
        };
        for f in frames {
            let pairs = bytes
                .get(f.payload..f.end)
                .and_then(frame::decode_payload)
                .unwrap_or_default();
            apply(pairs)?;
            report.frames += 1;
        }
        match end {
            End::Clean => {}
            End::Torn(at) => report.torn_bytes += (bytes.len() - at) as u64,
            End::Damaged(at, why) => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                report.damage = Some(format!(
                    "journal segment {} is damaged at byte {at}: {why}",
                    name.unwrap_or_default()
                ));
                break;
            }
        }
    }
    Ok(report)
}

/// The journal's format: told by the first segment that says, else by all
/// of them together (`format1.rs`). A journal without segments is format 2.
fn format(io: &dyn FileIo, segs: &[(u64, std::path::PathBuf)]) -> Result<Format> {
    for (_, path) in segs {
        if let Some(format) = format1::evidence(&io.read(path)?) {
            return Ok(format);
        }
    }
    if segs.is_empty() {
        return Ok(Format::Two);
    }
    for (_, path) in segs {
        if format1::holds_format2_frame(&io.read(path)?) {
            return Ok(Format::Two);
        }
    }
    Ok(Format::One)
}

fn zeros(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// The intact frames of a segment, in order, and how they end.
fn scan(bytes: &[u8], last: bool) -> (Vec<Frame>, End) {
    let mut frames = Vec::new();
    let Some(capacity) = frame::read_segment_header(bytes) else {
        // A segment whose creation a crash cut short holds nothing yet.
        if last && zeros(bytes) {
            return (frames, End::Clean);
        }
        let why = "its header is damaged, or of a journal format this version does not read";
        return (frames, End::Damaged(0, why.into()));
    };
    let cut = (bytes.len() as u64) < capacity;
    let mut at = SEGMENT_HEADER;
    let end = loop {
        let rest = bytes.get(at..).unwrap_or_default();
        if zeros(rest) {
            break End::Clean;
        }
        match frame::frame_at(bytes, at) {
            Some(f) => {
                at = f.end;
                frames.push(f);
            }
            // In a segment cut short, the cut is the damage to report.
            None if cut => break End::Torn(at),
            None => break classify(bytes, at, frames.last().copied(), last),
        }
    };
    match end {
        // The frames before the cut are intact; what it took is unknown.
        End::Clean | End::Torn(_) if cut => {
            let why = format!(
                "it is cut short: {} bytes of the {capacity} it was preallocated with",
                bytes.len()
            );
            (frames, End::Damaged(bytes.len(), why))
        }
        end => (frames, end),
    }
}

/// A bad frame at `at`, after the intact frame `prev`: a torn last write, or damage.
fn classify(bytes: &[u8], at: usize, prev: Option<Frame>, last: bool) -> End {
    if !last {
        return End::Damaged(
            at,
            "a bad frame in a segment that a later one follows".into(),
        );
    }
    // The write the bad frame belongs to, and its place in it.
    let (write, index) = match prev {
        None => (0, 0),
        Some(p) if p.last_of_write() => (p.flush.saturating_add(1), 0),
        Some(p) => (p.flush, p.index.saturating_add(1)),
    };
    let mut first = true;
    let mut o = at + 1;
    while o + FRAME_HEADER <= bytes.len() {
        let Some(f) = frame::frame_at(bytes, o) else {
            o += 1;
            continue;
        };
        // Intact frames after a torn one can only be later frames of its own write.
        if f.flush != write || (first && f.index <= index) {
            return End::Damaged(
                at,
                format!("a bad frame, then an intact frame of another write at byte {o}: the bad one had been synced"),
            );
        }
        first = false;
        o = f.end;
    }
    End::Torn(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::frame::{encode_frame, seal, MAX_FRAME};

    fn pairs(n: u8) -> Pairs {
        (0..n)
            .map(|i| (vec![b'k', i], vec![i; usize::from(i) * 3]))
            .collect()
    }

    /// A segment of `writes` writes (each a list of frame sizes), preallocated
    /// to `capacity`; returns its bytes and each frame's start.
    fn segment(writes: &[&[u8]], capacity: usize) -> (Vec<u8>, Vec<usize>) {
        let mut b = frame::segment_header(capacity as u64).to_vec();
        let mut starts = Vec::new();
        for (w, frames) in writes.iter().enumerate() {
            for (i, n) in frames.iter().enumerate() {
                let mut f = encode_frame(&pairs(*n), MAX_FRAME).unwrap();
                seal(&mut f, w as u32, i as u32, frames.len() as u32);
                starts.push(b.len());
                b.extend_from_slice(&f);
            }
        }
        b.resize(capacity.max(b.len()), 0);
        (b, starts)
    }

    fn check(bytes: &[u8], last: bool, frames: usize, end: fn(&End) -> bool) {
        let (got, e) = scan(bytes, last);
        assert_eq!(got.len(), frames, "{e:?}");
        assert!(end(&e), "{e:?}");
    }

    #[test]
    fn torn_tails_and_damage_are_told_apart() {
        let (seg, starts) = segment(&[&[2], &[3, 4], &[5, 6, 7]], 4096);
        check(&seg, true, 6, |e| *e == End::Clean);
        // The last write garbled in its first frame, its later frames intact: torn.
        let mut b = seg.clone();
        b[starts[3] + 30] ^= 1;
        check(&b, true, 3, |e| matches!(e, End::Torn(_)));
        // The same in a segment a later one follows: damage.
        check(&b, false, 3, |e| matches!(e, End::Damaged(..)));
        // A frame of a synced write garbled, a later write intact: damage.
        let mut b = seg.clone();
        b[starts[1] + 30] ^= 1;
        check(&b, true, 1, |e| matches!(e, End::Damaged(..)));
        // The last frame of a write garbled, the next write intact: damage.
        let mut b = seg.clone();
        b[starts[2] + 30] ^= 1;
        check(&b, true, 2, |e| matches!(e, End::Damaged(..)));
        // A write cut in its last frame (the frame half zeros): torn.
        let mut b = seg.clone();
        let end5 = starts[5] + 30;
        b[end5..].fill(0);
        check(&b, true, 5, |e| matches!(e, End::Torn(_)));
        // The segment cut short of its preallocated size: damage, after the
        // frames before the cut.
        check(&seg[..3000], true, 6, |e| matches!(e, End::Damaged(..)));
        check(&seg[..starts[4] + 5], true, 4, |e| {
            matches!(e, End::Damaged(..))
        });
        // A damaged segment header: damage; an all-zero last segment: nothing yet.
        let mut b = seg.clone();
        b[5] ^= 1;
        check(&b, true, 0, |e| matches!(e, End::Damaged(..)));
        check(&[0; 4096], true, 0, |e| *e == End::Clean);
        check(&[], true, 0, |e| *e == End::Clean);
        // Garbage in the zero-filled rest after the last frame: torn (a write
        // of the next flush whose header was lost) only in the last segment.
        let mut b = seg.clone();
        b[4000] = 9;
        check(&b, true, 6, |e| matches!(e, End::Torn(_)));
        check(&b, false, 6, |e| matches!(e, End::Damaged(..)));
    }
}
