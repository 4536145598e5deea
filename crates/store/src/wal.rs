//! The write-ahead journal: what makes an acknowledged commit durable without
//! waiting for sled's own flush.
//!
//! sled 0.34's `flush()` hands its buffers to its I/O threads, writes them with
//! `sync_file_range` and must then be followed by an `fdatasync` of its file
//! (see `docs/benchmarks.md`, finding 3): two trips to the disk and several
//! thread hand-offs per durable group. The journal replaces that on the
//! acknowledgement path by the physical minimum, one `write` and one
//! `fdatasync` of an append-only file:
//!
//! 1. the committer applies a group to sled (in memory) and then hands the
//!    group's key-value pairs to the journal as one **frame**;
//! 2. the flusher writes every frame handed over since its last flush with one
//!    `write`, calls `fdatasync`, and only then acknowledges the commits;
//! 3. when a segment file has grown past its size, the flusher starts the next
//!    one and a **checkpointer** thread makes sled durable (its flush, then
//!    `fdatasync` of its file and `fsync` of new blob files) and deletes the
//!    segments it covers — off the acknowledgement path;
//! 4. on open, every frame of every segment is applied to sled again, in
//!    order, before anything else reads the log; then sled is made durable and
//!    the segments are deleted.
//!
//! Replay is idempotent: the pairs are plain inserts, applied in their
//! original order, and everything sled may have lost is at or after the
//! oldest segment still present (a segment is deleted only once sled's flush
//! covering it has returned). A frame is `len: u32 LE`, `crc32(payload): u32
//! LE`, then the payload: `count: u32 LE` and per pair `key_len: u32 LE`, key,
//! `value_len: u32 LE`, value. Reading stops at the first frame that is short
//! or fails its CRC: the torn tail of a write that was never acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use crate::error::{Failure, Result, StoreError};

/// Name of the journal's directory inside the store's directory.
pub const WAL_DIR: &str = "wal";
const PREFIX: &str = "wal-";
const HEADER: usize = 8;
/// A frame larger than this is taken for damage, not a frame.
const MAX_FRAME: u32 = 1 << 30;

/// The key-value pairs of one group, as the committer wrote them.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Makes everything applied to the backend so far durable (sled's flush and syncs).
pub(crate) type MakeDurable = Arc<dyn Fn() -> Result<()> + Send + Sync>;

/// What replaying the journal found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Replayed {
    /// Segments read.
    pub segments: usize,
    /// Frames applied again.
    pub frames: u64,
    /// Bytes after the last whole frame, ignored (a torn, unacknowledged write).
    pub torn_bytes: u64,
    /// Whether reading stopped before the last segment: not a torn tail but
    /// damage, with later segments left unread.
    pub damaged: bool,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{seq:016}"))
}

/// The journal's segments, oldest first.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(seq) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((seq, entry.path()));
    }
    out.sort();
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Encodes one group's pairs as a frame.
pub(crate) fn encode_frame(pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<u8>> {
    let body: usize = pairs.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut frame = Vec::with_capacity(HEADER + 4 + body);
    frame.extend_from_slice(&[0; HEADER]);
    frame.extend_from_slice(&len32(pairs.len())?.to_le_bytes());
    for (k, v) in pairs {
        frame.extend_from_slice(&len32(k.len())?.to_le_bytes());
        frame.extend_from_slice(k);
        frame.extend_from_slice(&len32(v.len())?.to_le_bytes());
        frame.extend_from_slice(v);
    }
    let payload_len = len32(frame.len() - HEADER)?;
    if payload_len > MAX_FRAME {
        return Err(StoreError::InvalidRequest(
            "a group commit is too large for one journal frame".into(),
        ));
    }
    let crc = crc32fast::hash(&frame[HEADER..]);
    frame[..4].copy_from_slice(&payload_len.to_le_bytes());
    frame[4..HEADER].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

fn len32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::InvalidRequest("journal frame part too large".into()))
}

/// Decodes a frame's payload; `None` if it does not parse (damage).
fn decode_payload(payload: &[u8]) -> Option<Pairs> {
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

/// Applies every frame of every segment in `dir`, oldest first, through
/// `apply`; stops at the first short or damaged frame.
pub(crate) fn replay(dir: &Path, apply: &mut dyn FnMut(Pairs) -> Result<()>) -> Result<Replayed> {
    let mut report = Replayed::default();
    let segs = segments(dir)?;
    let mut stopped = false;
    for (_, path) in &segs {
        report.segments += 1;
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        if stopped {
            report.torn_bytes += size;
            report.damaged = true;
            continue;
        }
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut offset = 0u64;
        let mut payload = Vec::new();
        let mut clean_end = false;
        loop {
            let mut header = [0u8; HEADER];
            if size - offset < HEADER as u64 {
                break;
            }
            reader.read_exact(&mut header)?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if header == [0; HEADER] {
                // The zero-filled, never written rest of the segment.
                clean_end = true;
                break;
            }
            if len == 0 || len > MAX_FRAME || size - offset - (HEADER as u64) < u64::from(len) {
                break;
            }
            payload.resize(len as usize, 0);
            reader.read_exact(&mut payload)?;
            if crc32fast::hash(&payload) != crc {
                break;
            }
            let Some(pairs) = decode_payload(&payload) else {
                break;
            };
            apply(pairs)?;
            report.frames += 1;
            offset += HEADER as u64 + u64::from(len);
        }
        if offset < size && !clean_end {
            report.torn_bytes += size - offset;
            stopped = true;
        }
    }
    Ok(report)
}

/// Deletes every segment in `dir` (once what they hold is durable elsewhere).
pub(crate) fn remove_all(dir: &Path) -> Result<()> {
    remove_segments(dir, u64::MAX)
}

/// Deletes every segment in `dir` whose sequence is at most `upto`.
fn remove_segments(dir: &Path, upto: u64) -> Result<()> {
    let mut removed = false;
    for (seq, path) in segments(dir)? {
        if seq > upto {
            break;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

struct Segment {
    file: File,
    seq: u64,
    /// Bytes of frames written.
    len: u64,
    /// Bytes preallocated (zero-filled): writes inside them change no metadata,
    /// so `fdatasync` has only the data to write.
    capacity: u64,
}

/// A zero-filled file made ready in the background, to become the next segment.
struct Spare {
    file: File,
    capacity: u64,
}

enum Job {
    /// Make the backend durable, then delete the segments up to this one.
    Checkpoint(u64),
    /// Zero-fill a spare of this many bytes.
    Prepare(u64),
}

/// Name of the spare file while it waits (not a segment: replay ignores it).
const SPARE: &str = "wal-spare";
/// The first segment's preallocation; each next one doubles, up to the segment size.
const FIRST_CAPACITY: u64 = 256 << 10;

/// The journal a store writes while open.
pub(crate) struct Wal {
    dir: PathBuf,
    segment_bytes: u64,
    make_durable: MakeDurable,
    /// Frames handed over by the committer, not yet written.
    pending: Mutex<Vec<Vec<u8>>>,
    /// The segment being written. Only flushes (the flusher, or the committer
    /// when nothing else is in flight, and a close) take it; the committer's
    /// hand-over goes through `pending`, so it never waits for a sync.
    active: Mutex<ActiveState>,
    spare: Arc<Mutex<Option<Spare>>>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Why the checkpointer stopped, if it failed: the next flush reports it.
    failure: Arc<Mutex<Option<Failure>>>,
}

struct ActiveState {
    segment: Segment,
    spare_asked: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Wal {
    /// Starts a journal in `dir` after its replay: every older segment is
    /// covered by `make_durable`, which has just run, so they are deleted and a
    /// new segment begins.
    pub(crate) fn start(dir: &Path, segment_bytes: u64, make_durable: MakeDurable) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let last = segments(dir)?.last().map(|(s, _)| *s);
        if let Some(last) = last {
            remove_segments(dir, last)?;
        }
        match std::fs::remove_file(dir.join(SPARE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let segment_bytes = segment_bytes.max(1);
        let seq = last.map_or(0, |s| s + 1);
        let capacity = FIRST_CAPACITY.min(segment_bytes);
        let file = zero_filled(&segment_path(dir, seq), capacity)?;
        sync_dir(dir)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let failure = Arc::new(Mutex::new(None));
        let spare = Arc::new(Mutex::new(None));
        let thread = {
            let dir = dir.to_path_buf();
            let make_durable = make_durable.clone();
            let failure = failure.clone();
            let spare = spare.clone();
            std::thread::Builder::new()
                .name("ecoute-checkpoint".into())
                .spawn(move || checkpointer(&dir, &make_durable, &rx, &spare, &failure))?
        };
        Ok(Wal {
            dir: dir.to_path_buf(),
            segment_bytes,
            make_durable,
            pending: Mutex::new(Vec::new()),
            active: Mutex::new(ActiveState {
                segment: Segment {
                    file,
                    seq,
                    len: 0,
                    capacity,
                },
                spare_asked: false,
            }),
            spare,
            jobs: Mutex::new(Some(tx)),
            checkpointer: Mutex::new(Some(thread)),
            failure,
        })
    }

    /// Hands over a frame of pairs already applied to the backend.
    pub(crate) fn push(&self, frame: Vec<u8>) {
        lock(&self.pending).push(frame);
    }

    fn send(&self, job: Job) {
        if let Some(tx) = lock(&self.jobs).as_ref() {
            // A stopped checkpointer leaves the work to the next open.
            let _ = tx.send(job);
        }
    }

    /// Writes every frame handed over so far and syncs it: after this returns,
    /// they survive a crash. Moves to the next segment when this one is full
    /// and its successor is ready; until then the segment grows.
    pub(crate) fn sync(&self) -> Result<()> {
        if let Some(failure) = lock(&self.failure).as_ref() {
            return Err(failure.error());
        }
        let mut active = lock(&self.active);
        let frames = std::mem::take(&mut *lock(&self.pending));
        if frames.is_empty() {
            return Ok(());
        }
        let total: usize = frames.iter().map(Vec::len).sum();
        let mut buf = Vec::with_capacity(total);
        for f in &frames {
            buf.extend_from_slice(f);
        }
        let seg = &mut active.segment;
        seg.file.write_all_at(&buf, seg.len)?;
        seg.file.sync_data()?;
        seg.len += total as u64;
        let (len, capacity) = (seg.len, seg.capacity);
        if !active.spare_asked && len.saturating_mul(2) >= capacity {
            active.spare_asked = true;
            self.send(Job::Prepare(
                capacity.saturating_mul(2).min(self.segment_bytes),
            ));
        }
        if len >= capacity {
            let ready = lock(&self.spare).take();
            if let Some(spare) = ready {
                let next = active.segment.seq + 1;
                std::fs::rename(self.dir.join(SPARE), segment_path(&self.dir, next))?;
                // The new name must be durable before frames in it are acknowledged.
                sync_dir(&self.dir)?;
                let done = std::mem::replace(
                    &mut active.segment,
                    Segment {
                        file: spare.file,
                        seq: next,
                        len: 0,
                        capacity: spare.capacity,
                    },
                );
                active.spare_asked = false;
                self.send(Job::Checkpoint(done.seq));
            }
        }
        Ok(())
    }

    /// Writes what is pending, makes the backend durable and deletes every
    /// segment: a clean close leaves no journal behind.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        self.sync()?;
        self.stop_checkpointer();
        let active = lock(&self.active);
        (self.make_durable)()?;
        remove_segments(&self.dir, active.segment.seq)?;
        match std::fs::remove_file(self.dir.join(SPARE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn stop_checkpointer(&self) {
        drop(lock(&self.jobs).take());
        if let Some(t) = lock(&self.checkpointer).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.stop_checkpointer();
    }
}

/// Creates `path` holding `capacity` zero bytes, synced.
fn zero_filled(path: &Path, capacity: u64) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < capacity {
        let n = (capacity - at).min(zeros.len() as u64);
        file.write_all_at(&zeros[..n as usize], at)?;
        at += n;
    }
    file.sync_all()?;
    Ok(file)
}

fn checkpointer(
    dir: &Path,
    make_durable: &MakeDurable,
    rx: &mpsc::Receiver<Job>,
    spare: &Mutex<Option<Spare>>,
    failure: &Mutex<Option<Failure>>,
) {
    while let Ok(job) = rx.recv() {
        let outcome = match job {
            Job::Checkpoint(upto) => make_durable().and_then(|()| remove_segments(dir, upto)),
            Job::Prepare(capacity) => zero_filled(&dir.join(SPARE), capacity).map(|file| {
                *lock(spare) = Some(Spare { file, capacity });
            }),
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, "journal checkpoint failed; the store refuses writes until reopened");
            let why = format!("journal checkpoint failed: {e}");
            *lock(failure) = Some(Failure::caused(why, Arc::new(e)));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn pairs(n: u8) -> Pairs {
        (0..n)
            .map(|i| (vec![b'k', i], vec![i; i as usize]))
            .collect()
    }

    fn replay_all(dir: &Path) -> (Vec<Pairs>, Replayed) {
        let mut got = Vec::new();
        let r = replay(dir, &mut |p| {
            got.push(p);
            Ok(())
        })
        .unwrap();
        (got, r)
    }

    fn noop() -> MakeDurable {
        Arc::new(|| Ok(()))
    }

    /// A journal holding the frames of `pairs(1..=n)`, synced after each frame or
    /// once at the end; closed without a checkpoint, as after a crash.
    fn journal_of(n: u8, sync_each: bool) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(WAL_DIR);
        let wal = Wal::start(&dir, 1 << 20, noop()).unwrap();
        for i in 1..=n {
            wal.push(encode_frame(&pairs(i)).unwrap());
            if sync_each {
                wal.sync().unwrap();
            }
        }
        wal.sync().unwrap();
        (tmp, dir)
    }

    #[test]
    fn frames_round_trip_and_a_torn_tail_is_ignored() {
        let (_tmp, dir) = journal_of(3, false);
        let (got, r) = replay_all(&dir);
        assert_eq!(got, vec![pairs(1), pairs(2), pairs(3)]);
        assert_eq!((r.frames, r.torn_bytes), (3, 0));
        // A write cut short: its frame and anything after it are not replayed.
        let seg = segments(&dir).unwrap().pop().unwrap().1;
        let written: usize = (1..=3)
            .map(|n| encode_frame(&pairs(n)).unwrap().len())
            .sum();
        let frame = encode_frame(&pairs(4)).unwrap();
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.write_all_at(&frame[..frame.len() - 1], written as u64)
            .unwrap();
        let (got, r) = replay_all(&dir);
        assert_eq!(got.len(), 3);
        let size = std::fs::metadata(&seg).unwrap().len();
        assert_eq!(r.torn_bytes, size - written as u64);
    }

    #[test]
    fn a_flipped_byte_stops_the_replay_at_its_frame() {
        let (_tmp, dir) = journal_of(3, true);
        let seg = segments(&dir).unwrap().pop().unwrap().1;
        let mut bytes = std::fs::read(&seg).unwrap();
        let second = encode_frame(&pairs(1)).unwrap().len() + HEADER + 5;
        bytes[second] ^= 0x40;
        std::fs::write(&seg, &bytes).unwrap();
        let (got, _) = replay_all(&dir);
        assert_eq!(got, vec![pairs(1)]);
    }

    #[test]
    fn full_segments_are_checkpointed_and_deleted_in_the_background() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(WAL_DIR);
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let wal = Wal::start(
            &dir,
            64,
            Arc::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }),
        )
        .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // Write until a full segment was checkpointed: on a loaded machine the
        // spare segment the checkpointer prepares can come late, and the journal
        // then keeps writing to the active one rather than wait for it.
        let mut n = 0u8;
        while (n < 20 || calls.load(Ordering::SeqCst) == 0) && std::time::Instant::now() < deadline
        {
            n = n.wrapping_add(1);
            wal.push(encode_frame(&pairs(n % 5 + 1)).unwrap());
            wal.sync().unwrap();
            if n >= 20 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        // Only segments the checkpointer has not reached yet remain, the active one last.
        while segments(&dir).unwrap().len() > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(segments(&dir).unwrap().len(), 1);
        assert!(calls.load(Ordering::SeqCst) >= 1);
        wal.checkpoint().unwrap();
        assert!(segments(&dir).unwrap().is_empty());
        // A new journal after a clean close starts from an empty directory.
        drop(wal);
        let (got, r) = replay_all(&dir);
        assert!(got.is_empty());
        assert_eq!(r.segments, 0);
    }

    #[test]
    fn a_failed_checkpoint_makes_the_next_sync_fail() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(WAL_DIR);
        let wal = Wal::start(
            &dir,
            16,
            Arc::new(|| Err(std::io::Error::other("injected").into())),
        )
        .unwrap();
        wal.push(encode_frame(&pairs(3)).unwrap());
        wal.sync().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            wal.push(encode_frame(&pairs(1)).unwrap());
            if wal.sync().is_err() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the failure never surfaced"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
