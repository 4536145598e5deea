//! Case exports for auditors, stamped with the log's chain head, and their check.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ecoute_domain::CaseId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{answer, parse_id, ApiState, Body, Staff};
use crate::error::AppError;

/// The format name of an export document.
pub const EXPORT_FORMAT: &str = "ecoute-case-export/1";

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/cases/{id}/export", get(export))
        .route(
            "/v1/exports/verify",
            post(verify).layer(DefaultBodyLimit::max(64 << 20)),
        )
}

/// Where the log stood when the export was made.
#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogStamp {
    /// Events in the log then: every position below it.
    pub head: u64,
    /// The chain hash of the record at `head - 1` (hex): it covers the whole log
    /// up to there.
    pub chain_head: String,
}

/// One exported event.
#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExportedEvent {
    /// Global position.
    pub position: u64,
    /// Stream and version.
    pub stream: String,
    /// Version in the stream.
    pub version: u64,
    /// Event type.
    pub r#type: String,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The record's chain hash (hex).
    pub record_hash: String,
    /// The event's fields, personal values opened.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A case history exported to a file.
#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct CaseExport {
    /// `ecoute-case-export/1`.
    pub format: String,
    /// The case.
    pub case_id: Uuid,
    /// When it was exported.
    pub exported_at: DateTime<Utc>,
    /// The log's stamp.
    pub log: LogStamp,
    /// The events of the case and its calls, in order.
    pub events: Vec<ExportedEvent>,
}

/// What a check of an export found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportCheck {
    /// True when the stamp and every event match the log.
    pub valid: bool,
    /// Events checked.
    pub events_checked: usize,
    /// Whether the log's chain hash at the stamped head is the one stamped: the log
    /// up to there is as it was.
    pub log_unaltered: bool,
    /// Events whose values can no longer be compared because their subject was
    /// erased since the export (not a fault).
    pub erased_since: usize,
    /// Every difference found, by position.
    pub faults: Vec<String>,
}

#[utoipa::path(get, path = "/v1/cases/{id}/export", tag = "cases",
    params(("id" = Uuid, Path, description = "The case")),
    responses((status = 200, body = CaseExport), (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// The case's history as a file, stamped with the log's head and chain hash and each
/// record's hash, for `ecoute verify-export` to check later. Recorded in the access log.
pub async fn export(
    State(state): State<ApiState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let app = &state.app;
    let case = CaseId::from_uuid(parse_id("id", &id)?);
    super::cases::readable(&state, &staff, case).await?;
    let head = ecoute_store::EventStore::head(app.store.as_ref()).await?;
    let history = app
        .history(case, None)
        .await?
        .ok_or(AppError::NotFound("case"))?;
    let mut events = Vec::with_capacity(history.entries.len());
    for e in history.entries.iter().filter(|e| e.stored.position < head) {
        events.push(ExportedEvent {
            position: e.stored.position,
            stream: e.stored.stream_id.to_string(),
            version: e.stored.version,
            r#type: e.stored.event_type.clone(),
            recorded_at: e.stored.recorded_at,
            record_hash: app
                .store
                .chain_hash(e.stored.position)?
                .ok_or_else(|| AppError::Internal("an exported event beyond the head".into()))?,
            data: serde_json::to_value(&e.event)
                .map_err(|err| AppError::Internal(err.to_string()))?,
        });
    }
    let chain_head = match head {
        0 => String::new(),
        n => app.store.chain_hash(n - 1)?.unwrap_or_default(),
    };
    let doc = CaseExport {
        format: EXPORT_FORMAT.into(),
        case_id: *case.as_uuid(),
        exported_at: app.now(),
        log: LogStamp { head, chain_head },
        events,
    };
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
    staff: Staff,
    Body(doc): Body<CaseExport>,
) -> Result<Response, AppError> {
    let app = &state.app;
    if doc.format != EXPORT_FORMAT {
        return Err(AppError::bad("format", format!("expected {EXPORT_FORMAT}")));
    }
    let case = CaseId::from_uuid(doc.case_id);
    super::cases::readable(&state, &staff, case).await?;
    let mut faults = Vec::new();
    let stamped = match doc.log.head {
        0 => Some(String::new()),
        n => app.store.chain_hash(n - 1)?,
    };
    let log_unaltered = stamped.as_deref() == Some(doc.log.chain_head.as_str());
    if !log_unaltered {
        faults.push(format!(
            "the log's chain hash at position {} is not the one stamped",
            doc.log.head.saturating_sub(1)
        ));
    }
    let history = app
        .history(case, None)
        .await?
        .ok_or(AppError::NotFound("case"))?;
    let by_position: std::collections::HashMap<u64, &crate::app::HistoryEntry> = history
        .entries
        .iter()
        .map(|e| (e.stored.position, e))
        .collect();
    let mut erased_since = 0;
    for e in &doc.events {
        let p = e.position;
        let Some(now) = by_position.get(&p) else {
            faults.push(format!(
                "position {p}: not an event of this case in the log"
            ));
            continue;
        };
        if app.store.chain_hash(p)?.as_deref() != Some(e.record_hash.as_str()) {
            faults.push(format!("position {p}: the record's hash differs"));
        }
        if now.stored.stream_id.as_str() != e.stream
            || now.stored.version != e.version
            || now.stored.event_type != e.r#type
            || now.stored.recorded_at != e.recorded_at
        {
            faults.push(format!(
                "position {p}: stream, version, type or time differ"
            ));
        }
        let data =
            serde_json::to_value(&now.event).map_err(|err| AppError::Internal(err.to_string()))?;
        if data != e.data {
            if data.to_string().contains("\"Erased\"") {
                erased_since += 1;
            } else {
                faults.push(format!("position {p}: the fields differ"));
            }
        }
    }
    let exported: std::collections::HashSet<u64> = doc.events.iter().map(|e| e.position).collect();
    for p in by_position
        .keys()
        .filter(|p| **p < doc.log.head && !exported.contains(p))
    {
        faults.push(format!(
            "position {p}: an event of the case is missing from the export"
        ));
    }
    faults.sort();
    let check = ExportCheck {
        valid: faults.is_empty(),
        events_checked: doc.events.len(),
        log_unaltered,
        erased_since,
        faults,
    };
    Ok(answer(StatusCode::OK, false, check))
}
