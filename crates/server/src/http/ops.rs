//! Operations: liveness, readiness and the OpenAPI document on the API's address;
//! the metrics and the readiness details on the operations address (`--ops-addr`),
//! which operators keep off the network the API is reached from.

use std::sync::atomic::Ordering;

use super::ApiState;
use crate::error::AppError;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// What the API's address serves for operations: liveness, readiness without its
/// reason, the OpenAPI document.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/openapi.json", get(openapi))
}

/// What the operations address serves: liveness, readiness with its reason, the
/// metrics.
pub fn ops_routes() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz_details))
        .route("/metrics", get(metrics))
}

/// The process is up and answering.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The engine is open, writable, and the projections run; 503 otherwise, with the
/// reason only on the operations address (`/readyz` there).
async fn readyz(State(state): State<ApiState>) -> Result<&'static str, AppError> {
    readyz_details(State(state))
        .await
        .map_err(|_| AppError::NotReady("the server cannot serve yet or any more".into()))
}

/// As `/readyz`, with the reason: starting, stopping, the store read-only, a
/// projection stopped at a position.
async fn readyz_details(State(state): State<ApiState>) -> Result<&'static str, AppError> {
    if !state.ready.load(Ordering::SeqCst) {
        return Err(AppError::NotReady("starting or stopping".into()));
    }
    if let Some(why) = state.app.unready_reason() {
        return Err(AppError::NotReady(why));
    }
    Ok("ready\n")
}

async fn metrics(State(state): State<ApiState>) -> Result<Response, AppError> {
    let body = state.app.metrics_text().await?;
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(r)
}

async fn openapi() -> Response {
    axum::Json(super::openapi::document()).into_response()
}
