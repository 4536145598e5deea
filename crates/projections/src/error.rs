//! The projections' one error type.

use std::sync::Arc;

/// The error behind a [`ProjectionError`], shared: errors are cloned to every
/// reader that asks for a failed projection.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong while building or reading a read model.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProjectionError {
    /// The event log could not be read.
    #[error("event store: {0}")]
    Store(#[source] Arc<ecoute_store::StoreError>),
    /// The runtime's reader of the log stopped.
    #[error("event store: the projection reader stopped")]
    ReaderStopped,
    /// The read-model database failed.
    #[error("read-model database: {0}")]
    Db(#[source] Cause),
    /// A value or key of a model was malformed.
    #[error("read model: {0}")]
    Model(String),
    /// A read model could not be built, read or written because of another
    /// error, kept as the source.
    #[error("read model: {reason}")]
    ModelCaused {
        /// What failed, with the cause's own words.
        reason: String,
        /// The error that made it fail.
        #[source]
        cause: Cause,
    },
    /// An event could not be decoded or applied.
    #[error("event at position {position}: {reason}")]
    BadEvent {
        /// The event's global position.
        position: u64,
        /// What was wrong.
        reason: String,
    },
    /// No projection of that name runs.
    #[error("no projection named {0}")]
    UnknownProjection(String),
    /// The runtime stopped.
    #[error("projection runtime stopped")]
    Stopped,
}

impl From<redb::Error> for ProjectionError {
    fn from(e: redb::Error) -> Self {
        ProjectionError::Db(Arc::new(e))
    }
}

/// redb's errors, each kind its own type, all kept as the one `redb::Error`.
macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for ProjectionError {
            fn from(e: $t) -> Self {
                redb::Error::from(e).into()
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<ecoute_store::StoreError> for ProjectionError {
    fn from(e: ecoute_store::StoreError) -> Self {
        ProjectionError::Store(Arc::new(e))
    }
}

impl ProjectionError {
    /// A model error caused by `cause`, said as `reason`.
    pub(crate) fn caused(
        reason: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ProjectionError::ModelCaused {
            reason: reason.into(),
            cause: Arc::new(cause),
        }
    }
}

/// The projections' result type.
pub type Result<T, E = ProjectionError> = std::result::Result<T, E>;
