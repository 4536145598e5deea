//! The limits every request meets before its handler runs: how many are in flight
//! at once, and how long one may take.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use super::{problem, HttpConfig};

/// The per-request limits, shared by every route.
pub(crate) struct Limits {
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

impl Limits {
    pub(crate) fn new(config: &HttpConfig) -> Arc<Limits> {
        Arc::new(Limits {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            timeout: config.timeout,
        })
    }
}

/// Answers 503 at once when `max_in_flight` requests are already in flight (a
/// client should retry later, not queue), and 503 when the request takes longer
/// than `timeout`.
pub(crate) async fn limit(
    State(limits): State<Arc<Limits>>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(_slot) = limits.in_flight.clone().try_acquire_owned() else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests in flight; retry later",
        );
    };
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took longer than the server allows",
        ),
    }
}
