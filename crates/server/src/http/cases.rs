//! `/v1/cases`: what a referent opens, the audited history, and the case's commands.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ecoute_domain::case::{self, CaseCommand, CaseState, CaseStatus, Consent, ConsentDecision};
use ecoute_domain::vocabulary::{CloseReason, RecontactOutcome, SolutionKind};
use ecoute_domain::{
    case_stream, CaseId, CentreId, Event, Personal, SolutionId, StaffId, Subject, SubjectId, Whose,
};
use ecoute_projections::helpline::CaseSummary;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::calls::departement;
use super::{answer, parse_id, Accepted, ApiState, Body, Params, Staff};
use crate::access::Action;
use crate::access_log::Outcome;
use crate::app::{Decided, Ids, Loaded};
use crate::error::AppError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/cases/{id}", get(summary))
        .route("/v1/cases/{id}/history", get(history))
        .route("/v1/cases/{id}/timeline", get(timeline))
        .route("/v1/cases/{id}/referent", post(referent))
        .route("/v1/cases/{id}/analysis", post(analysis))
        .route("/v1/cases/{id}/recontacts", post(recontact))
        .route("/v1/cases/{id}/awaiting-call-back", post(await_call_back))
        .route("/v1/cases/{id}/solutions", post(propose))
        .route("/v1/cases/{id}/solutions/{solution}/consent", post(consent))
        .route("/v1/cases/{id}/solutions/{solution}/actions", post(action))
        .route("/v1/cases/{id}/transfer", post(transfer))
        .route("/v1/cases/{id}/reassign", post(reassign))
        .route("/v1/cases/{id}/close", post(close))
        .route("/v1/cases/{id}/reopen", post(reopen))
}

fn case_id(id: &str) -> Result<CaseId, AppError> {
    parse_id("id", id).map(CaseId::from_uuid)
}

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
pub struct QueueView {
    /// `awaiting_transfer`, `awaiting_referent`, `awaiting_recontact` or
    /// `awaiting_call_back`.
    pub kind: String,
    /// Since when.
    pub since: DateTime<Utc>,
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
    pub queue: Option<QueueView>,
    /// The deadlines armed or missed.
    pub deadlines: Vec<DeadlineView>,
    /// The promises that fell due unkept (`referent`, `recontact`, `follow-up/<id>`).
    pub overdue: Vec<String>,
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
pub fn queue_kind(kind: ecoute_projections::helpline::QueueKind) -> String {
    use ecoute_projections::helpline::QueueKind as K;
    match kind {
        K::AwaitingTransfer => "awaiting_transfer",
        K::AwaitingReferent => "awaiting_referent",
        K::AwaitingRecontact => "awaiting_recontact",
        K::AwaitingCallBack => "awaiting_call_back",
    }
    .into()
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
            queue: s.queue.map(|(kind, since)| QueueView {
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

/// The purpose of a read, given with the request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AtQuery {
    /// An RFC 3339 time: the history and state as they stood then.
    pub at: Option<String>,
}

/// Checks that the case exists and may be read, recording the attempt either way.
pub(super) async fn readable(
    state: &ApiState,
    staff: &Staff,
    id: CaseId,
) -> Result<CentreId, AppError> {
    let app = &state.app;
    let Some(case) = app.case_state(id).await? else {
        return Err(staff
            .refused(app, Action::ReadCase(CentreId::NationalPlatform), Some(id))
            .await);
    };
    let centre = case.centre().ok_or(AppError::NotFound("case"))?;
    staff.check(app, Action::ReadCase(centre), Some(id)).await?;
    staff
        .record(app, Action::ReadCase(centre), Some(id), Outcome::Allowed)
        .await?;
    Ok(centre)
}

#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases",
    params(("id" = Uuid, Path, description = "The case"),
        ("X-Purpose" = Option<String>, Header, description = "Why the case is read")),
    responses((status = 200, body = CaseView), (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// The case summary; the read is recorded in the access log.
pub async fn summary(
    State(state): State<ApiState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    readable(&state, &staff, id).await?;
    state.app.catch_up().await?;
    let summary = state
        .app
        .views
        .cases
        .summary(id)?
        .ok_or(AppError::NotFound("case"))?;
    Ok(answer(StatusCode::OK, false, CaseView::from(summary)))
}

#[utoipa::path(get, path = "/v1/cases/{id}/history", tag = "cases",
    params(("id" = Uuid, Path, description = "The case"), AtQuery,
        ("X-Purpose" = Option<String>, Header, description = "Why the case is read")),
    responses((status = 200, body = HistoryView), (status = 400, body = super::Problem),
        (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// The events of the case and of its calls, in order, exactly as recorded; with
/// `?at=`, the history and state as they stood then. The read is recorded.
pub async fn history(
    State(state): State<ApiState>,
    staff: Staff,
    Path(id): Path<String>,
    Params(q): Params<AtQuery>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let at =
        q.at.as_deref()
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| AppError::bad("at", format!("not an RFC 3339 time: {e}")))
            })
            .transpose()?;
    readable(&state, &staff, id).await?;
    let h = state
        .app
        .history(id, at)
        .await?
        .ok_or(AppError::NotFound("case"))?;
    let events = h
        .entries
        .iter()
        .map(|e| {
            Ok(HistoryEvent {
                position: e.stored.position,
                stream: e.stored.stream_id.to_string(),
                version: e.stored.version,
                r#type: e.stored.event_type.clone(),
                schema_version: e.stored.schema_version,
                recorded_at: e.stored.recorded_at,
                actor: e.stored.metadata.actor.clone(),
                correlation_id: e.stored.metadata.correlation_id,
                data: serde_json::to_value(&e.event)
                    .map_err(|err| AppError::Internal(err.to_string()))?,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let view = HistoryView {
        case_id: *id.as_uuid(),
        at,
        state: CaseStateView::from(&h.state),
        events,
    };
    Ok(answer(StatusCode::OK, false, view))
}

#[utoipa::path(get, path = "/v1/cases/{id}/timeline", tag = "cases",
    params(("id" = Uuid, Path, description = "The case"),
        ("X-Purpose" = Option<String>, Header, description = "Why the case is read")),
    responses((status = 200, body = [TimelineLine]), (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// The case's history in plain words, for auditors and referents. The read is recorded.
pub async fn timeline(
    State(state): State<ApiState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    readable(&state, &staff, id).await?;
    let lines: Vec<TimelineLine> = state
        .app
        .views
        .timelines
        .of_case(id)
        .await?
        .into_iter()
        .map(|e| TimelineLine {
            position: e.position,
            at: e.at,
            stream: e.stream,
            r#type: e.event_type,
            text: e.text,
        })
        .collect();
    Ok(answer(StatusCode::OK, false, lines))
}

/// Runs one command on an existing case the actor may act on.
async fn on_case(
    state: &ApiState,
    staff: &Staff,
    ids: Ids,
    id: CaseId,
    others: Vec<StaffId>,
    make: impl Fn(&CaseState) -> Result<CaseCommand, AppError> + Send + Sync,
) -> Result<crate::app::Outcome, AppError> {
    let app = &state.app;
    let req = staff.request_with(ids, format!("{} {}", staff.route, id));
    let result = app
        .execute(&req, vec![case_stream(id)], |loaded: &Loaded, now| {
            let (case, expected) = loaded.case(id);
            let centre = case.centre().ok_or(AppError::NotFound("case"))?;
            if !crate::access::allowed(&staff.snapshot, Action::ActOnCase(centre)) {
                return Err(AppError::NotFound("case"));
            }
            let command = make(&case)?;
            let ctx = app.context(&staff.snapshot, now, others.iter().copied())?;
            Ok(vec![Decided {
                stream: case_stream(id),
                expected,
                events: case::decide(&case, &command, &ctx)?
                    .into_iter()
                    .map(Event::Case)
                    .collect(),
            }])
        })
        .await;
    if let Err(AppError::NotFound("case")) = &result {
        staff
            .record(
                app,
                Action::ActOnCase(CentreId::NationalPlatform),
                Some(id),
                Outcome::NotFound,
            )
            .await?;
    }
    result
}

fn accepted_case(outcome: &crate::app::Outcome, id: CaseId) -> Accepted {
    Accepted {
        case_id: Some(*id.as_uuid()),
        ..Accepted::of(outcome)
    }
}

/// The subject a case text is about: `about`, or the caller of the case's first call.
fn subject_of(case: &CaseState, about: Option<Uuid>) -> Result<Subject, AppError> {
    match about {
        Some(a) => {
            let id = SubjectId::from_uuid(a);
            let whose = case
                .subject(id)
                .ok_or_else(|| AppError::bad("about", "not a person of this case"))?;
            Ok(Subject { id, whose })
        }
        None => case
            .calls()
            .flat_map(|c| c.subjects.iter())
            .find(|(_, w)| **w == Whose::Caller)
            .map(|(id, whose)| Subject {
                id: *id,
                whose: *whose,
            })
            .ok_or(AppError::NotFound("case")),
    }
}

/// Names the referent who follows the case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignReferent {
    /// The referent: a referent accredited at the case's centre who took none of its
    /// calls.
    pub referent: Uuid,
}

/// A text of the case about one person.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseText {
    /// The text.
    pub text: String,
    /// The subject it is about (default: the caller).
    pub about: Option<Uuid>,
}

/// An attempt to call the caller back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recontact {
    /// What came of it.
    pub outcome: RecontactOutcome,
}

/// A solution proposed to the caller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeSolution {
    /// What kind of contact it proposes.
    pub kind: SolutionKind,
    /// The solution, in free text.
    pub description: String,
    /// The subject it is about (default: the caller).
    pub about: Option<Uuid>,
}

/// The caller's decision on a solution.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The caller agrees that the solution be acted on.
    Given,
    /// The caller does not agree.
    Refused,
    /// The caller takes back a consent given before.
    Withdrawn,
}

/// Records the caller's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsent {
    /// `given`, `refused` or `withdrawn`.
    pub decision: Decision,
}

/// A step taken on a solution.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeAction {
    /// What was done.
    pub note: String,
    /// The subject it is about (default: the caller).
    pub about: Option<Uuid>,
}

/// A centre to hand the case to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToCentre {
    /// The département code of the centre.
    pub centre: String,
}

/// Closes the case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// Why.
    pub reason: CloseReason,
}

macro_rules! case_route {
    ($(#[$doc:meta])* $name:ident, $path:literal, $body:ty, |$b:ident, $case:ident| $make:expr) => {
        #[utoipa::path(post, path = $path, tag = "cases",
            params(("id" = Uuid, Path, description = "The case")), request_body = $body,
            responses((status = 200, body = Accepted), (status = 400, body = super::Problem),
                (status = 404, body = super::Problem), (status = 409, body = super::Problem),
                (status = 422, body = super::Problem)),
            security(("bearer" = [])))]
        $(#[$doc])*
        pub async fn $name(
            State(state): State<ApiState>,
            staff: Staff,
            headers: HeaderMap,
            Path(id): Path<String>,
            Body($b): Body<$body>,
        ) -> Result<Response, AppError> {
            let id = case_id(&id)?;
            let outcome = on_case(&state, &staff, staff.ids(&headers)?, id, Vec::new(),
                |$case| $make).await?;
            Ok(answer(StatusCode::OK, outcome.replayed, accepted_case(&outcome, id)))
        }
    };
}

macro_rules! bare_case_route {
    ($(#[$doc:meta])* $name:ident, $path:literal, $command:expr) => {
        #[utoipa::path(post, path = $path, tag = "cases",
            params(("id" = Uuid, Path, description = "The case")),
            responses((status = 200, body = Accepted), (status = 404, body = super::Problem),
                (status = 409, body = super::Problem), (status = 422, body = super::Problem)),
            security(("bearer" = [])))]
        $(#[$doc])*
        pub async fn $name(
            State(state): State<ApiState>,
            staff: Staff,
            headers: HeaderMap,
            Path(id): Path<String>,
        ) -> Result<Response, AppError> {
            let id = case_id(&id)?;
            let outcome = on_case(&state, &staff, staff.ids(&headers)?, id, Vec::new(),
                |_| Ok($command)).await?;
            Ok(answer(StatusCode::OK, outcome.replayed, accepted_case(&outcome, id)))
        }
    };
}

#[utoipa::path(post, path = "/v1/cases/{id}/referent", tag = "cases",
    params(("id" = Uuid, Path, description = "The case")), request_body = AssignReferent,
    responses((status = 200, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Names the referent who follows the case (a fresh eye: not one who took its calls).
pub async fn referent(
    State(state): State<ApiState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<AssignReferent>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let referent = StaffId::from_uuid(body.referent);
    if state.app.staff.snapshot(referent).is_none() {
        return Err(AppError::bad("referent", "no such member of staff"));
    }
    let outcome = on_case(
        &state,
        &staff,
        staff.ids(&headers)?,
        id,
        vec![referent],
        |_| Ok(CaseCommand::AssignReferent(referent)),
    )
    .await?;
    Ok(answer(
        StatusCode::OK,
        outcome.replayed,
        accepted_case(&outcome, id),
    ))
}

case_route!(
    /// The referent records their analysis of the situation.
    analysis, "/v1/cases/{id}/analysis", CaseText,
    |body, case| Ok(CaseCommand::RecordAnalysis(Personal::new(subject_of(case, body.about)?, body.text.clone())))
);
case_route!(
    /// The referent tried to call the caller back.
    recontact, "/v1/cases/{id}/recontacts", Recontact,
    |body, _case| Ok(CaseCommand::AttemptRecontact(body.outcome))
);
case_route!(
    /// The platform hands a case it opened to the centre of the caller's département.
    transfer, "/v1/cases/{id}/transfer", ToCentre,
    |body, _case| Ok(CaseCommand::Transfer(departement("centre", &body.centre)?))
);
case_route!(
    /// The platform moves a transferred case to another centre.
    reassign, "/v1/cases/{id}/reassign", ToCentre,
    |body, _case| Ok(CaseCommand::Reassign(departement("centre", &body.centre)?))
);
case_route!(
    /// Closes the case.
    close, "/v1/cases/{id}/close", Close,
    |body, _case| Ok(CaseCommand::Close(body.reason))
);
bare_case_route!(
    /// Records that the case waits for the caller to call again.
    await_call_back, "/v1/cases/{id}/awaiting-call-back", CaseCommand::AwaitCallBack
);
bare_case_route!(
    /// Reopens a closed case.
    reopen, "/v1/cases/{id}/reopen", CaseCommand::Reopen
);

#[utoipa::path(post, path = "/v1/cases/{id}/solutions", tag = "cases",
    params(("id" = Uuid, Path, description = "The case")), request_body = ProposeSolution,
    responses((status = 201, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// The referent proposes a solution to the caller.
pub async fn propose(
    State(state): State<ApiState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<ProposeSolution>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let ids = staff.ids(&headers)?;
    let solution = SolutionId::from_uuid(ids.uuid("solution"));
    let outcome = on_case(&state, &staff, ids, id, Vec::new(), |case| {
        Ok(CaseCommand::ProposeSolution {
            solution_id: solution,
            kind: body.kind,
            description: Personal::new(subject_of(case, body.about)?, body.description.clone()),
        })
    })
    .await?;
    let accepted = Accepted {
        solution_id: Some(*solution.as_uuid()),
        ..accepted_case(&outcome, id)
    };
    Ok(answer(StatusCode::CREATED, outcome.replayed, accepted))
}

fn solution_id(s: &str) -> Result<SolutionId, AppError> {
    parse_id("solution", s).map(SolutionId::from_uuid)
}

#[utoipa::path(post, path = "/v1/cases/{id}/solutions/{solution}/consent", tag = "cases",
    params(("id" = Uuid, Path, description = "The case"),
        ("solution" = Uuid, Path, description = "The solution")),
    request_body = RecordConsent,
    responses((status = 200, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Records the caller's decision on a solution: nothing is done without it.
pub async fn consent(
    State(state): State<ApiState>,
    staff: Staff,
    headers: HeaderMap,
    Path((id, solution)): Path<(String, String)>,
    Body(body): Body<RecordConsent>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let solution = solution_id(&solution)?;
    let decision = match body.decision {
        Decision::Given => ConsentDecision::Given,
        Decision::Refused => ConsentDecision::Refused,
        Decision::Withdrawn => ConsentDecision::Withdrawn,
    };
    let outcome = on_case(&state, &staff, staff.ids(&headers)?, id, Vec::new(), |_| {
        Ok(CaseCommand::RecordConsent {
            solution_id: solution,
            decision,
        })
    })
    .await?;
    let accepted = Accepted {
        solution_id: Some(*solution.as_uuid()),
        ..accepted_case(&outcome, id)
    };
    Ok(answer(StatusCode::OK, outcome.replayed, accepted))
}

#[utoipa::path(post, path = "/v1/cases/{id}/solutions/{solution}/actions", tag = "cases",
    params(("id" = Uuid, Path, description = "The case"),
        ("solution" = Uuid, Path, description = "The solution")),
    request_body = TakeAction,
    responses((status = 200, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Records a step taken on a solution, which needs the caller's standing consent.
pub async fn action(
    State(state): State<ApiState>,
    staff: Staff,
    headers: HeaderMap,
    Path((id, solution)): Path<(String, String)>,
    Body(body): Body<TakeAction>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let solution = solution_id(&solution)?;
    let outcome = on_case(
        &state,
        &staff,
        staff.ids(&headers)?,
        id,
        Vec::new(),
        |case| {
            Ok(CaseCommand::TakeAction {
                solution_id: solution,
                note: Personal::new(subject_of(case, body.about)?, body.note.clone()),
            })
        },
    )
    .await?;
    let accepted = Accepted {
        solution_id: Some(*solution.as_uuid()),
        ..accepted_case(&outcome, id)
    };
    Ok(answer(StatusCode::OK, outcome.replayed, accepted))
}
