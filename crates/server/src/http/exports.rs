//! Case exports for auditors, stamped with the log's chain head, and their check.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use ecoute_domain::CaseId;

use super::{answer, parse_id, ApiState, Body};
use crate::app::{Actor, CaseExport, ExportCheck};
use crate::error::AppError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/cases/{id}/export", get(export))
        .route(
            "/v1/exports/verify",
            post(verify).layer(DefaultBodyLimit::max(64 << 20)),
        )
}

#[utoipa::path(get, path = "/v1/cases/{id}/export", tag = "cases",
    params(("id" = Uuid, Path, description = "The case")),
    responses((status = 200, body = CaseExport), (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// The case's history as a file, stamped with the log's head and chain hash and each
/// record's hash, for `ecoute verify-export` to check later. Recorded in the access log.
pub async fn export(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let case = CaseId::from_uuid(parse_id("id", &id)?);
    let doc = state.app.export_case(&actor, case).await?;
    Ok(answer(StatusCode::OK, false, doc))
}

#[utoipa::path(post, path = "/v1/exports/verify", tag = "cases", request_body = CaseExport,
    responses((status = 200, body = ExportCheck), (status = 400, body = super::Problem),
        (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// Checks an export against the log: the stamped chain head, each record's hash and
/// place, and each event's fields (values of people erased since are counted apart).
pub async fn verify(
    State(state): State<ApiState>,
    actor: Actor,
    Body(doc): Body<CaseExport>,
) -> Result<Response, AppError> {
    let check = state.app.verify_export(&actor, &doc).await?;
    Ok(answer(StatusCode::OK, false, check))
}
