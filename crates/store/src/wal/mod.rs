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
//! covering it has returned). The format is in `frame.rs`; how replay tells a
//! torn last write from damage, in `replay.rs`; how a journal of format 1,
//! left by the version before segment headers, is read, in `format1.rs`.
//!
//! A failed write or sync fails the journal for good: every later flush
//! fails too, so nothing is acknowledged on top of a frame that may be
//! missing. All file operations go through [`crate::io::FileIo`].

mod format1;
mod frame;
mod replay;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

pub(crate) use frame::{encode_frame, MAX_FRAME};
pub(crate) use replay::replay;

use crate::error::{Failure, Result};
use crate::io::{self, FileIo, Io, IoFile};

/// Name of the journal's directory inside the store's directory.
pub const WAL_DIR: &str = "wal";
const PREFIX: &str = "wal-";
/// Prefix of a damaged journal kept aside in the store's directory.
pub(crate) const DAMAGED_PREFIX: &str = "wal-damaged-";

/// Makes everything applied to the backend so far durable (sled's flush and syncs).
pub(crate) type MakeDurable = Arc<dyn Fn() -> Result<()> + Send + Sync>;

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{seq:016}"))
}

/// The journal's segments, oldest first.
pub(crate) fn segments(io: &dyn FileIo, dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let names = match io.list(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|name| {
            let seq = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|n| n.parse::<u64>().ok())?;
            Some((seq, dir.join(name)))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The damaged journals kept aside in the store's directory `store_dir`.
pub(crate) fn damaged_journals(io: &dyn FileIo, store_dir: &Path) -> Result<Vec<String>> {
    let mut out: Vec<String> = io
        .list(store_dir)?
        .into_iter()
        .filter_map(|n| n.into_string().ok())
        .filter(|n| n.starts_with(DAMAGED_PREFIX))
        .collect();
    out.sort();
    Ok(out)
}

/// Moves the journal `dir` aside, whole, to `wal-damaged-<UTC time>` beside
/// it, durably; returns the new name.
pub(crate) fn keep_aside(io: &dyn FileIo, dir: &Path) -> Result<String> {
    let name = format!(
        "{DAMAGED_PREFIX}{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
    );
    let parent = dir.parent().unwrap_or(dir);
    io.rename(dir, &parent.join(&name))?;
    io.sync_dir(parent)?;
    Ok(name)
}

/// Deletes every segment in `dir` (once what they hold is durable elsewhere).
pub(crate) fn remove_all(io: &dyn FileIo, dir: &Path) -> Result<()> {
    remove_segments(io, dir, u64::MAX)
}

/// Deletes every segment in `dir` whose sequence is at most `upto`.
fn remove_segments(io: &dyn FileIo, dir: &Path, upto: u64) -> Result<()> {
    let mut removed = false;
    for (seq, path) in segments(io, dir)? {
        if seq > upto {
            break;
        }
        match io.remove_file(&path) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    if removed {
        io.sync_dir(dir)?;
    }
    Ok(())
}

struct Segment {
    file: Box<dyn IoFile>,
    seq: u64,
    /// Bytes of the segment used (its header and the frames written).
    len: u64,
    /// Bytes preallocated (zero-filled): writes inside them change no metadata,
    /// so `fdatasync` has only the data to write.
    capacity: u64,
    /// Writes made to this segment so far, numbering the frames' `flush`.
    writes: u32,
}

/// A zero-filled file made ready in the background, to become the next segment.
struct Spare {
    file: Box<dyn IoFile>,
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
    io: Io,
    dir: PathBuf,
    segment_bytes: u64,
    max_frame: u32,
    make_durable: MakeDurable,
    /// Frames handed over by the committer, not yet written.
    pending: Mutex<Vec<Vec<u8>>>,
    /// The segment being written. Only flushes (the flusher, or the committer
    /// when nothing else is in flight, and a close) take it; the committer's
    /// hand-over goes through `pending`, so it never waits for a sync.
    active: Mutex<Segment>,
    spare_asked: std::sync::atomic::AtomicBool,
    spare: Arc<Mutex<Option<Spare>>>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Why the journal stopped (a failed write, sync or checkpoint): every
    /// later flush reports it, so nothing is acknowledged after a frame that
    /// may be missing.
    failure: Arc<Mutex<Option<Failure>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Wal {
    /// Starts a journal in `dir` after its replay: every older segment is
    /// covered by `make_durable`, which has just run, so they are deleted and a
    /// new segment begins. Frames larger than `max_frame` are refused.
    pub(crate) fn start(
        io: Io,
        dir: &Path,
        segment_bytes: u64,
        max_frame: u32,
        make_durable: MakeDurable,
    ) -> Result<Self> {
        io::create_dir_durably(&*io, dir)?;
        let last = segments(&*io, dir)?.last().map(|(s, _)| *s);
        if let Some(last) = last {
            remove_segments(&*io, dir, last)?;
        }
        match io.remove_file(&dir.join(SPARE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let segment_bytes = segment_bytes.max(1);
        let seq = last.map_or(0, |s| s + 1);
        let capacity = FIRST_CAPACITY.min(segment_bytes);
        // Prepared under the spare's name, which replay ignores, so that a
        // segment cut short by a failed or interrupted creation is never
        // taken for a damaged one; then renamed, and the name made durable.
        let file = zero_filled(&*io, &dir.join(SPARE), capacity)?;
        io.rename(&dir.join(SPARE), &segment_path(dir, seq))?;
        io.sync_dir(dir)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let failure = Arc::new(Mutex::new(None));
        let spare = Arc::new(Mutex::new(None));
        let thread = {
            let io = io.clone();
            let dir = dir.to_path_buf();
            let make_durable = make_durable.clone();
            let failure = failure.clone();
            let spare = spare.clone();
            std::thread::Builder::new()
                .name("ecoute-checkpoint".into())
                .spawn(move || checkpointer(&*io, &dir, &make_durable, &rx, &spare, &failure))?
        };
        Ok(Wal {
            io,
            dir: dir.to_path_buf(),
            segment_bytes,
            max_frame,
            make_durable,
            pending: Mutex::new(Vec::new()),
            active: Mutex::new(Segment {
                file,
                seq,
                len: frame::SEGMENT_HEADER as u64,
                capacity,
                writes: 0,
            }),
            spare_asked: Default::default(),
            spare,
            jobs: Mutex::new(Some(tx)),
            checkpointer: Mutex::new(Some(thread)),
            failure,
        })
    }

    /// Encodes a group's pairs as a frame, refusing (before anything is
    /// written anywhere) one too large for the journal.
    pub(crate) fn frame(&self, pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<u8>> {
        encode_frame(pairs, self.max_frame)
    }

    /// Most bytes of records a group should hold: well inside one frame, and
    /// no more than a flush needs to be efficient.
    pub(crate) fn max_group_bytes(&self) -> usize {
        usize::try_from(self.max_frame.min(MAX_FRAME) / 2)
            .unwrap_or(usize::MAX)
            .min(64 << 20)
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

    fn failed(&self) -> Option<Failure> {
        lock(&self.failure).clone()
    }

    /// Notes that the journal failed: every later flush fails too.
    fn fail(&self, what: &str, e: crate::StoreError) -> crate::StoreError {
        let e = Arc::new(e);
        lock(&self.failure).get_or_insert_with(|| {
            Failure::caused(format!("journal {what} failed: {e}"), e.clone())
        });
        crate::StoreError::Failed {
            reason: format!("journal {what} failed: {e}"),
            cause: Some(e),
        }
    }

    /// Writes every frame handed over so far and syncs it: after this returns,
    /// they survive a crash. Moves to the next segment when this one is full
    /// and its successor is ready; until then the segment grows. After a
    /// failure, it fails again every time.
    pub(crate) fn sync(&self) -> Result<()> {
        let mut active = lock(&self.active);
        if let Some(failure) = self.failed() {
            return Err(failure.error());
        }
        let mut frames = std::mem::take(&mut *lock(&self.pending));
        if frames.is_empty() {
            return Ok(());
        }
        let count = u32::try_from(frames.len()).unwrap_or(u32::MAX);
        let total: usize = frames.iter().map(Vec::len).sum();
        let mut buf = Vec::with_capacity(total);
        for (i, f) in frames.iter_mut().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            frame::seal(f, active.writes, index, count);
            buf.extend_from_slice(f);
        }
        let seg = &mut *active;
        if let Err(e) = io::write_all_at(&*seg.file, &buf, seg.len) {
            return Err(self.fail("write", e.into()));
        }
        if let Err(e) = seg.file.sync_data() {
            return Err(self.fail("sync", e.into()));
        }
        seg.len += total as u64;
        seg.writes = seg.writes.saturating_add(1);
        let (len, capacity) = (seg.len, seg.capacity);
        let ordering = std::sync::atomic::Ordering::AcqRel;
        if len.saturating_mul(2) >= capacity && !self.spare_asked.swap(true, ordering) {
            self.send(Job::Prepare(
                capacity.saturating_mul(2).min(self.segment_bytes),
            ));
        }
        if len >= capacity {
            let ready = lock(&self.spare).take();
            if let Some(spare) = ready {
                let next = active.seq + 1;
                let to = segment_path(&self.dir, next);
                if let Err(e) = self.io.rename(&self.dir.join(SPARE), &to) {
                    return Err(self.fail("segment switch", e.into()));
                }
                // The new name must be durable before frames in it are acknowledged.
                if let Err(e) = self.io.sync_dir(&self.dir) {
                    return Err(self.fail("segment switch", e.into()));
                }
                let done = std::mem::replace(
                    &mut *active,
                    Segment {
                        file: spare.file,
                        seq: next,
                        len: frame::SEGMENT_HEADER as u64,
                        capacity: spare.capacity,
                        writes: 0,
                    },
                );
                self.spare_asked
                    .store(false, std::sync::atomic::Ordering::Release);
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
        remove_segments(&*self.io, &self.dir, active.seq)?;
        match self.io.remove_file(&self.dir.join(SPARE)) {
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

/// Creates `path` holding a segment header and zeros up to `capacity` bytes, synced.
fn zero_filled(io: &dyn FileIo, path: &Path, capacity: u64) -> Result<Box<dyn IoFile>> {
    let file = io.create(path)?;
    let capacity = capacity.max(frame::SEGMENT_HEADER as u64);
    let mut chunk = vec![0u8; 1 << 20];
    let header = frame::segment_header(capacity);
    chunk[..header.len()].copy_from_slice(&header);
    let mut at = 0;
    while at < capacity {
        let n = (capacity - at).min(chunk.len() as u64);
        io::write_all_at(&*file, &chunk[..n as usize], at)?;
        if at == 0 {
            chunk[..header.len()].fill(0);
        }
        at += n;
    }
    file.sync_all()?;
    Ok(file)
}

fn checkpointer(
    io: &dyn FileIo,
    dir: &Path,
    make_durable: &MakeDurable,
    rx: &mpsc::Receiver<Job>,
    spare: &Mutex<Option<Spare>>,
    failure: &Mutex<Option<Failure>>,
) {
    while let Ok(job) = rx.recv() {
        let outcome = match job {
            Job::Checkpoint(upto) => make_durable().and_then(|()| remove_segments(io, dir, upto)),
            Job::Prepare(capacity) => zero_filled(io, &dir.join(SPARE), capacity).map(|file| {
                *lock(spare) = Some(Spare { file, capacity });
            }),
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, "journal checkpoint failed; the store refuses writes until reopened");
            let why = format!("journal checkpoint failed: {e}");
            lock(failure).get_or_insert_with(|| Failure::caused(why, Arc::new(e)));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::frame::{seal, Pairs, SEGMENT_HEADER};
    use super::replay::Replayed;
    use super::*;
    use crate::io::RealIo;
    use crate::testing::{Fault, FaultyIo, Step};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn pairs(n: u8) -> Pairs {
        (0..n)
            .map(|i| (vec![b'k', i], vec![i; i as usize]))
            .collect()
    }

    fn frame_of(n: u8) -> Vec<u8> {
        encode_frame(&pairs(n), MAX_FRAME).unwrap()
    }

    fn replay_all(dir: &Path) -> (Vec<Pairs>, Replayed) {
        let mut got = Vec::new();
        let r = replay(&RealIo, dir, &mut |p| {
            got.push(p);
            Ok(())
        })
        .unwrap();
        (got, r)
    }

    fn noop() -> MakeDurable {
        Arc::new(|| Ok(()))
    }

    fn start(io: Io, dir: &Path, segment_bytes: u64, make_durable: MakeDurable) -> Wal {
        Wal::start(io, dir, segment_bytes, MAX_FRAME, make_durable).unwrap()
    }

    /// A journal holding the frames of `pairs(1..=n)`, synced after each frame or
    /// once at the end; closed without a checkpoint, as after a crash.
    fn journal_of(n: u8, sync_each: bool) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(WAL_DIR);
        let wal = start(Arc::new(RealIo), &dir, 1 << 20, noop());
        for i in 1..=n {
            wal.push(frame_of(i));
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
        assert_eq!((r.frames, r.torn_bytes, r.damage), (3, 0, None));
        // A write cut short: its frame and anything after it are not replayed.
        let seg = segments(&RealIo, &dir).unwrap().pop().unwrap().1;
        let written: usize = SEGMENT_HEADER + (1..=3).map(|n| frame_of(n).len()).sum::<usize>();
        let mut frame = frame_of(4);
        seal(&mut frame, 1, 0, 1);
        let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, &frame[..frame.len() - 1], written as u64)
            .unwrap();
        let (got, r) = replay_all(&dir);
        assert_eq!(got.len(), 3);
        assert_eq!(r.damage, None);
        let size = std::fs::metadata(&seg).unwrap().len();
        assert_eq!(r.torn_bytes, size - written as u64);
    }

    #[test]
    fn a_flipped_byte_in_a_synced_frame_is_damage() {
        let (_tmp, dir) = journal_of(3, true);
        let seg = segments(&RealIo, &dir).unwrap().pop().unwrap().1;
        let mut bytes = std::fs::read(&seg).unwrap();
        let second = SEGMENT_HEADER + frame_of(1).len() + frame::FRAME_HEADER + 5;
        bytes[second] ^= 0x40;
        std::fs::write(&seg, &bytes).unwrap();
        let (got, r) = replay_all(&dir);
        assert_eq!(got, vec![pairs(1)]);
        assert!(r.damage.is_some(), "{r:?}");
    }

    /// Defect 1 of issue 22: a failed write took the frames handed over, and
    /// the next flush, finding nothing left, answered Ok.
    #[test]
    fn after_a_failed_write_or_sync_every_later_flush_fails() {
        for (step, fault) in [(Step::Write, Fault::NoSpace), (Step::Sync, Fault::Eio)] {
            let tmp = tempfile::tempdir().unwrap();
            let io = FaultyIo::new();
            let wal = start(io.clone(), &tmp.path().join(WAL_DIR), 1 << 20, noop());
            wal.push(frame_of(1));
            wal.sync().unwrap();
            io.arm(step, 1, fault);
            wal.push(frame_of(2));
            wal.push(frame_of(3));
            assert!(wal.sync().is_err(), "{step:?}");
            assert!(io.fired());
            assert!(
                wal.sync().is_err(),
                "{step:?}: an empty flush after a failure"
            );
            wal.push(frame_of(4));
            assert!(wal.sync().is_err(), "{step:?}: a flush after a failure");
        }
    }

    #[test]
    fn a_short_write_is_finished() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(WAL_DIR);
        let io = FaultyIo::new();
        let wal = start(io.clone(), &dir, 1 << 20, noop());
        io.arm(Step::Write, 1, Fault::ShortWrite);
        wal.push(frame_of(5));
        wal.push(frame_of(6));
        wal.sync().unwrap();
        assert!(io.fired());
        drop(wal);
        let (got, r) = replay_all(&dir);
        assert_eq!((got, r.damage), (vec![pairs(5), pairs(6)], None));
    }

    #[test]
    fn full_segments_are_checkpointed_and_deleted_in_the_background() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(WAL_DIR);
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let wal = start(
            Arc::new(RealIo),
            &dir,
            64,
            Arc::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // Write until a full segment was checkpointed: on a loaded machine the
        // spare segment the checkpointer prepares can come late, and the journal
        // then keeps writing to the active one rather than wait for it.
        let mut n = 0u8;
        while (n < 20 || calls.load(Ordering::SeqCst) == 0) && std::time::Instant::now() < deadline
        {
            n = n.wrapping_add(1);
            wal.push(frame_of(n % 5 + 1));
            wal.sync().unwrap();
            if n >= 20 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        // Only segments the checkpointer has not reached yet remain, the active one last.
        while segments(&RealIo, &dir).unwrap().len() > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(segments(&RealIo, &dir).unwrap().len(), 1);
        assert!(calls.load(Ordering::SeqCst) >= 1);
        wal.checkpoint().unwrap();
        assert!(segments(&RealIo, &dir).unwrap().is_empty());
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
        let wal = start(
            Arc::new(RealIo),
            &dir,
            16,
            Arc::new(|| Err(std::io::Error::other("injected").into())),
        );
        wal.push(frame_of(3));
        wal.sync().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            wal.push(frame_of(1));
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
