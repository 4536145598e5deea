//! The limits every request meets before its handler runs (the size of its line
//! and headers, how many are in flight at once, how long one may take), and the
//! guard that makes every error answer a problem document.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use super::{problem, HttpConfig, PROBLEM_CONTENT_TYPE};

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

/// Turns an error answer that is not a problem document (one made below the
/// handlers: an extractor's rejection, a fallback of axum's) into one, keeping its
/// status and headers (`Allow`, `WWW-Authenticate`) but not its body, which may
/// echo the request.
pub(crate) async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_CONTENT_TYPE.as_bytes());
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, _) = response.into_parts();
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let mut answer = problem(
        status,
        slug(status),
        &format!("the request failed: {reason}"),
    );
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    answer
}

/// The problem `type` of an error answer known only by its status.
fn slug(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::UNPROCESSABLE_ENTITY => "bad-input",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::CONFLICT => "conflict",
        StatusCode::GONE => "gone",
        StatusCode::PAYLOAD_TOO_LARGE => "too-large",
        StatusCode::URI_TOO_LONG => "uri-too-long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers-too-large",
        StatusCode::SERVICE_UNAVAILABLE => "not-ready",
        s if s.is_client_error() => "bad-request",
        _ => "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    async fn check(status: StatusCode, expected: &str) {
        let app = Router::new()
            .route(
                "/",
                get(move || async move { (status, "text that echoes input") }),
            )
            .layer(axum::middleware::from_fn(problems_only));
        let request = Request::builder()
            .uri("/")
            .body(axum::body::Body::empty())
            .unwrap();
        let r = app.oneshot(request).await.unwrap();
        assert_eq!(r.status(), status);
        let is_error = status.is_client_error() || status.is_server_error();
        let content_type = r.headers().get(header::CONTENT_TYPE).cloned();
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        if is_error {
            assert_eq!(content_type.unwrap(), PROBLEM_CONTENT_TYPE);
            assert!(
                text.contains(&format!("\"urn:ecoute:problem:{expected}\"")),
                "{text}"
            );
            assert!(!text.contains("echoes"), "{text}");
        } else {
            assert_eq!(text, "text that echoes input");
        }
    }

    #[tokio::test]
    async fn every_error_status_becomes_a_problem_and_nothing_else_changes() {
        check(StatusCode::OK, "").await;
        check(StatusCode::NO_CONTENT, "").await;
        check(StatusCode::BAD_REQUEST, "bad-input").await;
        check(StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad-input").await;
        check(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;
        check(StatusCode::PAYLOAD_TOO_LARGE, "too-large").await;
        check(StatusCode::IM_A_TEAPOT, "bad-request").await;
        check(StatusCode::SERVICE_UNAVAILABLE, "not-ready").await;
        check(StatusCode::BAD_GATEWAY, "internal").await;
    }
}
