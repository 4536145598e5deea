//! An append-only event log on sled, of the class of EventStoreDB.
//!
//! The store knows nothing of the helpline: it keeps streams of opaque events
//! in one global order. Users program against the async [`EventStore`] trait;
//! [`SledStore`] keeps the log on disk and [`MemoryStore`] in memory, and the
//! same conformance suite runs against both.
//!
//! # Guarantees
//!
//! - **Durable acknowledgement.** An append is acknowledged only after its
//!   events are written to the write-ahead journal and `fdatasync`ed (unless
//!   [`Durability::UnsafeNoFlush`] was chosen explicitly); an acknowledged
//!   commit survives `kill -9` and power loss, and the journal is replayed
//!   into sled on open.
//! - **Group commit.** Concurrent appends are gathered by one committer and
//!   made durable together by one journal write and one `fdatasync`; sled's
//!   own flush runs in the background.
//! - **Atomic commits.** A commit, over one stream or several, is 100% visible
//!   or 0% visible, to readers and after a crash.
//! - **Gapless order.** Every event has a global position (0, 1, 2, … in commit
//!   order) and a per-stream version (0, 1, 2, …); positions are assigned by one
//!   writer, so every position below [`EventStore::head`] is final.
//! - **Optimistic concurrency.** A wrong expected version is a
//!   [`StoreError::WrongExpectedVersion`] carrying the actual version; nothing
//!   is ever silently overwritten.
//! - **Strong idempotency.** Re-sending a commit whose event ids are stored
//!   returns the original positions and appends nothing, whatever its expected
//!   versions; a partial match is [`StoreError::IdempotencyMismatch`]. A
//!   persistent event-id index backs this, not a cache.
//! - **Reads see only durable, whole commits.** Readers never see an event
//!   before its commit is flushed, and never part of a commit.
//! - **Integrity.** Every record carries a CRC-32 checked on read and a BLAKE3
//!   hash chained to the previous record; a damaged record is
//!   [`StoreError::Corrupt`] with its position, never a panic or wrong data, and
//!   [`EventStore::verify`] walks the log and reports the first bad position.
//! - **One key per event.** Only the records are stored; the indexes (ids,
//!   streams, categories, stream states) are derived from them on open and
//!   kept in memory, so they can never disagree with the log.
//! - **Damage is reported, never papered over.** A damaged or missing record,
//!   or a log shorter than the head file says was durable, opens the store
//!   read-only with the reason; nothing is appended on top of damage. (The
//!   one thing repaired on open is an incomplete last commit that was never
//!   acknowledged: it is rolled back.)
//! - **Answers never overstate.** A refusal means nothing was written; a
//!   write that failed after the commit reached sled's buffers or the journal
//!   is [`StoreError::OutcomeUnknown`] (look the event ids up after a
//!   reopen), and the store then refuses writes until reopened. A torn last
//!   journal write is ignored (never acknowledged); any other damage to the
//!   journal is kept aside and opens the store read-only.
//! - **Deletion.** A soft delete hides a stream (a later append recreates it
//!   and numbering continues); a tombstone is permanent. Both are recorded as
//!   events of the `$$stream` metadata stream, so the log stays complete.
//!
//! # Example
//!
//! ```
//! use ecoute_store::{EventData, EventStore, ExpectedVersion, MemoryStore, StoreConfig, StreamId};
//! use ecoute_store::{Direction, ReadFrom};
//! use uuid::Uuid;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ecoute_store::StoreError> {
//! let store = MemoryStore::in_memory(StoreConfig::default());
//! let stream = StreamId::new("case-42")?;
//! let event = EventData::new(Uuid::new_v4(), "CaseOpened", 1, b"{}".to_vec());
//! let ack = store.append_to_stream(stream.clone(), ExpectedVersion::NoStream, vec![event]).await?;
//! assert_eq!(ack.positions.first, 0);
//!
//! let events = store.read_stream(&stream, ReadFrom::Edge, Direction::Forward, 100).await?;
//! assert_eq!(events[0].event_type, "CaseOpened");
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod api;
mod backend;
mod clock;
mod engine;
mod error;
mod headfile;
mod index;
mod io;
mod record;
mod store;
mod subscription;
#[doc(hidden)]
pub mod testing;
mod types;
mod wal;

pub use api::EventStore;
/// Re-exported so that other implementations of [`EventStore`] use the same macro.
pub use async_trait::async_trait;
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{
    Durability, DELETED_EVENT_TYPE, MAX_COMMIT_BYTES, MAX_COMMIT_EVENTS, TOMBSTONED_EVENT_TYPE,
};
pub use error::{ActualVersion, Cause, Result, StoreError};
pub use headfile::HEAD_FILE_NAME;
pub use store::{BackupReport, MemoryStore, SledStore, Store, StoreConfig, TREE_NAME};
pub use subscription::{subscribe, Filter, Start, SubscriptionMessage, SubscriptionOptions};
pub use types::{
    Commit, CommitRange, CommitResult, DeleteMode, DeleteResult, Direction, EventData,
    ExpectedVersion, Metadata, ReadFrom, RecordedEvent, StreamAppend, StreamId, StreamState,
    StreamWritten, VerifyReport, MAX_EVENT_TYPE_LEN, MAX_STREAM_ID_LEN,
};
pub use wal::WAL_DIR;

pub use backend::{open_sled, Kv, MemKv, SledKv, Visit};
