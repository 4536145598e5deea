//! Why the runner could not carry out a command.

use thiserror::Error;

/// Any error an application's codec or hooks give back.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a command was not carried out by the runner itself (the decision's own
/// refusals are the application's error type).
#[derive(Debug, Error)]
pub enum EngineError {
    /// The store failed or refused the commit.
    #[error(transparent)]
    Store(#[from] ecoute_store::StoreError),
    /// A decided event could not be encoded.
    #[error("a decided event could not be encoded")]
    Encode(#[source] BoxError),
    /// A stored event could not be decoded.
    #[error("the event at position {position} could not be decoded")]
    Decode {
        /// Its global position.
        position: u64,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// Other commands kept changing the same streams.
    #[error("other commands kept changing the same records; gave up after {tries} tries")]
    Conflict {
        /// How many times the command was decided.
        tries: usize,
    },
    /// The idempotency key was first used for another request.
    #[error("the idempotency key was first used for {first}, not for this request")]
    KeyReused {
        /// The request the key was first used for.
        first: String,
    },
    /// A retry's event ids matched only part of a stored commit.
    #[error("an idempotent retry matched part of another commit")]
    PartialReplay,
    /// The task that appends a commit and carries out its work failed (a panic in
    /// a hook).
    #[error("the commit's task failed: {0}")]
    Task(String),
    /// The decision recorded nothing.
    #[error("the command decided no event")]
    NothingDecided,
}
