//! The `EventStore` trait: what every storage engine behind ecoute offers.

use async_trait::async_trait;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::Result;
use crate::types::*;

/// An append-only event log with streams, a gapless global order, optimistic
/// concurrency, strong idempotency and integrity checks.
///
/// Users program against this trait; [`crate::SledStore`] and
/// [`crate::MemoryStore`] implement it, and the same conformance suite runs
/// against both.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends a commit (one or more streams) atomically and durably.
    ///
    /// Re-sending a commit that already landed returns its original result with
    /// `duplicate: true` and appends nothing, whatever the expected versions.
    async fn append(&self, commit: Commit) -> Result<CommitResult>;

    /// Appends several independent commits submitted together, each atomically
    /// and durably as [`EventStore::append`] does, and answers each, in the
    /// order given: a commit refused (a conflict, say) does not refuse the others.
    async fn append_many(&self, commits: Vec<Commit>) -> Vec<Result<CommitResult>> {
        futures::future::join_all(commits.into_iter().map(|c| self.append(c))).await
    }

    /// Appends events to one stream; shorthand for [`EventStore::append`].
    async fn append_to_stream(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<CommitResult> {
        self.append(Commit::single(stream, expected, events)).await
    }

    /// Soft-deletes or tombstones a stream, recording the deletion in `$$stream`.
    async fn delete_stream(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        mode: DeleteMode,
    ) -> Result<DeleteResult>;

    /// Where a stream stands.
    async fn stream_state(&self, stream: &StreamId) -> Result<StreamState>;

    /// Reads up to `limit` events of a stream, forwards or backwards from `from`.
    ///
    /// An absent or soft-deleted stream is [`crate::StoreError::StreamNotFound`];
    /// a tombstoned one is [`crate::StoreError::StreamDeleted`].
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: ReadFrom,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// The event with this client id, if it is stored (once its commit is durable).
    ///
    /// Backed by the same id index as idempotency: callers use it to find what a
    /// retried request appended the first time.
    async fn event_by_id(&self, id: Uuid) -> Result<Option<RecordedEvent>>;

    /// Reads up to `limit` events of `$all` from global position `from`, inclusive.
    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>>;

    /// [`read_all`](Self::read_all) as a blocking read for callers on their own thread; performance device.
    ///
    /// Never call it from inside an async task. The provided version runs
    /// `read_all` on `rt`.
    fn read_all_blocking(
        &self,
        rt: &tokio::runtime::Handle,
        from: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        rt.block_on(self.read_all(from, limit))
    }

    /// Reads up to `limit` events of one category (every `case-*` stream, say),
    /// in global order, from global position `from`, inclusive.
    async fn read_category(
        &self,
        category: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// The number of durable events: every position below it is final.
    async fn head(&self) -> Result<u64>;

    /// A receiver that changes whenever [`EventStore::head`] moves.
    fn watch_head(&self) -> watch::Receiver<u64>;

    /// Walks the whole log: checksums, the hash chain, commit ranges and indexes.
    async fn verify(&self) -> Result<VerifyReport>;
}
