//! The store's one error type.

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

/// The version a stream actually had when an expected version did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActualVersion {
    /// The stream has never been written.
    Absent,
    /// The stream exists and its last event has this version.
    Revision(u64),
    /// The stream was soft-deleted; its last event had this version (if any).
    SoftDeleted(Option<u64>),
}

impl fmt::Display for ActualVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActualVersion::Absent => f.write_str("no stream"),
            ActualVersion::Revision(n) => write!(f, "{n}"),
            ActualVersion::SoftDeleted(Some(n)) => write!(f, "soft-deleted stream at {n}"),
            ActualVersion::SoftDeleted(None) => f.write_str("soft-deleted empty stream"),
        }
    }
}

/// Everything that can go wrong in the store.
///
/// Conflicts, deleted streams, corruption, I/O failure, a full disk and misuse
/// are distinct variants so that callers can react to each.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stream id or category name did not pass validation.
    #[error("invalid stream id {id:?}: {reason}")]
    InvalidStreamId {
        /// The rejected id.
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A commit or request was malformed (empty, duplicated ids, system stream, too large…).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The expected version of a stream did not match its actual version.
    #[error("wrong expected version for stream {stream}: expected {expected}, found {actual}")]
    WrongExpectedVersion {
        /// The stream whose version did not match.
        stream: String,
        /// What the caller expected.
        expected: crate::ExpectedVersion,
        /// What the stream actually was.
        actual: ActualVersion,
    },
    /// The stream was tombstoned: it can never be read or written again.
    #[error("stream {0} is deleted")]
    StreamDeleted(String),
    /// The stream does not exist (or was soft-deleted).
    #[error("stream {0} not found")]
    StreamNotFound(String),
    /// Some of a commit's event ids are already stored, but not as this exact commit.
    #[error("event {event_id} is already stored in a different commit")]
    IdempotencyMismatch {
        /// The first event id that did not match.
        event_id: Uuid,
    },
    /// A stored record failed its checksum, hash chain or consistency check.
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt {
        /// The global position of the damaged record (or of the first missing one).
        position: u64,
        /// What was found wrong.
        reason: String,
    },
    /// An index entry is missing or points to the wrong record.
    #[error("corrupt index: {0}")]
    CorruptIndex(String),
    /// The storage engine reported corruption that it could not place at a position.
    #[error("storage engine reports corruption: {0}")]
    EngineCorrupt(String),
    /// The disk is full. (A commit whose write failed is answered
    /// [`StoreError::OutcomeUnknown`], with this as its cause.)
    #[error("disk full")]
    DiskFull,
    /// An I/O error from the storage engine.
    #[error("i/o error: {0}")]
    Io(#[source] std::io::Error),
    /// The store failed earlier (an I/O error during a commit, damage found on
    /// open) and must be reopened.
    #[error("store failed and must be reopened: {reason}")]
    Failed {
        /// Why, as the store noted it.
        reason: String,
        /// The error that made it fail, when an error did (damage found on
        /// open is a reason alone).
        #[source]
        cause: Option<Cause>,
    },
    /// A write failed after the commit had reached sled's buffers or the
    /// journal: it may be in the log after the store is reopened, or not —
    /// whole or not at all, never in part. Find out by its event ids once the
    /// store is reopened ([`crate::EventStore::event_by_id`], or send the same
    /// commit again: if it landed, the answer is the original positions).
    /// The store has failed and refuses writes until then.
    #[error("the commit's outcome is unknown (a write failed: {reason}); look its event ids up after a reopen")]
    OutcomeUnknown {
        /// What failed.
        reason: String,
        /// The error that made the write fail.
        #[source]
        cause: Option<Cause>,
    },
    /// Another process holds the store's directory (sled's error, naming the lock).
    #[error("the store is in use by another process: {0}")]
    Locked(#[source] std::io::Error),
    /// The store was closed.
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// Whether this error reports damaged data (a record, an index, the engine's files).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::CorruptIndex(_) | StoreError::EngineCorrupt(_)
        )
    }

    /// Whether the commit may or may not have landed ([`StoreError::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, StoreError::OutcomeUnknown { .. })
    }

    /// Whether this error is a conflict a caller may resolve by reading again and retrying.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::WrongExpectedVersion { .. })
    }
}

/// The error behind a [`StoreError::Failed`], shared by every refusal it causes.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

impl StoreError {
    /// A failure with a reason and no error behind it.
    pub(crate) fn failed(reason: impl Into<String>) -> Self {
        StoreError::Failed {
            reason: reason.into(),
            cause: None,
        }
    }
}

/// Why a store refuses writes: the reason it gives, and the error behind it, if any.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) reason: String,
    pub(crate) cause: Option<Cause>,
}

impl Failure {
    /// A failure with a reason alone (damage found on open, say).
    pub(crate) fn reason(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            cause: None,
        }
    }

    /// A failure caused by an error, said as `reason`.
    pub(crate) fn caused(reason: impl Into<String>, cause: Cause) -> Self {
        Failure {
            reason: reason.into(),
            cause: Some(cause),
        }
    }

    /// A failure caused by `e`, said as `e` says it (without repeating that
    /// the store failed, if `e` already does).
    pub(crate) fn from_error(e: Arc<StoreError>) -> Self {
        let reason = match &*e {
            StoreError::Failed { reason, .. } | StoreError::OutcomeUnknown { reason, .. } => {
                reason.clone()
            }
            other => other.to_string(),
        };
        Failure {
            reason,
            cause: Some(e),
        }
    }

    /// The refusal a caller gets.
    pub(crate) fn error(&self) -> StoreError {
        StoreError::Failed {
            reason: self.reason.clone(),
            cause: self.cause.clone(),
        }
    }
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => io.into(),
            sled::Error::Corruption { at, .. } => {
                StoreError::EngineCorrupt(format!("sled corruption at {at:?}"))
            }
            sled::Error::CollectionNotFound(_) => {
                StoreError::EngineCorrupt("sled tree not found".into())
            }
            sled::Error::Unsupported(s) => StoreError::InvalidRequest(s),
            sled::Error::ReportableBug(s) => StoreError::EngineCorrupt(format!("sled bug: {s}")),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(io: std::io::Error) -> Self {
        // ENOSPC is 28 on Linux and macOS.
        if io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28) {
            StoreError::DiskFull
        } else {
            StoreError::Io(io)
        }
    }
}
