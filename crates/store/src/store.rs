//! The store over a key-value backend: [`SledStore`] on disk, [`MemoryStore`] in memory.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::api::EventStore;
use crate::backend::{open_sled, Kv, MemKv, SledKv};
use crate::clock::{Clock, SystemClock};
use crate::engine::{recover, run_committer, Committer, Durability, Request, Shared, Visible};
use crate::error::{Failure, Result, StoreError};
use crate::headfile::{HeadFile, HeadNote, HeadRead, HEAD_FILE_NAME};
use crate::io::{FileIo, RealIo};
use crate::record;
use crate::types::*;
use crate::wal::MAX_FRAME;

/// Settings of a store.
#[derive(Clone)]
pub struct StoreConfig {
    /// Whether each acknowledgement waits for a flush (default: it does).
    pub durability: Durability,
    /// The clock that stamps commits (default: the system clock).
    pub clock: Arc<dyn Clock>,
    /// Most commits gathered into one group commit.
    pub max_batch: usize,
    /// Most commits queued for the committer before appenders wait.
    pub queue_depth: usize,
    /// sled's page cache size in bytes.
    pub cache_capacity: u64,
    /// How long `open` waits for the directory's lock before [`StoreError::Locked`].
    pub lock_wait: std::time::Duration,
    /// Size at which the write-ahead journal starts a new segment and sled is
    /// made durable in the background, so that the journal can be deleted.
    pub journal_segment_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            durability: Durability::Flush,
            clock: Arc::new(SystemClock),
            max_batch: 1024,
            queue_depth: 4096,
            cache_capacity: 256 << 20,
            lock_wait: std::time::Duration::from_secs(5),
            journal_segment_bytes: 64 << 20,
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("durability", &self.durability)
            .field("max_batch", &self.max_batch)
            .field("queue_depth", &self.queue_depth)
            .field("cache_capacity", &self.cache_capacity)
            .field("lock_wait", &self.lock_wait)
            .field("journal_segment_bytes", &self.journal_segment_bytes)
            .finish_non_exhaustive()
    }
}

/// An event store over one of the key-value backends.
pub struct Store<K: Kv> {
    shared: Arc<Shared<K>>,
    tx: mpsc::Sender<Request>,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The committer's state, for a lone writer to commit on its own thread.
    core: Option<Arc<Mutex<Committer<K>>>>,
    /// Commits being submitted right now, to tell a lone writer.
    appending: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts a commit being submitted, for as long as it lives (also when the
/// submitting future is dropped).
struct Appending<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Appending<'a> {
    fn enter(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Appending(count)
    }
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The durable store on sled.
pub type SledStore = Store<SledKv>;
/// A store that keeps everything in memory, for tests and tools.
pub type MemoryStore = Store<MemKv>;

/// Name of the one sled tree that holds the log and its indexes.
pub const TREE_NAME: &str = "ecoute-log";

impl SledStore {
    /// Opens (or creates) a store in the directory `path`.
    pub fn open(path: impl Into<PathBuf>, config: StoreConfig) -> Result<Self> {
        Self::open_with(path.into(), config, Arc::new(RealIo), MAX_FRAME)
    }

    /// [`SledStore::open`] with the journal's and the head file's file
    /// operations going through `io`, and journal frames of at most `max_frame` bytes.
    pub(crate) fn open_with(
        path: PathBuf,
        config: StoreConfig,
        io: Arc<dyn FileIo>,
        max_frame: u32,
    ) -> Result<Self> {
        let sled_config = sled::Config::new()
            .path(&path)
            .cache_capacity(config.cache_capacity)
            .flush_every_ms(match config.durability {
                Durability::Flush => None,
                Durability::UnsafeNoFlush => Some(500),
            });
        let db = open_sled(&sled_config, config.lock_wait)?;
        let tree = db.open_tree(TREE_NAME)?;
        match tree.get(record::META_FORMAT_KEY)? {
            Some(v) if v.as_ref() == [record::LAYOUT] => {}
            Some(v) => {
                return Err(StoreError::InvalidRequest(format!(
                    "unsupported store format {:?}",
                    v.as_ref()
                )))
            }
            None => {
                tree.insert(record::META_FORMAT_KEY, &[record::LAYOUT])?;
                db.flush()?;
            }
        }
        let journal = match config.durability {
            Durability::Flush => Some(config.journal_segment_bytes),
            Durability::UnsafeNoFlush => None,
        };
        let kv = SledKv::open(db, tree, &path, journal, io.clone(), max_frame)?;
        let (head_file, read) = HeadFile::open(&*io, &path)?;
        let (note, fault) = match read {
            HeadRead::Missing => (None, None),
            HeadRead::Note(n) => (Some(n), None),
            HeadRead::Damaged => (
                None,
                Some(Failure::reason(format!(
                    "the head file {} is damaged: check the log with `ecoute verify`, then remove the file to accept it",
                    path.join(HEAD_FILE_NAME).display()
                ))),
            ),
        };
        let fault = match kv.journal_damage() {
            Some(why) => Some(Failure::reason(why)),
            None => fault,
        };
        Self::start(kv, config, note, fault, Some(head_file))
    }
}

/// What [`SledStore::backup`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// How many records (all positions below this) were copied.
    pub records: u64,
    /// The chain hash of the last record copied (the genesis hash for an empty log),
    /// in hex: the copy's `verify` prints the same.
    pub chain_head: String,
}

impl SledStore {
    /// Copies the durable log, record by record and byte for byte, into a new store
    /// in `dest` (absent or empty), while this store keeps running: every position
    /// below the visible head is final, so the copy is consistent as of that head. The
    /// copy is flushed and synced, carries its own head file, and opens and verifies
    /// as a store of its own.
    pub fn backup(&self, dest: &std::path::Path) -> Result<BackupReport> {
        if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
            return Err(StoreError::InvalidRequest(format!(
                "the backup directory {} is not empty",
                dest.display()
            )));
        }
        let end = self.shared.visible();
        let db = sled::Config::new().path(dest).open()?;
        let tree = db.open_tree(TREE_NAME)?;
        let copy = SledKv::open(db, tree, dest, None, Arc::new(RealIo), MAX_FRAME)?;
        copy.apply(vec![(
            record::META_FORMAT_KEY.to_vec(),
            vec![record::LAYOUT],
        )])?;
        let mut head = record::GENESIS;
        let mut expected = 0u64;
        let mut batch = Vec::new();
        let mut fault = None;
        self.shared.kv.scan(
            &record::event_key(0),
            &record::event_key(end),
            false,
            &mut |key, value| {
                let position = record::key_suffix_u64(key).unwrap_or(u64::MAX);
                if position != expected {
                    fault = Some(expected);
                    return Ok(false);
                }
                head = record::check_record(position, value)?.hash;
                batch.push((key.to_vec(), value.to_vec()));
                if batch.len() == 4096 {
                    copy.apply(std::mem::take(&mut batch))?;
                }
                expected += 1;
                Ok(true)
            },
        )?;
        if let Some(position) = fault.or((expected != end).then_some(expected)) {
            return Err(StoreError::Corrupt {
                position,
                reason: "record missing".into(),
            });
        }
        copy.apply(batch)?;
        copy.flush()?;
        if end > 0 {
            let (mut file, _) = HeadFile::open(&RealIo, dest)?;
            file.write(&HeadNote {
                count: end,
                hash: head,
            })?;
            file.sync()?;
        }
        Ok(BackupReport {
            records: end,
            chain_head: record::hex(&head),
        })
    }
}

impl MemoryStore {
    /// A new, empty in-memory store.
    ///
    /// # Panics
    ///
    /// If the operating system refuses to start the committer's thread (an
    /// empty map cannot fail otherwise); [`MemoryStore::try_in_memory`] returns
    /// that as an error instead.
    pub fn in_memory(config: StoreConfig) -> Self {
        match Self::try_in_memory(config) {
            Ok(s) => s,
            Err(e) => panic!("cannot start an in-memory store: {e}"),
        }
    }

    /// A new, empty in-memory store, or the error that kept its threads from starting.
    pub fn try_in_memory(config: StoreConfig) -> Result<Self> {
        Self::start(MemKv::default(), config, None, None, None)
    }
}

impl<K: Kv> Store<K> {
    fn start(
        kv: K,
        config: StoreConfig,
        note: Option<HeadNote>,
        fault: Option<Failure>,
        head_file: Option<HeadFile>,
    ) -> Result<Self> {
        let mut recovered = recover(&kv, note.as_ref())?;
        if let Some(first) = recovered.incomplete_tail {
            // Only a prefix of the last commit reached the disk and the head file
            // never noted it durable: it was never acknowledged (a crash between
            // its first records and its journal frame). Roll it back, durably,
            // before new commits take its positions.
            if note.as_ref().is_none_or(|n| n.count <= first) && fault.is_none() {
                tracing::warn!(
                    first,
                    end = recovered.next,
                    "rolling back an incomplete, unacknowledged last commit"
                );
                kv.remove_range(
                    &record::event_key(first),
                    &record::event_key(recovered.next),
                )?;
                recovered = recover(&kv, note.as_ref())?;
            }
        }
        let index = std::mem::take(&mut recovered.index);
        let shared = Arc::new(Shared::new(kv, recovered.next, note, index));
        let (tx, rx) = mpsc::channel(config.queue_depth.max(1));
        if let Some(fault) = fault.or_else(|| recovered.fault.clone()) {
            // Damaged: open for reading and verifying only, and say why.
            tracing::error!(fault = %fault.reason, "the store is damaged; it refuses writes");
            shared.fail(fault);
            drop(rx);
            return Ok(Store {
                shared,
                tx,
                committer: Mutex::new(None),
                core: None,
                appending: Default::default(),
            });
        }
        let committer = Committer::new(
            shared.clone(),
            config.clock.clone(),
            config.durability,
            config.max_batch,
            recovered,
            head_file,
        );
        let core = Arc::new(Mutex::new(committer));
        let thread_core = core.clone();
        let handle = std::thread::Builder::new()
            .name("ecoute-committer".into())
            .spawn(move || run_committer(thread_core, rx))
            .map_err(StoreError::from)?;
        Ok(Store {
            shared,
            tx,
            committer: Mutex::new(Some(handle)),
            core: Some(core),
            appending: Default::default(),
        })
    }

    /// Stops the committer after the commits already queued, then flushes.
    ///
    /// Appends after this answer [`StoreError::Closed`]; subscriptions end;
    /// reads keep working until the store is dropped.
    pub async fn close(&self) -> Result<()> {
        let handle = self.committer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            // Wait for room rather than lose the shutdown; the committer drains the queue.
            let _ = self.tx.send(Request::Shutdown).await;
            let shared = self.shared.clone();
            tokio::task::spawn_blocking(move || {
                let _ = handle.join();
                shared.kv.checkpoint()
            })
            .await
            .map_err(|e| StoreError::Failed {
                reason: format!("close failed: {e}"),
                cause: Some(Arc::new(e)),
            })??;
        }
        self.shared.close_head();
        Ok(())
    }

    /// Why the store refuses writes, if an I/O error made it fail.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure()
    }

    async fn send<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(make(tx)).await.is_err() {
            return Err(self.closed_error());
        }
        rx.await.unwrap_or_else(|_| Err(self.closed_error()))
    }

    /// Hands a commit to the committer. When it is the only commit being
    /// submitted, nothing is queued or in flight, and the runtime has worker
    /// threads, the commit is made and flushed
    /// right here (in `block_in_place`), saving the two thread hand-offs of the
    /// queue; otherwise it joins the queue and a group.
    async fn submit(&self, commit: Commit) -> Result<CommitResult> {
        let mut commit = commit;
        let _appending = Appending::enter(&self.appending);
        // Only a writer alone: under concurrency, commits must meet in the queue to
        // share a flush (group commit), and no worker thread should block.
        let alone = self.appending.load(std::sync::atomic::Ordering::Acquire) == 1;
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if let (Some(core), true) = (&self.core, multi_thread && alone) {
            let answer = match core.try_lock() {
                Ok(mut c) => {
                    let queue_empty = || self.tx.capacity() == self.tx.max_capacity();
                    tokio::task::block_in_place(|| c.try_commit_now(commit, &queue_empty))
                }
                Err(_) => Err(commit),
            };
            match answer {
                Ok(answer) => {
                    return answer.await.unwrap_or_else(|_| Err(self.closed_error()));
                }
                Err(back) => commit = back,
            }
        }
        self.send(|tx| Request::Commit(commit, tx)).await
    }

    fn closed_error(&self) -> StoreError {
        self.shared.failed().unwrap_or(StoreError::Closed)
    }

    /// Runs a blocking read on tokio's blocking pool, waiting and retrying while
    /// it touches a commit that is not yet durable.
    async fn read<T: Send + 'static>(
        &self,
        f: impl Fn(&Shared<K>) -> Result<Visible<T>> + Send + Sync + 'static,
    ) -> Result<T> {
        let f = Arc::new(f);
        loop {
            let shared = self.shared.clone();
            let f = f.clone();
            let outcome = tokio::task::spawn_blocking(move || f(&shared))
                .await
                .map_err(|e| StoreError::Failed {
                    reason: format!("read task failed: {e}"),
                    cause: Some(Arc::new(e)),
                })??;
            match outcome {
                Visible::Ready(v) => return Ok(v),
                Visible::WaitFor(p) => self.shared.wait_visible(p).await?,
            }
        }
    }
}

impl<K: Kv> Drop for Store<K> {
    fn drop(&mut self) {
        let handle = self.committer.get_mut().ok().and_then(|h| h.take());
        if let Some(handle) = handle {
            // If the queue is full the committer still stops: it sees the
            // channel close once this sender is gone, after draining it.
            if self.tx.try_send(Request::Shutdown).is_ok() {
                let _ = handle.join();
            }
        }
    }
}

#[async_trait]
impl<K: Kv> EventStore for Store<K> {
    async fn append(&self, commit: Commit) -> Result<CommitResult> {
        self.submit(commit).await
    }

    /// All through the committer's queue, so that they meet in groups. The
    /// provided version (a `join_all` of `append`s) would not: an append that
    /// finds itself alone is committed and flushed at once on its task's own
    /// thread (`Store::submit`), so the commits of one task would be made one
    /// after the other, each with its own flush, instead of sharing one.
    async fn append_many(&self, commits: Vec<Commit>) -> Vec<Result<CommitResult>> {
        futures::future::join_all(
            commits
                .into_iter()
                .map(|c| self.send(|tx| Request::Commit(c, tx))),
        )
        .await
    }

    async fn delete_stream(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        mode: DeleteMode,
    ) -> Result<DeleteResult> {
        self.send(|tx| Request::Delete(stream, expected, mode, tx))
            .await
    }

    async fn stream_state(&self, stream: &StreamId) -> Result<StreamState> {
        let stream = stream.clone();
        self.read(move |s| s.stream_state(&stream)).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from: ReadFrom,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let stream = stream.clone();
        self.read(move |s| s.read_stream(&stream, from, direction, limit))
            .await
    }

    async fn event_by_id(&self, id: Uuid) -> Result<Option<RecordedEvent>> {
        self.read(move |s| s.event_by_id(&id)).await
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>> {
        self.read(move |s| s.read_all(from, limit).map(Visible::Ready))
            .await
    }

    /// On the calling thread, with no hand-off to tokio's blocking pool (and no
    /// wait: `$all` is read only up to the visible head). The projection
    /// runtime's readers run on threads of their own and free the events they
    /// read there: glibc's allocator is fast only when a chunk's many small
    /// allocations are made and freed on one thread, with no cross-thread frees
    /// (docs/projections.md, docs/benchmarks.md).
    fn read_all_blocking(
        &self,
        _: &tokio::runtime::Handle,
        from: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.shared.read_all(from, limit)
    }

    async fn read_category(
        &self,
        category: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let category = category.to_owned();
        self.read(move |s| s.read_category(&category, from, limit).map(Visible::Ready))
            .await
    }

    async fn head(&self) -> Result<u64> {
        Ok(self.shared.visible())
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.shared.watch_head()
    }

    async fn verify(&self) -> Result<VerifyReport> {
        self.read(|s| s.verify(|_, _| {}).map(Visible::Ready)).await
    }
}

impl<K: Kv> Store<K> {
    /// The chain hash stored in the record at `position` (hex): it covers that record
    /// and, through the chain, every record before it. `None` beyond the durable head.
    pub fn chain_hash(&self, position: u64) -> Result<Option<String>> {
        if position >= self.shared.visible() {
            return Ok(None);
        }
        let bytes = self
            .shared
            .kv
            .get(&record::event_key(position))?
            .ok_or_else(|| StoreError::Corrupt {
                position,
                reason: "record missing".into(),
            })?;
        Ok(Some(record::hex(
            &record::check_record(position, &bytes)?.hash,
        )))
    }

    /// Like [`EventStore::verify`], calling `progress(done, total)` as it goes.
    pub fn verify_with_progress(&self, progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
        self.shared.verify(progress)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::*;
    use crate::backend::{sealed, Visit};

    /// An in-memory backend whose next write or flush fails on command.
    #[derive(Default)]
    struct FaultyKv {
        inner: MemKv,
        /// 0: healthy; 1: the next apply fails with ENOSPC; 2: the next flush fails with EIO.
        fault: Arc<AtomicU8>,
    }

    impl sealed::Sealed for FaultyKv {}

    impl Kv for FaultyKv {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn scan(&self, start: &[u8], end: &[u8], reverse: bool, visit: Visit<'_>) -> Result<()> {
            self.inner.scan(start, end, reverse, visit)
        }
        fn apply(&self, batch: Vec<(Vec<u8>, Vec<u8>)>) -> Result<()> {
            if self
                .fault
                .compare_exchange(1, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Err(std::io::Error::from_raw_os_error(28).into());
            }
            self.inner.apply(batch)
        }
        fn remove_range(&self, start: &[u8], end: &[u8]) -> Result<()> {
            self.inner.remove_range(start, end)
        }
        fn flush(&self) -> Result<()> {
            if self
                .fault
                .compare_exchange(2, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Err(std::io::Error::other("injected flush failure").into());
            }
            self.inner.flush()
        }
    }

    fn event(n: u128) -> EventData {
        EventData::new(uuid::Uuid::from_u128(n), "Happened", 1, vec![1, 2, 3])
    }

    async fn faulty_store(fault: u8) -> (Store<FaultyKv>, StreamId) {
        let kv = FaultyKv::default();
        let switch = kv.fault.clone();
        let store = Store::start(kv, StoreConfig::default(), None, None, None).unwrap();
        let s = StreamId::new("case-1").unwrap();
        store
            .append_to_stream(s.clone(), ExpectedVersion::Any, vec![event(1)])
            .await
            .unwrap();
        switch.store(fault, Ordering::SeqCst);
        (store, s)
    }

    #[tokio::test]
    async fn a_full_disk_fails_the_commit_and_then_the_store() {
        let (store, s) = faulty_store(1).await;
        let err = store
            .append_to_stream(s.clone(), ExpectedVersion::Exact(0), vec![event(2)])
            .await
            .unwrap_err();
        // It reached the backend: it may yet land, and the answer says so.
        assert!(matches!(err, StoreError::OutcomeUnknown { .. }), "{err}");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("disk full"), "{err}");
        // The store now refuses writes, says why, and still serves what was durable.
        let err = store
            .append_to_stream(s.clone(), ExpectedVersion::Any, vec![event(3)])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Failed { .. }), "{err}");
        // The refusal keeps the error that made the store fail, as its source.
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("disk full"), "{err}");
        assert!(store.failure().is_some());
        assert_eq!(store.head().await.unwrap(), 1);
        let evs = store
            .read_stream(&s, ReadFrom::Edge, Direction::Forward, 10)
            .await
            .unwrap();
        assert_eq!(evs.len(), 1);
    }

    #[tokio::test]
    async fn a_failed_flush_is_never_acknowledged_nor_shown() {
        let (store, s) = faulty_store(2).await;
        let err = store
            .append_to_stream(s.clone(), ExpectedVersion::Exact(0), vec![event(2)])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::OutcomeUnknown { .. }), "{err}");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("i/o error: injected flush failure"));
        // The batch reached the backend but was not flushed: readers must not see it,
        // and a reader that meets its stream record must not hang.
        assert_eq!(store.head().await.unwrap(), 1);
        assert_eq!(store.read_all(0, 10).await.unwrap().len(), 1);
        let err = store
            .read_stream(&s, ReadFrom::Edge, Direction::Forward, 10)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Failed { .. }), "{err}");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("i/o error: injected flush failure"));
        let err = store
            .delete_stream(s, ExpectedVersion::Any, DeleteMode::Soft)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Failed { .. }), "{err}");
    }

    /// A writer that took its place in the committer's queue just before a
    /// failure stopped the committer, and put its commit there just after,
    /// was never answered: the committer refused what was queued with
    /// `try_recv`, which does not wait for a writer holding a place, and the
    /// commit stayed in a queue nobody read. (Seen as a hang of
    /// `every_step_failing_once_keeps_the_promises` under load.)
    #[tokio::test]
    async fn a_commit_queued_while_a_failure_stops_the_committer_is_answered() {
        let (store, s) = faulty_store(1).await;
        // A writer between taking its place in the queue and putting its commit there.
        let place = store.tx.reserve().await.unwrap();
        // The write fails: the store fails and the committer stops.
        let err = store
            .append_to_stream(s.clone(), ExpectedVersion::Any, vec![event(2)])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::OutcomeUnknown { .. }), "{err}");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !store.tx.is_closed() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the committer never stopped"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        // Let the committer finish stopping, then the writer puts its commit.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (tx, rx) = oneshot::channel();
        let commit = Commit::single(s, ExpectedVersion::Any, vec![event(3)]);
        place.send(Request::Commit(commit, tx));
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), rx)
            .await
            .expect("a commit queued as the committer stopped was never answered");
        let err = answer
            .unwrap_or_else(|_| Err(StoreError::Closed))
            .unwrap_err();
        assert!(matches!(err, StoreError::Failed { .. }), "{err}");
    }

    #[tokio::test]
    async fn closing_refuses_later_appends() {
        let store = MemoryStore::in_memory(StoreConfig::default());
        store.close().await.unwrap();
        let err = store
            .append_to_stream(
                StreamId::new("case-1").unwrap(),
                ExpectedVersion::Any,
                vec![event(1)],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Closed), "{err}");
    }

    #[tokio::test]
    async fn large_values_that_sled_writes_as_blobs_are_synced_too() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path().join("db"), StoreConfig::default()).unwrap();
        // Far above sled's inline limit (a quarter of its 512 KiB segment).
        let big = EventData::new(uuid::Uuid::from_u128(1), "Big", 1, vec![7; 600 << 10]);
        store
            .append_to_stream(
                StreamId::new("case-1").unwrap(),
                ExpectedVersion::Any,
                vec![big],
            )
            .await
            .unwrap();
        let blobs: std::collections::HashSet<_> = std::fs::read_dir(dir.path().join("db/blobs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(!blobs.is_empty(), "the test needs sled to write a blob");
        // The journal made it durable at once; the close puts it durably in sled.
        store.close().await.unwrap();
        let synced = store.shared.kv.parts.synced_blobs.lock().unwrap().clone();
        assert!(
            blobs.is_subset(&synced),
            "a clean close left a blob file unsynced"
        );
    }

    #[tokio::test]
    async fn a_directory_held_by_another_store_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let first = SledStore::open(dir.path().join("db"), StoreConfig::default()).unwrap();
        let config = StoreConfig {
            lock_wait: std::time::Duration::from_millis(100),
            ..StoreConfig::default()
        };
        let second = SledStore::open(dir.path().join("db"), config);
        assert!(
            matches!(second, Err(StoreError::Locked(_))),
            "{:?}",
            second.err()
        );
        drop(first);
        // Once released, it opens (the default wait covers sled's late release).
        SledStore::open(dir.path().join("db"), StoreConfig::default()).unwrap();
    }
}
