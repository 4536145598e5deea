//! The access log: every read of case data, and every refused attempt, recorded before
//! the answer leaves the server.
//!
//! It is an event store of its own (`<data>/access-log`), apart from the case
//! streams, with the same guarantees: append-only, durable before the answer,
//! checksummed and hash-chained. One stream per case (`access-<case uuid>`) holds
//! every consultation of that case, so that a data-access answer finds them without
//! a scan; attempts that name no case go to `access-other`. Records carry no
//! personal value: pseudonymous staff ids, case ids, route names and purposes.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecoute_domain::{CaseId, Role, StaffId, TokenId};
use ecoute_store::{
    Clock, EventData, EventStore, ExpectedVersion, Metadata, SledStore, StoreConfig, StreamId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

/// The type name of an access record in the access log.
pub const ACCESS_EVENT_TYPE: &str = "AccessRecorded";

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The data was shown.
    Allowed,
    /// The member's roles or accreditations did not allow it.
    Refused,
    /// No valid token came with the request.
    Unauthenticated,
    /// No such case (or one the member may not see: the same answer was given).
    NotFound,
}

impl Outcome {
    /// The outcome's name, as stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Refused => "refused",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::NotFound => "not_found",
        }
    }
}

/// One line of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// Who: the staff id, when the request was authenticated.
    pub staff: Option<StaffId>,
    /// Their roles at the time.
    pub roles: Vec<Role>,
    /// The token the request came with (absent for the system, or before any
    /// token was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenId>,
    /// Who issued that token: the holder themself, the administrator who enrolled
    /// them or reset their tokens (absent: the system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_issued_by: Option<StaffId>,
    /// What: the action (`case.read`, …) and the route.
    pub action: String,
    /// The route template, such as `GET /v1/cases/{id}/history`.
    pub route: String,
    /// The case concerned, if any.
    pub case: Option<CaseId>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why: given with the request (`X-Purpose`) or implied by the route.
    pub purpose: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The request's id, as in the server's logs (the first one, for a record
    /// that stands for several attempts).
    pub request_id: Uuid,
    /// How many attempts this record stands for: refusals that name nothing real
    /// (no valid token, a case that does not exist) are counted over a window and
    /// written once per source and route (absent: one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
}

/// The access log's store.
pub struct AccessLog {
    store: Arc<SledStore>,
}

impl AccessLog {
    /// Opens (or creates) the access log in `dir`.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, AppError> {
        let config = StoreConfig {
            clock,
            cache_capacity: 4 << 20,
            ..StoreConfig::default()
        };
        let store = SledStore::open(dir, config)
            .map_err(|e| AppError::fault("opening the access log", e))?;
        Ok(AccessLog {
            store: Arc::new(store),
        })
    }

    /// The store underneath, for verification and reading.
    pub fn store(&self) -> &Arc<SledStore> {
        &self.store
    }

    /// Appends one record, durably.
    pub async fn record(&self, record: &AccessRecord) -> Result<(), AppError> {
        let stream = match record.case {
            Some(case) => format!("access-{}", case.as_uuid()),
            None => "access-other".to_string(),
        };
        let stream = StreamId::new(stream)?;
        let payload = serde_json::to_vec(record)
            .map_err(|e| AppError::fault("encoding an access record", e))?;
        let event =
            EventData::new(Uuid::new_v4(), ACCESS_EVENT_TYPE, 1, payload).with_metadata(Metadata {
                correlation_id: Some(record.request_id),
                actor: record.staff.map(|s| format!("staff-{}", s.as_uuid())),
                ..Metadata::default()
            });
        self.store
            .append_to_stream(stream, ExpectedVersion::Any, vec![event])
            .await?;
        Ok(())
    }

    /// Every consultation of one case, oldest first.
    pub async fn of_case(&self, case: CaseId) -> Result<Vec<AccessRecord>, AppError> {
        let stream = StreamId::new(format!("access-{}", case.as_uuid()))?;
        let events = match self
            .store
            .read_stream(
                &stream,
                ecoute_store::ReadFrom::Edge,
                ecoute_store::Direction::Forward,
                usize::MAX,
            )
            .await
        {
            Ok(events) => events,
            Err(ecoute_store::StoreError::StreamNotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        events
            .iter()
            .map(|e| {
                serde_json::from_slice(&e.payload).map_err(|err| {
                    AppError::internal(format!("access record at {}: {err}", e.position))
                })
            })
            .collect()
    }

    /// Flushes and closes the access log.
    pub async fn close(&self) -> Result<(), AppError> {
        self.store.close().await.map_err(AppError::from)
    }
}
