//! The ordered key-value space the engine runs on: sled on disk, or a map in memory.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use crate::error::{Result, StoreError};
use crate::io::Io;
use crate::wal::{self, Wal, WAL_DIR};

/// A visitor over key-value pairs: returns `Ok(false)` to stop.
pub type Visit<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> Result<bool>;

pub(crate) mod sealed {
    pub trait Sealed {}
    impl Sealed for super::SledKv {}
    impl Sealed for super::MemKv {}
}

/// A sorted key-value space with atomic batches and an explicit flush.
///
/// Only the engine's single committer writes; readers run concurrently. The
/// trait is sealed: [`SledKv`] and [`MemKv`] are its only implementations.
pub trait Kv: sealed::Sealed + Send + Sync + 'static {
    /// Reads one value.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Visits the keys in `[start, end)` in order (or reverse order) until `visit` returns false.
    fn scan(&self, start: &[u8], end: &[u8], reverse: bool, visit: Visit<'_>) -> Result<()>;
    /// Writes all the pairs atomically: after a crash, all or none of them are
    /// there. [`StoreError::InvalidRequest`] means nothing was written (the
    /// batch is too large); after any other error, some of it may have been.
    fn apply(&self, batch: Vec<(Vec<u8>, Vec<u8>)>) -> Result<()>;
    /// Most bytes of records one [`Kv::apply`] should be given, so that a
    /// batch of valid commits is never too large.
    fn max_group_bytes(&self) -> usize {
        usize::MAX
    }
    /// Makes everything applied so far durable.
    fn flush(&self) -> Result<()>;
    /// Makes everything applied so far durable in its final place (a clean
    /// close): for sled, its own files, leaving no journal to replay.
    fn checkpoint(&self) -> Result<()> {
        self.flush()
    }
    /// Removes the keys in `[start, end)` and makes that durable (rolling back
    /// an unacknowledged, incomplete last commit on open).
    fn remove_range(&self, start: &[u8], end: &[u8]) -> Result<()>;
}

/// Opens a sled database, waiting up to `wait` while another handle still
/// holds its file lock.
///
/// sled lets go of its lock only when its I/O threads drop their last handle,
/// a moment after the database itself is dropped; a reopen in that moment (a
/// restart, a test) would otherwise fail. A lock held longer — another process
/// using the directory — is [`StoreError::Locked`].
pub fn open_sled(config: &sled::Config, wait: std::time::Duration) -> Result<sled::Db> {
    let deadline = std::time::Instant::now() + wait;
    // sled says it could not take its lock only in its error's text: whether
    // the lock is held is asked of the file itself instead.
    let lock_file = config.get_path().join("db");
    let mut lock_was_free = false;
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if e.kind() == std::io::ErrorKind::Other => {
                match lock_held(&lock_file) {
                    true if std::time::Instant::now() >= deadline => {
                        return Err(StoreError::Locked(e))
                    }
                    true => lock_was_free = false,
                    // Released between sled's try and this one (sled's late
                    // release): try again; free twice running, it was not the lock.
                    false if !lock_was_free => lock_was_free = true,
                    false => return Err(sled::Error::Io(e).into()),
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

/// Whether another handle holds the exclusive lock sled takes on its `db`
/// file (with the same crate, `fs2`: `flock` on Unix). A file that cannot be
/// opened holds no lock.
fn lock_held(file: &std::path::Path) -> bool {
    use fs2::FileExt;
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
    else {
        return false;
    };
    match f.try_lock_exclusive() {
        Ok(()) => {
            let _ = FileExt::unlock(&f);
            false
        }
        Err(e) => e.raw_os_error() == fs2::lock_contended_error().raw_os_error(),
    }
}

/// The sled backend: one tree holding every key space, and the journal that
/// makes its commits durable (see the `wal` module).
pub struct SledKv {
    pub(crate) parts: Arc<SledParts>,
    /// The write-ahead journal; `None` for a store that never syncs (or a
    /// backup copy), and for one whose journal was damaged.
    pub(crate) wal: Option<Wal>,
    journal_damage: Option<String>,
}

/// sled's database and what its durable flush needs.
pub(crate) struct SledParts {
    pub(crate) db: sled::Db,
    pub(crate) tree: sled::Tree,
    /// sled's log file, opened again so that a flush can end in `fdatasync`.
    pub(crate) data_file: std::fs::File,
    /// sled's directory of large values, which sled writes without any sync.
    pub(crate) blobs_dir: std::path::PathBuf,
    /// Blob files already made durable.
    pub(crate) synced_blobs: std::sync::Mutex<std::collections::HashSet<std::ffi::OsString>>,
    /// The file operations of the journal and the head file, told when sled is durable.
    io: Io,
}

impl SledParts {
    pub(crate) fn new(
        db: sled::Db,
        tree: sled::Tree,
        dir: &std::path::Path,
        io: Io,
    ) -> Result<Self> {
        Ok(SledParts {
            io,
            data_file: std::fs::File::open(dir.join("db"))?,
            blobs_dir: dir.join("blobs"),
            db,
            tree,
            synced_blobs: Default::default(),
        })
    }

    /// sled's own flush writes its log with `sync_file_range` on Linux, which
    /// neither flushes the disk's cache nor the file's metadata, and writes
    /// large values (blobs) with no sync at all. So after it: `fdatasync` of the
    /// log file, and `fsync` of any new blob file.
    pub(crate) fn make_durable(&self) -> Result<()> {
        self.db.flush()?;
        self.data_file.sync_data()?;
        self.sync_blobs()?;
        self.io.engine_durable();
        Ok(())
    }

    /// Makes new blob files durable: sled 0.34 writes them without syncing.
    fn sync_blobs(&self) -> Result<()> {
        let entries = match std::fs::read_dir(&self.blobs_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut synced = self.synced_blobs.lock().map_err(|_| poisoned())?;
        let mut present = std::collections::HashSet::new();
        let mut new_files = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !synced.contains(&name) {
                std::fs::File::open(entry.path())?.sync_all()?;
                new_files = true;
            }
            present.insert(name);
        }
        if new_files {
            std::fs::File::open(&self.blobs_dir)?.sync_all()?;
        }
        *synced = present;
        Ok(())
    }

    /// An atomic sled batch: all or nothing after a crash. sled writes (and
    /// `sync_file_range`s) its log buffer for every batch, on its I/O threads.
    fn apply_batch(&self, batch: Vec<(Vec<u8>, Vec<u8>)>) -> Result<()> {
        let mut b = sled::Batch::default();
        for (k, v) in batch {
            b.insert(k, v);
        }
        self.tree.apply_batch(b)?;
        Ok(())
    }

    /// Plain inserts, in order: sled keeps them in its log buffer until it is
    /// full or flushed, and recovers a prefix of them after a crash. Used with
    /// the journal, which holds the group whole.
    fn insert_all(&self, batch: Vec<(Vec<u8>, Vec<u8>)>) -> Result<()> {
        for (k, v) in batch {
            self.tree.insert(k, v)?;
        }
        Ok(())
    }
}

impl SledKv {
    /// Opens the backend over an open sled tree: replays the journal in
    /// `dir/wal` into it, makes it durable, and starts a new journal with segments of
    /// `journal` bytes (`None`: no journal, flushes go through sled itself) and
    /// frames of at most `max_frame` bytes.
    ///
    /// A damaged journal (see `wal/replay.rs`) is replayed up to the damage,
    /// then kept aside, whole, in `wal-damaged-<time>/`; while such a
    /// directory is there, the backend starts no journal and
    /// [`SledKv::journal_damage`] says why the store must not be written.
    pub(crate) fn open(
        db: sled::Db,
        tree: sled::Tree,
        dir: &std::path::Path,
        journal: Option<u64>,
        io: Io,
        max_frame: u32,
    ) -> Result<Self> {
        let parts = Arc::new(SledParts::new(db, tree, dir, io.clone())?);
        let wal_dir = dir.join(WAL_DIR);
        let replayed = wal::replay(&*io, &wal_dir, &mut |pairs| parts.insert_all(pairs))?;
        if replayed.segments > 0 {
            parts.make_durable()?;
            if replayed.format1 {
                tracing::info!(
                    frames = replayed.frames,
                    "a journal of format 1 (left by an older version) was replayed; the journal goes on in format 2"
                );
            } else if replayed.frames > 0 || replayed.torn_bytes > 0 {
                tracing::info!(
                    frames = replayed.frames,
                    torn_bytes = replayed.torn_bytes,
                    "journal replayed into the log"
                );
            }
        }
        if let Some(why) = &replayed.damage {
            // Frames after the damage were not replayed: keep the journal
            // aside for an operator, and refuse writes (below) while it is there.
            let kept = wal::keep_aside(&*io, &wal_dir)?;
            tracing::error!(kept = %kept, reason = %why, "the journal is damaged; frames after the damage were not replayed");
        }
        let kept = wal::damaged_journals(&*io, dir)?;
        let journal_damage = (!kept.is_empty()).then(|| {
            format!(
                "a damaged journal is kept in {} ({}): acknowledged commits after the damage may be missing; \
                 check the log with `ecoute verify`, then move that directory out of {} to accept the log as it is",
                kept.join(", "),
                replayed.damage.as_deref().unwrap_or("found when the store opened earlier"),
                dir.display()
            )
        });
        let wal = match journal {
            Some(segment_bytes) if journal_damage.is_none() => {
                let durable = parts.clone();
                let head_io = io.clone();
                let head_dir = dir.to_path_buf();
                Some(Wal::start(
                    io,
                    &wal_dir,
                    segment_bytes,
                    max_frame,
                    // sled durable, then the head file's note (written after
                    // each flush, synced here: off the acknowledgement path).
                    Arc::new(move || {
                        durable.make_durable()?;
                        crate::headfile::sync(&*head_io, &head_dir)
                    }),
                )?)
            }
            _ => {
                if replayed.segments > 0 && replayed.damage.is_none() {
                    wal::remove_all(&*io, &wal_dir)?;
                }
                None
            }
        };
        Ok(SledKv {
            parts,
            wal,
            journal_damage,
        })
    }

    /// Why the store must not be written, if its journal was found damaged.
    pub(crate) fn journal_damage(&self) -> Option<&str> {
        self.journal_damage.as_deref()
    }
}

impl Drop for SledKv {
    fn drop(&mut self) {
        if let Some(w) = &self.wal {
            if let Err(e) = w.checkpoint() {
                tracing::warn!(error = %e, "cannot checkpoint the journal on close; it is replayed on the next open");
            }
        }
    }
}

impl Kv for SledKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.parts.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn scan(&self, start: &[u8], end: &[u8], reverse: bool, visit: Visit<'_>) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let range = self.parts.tree.range(start..end);
        if reverse {
            for item in range.rev() {
                let (k, v) = item?;
                if !visit(&k, &v)? {
                    break;
                }
            }
        } else {
            for item in range {
                let (k, v) = item?;
                if !visit(&k, &v)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// With the journal: the pairs are inserted into sled one by one (sled's
    /// own batches would write its log at every group), then handed to the
    /// journal as one frame — a frame in the journal is always already in
    /// sled, so a checkpoint after it covers it, and the frame makes the group
    /// whole again after a crash. Without: one atomic sled batch.
    fn apply(&self, batch: Vec<(Vec<u8>, Vec<u8>)>) -> Result<()> {
        match &self.wal {
            Some(w) => {
                let frame = w.frame(&batch)?;
                self.parts.insert_all(batch)?;
                w.push(frame);
                Ok(())
            }
            None => self.parts.apply_batch(batch),
        }
    }

    fn max_group_bytes(&self) -> usize {
        self.wal.as_ref().map_or(usize::MAX, Wal::max_group_bytes)
    }

    fn remove_range(&self, start: &[u8], end: &[u8]) -> Result<()> {
        let mut b = sled::Batch::default();
        for item in self.parts.tree.range(start..end) {
            b.remove(item?.0);
        }
        self.parts.tree.apply_batch(b)?;
        self.parts.make_durable()
    }

    /// With the journal: one `write` and one `fdatasync` of it. Without:
    /// sled's flush, then `fdatasync` of its file and `fsync` of new blobs.
    fn flush(&self) -> Result<()> {
        match &self.wal {
            Some(w) => w.sync(),
            None => self.parts.make_durable(),
        }
    }

    fn checkpoint(&self) -> Result<()> {
        match &self.wal {
            Some(w) => w.checkpoint(),
            None => self.parts.make_durable(),
        }
    }
}

/// The in-memory backend, for tests and tools; nothing survives the process.
#[derive(Default)]
pub struct MemKv {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

fn poisoned() -> StoreError {
    StoreError::failed("in-memory map lock poisoned")
}

impl Kv for MemKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.read().map_err(|_| poisoned())?.get(key).cloned())
    }

    fn scan(&self, start: &[u8], end: &[u8], reverse: bool, visit: Visit<'_>) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let map = self.map.read().map_err(|_| poisoned())?;
        let range = map.range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
        if reverse {
            for (k, v) in range.rev() {
                if !visit(k, v)? {
                    break;
                }
            }
        } else {
            for (k, v) in range {
                if !visit(k, v)? {
                    break;
                }
            }
        }
        Ok(())
    }

    fn apply(&self, batch: Vec<(Vec<u8>, Vec<u8>)>) -> Result<()> {
        let mut map = self.map.write().map_err(|_| poisoned())?;
        map.extend(batch);
        Ok(())
    }

    fn remove_range(&self, start: &[u8], end: &[u8]) -> Result<()> {
        let mut map = self.map.write().map_err(|_| poisoned())?;
        let keys: Vec<Vec<u8>> = map
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            map.remove(&k);
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
