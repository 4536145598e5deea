//! `/v1/backup`: a consistent copy of the data while the server runs (administrators).

use std::path::PathBuf;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{answer, ApiState, Body};
use crate::app::Actor;
use crate::error::AppError;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/v1/backup", post(backup))
}

/// Where to write the backup.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// A directory on the server's machine, absent or empty.
    pub dir: String,
}

/// What was copied.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupAnswer {
    /// The directory written.
    pub dir: String,
    /// Records of the event log copied.
    pub log_records: u64,
    /// The event log's chain head in the copy.
    pub log_chain_head: String,
    /// Records of the access log copied.
    pub access_log_records: u64,
    /// The access log's chain head in the copy.
    pub access_log_chain_head: String,
}

#[utoipa::path(post, path = "/v1/backup", tag = "operations", request_body = BackupRequest,
    responses((status = 200, body = BackupAnswer), (status = 400, body = super::Problem),
        (status = 403, body = super::Problem)),
    security(("bearer" = [])))]
/// Copies the event log and the access log, consistently, while the server runs. The
/// subjects' keys are not copied: a person erased after the backup stays unreadable
/// in it, because their key is gone (the key store is backed up on its own, on a
/// short rotation; see docs/data-protection.md). Read models are rebuilt on restore.
pub async fn backup(
    State(state): State<ApiState>,
    actor: Actor,
    Body(body): Body<BackupRequest>,
) -> Result<Response, AppError> {
    let dir = PathBuf::from(&body.dir);
    let (log, access) = state.app.backup(&actor, dir).await?;
    Ok(answer(
        StatusCode::OK,
        false,
        BackupAnswer {
            dir: body.dir,
            log_records: log.records,
            log_chain_head: log.chain_head,
            access_log_records: access.records,
            access_log_chain_head: access.chain_head,
        },
    ))
}
