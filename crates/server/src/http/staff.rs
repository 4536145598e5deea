//! `/v1/staff`: enrolment, roles, accreditations and tokens (administrators), and
//! `/v1/me`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use ecoute_domain::staff::StaffCommand;
use ecoute_domain::{DepartementCode, Role, StaffId, TeamId, TokenId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::calls::departement;
use super::{answer, parse_id, Accepted, ApiState, Body};
use crate::app::{Actor, Enrolment};
use crate::error::AppError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/me", get(me))
        .route("/v1/staff", post(enrol))
        .route("/v1/staff/{id}", get(member))
        .route("/v1/staff/{id}/roles", post(grant_role))
        .route("/v1/staff/{id}/roles/{role}", delete(revoke_role))
        .route("/v1/staff/{id}/team", post(join_team))
        .route("/v1/staff/{id}/accreditations", post(accredit))
        .route("/v1/staff/{id}/accreditations/{centre}", delete(withdraw))
        .route("/v1/staff/{id}/tokens", post(issue_token))
        .route("/v1/staff/{id}/tokens/{token}", delete(revoke_token))
}

/// A new member of staff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrol {
    /// At least one role.
    #[schema(min_items = 1)]
    pub roles: Vec<Role>,
    /// The platform team; required for a platform listener.
    pub team: Option<Uuid>,
    /// Centres (département codes) where a volunteer or referent is accredited.
    #[serde(default)]
    #[schema(schema_with = super::dto::departements_schema)]
    pub accreditations: Vec<String>,
}

/// A role to grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRole {
    /// The role.
    pub role: Role,
}

/// A platform team to join.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinTeam {
    /// The team.
    pub team: Uuid,
}

/// A centre to accredit a volunteer or referent at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accredit {
    /// The département code.
    #[schema(schema_with = super::dto::departement_schema)]
    pub centre: String,
}

/// A member of staff as they stand now.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The member's pseudonymous id.
    pub staff_id: Uuid,
    /// Their roles.
    pub roles: Vec<Role>,
    /// Their platform team.
    pub team: Option<Uuid>,
    /// Centres where accredited now.
    pub accreditations: Vec<String>,
    /// The ids of their tokens in force.
    pub tokens: Vec<Uuid>,
}

fn staff_id(s: &str) -> Result<StaffId, AppError> {
    parse_id("id", s).map(StaffId::from_uuid)
}

async fn view(state: &ApiState, actor: &Actor, id: StaffId) -> Result<MemberView, AppError> {
    let member = state.app.member(actor, id).await?;
    let s = member
        .snapshot()
        .ok_or(AppError::NotFound("member of staff"))?;
    Ok(MemberView {
        staff_id: *s.id.as_uuid(),
        roles: s.roles.iter().copied().collect(),
        team: s.team.map(|t| *t.as_uuid()),
        accreditations: s.accreditations.iter().map(|c| c.to_string()).collect(),
        tokens: member.tokens().keys().map(|t| *t.as_uuid()).collect(),
    })
}

#[utoipa::path(get, path = "/v1/me", tag = "staff",
    responses((status = 200, body = MemberView), (status = 401, body = super::Problem)),
    security(("bearer" = [])))]
/// The member of staff the token belongs to.
pub async fn me(State(state): State<ApiState>, actor: Actor) -> Result<Response, AppError> {
    let id = actor.id();
    Ok(answer(
        StatusCode::OK,
        false,
        view(&state, &actor, id).await?,
    ))
}

#[utoipa::path(get, path = "/v1/staff/{id}", tag = "staff",
    params(("id" = Uuid, Path, description = "The member")),
    responses((status = 200, body = MemberView), (status = 403, body = super::Problem),
        (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// A member's roles, team, accreditations and token ids (administrators, or oneself).
pub async fn member(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = staff_id(&id)?;
    Ok(answer(
        StatusCode::OK,
        false,
        view(&state, &actor, id).await?,
    ))
}

#[utoipa::path(post, path = "/v1/staff", tag = "staff", request_body = Enrol,
    responses((status = 201, body = Accepted), (status = 400, body = super::Problem),
        (status = 403, body = super::Problem), (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Enrols a member with their roles (and accreditations) and issues their first token,
/// shown in the answer this once.
pub async fn enrol(
    State(state): State<ApiState>,
    actor: Actor,
    Body(body): Body<Enrol>,
) -> Result<Response, AppError> {
    let accreditations = body
        .accreditations
        .iter()
        .enumerate()
        .map(|(i, c)| departement(&format!("accreditations[{i}]"), c))
        .collect::<Result<Vec<DepartementCode>, _>>()?;
    let enrolment = Enrolment {
        roles: body.roles.iter().copied().collect(),
        team: body.team.map(TeamId::from_uuid),
        accreditations,
    };
    let e = state.app.enrol(&actor, enrolment).await?;
    let accepted = Accepted {
        staff_id: Some(*e.staff.as_uuid()),
        token_id: Some(*e.token_id.as_uuid()),
        token: e.token,
        ..Accepted::of(&e.outcome)
    };
    Ok(answer(StatusCode::CREATED, e.outcome.replayed, accepted))
}

async fn manage(
    state: &ApiState,
    actor: &Actor,
    id: StaffId,
    command: StaffCommand,
) -> Result<Response, AppError> {
    let outcome = state.app.manage_staff(actor, id, command).await?;
    let accepted = Accepted {
        staff_id: Some(*id.as_uuid()),
        ..Accepted::of(&outcome)
    };
    Ok(answer(StatusCode::OK, outcome.replayed, accepted))
}

fn role(s: &str) -> Result<Role, AppError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| AppError::bad("role", "not a role"))
}

#[utoipa::path(post, path = "/v1/staff/{id}/roles", tag = "staff",
    params(("id" = Uuid, Path, description = "The member")), request_body = GrantRole,
    responses((status = 200, body = Accepted), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Grants a role.
pub async fn grant_role(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<GrantRole>,
) -> Result<Response, AppError> {
    let id = staff_id(&id)?;
    manage(&state, &actor, id, StaffCommand::GrantRole(body.role)).await
}

#[utoipa::path(delete, path = "/v1/staff/{id}/roles/{role}", tag = "staff",
    params(("id" = Uuid, Path, description = "The member"),
        ("role" = Role, Path, description = "The role")),
    responses((status = 200, body = Accepted), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Revokes a role.
pub async fn revoke_role(
    State(state): State<ApiState>,
    actor: Actor,
    Path((id, r)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let id = staff_id(&id)?;
    manage(&state, &actor, id, StaffCommand::RevokeRole(role(&r)?)).await
}

#[utoipa::path(post, path = "/v1/staff/{id}/team", tag = "staff",
    params(("id" = Uuid, Path, description = "The member")), request_body = JoinTeam,
    responses((status = 200, body = Accepted), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Puts a member in a platform team.
pub async fn join_team(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<JoinTeam>,
) -> Result<Response, AppError> {
    let id = staff_id(&id)?;
    let team = TeamId::from_uuid(body.team);
    manage(&state, &actor, id, StaffCommand::JoinTeam(team)).await
}

#[utoipa::path(post, path = "/v1/staff/{id}/accreditations", tag = "staff",
    params(("id" = Uuid, Path, description = "The member")), request_body = Accredit,
    responses((status = 200, body = Accepted), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Accredits a volunteer or referent at a centre.
pub async fn accredit(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(body): Body<Accredit>,
) -> Result<Response, AppError> {
    let id = staff_id(&id)?;
    let centre = departement("centre", &body.centre)?;
    manage(&state, &actor, id, StaffCommand::GrantAccreditation(centre)).await
}

#[utoipa::path(delete, path = "/v1/staff/{id}/accreditations/{centre}", tag = "staff",
    params(("id" = Uuid, Path, description = "The member"),
        ("centre" = String, Path, description = "The département code")),
    responses((status = 200, body = Accepted), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Withdraws an accreditation: the member can no longer act for that centre, at once.
pub async fn withdraw(
    State(state): State<ApiState>,
    actor: Actor,
    Path((id, centre)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let id = staff_id(&id)?;
    let centre = departement("centre", &centre)?;
    manage(
        &state,
        &actor,
        id,
        StaffCommand::RevokeAccreditation(centre),
    )
    .await
}

#[utoipa::path(post, path = "/v1/staff/{id}/tokens", tag = "staff",
    params(("id" = Uuid, Path, description = "The member")),
    responses((status = 201, body = Accepted), (status = 403, body = super::Problem)),
    security(("bearer" = [])))]
/// Issues a new token to a member, shown in the answer this once.
pub async fn issue_token(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = staff_id(&id)?;
    let issued = state.app.issue_token(&actor, id).await?;
    let accepted = Accepted {
        staff_id: Some(*id.as_uuid()),
        token_id: Some(*issued.token_id.as_uuid()),
        token: issued.token,
        ..Accepted::of(&issued.outcome)
    };
    Ok(answer(
        StatusCode::CREATED,
        issued.outcome.replayed,
        accepted,
    ))
}

#[utoipa::path(delete, path = "/v1/staff/{id}/tokens/{token}", tag = "staff",
    params(("id" = Uuid, Path, description = "The member"),
        ("token" = Uuid, Path, description = "The token's id")),
    responses((status = 200, body = Accepted), (status = 403, body = super::Problem),
        (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Revokes a token (an administrator, or the member themself): it stops working at once.
pub async fn revoke_token(
    State(state): State<ApiState>,
    actor: Actor,
    Path((id, token)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let id = staff_id(&id)?;
    let token = TokenId::from_uuid(parse_id("token", &token)?);
    manage(&state, &actor, id, StaffCommand::RevokeToken(token)).await
}
