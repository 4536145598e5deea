//! What the case routes answer: the summary a referent opens, the folded state and
//! the audited history, the timeline — as JSON documents with their schemas.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ecoute_domain::case::{CaseState, CaseStatus, Consent};
use ecoute_domain::vocabulary::{CloseReason, SolutionKind};
use ecoute_projections::helpline::CaseSummary;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A solution as the summary shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SolutionView {
    /// The solution.
    pub solution_id: Uuid,
    /// What kind of contact it proposes.
    pub kind: SolutionKind,
    /// The caller's standing decision.
    pub consent: Consent,
    /// How many actions were taken on it.
    pub actions: u32,
}

/// Why a case waits, and since when.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseQueue {
    /// Which queue.
    pub kind: QueueName,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// A queue of a centre (the names are the API's: every one begins `awaiting`).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueName {
    /// Opened by the platform, not transferred yet.
    AwaitingTransfer,
    /// No referent yet.
    AwaitingReferent,
    /// Nobody reached the caller yet.
    AwaitingRecontact,
    /// Waiting for the caller to call again.
    AwaitingCallBack,
    /// Flagged for inactivity: to keep, or it is closed and erased.
    AwaitingReview,
}

/// What a referent opens: where the case stands, with no personal value.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    /// The case.
    pub case_id: Uuid,
    /// Open or closed.
    pub status: CaseStatus,
    /// Where it was opened (`national` or a département code).
    pub opened_by: String,
    /// The centre holding it now.
    pub centre: String,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// The referent following it.
    pub referent: Option<Uuid>,
    /// Its calls, in the order they joined.
    pub calls: Vec<Uuid>,
    /// Whether a number is kept to call the caller back.
    pub can_recontact: bool,
    /// Whether it waits for the caller to call again.
    pub awaiting_call_back: bool,
    /// Solutions proposed, with consent and actions; open ones first.
    pub solutions: Vec<SolutionView>,
    /// Recontact attempts so far.
    pub recontact_attempts: u32,
    /// Why it was closed, when it is.
    pub closed_reason: Option<CloseReason>,
    /// The time of its last event.
    pub last_activity: DateTime<Utc>,
    /// The queue it sits in, if any.
    pub queue: Option<CaseQueue>,
    /// The deadlines armed or missed.
    pub deadlines: Vec<DeadlineView>,
    /// The promises that fell due unkept (`referent`, `recontact`, `follow-up/<id>`).
    pub overdue: Vec<String>,
    /// The inactivity flag, while it stands: the case is closed and its persons
    /// erased at `closes_at` unless someone keeps it (`POST /v1/cases/{id}/keep`).
    pub inactivity: Option<InactivityView>,
}

/// A case flagged for inactivity by the retention rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct InactivityView {
    /// When it was flagged.
    pub flagged_at: DateTime<Utc>,
    /// When it is closed and its persons erased, unless kept.
    pub closes_at: DateTime<Utc>,
}

/// One deadline of a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineView {
    /// `referent`, `recontact` or `follow-up/<solution id>`.
    pub kind: String,
    /// When it falls (or fell) due.
    pub due: DateTime<Utc>,
    /// Whether it fell due unkept.
    pub missed: bool,
}

/// A queue kind as the API names it.
pub fn queue_kind(kind: ecoute_projections::helpline::QueueKind) -> QueueName {
    use ecoute_projections::helpline::QueueKind as K;
    match kind {
        K::AwaitingTransfer => QueueName::AwaitingTransfer,
        K::AwaitingReferent => QueueName::AwaitingReferent,
        K::AwaitingRecontact => QueueName::AwaitingRecontact,
        K::AwaitingCallBack => QueueName::AwaitingCallBack,
        K::AwaitingReview => QueueName::AwaitingReview,
    }
}

impl From<CaseSummary> for CaseView {
    fn from(s: CaseSummary) -> Self {
        CaseView {
            case_id: *s.case_id.as_uuid(),
            status: s.status,
            opened_by: s.opened_by.to_string(),
            centre: s.centre.to_string(),
            opened_at: s.opened_at,
            referent: s.referent.map(|r| *r.as_uuid()),
            calls: s.calls.iter().map(|c| *c.as_uuid()).collect(),
            can_recontact: s.can_recontact,
            awaiting_call_back: s.awaiting_call_back,
            solutions: s
                .solutions
                .into_iter()
                .map(|x| SolutionView {
                    solution_id: *x.id.as_uuid(),
                    kind: x.kind,
                    consent: x.consent,
                    actions: x.actions,
                })
                .collect(),
            recontact_attempts: s.recontact_attempts,
            closed_reason: s.closed_reason,
            last_activity: s.last_activity,
            queue: s.queue.map(|(kind, since)| CaseQueue {
                kind: queue_kind(kind),
                since,
            }),
            deadlines: s
                .deadlines
                .iter()
                .map(|(k, d)| DeadlineView {
                    kind: k.to_string(),
                    due: d.due,
                    missed: d.missed,
                })
                .collect(),
            overdue: s.overdue.iter().map(|k| k.to_string()).collect(),
            inactivity: s.inactivity.map(|f| InactivityView {
                flagged_at: f.flagged_at,
                closes_at: f.closes_at,
            }),
        }
    }
}

/// The case as folded from its events (up to a moment, for a history).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseStateView {
    /// Not opened (at that moment), open or closed.
    pub status: CaseStatus,
    /// Where it was opened.
    pub opened_by: Option<String>,
    /// The centre holding it.
    pub centre: Option<String>,
    /// Whether it was transferred from the national platform.
    pub transferred: bool,
    /// The referent following it.
    pub referent: Option<Uuid>,
    /// Its calls.
    pub calls: Vec<Uuid>,
    /// Whether a number is kept to call the caller back.
    pub can_recontact: bool,
    /// Whether it waits for the caller to call again.
    pub awaiting_call_back: bool,
    /// Solutions by id, with consent and actions.
    pub solutions: BTreeMap<Uuid, SolutionStateView>,
}

/// A solution in a folded case.
#[derive(Debug, Serialize, ToSchema)]
pub struct SolutionStateView {
    /// What kind of contact it proposes.
    pub kind: SolutionKind,
    /// The caller's standing decision.
    pub consent: Consent,
    /// How many actions were taken on it.
    pub actions: u32,
}

impl From<&CaseState> for CaseStateView {
    fn from(s: &CaseState) -> Self {
        CaseStateView {
            status: s.status(),
            opened_by: s.opened_by().map(|c| c.to_string()),
            centre: s.centre().map(|c| c.to_string()),
            transferred: s.is_transferred(),
            referent: s.referent().map(|r| *r.as_uuid()),
            calls: s.calls().map(|c| *c.call_id.as_uuid()).collect(),
            can_recontact: s.can_recontact(),
            awaiting_call_back: s.is_awaiting_call_back(),
            solutions: s
                .solutions()
                .iter()
                .map(|(id, x)| {
                    (
                        *id.as_uuid(),
                        SolutionStateView {
                            kind: x.kind,
                            consent: x.consent,
                            actions: x.actions,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// One recorded event of a case or of one of its calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    /// Global position in the log.
    pub position: u64,
    /// The stream (`case-…` or `call-…`).
    pub stream: String,
    /// Its version in the stream.
    pub version: u64,
    /// The event type, such as `CaseTransferred`.
    pub r#type: String,
    /// The schema version it was recorded in.
    pub schema_version: u32,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Who gave the command (`staff-<uuid>`).
    pub actor: Option<String>,
    /// The request it came from.
    pub correlation_id: Option<Uuid>,
    /// The event's fields, personal values included (`{"subject": …, "value": …}`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A case's history, as recorded, and its state as of the same moment.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    /// The case.
    pub case_id: Uuid,
    /// The moment asked for, if any: only events recorded by then are shown.
    pub at: Option<DateTime<Utc>>,
    /// The case folded from the events shown.
    pub state: CaseStateView,
    /// The events of the case and of its calls, in global order.
    pub events: Vec<HistoryEvent>,
}

/// One line of a timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineLine {
    /// Global position in the log.
    pub position: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The stream (`case-…` or `call-…`).
    pub stream: String,
    /// The event type.
    pub r#type: String,
    /// What happened, in plain words (no personal value).
    pub text: String,
}
