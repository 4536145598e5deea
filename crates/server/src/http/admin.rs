//! `/v1/backup`: a consistent copy of the data while the server runs (administrators).

use std::path::PathBuf;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{answer, ApiState, Body, Staff};
use crate::access::Action;
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
    staff: Staff,
    Body(body): Body<BackupRequest>,
) -> Result<Response, AppError> {
    let app = state.app.clone();
    staff.check(&app, Action::Backup, None).await?;
    let dir = PathBuf::from(&body.dir);
    if !dir.is_absolute() {
        return Err(AppError::bad(
            "dir",
            "an absolute path on the server's machine",
        ));
    }
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(AppError::bad("dir", "must be absent or empty"));
    }
    let answer_dir = body.dir.clone();
    let (log, access) = tokio::task::spawn_blocking(move || {
        let log = app.store.backup(&dir.join("log"))?;
        let access = app.access_log.store().backup(&dir.join("access-log"))?;
        Ok::<_, ecoute_store::StoreError>((log, access))
    })
    .await
    .map_err(|e| AppError::Internal(format!("backup task failed: {e}")))??;
    tracing::info!(records = log.records, "backup written");
    Ok(answer(
        StatusCode::OK,
        false,
        BackupAnswer {
            dir: answer_dir,
            log_records: log.records,
            log_chain_head: log.chain_head,
            access_log_records: access.records,
            access_log_chain_head: access.chain_head,
        },
    ))
}
