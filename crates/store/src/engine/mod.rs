//! The engine: the state its committer and its readers share (visible head, indexes, failure).
//!
//! One committer positions, batches and flushes commits (`commit.rs`, with the
//! flusher and the acknowledgements in `flush.rs` and what a commit must
//! satisfy in `rules.rs`); the readers (`read.rs`) see only what it made
//! durable. `recovery.rs` walks the log when the store opens, `verify.rs`
//! checks it whole.

mod commit;
mod flush;
mod read;
mod recovery;
mod rules;
mod verify;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::{oneshot, watch};

use crate::backend::Kv;
use crate::error::{Failure, Result, StoreError};
use crate::headfile::HeadNote;
use crate::index::{Deletion, Index, StreamRecord};
use crate::record;
use crate::types::*;

pub(crate) use commit::{run_committer, Committer};
pub(crate) use recovery::recover;

/// Most events one commit may hold.
pub const MAX_COMMIT_EVENTS: usize = 10_000;
/// Most payload and metadata bytes one commit may hold.
pub const MAX_COMMIT_BYTES: usize = 16 << 20;

/// Event type of the record a soft delete writes to the `$$stream`.
pub const DELETED_EVENT_TYPE: &str = "$deleted";
/// Event type of the record a tombstone writes to the `$$stream`.
pub const TOMBSTONED_EVENT_TYPE: &str = "$tombstoned";

/// Whether the committer flushes before acknowledging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flush to disk before every acknowledgement (one flush per group of commits). The default.
    Flush,
    /// UNSAFE: acknowledge without flushing; a crash may lose acknowledged commits.
    /// Only for tests and benchmarks.
    UnsafeNoFlush,
}

pub(crate) enum Request {
    Commit(Commit, oneshot::Sender<Result<CommitResult>>),
    Delete(
        StreamId,
        ExpectedVersion,
        DeleteMode,
        oneshot::Sender<Result<DeleteResult>>,
    ),
    Shutdown,
}

/// State shared by the committer and the readers.
pub(crate) struct Shared<K: Kv> {
    pub(crate) kv: K,
    /// Number of events visible to readers: positions below it are durable and final.
    visible: AtomicU64,
    /// End of the positions the committer has planned: a record that names a
    /// position between `visible` and this is in flight; beyond it, it is damage.
    pending: AtomicU64,
    /// What the head file said on open, checked again by `verify`.
    head_note: Option<HeadNote>,
    /// Ids, streams and categories: derived from the log, kept by the committer.
    index: RwLock<Index>,
    /// Moves with the visible head; taken away when the store closes, which
    /// ends subscriptions and waits.
    head_tx: Mutex<Option<watch::Sender<u64>>>,
    head_rx: watch::Receiver<u64>,
    failure: Mutex<Option<Failure>>,
}

/// A read that must wait until a position becomes visible, then be retried.
pub(crate) enum Visible<T> {
    Ready(T),
    WaitFor(u64),
}

impl<K: Kv> Shared<K> {
    pub(crate) fn new(kv: K, visible: u64, head_note: Option<HeadNote>, index: Index) -> Self {
        let (head_tx, head_rx) = watch::channel(visible);
        Shared {
            kv,
            visible: AtomicU64::new(visible),
            pending: AtomicU64::new(visible),
            head_note,
            index: RwLock::new(index),
            head_tx: Mutex::new(Some(head_tx)),
            head_rx,
            failure: Mutex::new(None),
        }
    }

    pub(crate) fn visible(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }

    pub(crate) fn watch_head(&self) -> watch::Receiver<u64> {
        self.head_rx.clone()
    }

    /// Why the store refuses writes, if it does.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|f| f.reason.clone()))
    }

    /// The refusal a caller gets once the store failed.
    pub(crate) fn failed(&self) -> Option<StoreError> {
        self.failure
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(Failure::error))
    }

    fn with_head(&self, f: impl FnOnce(&watch::Sender<u64>)) {
        if let Some(tx) = self
            .head_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            f(tx);
        }
    }

    /// Ends every subscription and wait: the head will not move again.
    pub(crate) fn close_head(&self) {
        self.head_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    pub(crate) fn fail(&self, why: Failure) {
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(why);
        }
        // Wake readers waiting for a position that will now never become visible.
        self.with_head(|tx| tx.send_modify(|_| {}));
    }

    fn publish(&self, visible: u64) {
        self.visible.store(visible, Ordering::Release);
        self.with_head(|tx| {
            tx.send_replace(visible);
        });
    }

    /// Waits until `position` is visible, or fails if the store failed or closed.
    pub(crate) async fn wait_visible(&self, position: u64) -> Result<()> {
        let mut rx = self.head_rx.clone();
        let outcome = rx
            .wait_for(|&v| v > position || self.failure().is_some())
            .await
            .map(|v| *v > position);
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.failed().unwrap_or_else(|| StoreError::failed(""))),
            Err(_) => Err(StoreError::Closed),
        }
    }

    fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn index_mut(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    fn load_stream(&self, stream: &str) -> Option<StreamRecord> {
        self.index().stream(stream).map(|s| s.record())
    }

    fn load_event(&self, position: u64) -> Result<RecordedEvent> {
        match self.kv.get(&record::event_key(position))? {
            Some(bytes) => record::decode_record(position, &bytes),
            None => Err(StoreError::Corrupt {
                position,
                reason: "record missing".into(),
            }),
        }
    }

    /// Reads an event through an index entry and checks that it is the one the index names.
    fn load_indexed(&self, position: u64, stream: &str, version: u64) -> Result<RecordedEvent> {
        let ev = self.load_event(position)?;
        if ev.stream_id.as_str() != stream || ev.version != version {
            return Err(StoreError::Corrupt {
                position,
                reason: format!(
                    "index points to an event of {}@{}",
                    ev.stream_id, ev.version
                ),
            });
        }
        Ok(ev)
    }
}

pub(crate) fn state_of(rec: Option<&StreamRecord>) -> StreamState {
    match rec {
        None => StreamState::Absent,
        Some(r) => match (r.deletion, r.last_version) {
            (Deletion::Tombstone, _) => StreamState::Tombstoned,
            (Deletion::Soft, last) => StreamState::SoftDeleted { last_version: last },
            (Deletion::None, Some(last)) => StreamState::Active { last_version: last },
            (Deletion::None, None) => StreamState::Absent,
        },
    }
}
