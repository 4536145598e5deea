//! The limits every request meets before its handler runs: the size of its line
//! and headers, how many are in flight at once, and how long one may take.

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
    max_header_bytes: usize,
    max_headers: usize,
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

impl Limits {
    pub(crate) fn new(config: &HttpConfig) -> Arc<Limits> {
        Arc::new(Limits {
            max_header_bytes: config.max_header_bytes,
            max_headers: config.max_headers,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            timeout: config.timeout,
        })
    }
}

/// Answers 414 when the request target alone is over `max_header_bytes`, 431 when
/// the request line and headers together are, or when there are more than
/// `max_headers` header fields; 503 at once when `max_in_flight` requests are already in flight (a
/// client should retry later, not queue), and 503 when the request takes longer
/// than `timeout`.
pub(crate) async fn limit(
    State(limits): State<Arc<Limits>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = limits.refuse_head(&request) {
        return refused;
    }
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

impl Limits {
    /// The answer to a request line or headers over the limits, if they are.
    fn refuse_head(&self, request: &Request) -> Option<Response> {
        let target = request
            .uri()
            .path_and_query()
            .map_or(0, |p| p.as_str().len());
        if target > self.max_header_bytes {
            return Some(problem(
                StatusCode::URI_TOO_LONG,
                "uri-too-long",
                &format!("the request target is over {} bytes", self.max_header_bytes),
            ));
        }
        let headers = request.headers();
        // As sent: the request line, then `name: value` and a line break each.
        let line = request.method().as_str().len() + target + 11;
        let bytes = headers.iter().fold(line, |n, (name, value)| {
            n.saturating_add(name.as_str().len() + value.len() + 4)
        });
        if headers.len() > self.max_headers || bytes > self.max_header_bytes {
            return Some(problem(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers-too-large",
                &format!(
                    "at most {} header fields and {} bytes of request line and headers",
                    self.max_headers, self.max_header_bytes
                ),
            ));
        }
        None
    }
}
