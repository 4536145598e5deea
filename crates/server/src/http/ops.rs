//! Operations: liveness, readiness, metrics and the OpenAPI document.

use std::sync::atomic::Ordering;

use super::ApiState;
use crate::error::AppError;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
}

/// The process is up and answering.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The engine is open, writable, and the projections run; 503 with the reason otherwise.
async fn readyz(State(state): State<ApiState>) -> Result<&'static str, AppError> {
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
