//! The HTTP API under `/v1`: JSON in and out, bearer tokens, problem details.
//!
//! Handlers are thin: they parse, make one call into the application layer
//! ([`crate::app`]), and shape the answer; who may do what, the access log and the
//! command plumbing live there. Every error is an `application/problem+json` document
//! (RFC 9457) whose `type` is stable per kind of error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ecoute_domain::DomainError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use uuid::Uuid;

use crate::app::{Actor, App, Purpose};
use crate::error::AppError;

mod admin;
mod calls;
mod case_views;
mod cases;
mod dto;
mod exports;
mod limits;
pub(crate) mod listen;
pub mod openapi;
mod ops;
mod queries;
mod staff;
mod subjects;

pub use dto::*;

/// Limits of the HTTP layer (docs/operations.md, "Limits and timeouts").
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Longest time a request may take, from its headers to its answer.
    pub timeout: Duration,
    /// Longest time to receive a request's line and headers, counted from when the
    /// server starts waiting for them (so it also bounds a keep-alive connection's
    /// wait for its next request).
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Most requests in flight at once; more are answered 503 at once.
    pub max_in_flight: usize,
    /// Longest wait, when stopping, for open connections to finish; then they are
    /// dropped.
    pub shutdown_grace: Duration,
    /// Largest request line and headers together, in bytes.
    pub max_header_bytes: usize,
    /// Most header fields in a request.
    pub max_headers: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body: 64 * 1024,
            timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_in_flight: 256,
            shutdown_grace: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 100,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The engine.
    pub app: Arc<App>,
    /// False until the engine is open and the projections have caught up, and again
    /// once shutting down.
    pub ready: Arc<AtomicBool>,
}

/// The whole HTTP API.
pub fn router(state: ApiState, config: &HttpConfig) -> Router {
    Router::new()
        .merge(calls::routes())
        .merge(cases::routes())
        .merge(queries::routes())
        .merge(staff::routes())
        .merge(subjects::routes())
        .merge(admin::routes())
        .merge(exports::routes())
        .merge(ops::routes())
        .fallback(|| async { AppError::NotFound("route") })
        // axum adds the `Allow` header to this answer.
        .method_not_allowed_fallback(|| async {
            problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this route does not take this method",
            )
        })
        .layer(CatchPanicLayer::custom(panic_to_problem))
        .layer(axum::extract::DefaultBodyLimit::max(config.max_body))
        .layer(middleware::from_fn_with_state(
            limits::Limits::new(config),
            limits::limit,
        ))
        .layer(middleware::from_fn(limits::problems_only))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::map_response(no_store))
        .with_state(state)
}

/// The operations address's routes (metrics, readiness details), with the same
/// limits as the API.
pub fn ops_router(state: ApiState, config: &HttpConfig) -> Router {
    ops::ops_routes()
        .fallback(|| async { AppError::NotFound("route") })
        .layer(CatchPanicLayer::custom(panic_to_problem))
        .layer(middleware::from_fn_with_state(
            limits::Limits::new(config),
            limits::limit,
        ))
        .layer(middleware::from_fn(limits::problems_only))
        .with_state(state)
}

/// No answer is kept by a cache on the way or in a browser: most hold case or
/// personal data, and the others cost nothing to ask again.
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Counts and times every request, and logs it without any personal value (the
/// route template, never the path).
async fn observe(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    state
        .app
        .metrics()
        .request(&method, &route, status, seconds);
    let method = crate::metrics::method_label(&method);
    tracing::info!(method, %route, status, ms = seconds * 1000.0, "request");
    response
}

fn panic_to_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The panic's message may hold request data: log only that it happened.
    tracing::error!("a request handler panicked; answered 500, the server stays up");
    AppError::internal("the request failed unexpectedly").into_response()
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::BadInput { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Rule(_) | AppError::IdempotencyKeyReused { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::NotReady(_) | AppError::OutcomeUnknown(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            AppError::BadInput { .. } => "bad-input",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::Gone(_) => "gone",
            AppError::TooLarge => "too-large",
            AppError::Rule(_) => "rule-refused",
            AppError::IdempotencyKeyReused { .. } => "idempotency-key-reused",
            AppError::NotReady(_) => "not-ready",
            AppError::OutcomeUnknown(_) => "outcome-unknown",
            AppError::Internal { .. } => "internal",
        }
    }
}

/// The stable name of a domain rule: its variant name (`NotTheReferent`).
fn rule_name(e: &DomainError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The media type of every error answer.
pub(crate) const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// A problem document (RFC 9457) with this status, `type` slug and detail.
pub(crate) fn problem(status: StatusCode, slug: &str, detail: &str) -> Response {
    let document = Problem {
        r#type: format!("{PROBLEM_BASE}{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: detail.to_string(),
        field: None,
        rule: None,
    };
    problem_response(status, &document)
}

fn problem_response(status: StatusCode, document: &Problem) -> Response {
    let mut response = (status, axum::Json(document)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.chain(), "internal error");
        }
        if let AppError::OutcomeUnknown(e) = &self {
            tracing::error!(error = %e, "a write failed on disk: its outcome is unknown");
        }
        let (field, rule) = match &self {
            AppError::BadInput { field, .. } => (Some(field.clone()), None),
            AppError::TooLarge => (Some("body".to_string()), None),
            AppError::Rule(e) => (None, Some(rule_name(e))),
            _ => (None, None),
        };
        let problem = Problem {
            r#type: format!("{PROBLEM_BASE}{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
            field,
            rule,
        };
        let mut response = problem_response(status, &problem);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ecoute\""),
            );
        }
        response
    }
}

/// The authenticated member of staff, as they stand now, and how they asked: the
/// route template, the purpose (`X-Purpose`) and the idempotency key
/// (`Idempotency-Key`), each checked for shape. A missing or unknown token is a 401,
/// recorded in the access log by the application.
impl FromRequestParts<ApiState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, AppError> {
        let route = format!(
            "{} {}",
            parts.method,
            parts
                .extensions
                .get::<MatchedPath>()
                .map_or("unmatched", |p| p.as_str())
        );
        let request_id = Uuid::new_v4();
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let holder = state.app.authenticate(token, &route, request_id).await?;
        let purpose = purpose(&parts.headers)?;
        let key = idempotency_key(&parts.headers)?;
        let path = format!("{} {}", parts.method, parts.uri.path());
        let actor = Actor::new(holder.snapshot, route, request_id, purpose, key)
            .with_token(holder.token, holder.issued_by)
            .with_path(path);
        // The body is read after this, by `Body`, once the member is known: it
        // leaves its digest where the actor finds it.
        parts.extensions.insert(actor.fingerprint_slot());
        Ok(actor)
    }
}

/// The header naming why data is read.
pub const PURPOSE_HEADER: &str = "x-purpose";
/// The header that makes a write idempotent.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

fn purpose(headers: &HeaderMap) -> Result<Option<Purpose>, AppError> {
    let Some(v) = headers.get(PURPOSE_HEADER) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(Purpose::parse)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
            AppError::bad("X-Purpose", format!("one of: {}", names.join(", ")))
        })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(v) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()))
        .map(|k| Some(k.to_string()))
        .ok_or_else(|| AppError::bad("Idempotency-Key", "1 to 255 visible ASCII characters"))
}

/// Query parameters, parsed strictly: a bad one is a 400 naming it.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Params)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." {
                    "query".to_string()
                } else {
                    path
                };
                AppError::bad(field, e.into_inner().to_string())
            })
    }
}

/// A JSON body, parsed strictly: unknown fields and wrong types are a 400 naming the
/// field; a body over the limit is a 413.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let fingerprint_slot = req
            .extensions()
            .get::<crate::app::FingerprintSlot>()
            .cloned();
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge.into_response()
            } else {
                AppError::bad("body", e.body_text()).into_response()
            }
        })?;
        if !json {
            return Err(AppError::bad("Content-Type", "must be application/json").into_response());
        }
        if let Some(slot) = fingerprint_slot {
            slot.fill(&bytes);
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            AppError::bad(field, e.into_inner().to_string()).into_response()
        })?;
        de.end()
            .map_err(|e| AppError::bad("body", e.to_string()).into_response())?;
        Ok(Body(value))
    }
}

/// A JSON answer with a status, marked when it replays an earlier answer.
pub fn answer<T: Serialize>(status: StatusCode, replayed: bool, body: T) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

/// Parses a path id.
pub fn parse_id(field: &str, s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::bad(field, "not a UUID"))
}

/// Marks the server as ready or not.
pub fn set_ready(state: &ApiState, ready: bool) {
    state.ready.store(ready, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use ecoute_store::StoreError;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_write_whose_outcome_is_unknown_says_so_and_how_to_find_out() {
        let e: AppError = StoreError::OutcomeUnknown {
            reason: "journal write: No space left on device".into(),
            cause: None,
        }
        .into();
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["type"], "urn:ecoute:problem:outcome-unknown");
        let detail = doc["detail"].as_str().unwrap();
        assert!(detail.contains("same key"), "{detail}");
        assert!(
            !detail.contains("No space"),
            "the cause is logged, not shown"
        );
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_problem_and_the_router_goes_on() {
        async fn boom() -> &'static str {
            panic!("a bug with request data inside")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(CatchPanicLayer::custom(panic_to_problem));
        let req = |p: &str| {
            Request::builder()
                .uri(p)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let r = app.clone().oneshot(req("/boom")).await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("urn:ecoute:problem:internal"), "{text}");
        assert!(
            !text.contains("request data"),
            "the panic message is not shown: {text}"
        );
        let r = app.oneshot(req("/fine")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn rule_names_are_the_variant_names() {
        assert_eq!(rule_name(&DomainError::NoNumberToCall), "NoNumberToCall");
        assert_eq!(
            rule_name(&DomainError::NotAccredited(
                ecoute_domain::DepartementCode::parse("69").unwrap()
            )),
            "NotAccredited"
        );
    }
}
