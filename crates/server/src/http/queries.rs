//! Queries over the read models: a centre's queues, a referent's caseload, statistics.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use ecoute_domain::{CentreId, StaffId};
use ecoute_projections::helpline::QueueEntry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::cases::queue_kind;
use super::{answer, parse_id, ApiState, Params};
use crate::app::Actor;
use crate::error::AppError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/centres/{centre}/queue", get(queue))
        .route("/v1/staff/{id}/caseload", get(caseload))
        .route("/v1/statistics", get(statistics))
}

/// One case waiting in a queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct Waiting {
    /// The case.
    pub case_id: Uuid,
    /// Since when it waits.
    pub since: DateTime<Utc>,
    /// How long it has waited, in seconds, as of the answer.
    pub waited_seconds: i64,
    /// Whether a deadline of the case fell due unkept.
    pub overdue: bool,
    /// For a case flagged for inactivity: when it is closed and its persons erased
    /// unless someone keeps it.
    pub closes_at: Option<DateTime<Utc>>,
}

/// A centre's queues, each oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    /// The centre (`national` or a département code).
    pub centre: String,
    /// Cases opened by the platform and not transferred yet (the platform's queue).
    pub awaiting_transfer: Vec<Waiting>,
    /// Cases with no referent.
    pub awaiting_referent: Vec<Waiting>,
    /// Cases whose caller nobody reached yet.
    pub awaiting_recontact: Vec<Waiting>,
    /// Cases waiting for the caller to call again.
    pub awaiting_call_back: Vec<Waiting>,
    /// Cases flagged for inactivity by the retention rule: kept with a reason, or
    /// closed and erased at `closes_at`.
    pub awaiting_review: Vec<Waiting>,
}

fn waiting(entries: Vec<QueueEntry>) -> Vec<Waiting> {
    entries
        .into_iter()
        .map(|e| Waiting {
            case_id: *e.case_id.as_uuid(),
            since: e.since,
            waited_seconds: e.waited.num_seconds(),
            overdue: e.overdue,
            closes_at: e.closes_at,
        })
        .collect()
}

fn centre(s: &str) -> Result<CentreId, AppError> {
    CentreId::parse(s).map_err(|e| AppError::bad("centre", e.to_string()))
}

#[utoipa::path(get, path = "/v1/centres/{centre}/queue", tag = "queries",
    params(("centre" = String, Path, description = "`national` or a département code")),
    responses((status = 200, body = QueueView), (status = 403, body = super::Problem)),
    security(("bearer" = [])))]
/// A centre's queues: cases awaiting transfer, a referent, a recontact, or the caller's
/// call-back, each with how long it has waited.
pub async fn queue(
    State(state): State<ApiState>,
    actor: Actor,
    Path(c): Path<String>,
) -> Result<Response, AppError> {
    let c = centre(&c)?;
    let q = state.app.queue(&actor, c).await?;
    let view = QueueView {
        centre: c.to_string(),
        awaiting_transfer: waiting(q.awaiting_transfer),
        awaiting_referent: waiting(q.awaiting_referent),
        awaiting_recontact: waiting(q.awaiting_recontact),
        awaiting_call_back: waiting(q.awaiting_call_back),
        awaiting_review: waiting(q.awaiting_review),
    };
    Ok(answer(StatusCode::OK, false, view))
}

/// One open case of a referent.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseloadLine {
    /// The case.
    pub case_id: Uuid,
    /// The centre holding it.
    pub centre: String,
    /// Since when the referent follows it.
    pub since: DateTime<Utc>,
    /// The queue it sits in, if any.
    pub queue: Option<super::case_views::QueueName>,
    /// The promises of the case that fell due unkept.
    pub overdue: Vec<String>,
}

#[utoipa::path(get, path = "/v1/staff/{id}/caseload", tag = "queries",
    params(("id" = Uuid, Path, description = "The referent")),
    responses((status = 200, body = [CaseloadLine]), (status = 403, body = super::Problem)),
    security(("bearer" = [])))]
/// A referent's open cases, longest followed first.
pub async fn caseload(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let referent = StaffId::from_uuid(parse_id("id", &id)?);
    let lines: Vec<CaseloadLine> = state
        .app
        .caseload(&actor, referent)
        .await?
        .into_iter()
        .map(|e| CaseloadLine {
            case_id: *e.case_id.as_uuid(),
            centre: e.centre.to_string(),
            since: e.since,
            queue: e.queue.map(queue_kind),
            overdue: e.overdue.iter().map(|k| k.to_string()).collect(),
        })
        .collect();
    Ok(answer(StatusCode::OK, false, lines))
}

/// Which period and centre.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatisticsParams {
    /// First day, inclusive. For centres whose cases you may read: any day
    /// (default 30 days before `to`); otherwise the first day of a month (default:
    /// that of `to`'s month).
    pub from: Option<NaiveDate>,
    /// Last day, inclusive. For centres whose cases you may read: any day (default
    /// today, UTC); otherwise the last day of a month that has ended (default: the
    /// last one).
    pub to: Option<NaiveDate>,
    /// One centre (`national` or a département code); default all.
    pub centre: Option<String>,
}

#[utoipa::path(get, path = "/v1/statistics", tag = "queries", params(StatisticsParams),
    responses((status = 200, body = crate::app::disclosure::PublishedStatistics), (status = 400, body = super::Problem)),
    security(("bearer" = [])))]
/// The helpline's statistics over a period, for one centre or all.
pub async fn statistics(
    State(state): State<ApiState>,
    actor: Actor,
    Params(p): Params<StatisticsParams>,
) -> Result<Response, AppError> {
    let centre = p.centre.as_deref().map(centre).transpose()?;
    let published = state.app.statistics(&actor, p.from, p.to, centre).await?;
    Ok(answer(StatusCode::OK, false, published))
}
