//! `/v1/calls`: receiving a call and recording what the caller says, then handing
//! it to a case.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use ecoute_domain::call::{Answer, CallCommand, Facts};
use ecoute_domain::case::CaseCommand;
use ecoute_domain::vocabulary::{
    AbuseKind, AgeBand, Evolution, Frequency, PersonRole, Relation, Setting, Since,
};
use ecoute_domain::{CallId, CaseId, DepartementCode, StaffId, SubjectId, VolunteerPair};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{answer, parse_id, Accepted, ApiState, Body};
use crate::app::{Actor, Outcome, PersonInput};
use crate::error::AppError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/calls", post(receive))
        .route("/v1/calls/{id}/anonymity", post(anonymity))
        .route("/v1/calls/{id}/number-refusal", post(number_refusal))
        .route("/v1/calls/{id}/callback-number", post(callback_number))
        .route("/v1/calls/{id}/persons", post(person))
        .route("/v1/calls/{id}/facts", post(facts))
        .route("/v1/calls/{id}/notes", post(note))
        .route("/v1/calls/{id}/end", post(end))
        .route("/v1/calls/{id}/transfer", post(transfer))
        .route("/v1/calls/{id}/case", post(attach))
}

/// Which door the caller reached.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoorKind {
    /// The national platform: the caller is answered by the listener giving the request.
    Platform,
    /// A departmental centre: answered by a pair of volunteers, the one giving the
    /// request and `partner`.
    Centre,
}

/// A call is answered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveCall {
    /// `platform` or `centre`.
    pub door: DoorKind,
    /// For a centre call: the département code of the centre (`69`, `2A`, `974`).
    #[schema(schema_with = super::dto::departement_schema, required = false)]
    pub centre: Option<String>,
    /// For a centre call: the second volunteer of the pair.
    pub partner: Option<Uuid>,
}

/// The caller leaves a number to be called back on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackNumber {
    /// The phone number, as given: 3 to 20 digits, with spaces, dots or dashes,
    /// and perhaps a leading `+`.
    #[schema(min_length = 3, max_length = 32, pattern = r"^\+?[0-9 .\-]+$")]
    pub number: String,
}

/// A person the caller speaks of.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribePerson {
    /// An already described person of this call, to describe again; omit for a new
    /// person (the answer gives their new subject id).
    pub person_id: Option<Uuid>,
    /// True when the caller speaks of themself.
    #[serde(default)]
    pub is_caller: bool,
    /// Victim, close circle, professional or implicated person.
    pub role: PersonRole,
    /// How the person is related to the victim.
    pub relation: Relation,
    /// The person's age band.
    pub age_band: AgeBand,
    /// Whether the person lives with the victim, when known.
    pub lives_with_victim: Option<bool>,
    /// The person's name, if given.
    #[schema(schema_with = super::dto::text_schema, required = false)]
    pub name: Option<String>,
    /// The person's address, if given.
    #[schema(schema_with = super::dto::text_schema, required = false)]
    pub address: Option<String>,
    /// What the caller says of the person.
    #[schema(schema_with = super::dto::text_schema, required = false)]
    pub description: Option<String>,
}

/// The facts the caller reports.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordFacts {
    /// The kinds of abuse, at least one.
    pub abuse_kinds: Vec<AbuseKind>,
    /// Home or institution.
    pub setting: Setting,
    /// Since when.
    pub since: Since,
    /// How often.
    pub frequency: Frequency,
    /// How the facts evolve.
    pub evolution: Evolution,
}

/// A note of the conversation, about one person.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// The note.
    #[schema(schema_with = super::dto::text_schema)]
    pub text: String,
    /// The subject the note is about (default: the caller).
    pub about: Option<Uuid>,
}

/// The platform hands the call's situation to a centre.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The département code of the receiving centre.
    #[schema(schema_with = super::dto::departement_schema)]
    pub centre: String,
}

/// The call joins a case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attach {
    /// An existing case to link the call to; omit to open a new case at the call's
    /// centre.
    pub case_id: Option<Uuid>,
}

/// Parses a département code given in a body.
pub fn departement(field: &str, s: &str) -> Result<DepartementCode, AppError> {
    DepartementCode::parse(s).map_err(|e| AppError::bad(field, e.to_string()))
}

fn call_id(id: &str) -> Result<CallId, AppError> {
    parse_id("id", id).map(CallId::from_uuid)
}

fn accepted_call(outcome: &Outcome, id: CallId) -> Accepted {
    Accepted {
        call_id: Some(*id.as_uuid()),
        ..Accepted::of(outcome)
    }
}

/// How the caller was answered, as the request says it.
fn answer_of(actor: &Actor, body: &ReceiveCall) -> Result<Answer, AppError> {
    match body.door {
        DoorKind::Platform => {
            if body.centre.is_some() || body.partner.is_some() {
                return Err(AppError::bad(
                    "door",
                    "a platform call names no centre and no partner",
                ));
            }
            Ok(Answer::PlatformListener)
        }
        DoorKind::Centre => {
            let centre = departement(
                "centre",
                body.centre
                    .as_deref()
                    .ok_or_else(|| AppError::bad("centre", "required for a centre call"))?,
            )?;
            let partner = StaffId::from_uuid(
                body.partner
                    .ok_or_else(|| AppError::bad("partner", "required for a centre call"))?,
            );
            let pair = VolunteerPair::new(actor.id(), partner)?;
            Ok(Answer::VolunteerPair { centre, pair })
        }
    }
}

#[utoipa::path(post, path = "/v1/calls", tag = "calls", request_body = ReceiveCall,
    responses((status = 201, body = Accepted), (status = 400, body = super::Problem),
        (status = 403, body = super::Problem), (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Answers a call: at the national platform by the listener giving the request, or at
/// a centre by a pair of volunteers.
pub async fn receive(
    State(state): State<ApiState>,
    actor: Actor,
    Body(body): Body<ReceiveCall>,
) -> Result<Response, AppError> {
    let answer_as = answer_of(&actor, &body)?;
    let r = state.app.receive_call(&actor, answer_as).await?;
    let body = Accepted {
        subject_id: Some(*r.caller.as_uuid()),
        ..accepted_call(&r.outcome, r.call)
    };
    Ok(answer(StatusCode::CREATED, r.outcome.replayed, body))
}

macro_rules! simple_call_route {
    ($(#[$doc:meta])* $name:ident, $path:literal, $command:expr) => {
        #[utoipa::path(post, path = $path, tag = "calls",
            params(("id" = Uuid, Path, description = "The call")),
            responses((status = 200, body = Accepted), (status = 404, body = super::Problem),
                (status = 422, body = super::Problem)),
            security(("bearer" = [])))]
        $(#[$doc])*
        pub async fn $name(
            State(state): State<ApiState>,
            actor: Actor,
            Path(id): Path<String>,
        ) -> Result<Response, AppError> {
            let id = call_id(&id)?;
            let outcome = state.app.call_command(&actor, id, $command).await?;
            Ok(answer(StatusCode::OK, outcome.replayed, accepted_call(&outcome, id)))
        }
    };
}

simple_call_route!(
    /// The caller asks to stay anonymous.
    anonymity, "/v1/calls/{id}/anonymity", CallCommand::RequestAnonymity
);
simple_call_route!(
    /// The caller refuses that their number be kept: nobody will be able to call back.
    /// Once the refusal is recorded, a number already left on this call is destroyed
    /// (its key), so it is kept nowhere, not even encrypted; a refused request
    /// destroys nothing.
    number_refusal, "/v1/calls/{id}/number-refusal", CallCommand::RefuseNumberRetention
);
simple_call_route!(
    /// The call ends.
    end, "/v1/calls/{id}/end", CallCommand::End
);

#[utoipa::path(post, path = "/v1/calls/{id}/callback-number", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")), request_body = CallbackNumber,
    responses((status = 200, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// The caller leaves a number to be called back on.
pub async fn callback_number(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<CallbackNumber>,
) -> Result<Response, AppError> {
    let id = call_id(&id)?;
    let outcome = state
        .app
        .record_callback_number(&actor, id, &body.number)
        .await?;
    Ok(answer(
        StatusCode::OK,
        outcome.replayed,
        accepted_call(&outcome, id),
    ))
}

#[utoipa::path(post, path = "/v1/calls/{id}/persons", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")), request_body = DescribePerson,
    responses((status = 201, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Records a person the caller speaks of (or the caller themself).
pub async fn person(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<DescribePerson>,
) -> Result<Response, AppError> {
    let id = call_id(&id)?;
    let input = PersonInput {
        person: body.person_id.map(SubjectId::from_uuid),
        is_caller: body.is_caller,
        role: body.role,
        relation: body.relation,
        age_band: body.age_band,
        lives_with_victim: body.lives_with_victim,
        name: body.name,
        address: body.address,
        description: body.description,
    };
    let (outcome, person) = state.app.describe_person(&actor, id, &input).await?;
    let accepted = Accepted {
        subject_id: Some(*person.as_uuid()),
        ..accepted_call(&outcome, id)
    };
    Ok(answer(StatusCode::CREATED, outcome.replayed, accepted))
}

#[utoipa::path(post, path = "/v1/calls/{id}/facts", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")), request_body = RecordFacts,
    responses((status = 200, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Records the facts the caller reports.
pub async fn facts(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<RecordFacts>,
) -> Result<Response, AppError> {
    let id = call_id(&id)?;
    let command = CallCommand::RecordFacts(Facts {
        abuse_kinds: body.abuse_kinds.iter().copied().collect(),
        setting: body.setting,
        since: body.since,
        frequency: body.frequency,
        evolution: body.evolution,
    });
    let outcome = state.app.call_command(&actor, id, command).await?;
    Ok(answer(
        StatusCode::OK,
        outcome.replayed,
        accepted_call(&outcome, id),
    ))
}

#[utoipa::path(post, path = "/v1/calls/{id}/notes", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")), request_body = Note,
    responses((status = 200, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Records a note of the conversation, about the caller or another person of the call.
pub async fn note(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<Note>,
) -> Result<Response, AppError> {
    let id = call_id(&id)?;
    let about = body.about.map(SubjectId::from_uuid);
    let outcome = state.app.add_note(&actor, id, &body.text, about).await?;
    Ok(answer(
        StatusCode::OK,
        outcome.replayed,
        accepted_call(&outcome, id),
    ))
}

#[utoipa::path(post, path = "/v1/calls/{id}/transfer", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")), request_body = Transfer,
    responses((status = 201, body = Accepted), (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Opens a case from an ended platform call and transfers it to the centre of the
/// caller's département, in one commit.
pub async fn transfer(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<Transfer>,
) -> Result<Response, AppError> {
    let id = call_id(&id)?;
    let to = CaseCommand::Transfer(departement("centre", &body.centre)?);
    let (outcome, case_id) = state.app.join_case(&actor, id, None, Some(to)).await?;
    let accepted = Accepted {
        case_id: Some(*case_id.as_uuid()),
        ..accepted_call(&outcome, id)
    };
    Ok(answer(StatusCode::CREATED, outcome.replayed, accepted))
}

#[utoipa::path(post, path = "/v1/calls/{id}/case", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")), request_body = Attach,
    responses((status = 201, body = Accepted, description = "A new case was opened"),
        (status = 200, body = Accepted, description = "The call joined an existing case"),
        (status = 404, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Attaches an ended call to a case: a new one, opened at the call's centre, or an
/// existing one (a closed case is reopened by it).
pub async fn attach(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<Attach>,
) -> Result<Response, AppError> {
    let id = call_id(&id)?;
    let existing = body.case_id.map(CaseId::from_uuid);
    let (outcome, case_id) = state.app.join_case(&actor, id, existing, None).await?;
    let accepted = Accepted {
        case_id: Some(*case_id.as_uuid()),
        ..accepted_call(&outcome, id)
    };
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(answer(status, outcome.replayed, accepted))
}
