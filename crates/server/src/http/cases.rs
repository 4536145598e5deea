//! `/v1/cases`: what a referent opens, the audited history, and the case's commands
//! (their answers' shapes are in `case_views`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ecoute_domain::case::{CaseCommand, ConsentDecision};
use ecoute_domain::vocabulary::{CloseReason, RecontactOutcome, SolutionKind};
use ecoute_domain::KeepReason;
use ecoute_domain::{CaseId, SolutionId, StaffId, SubjectId};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::calls::departement;
pub use super::case_views::*;
use super::{answer, parse_id, Accepted, ApiState, Body, Params};
use crate::app::{Actor, Outcome};
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
        .route("/v1/cases/{id}/keep", post(keep))
}

fn case_id(id: &str) -> Result<CaseId, AppError> {
    parse_id("id", id).map(CaseId::from_uuid)
}

/// When to read the case as it stood.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AtQuery {
    /// An RFC 3339 time: the history and state as they stood then.
    pub at: Option<String>,
}

#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases",
    params(("id" = Uuid, Path, description = "The case")),
    responses((status = 200, body = CaseView), (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// The case summary; the read is recorded in the access log.
pub async fn summary(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let summary = state.app.case_summary(&actor, case_id(&id)?).await?;
    Ok(answer(StatusCode::OK, false, CaseView::from(summary)))
}

#[utoipa::path(get, path = "/v1/cases/{id}/history", tag = "cases",
    params(("id" = Uuid, Path, description = "The case"), AtQuery),
    responses((status = 200, body = HistoryView), (status = 400, body = super::Problem),
        (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// The events of the case and of its calls, in order, exactly as recorded; with
/// `?at=`, the history and state as they stood then. The read is recorded.
pub async fn history(
    State(state): State<ApiState>,
    actor: Actor,
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
    let h = state.app.case_history(&actor, id, at).await?;
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
                    .map_err(|err| AppError::fault("an event does not render", err))?,
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
    params(("id" = Uuid, Path, description = "The case")),
    responses((status = 200, body = [TimelineLine]), (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// The case's history in plain words, for auditors and referents. The read is recorded.
pub async fn timeline(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let lines: Vec<TimelineLine> = state
        .app
        .case_timeline(&actor, case_id(&id)?)
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

fn accepted_case(outcome: &Outcome, id: CaseId) -> Accepted {
    Accepted {
        case_id: Some(*id.as_uuid()),
        ..Accepted::of(outcome)
    }
}

fn accepted_solution(outcome: &Outcome, id: CaseId, solution: SolutionId) -> Accepted {
    Accepted {
        solution_id: Some(*solution.as_uuid()),
        ..accepted_case(outcome, id)
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
    #[schema(schema_with = super::dto::text_schema)]
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
    #[schema(schema_with = super::dto::text_schema)]
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
    #[schema(schema_with = super::dto::text_schema)]
    pub note: String,
    /// The subject it is about (default: the caller).
    pub about: Option<Uuid>,
}

/// A centre to hand the case to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToCentre {
    /// The département code of the centre.
    #[schema(schema_with = super::dto::departement_schema)]
    pub centre: String,
}

/// Closes the case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// Why.
    pub reason: CloseReason,
}

/// Keeps a case flagged for inactivity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Keep {
    /// Why it is kept, from the closed list; kept in the case's history.
    pub reason: KeepReason,
}

macro_rules! case_route {
    ($(#[$doc:meta])* $name:ident, $path:literal, $body:ty, |$b:ident| $command:expr) => {
        #[utoipa::path(post, path = $path, tag = "cases",
            params(("id" = Uuid, Path, description = "The case")), request_body = $body,
            responses((status = 200, body = Accepted), (status = 400, body = super::Problem),
                (status = 404, body = super::Problem), (status = 409, body = super::Problem),
                (status = 422, body = super::Problem)),
            security(("bearer" = [])))]
        $(#[$doc])*
        pub async fn $name(
            State(state): State<ApiState>,
            actor: Actor,
            Path(id): Path<String>,
            Body($b): Body<$body>,
        ) -> Result<Response, AppError> {
            let id = case_id(&id)?;
            let command: CaseCommand = $command;
            let outcome = state.app.case_command(&actor, id, command).await?;
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
            actor: Actor,
            Path(id): Path<String>,
        ) -> Result<Response, AppError> {
            let id = case_id(&id)?;
            let outcome = state.app.case_command(&actor, id, $command).await?;
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
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<AssignReferent>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let referent = StaffId::from_uuid(body.referent);
    let outcome = state.app.assign_referent(&actor, id, referent).await?;
    Ok(answer(
        StatusCode::OK,
        outcome.replayed,
        accepted_case(&outcome, id),
    ))
}

#[utoipa::path(post, path = "/v1/cases/{id}/analysis", tag = "cases",
    params(("id" = Uuid, Path, description = "The case")), request_body = CaseText,
    responses((status = 200, body = Accepted), (status = 400, body = super::Problem),
        (status = 404, body = super::Problem), (status = 409, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// The referent records their analysis of the situation.
pub async fn analysis(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<CaseText>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let about = body.about.map(SubjectId::from_uuid);
    let outcome = state
        .app
        .record_analysis(&actor, id, &body.text, about)
        .await?;
    Ok(answer(
        StatusCode::OK,
        outcome.replayed,
        accepted_case(&outcome, id),
    ))
}

case_route!(
    /// The referent tried to call the caller back.
    recontact, "/v1/cases/{id}/recontacts", Recontact,
    |body| CaseCommand::AttemptRecontact(body.outcome)
);
case_route!(
    /// The platform hands a case it opened to the centre of the caller's département.
    transfer, "/v1/cases/{id}/transfer", ToCentre,
    |body| CaseCommand::Transfer(departement("centre", &body.centre)?)
);
case_route!(
    /// The platform moves a transferred case to another centre.
    reassign, "/v1/cases/{id}/reassign", ToCentre,
    |body| CaseCommand::Reassign(departement("centre", &body.centre)?)
);
case_route!(
    /// Closes the case.
    close, "/v1/cases/{id}/close", Close,
    |body| CaseCommand::Close(body.reason)
);
case_route!(
    /// Keeps a case flagged for inactivity, with a reason from the closed list: it is
    /// not closed, and counts as active again from now.
    keep, "/v1/cases/{id}/keep", Keep,
    |body| CaseCommand::Keep(body.reason)
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
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<ProposeSolution>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let about = body.about.map(SubjectId::from_uuid);
    let (outcome, solution) = state
        .app
        .propose_solution(&actor, id, body.kind, &body.description, about)
        .await?;
    let accepted = accepted_solution(&outcome, id, solution);
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
    actor: Actor,
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
    let command = CaseCommand::RecordConsent {
        solution_id: solution,
        decision,
    };
    let outcome = state.app.case_command(&actor, id, command).await?;
    let accepted = accepted_solution(&outcome, id, solution);
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
    actor: Actor,
    Path((id, solution)): Path<(String, String)>,
    Body(body): Body<TakeAction>,
) -> Result<Response, AppError> {
    let id = case_id(&id)?;
    let solution = solution_id(&solution)?;
    let about = body.about.map(SubjectId::from_uuid);
    let outcome = state
        .app
        .take_action(&actor, id, solution, &body.note, about)
        .await?;
    let accepted = accepted_solution(&outcome, id, solution);
    Ok(answer(StatusCode::OK, outcome.replayed, accepted))
}
