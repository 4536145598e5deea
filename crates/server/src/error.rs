//! The one error type of the server's engine, and what each means over HTTP.

use ecoute_domain::DomainError;
use ecoute_store::StoreError;
use thiserror::Error;

/// Why a request was not carried out. A failed request appends nothing.
#[derive(Debug, Error)]
pub enum AppError {
    /// The input is malformed: a missing or ill-typed field, an unknown value.
    #[error("{field}: {reason}")]
    BadInput {
        /// The field (or header, or path part) at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No valid bearer token came with the request.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// The staff member's roles do not allow this action.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource, or one the staff member may not see (the same answer).
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A concurrent command kept winning the race; try again.
    #[error("{0}")]
    Conflict(String),
    /// The resource was removed for good.
    #[error("{0} was removed for good")]
    Gone(String),
    /// The domain refused the command, with the rule's explanation.
    #[error("{0}")]
    Rule(#[from] DomainError),
    /// The request body is over the limit.
    #[error("the request body is over the limit")]
    TooLarge,
    /// The same idempotency key was used for another request.
    #[error("the idempotency key was first used for {first}, not for this request")]
    IdempotencyKeyReused {
        /// The request the key was first used for.
        first: String,
    },
    /// The engine is starting, stopping, or opened read-only after damage.
    #[error("not ready: {0}")]
    NotReady(String),
    /// A write failed on the server's disk after the commit reached the store: it
    /// may or may not be recorded. The store refuses writes until it is reopened;
    /// the cause is logged, never shown.
    #[error(
        "a write failed on the server's disk: this request may or may not have been recorded. \
         Once the server is back: if you sent it with an Idempotency-Key, send it again with \
         the same key (if it was recorded, its first answer comes back); otherwise read what \
         it would have changed before sending it again"
    )]
    OutcomeUnknown(#[source] StoreError),
    /// A fault of the engine itself: what failed, and the error that made it fail
    /// (logged with its whole chain, never shown to the client).
    #[error("internal error: {context}")]
    Internal {
        /// What failed.
        context: String,
        /// Why, when another error is the cause.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl AppError {
    /// A fault of the engine with no other error as its cause.
    pub fn internal(context: impl Into<String>) -> Self {
        AppError::Internal {
            context: context.into(),
            source: None,
        }
    }

    /// A fault of the engine caused by `source`.
    pub fn fault(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        AppError::Internal {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// The error and its causes, for the server's own log.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// A bad-input error about one field.
    pub fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::BadInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::StreamDeleted(s) => AppError::Gone(s),
            StoreError::WrongExpectedVersion { .. } => AppError::Conflict(e.to_string()),
            StoreError::Closed | StoreError::Failed { .. } => AppError::NotReady(e.to_string()),
            StoreError::OutcomeUnknown { .. } => AppError::OutcomeUnknown(e),
            other => AppError::fault("event store", other),
        }
    }
}

impl From<ecoute_engine::EngineError> for AppError {
    fn from(e: ecoute_engine::EngineError) -> Self {
        use ecoute_engine::EngineError as E;
        match e {
            E::Store(s) => s.into(),
            E::Conflict { .. } => AppError::Conflict(e.to_string()),
            E::KeyReused { first } => AppError::IdempotencyKeyReused { first },
            other => AppError::fault("command engine", other),
        }
    }
}

impl From<ecoute_projections::ProjectionError> for AppError {
    fn from(e: ecoute_projections::ProjectionError) -> Self {
        AppError::fault("read models", e)
    }
}
