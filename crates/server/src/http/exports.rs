//! Case exports for auditors, stamped with the log's chain head, and their check.

use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ecoute_domain::CaseId;

use super::{answer, parse_id, ApiState, Body};
use crate::app::{Actor, CaseExport, ExportCheck};
use crate::error::AppError;

/// The largest export checked, in bytes: a case's history is far smaller.
pub const MAX_EXPORT_BYTES: usize = 8 << 20;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/cases/{id}/export", get(export))
        .route(
            "/v1/cases/{id}/export/verify",
            post(verify).layer(DefaultBodyLimit::max(MAX_EXPORT_BYTES)),
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

#[utoipa::path(post, path = "/v1/cases/{id}/export/verify", tag = "cases",
    params(("id" = Uuid, Path, description = "The case")), request_body = CaseExport,
    responses((status = 200, body = ExportCheck), (status = 400, body = super::Problem),
        (status = 404, body = super::Problem), (status = 413, body = super::Problem)),
    security(("bearer" = [])))]
/// Checks an export of the case against the log: the stamped chain head, each
/// record's hash and place, and each event's fields (values of people erased since
/// are counted apart). Whether the member may read the case is asked (and recorded)
/// before the body is read: nobody else has a document parsed.
pub async fn verify(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Response> {
    let case = CaseId::from_uuid(parse_id("id", &id).map_err(IntoResponse::into_response)?);
    let read = state
        .app
        .read_case(&actor, case)
        .await
        .map_err(IntoResponse::into_response)?;
    let Body(doc) = Body::<CaseExport>::from_request(request, &state).await?;
    let check = state
        .app
        .verify_export(read, &doc)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(answer(StatusCode::OK, false, check))
}
