//! The projections' one error type.

/// What can go wrong while building or reading a read model.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProjectionError {
    /// The event log could not be read.
    #[error("event store: {0}")]
    Store(String),
    /// The read-model database failed.
    #[error("read-model database: {0}")]
    Db(String),
    /// A value or key of a model was malformed.
    #[error("read model: {0}")]
    Model(String),
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

impl From<sled::Error> for ProjectionError {
    fn from(e: sled::Error) -> Self {
        ProjectionError::Db(e.to_string())
    }
}

impl From<ecoute_store::StoreError> for ProjectionError {
    fn from(e: ecoute_store::StoreError) -> Self {
        ProjectionError::Store(e.to_string())
    }
}

/// The projections' result type.
pub type Result<T, E = ProjectionError> = std::result::Result<T, E>;
