//! Staff, their roles and their accreditations, event-sourced in one stream per member
//! (`staff-<uuid>`). Other aggregates see staff only through a [`StaffSnapshot`] that the
//! caller folds from this stream and passes in the [`Context`].

use crate::centre::{CentreId, DepartementCode};
use crate::context::Context;
use crate::error::DomainError;
use crate::ids::{StaffId, TeamId, TokenId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a member of staff may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// A professional listener of the national platform (écoutant professionnel), who
    /// works within a team.
    PlatformListener,
    /// A trained volunteer of a centre (bénévole), who listens as one of a pair.
    Volunteer,
    /// A centre volunteer who analyses and follows cases (référent).
    Referent,
    /// Someone who replays and checks the history of cases.
    Auditor,
    /// The data-protection officer, who answers the subjects' requests.
    DataProtectionOfficer,
    /// Manages staff, roles and accreditations.
    Administrator,
}

/// Two distinct volunteers who answer a centre call together (binôme de bénévoles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "[StaffId; 2]", into = "[StaffId; 2]")]
pub struct VolunteerPair {
    first: StaffId,
    second: StaffId,
}

impl VolunteerPair {
    /// Pairs two volunteers; refused when both are the same person.
    pub fn new(first: StaffId, second: StaffId) -> Result<Self, DomainError> {
        if first == second {
            return Err(DomainError::SameVolunteerTwice);
        }
        Ok(VolunteerPair { first, second })
    }

    /// Both volunteers, in the order given.
    pub fn members(&self) -> [StaffId; 2] {
        [self.first, self.second]
    }

    /// Whether `staff` is one of the pair.
    pub fn contains(&self, staff: StaffId) -> bool {
        self.first == staff || self.second == staff
    }
}

impl TryFrom<[StaffId; 2]> for VolunteerPair {
    type Error = DomainError;
    fn try_from([a, b]: [StaffId; 2]) -> Result<Self, Self::Error> {
        VolunteerPair::new(a, b)
    }
}

impl From<VolunteerPair> for [StaffId; 2] {
    fn from(p: VolunteerPair) -> Self {
        p.members()
    }
}

/// What the other aggregates need to know of a member of staff at the moment of a
/// command: their roles, team and current accreditations. Built by
/// [`StaffState::snapshot`] from the staff stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSnapshot {
    /// Who this is.
    pub id: StaffId,
    /// The roles held now.
    pub roles: BTreeSet<Role>,
    /// The platform team, for a platform listener.
    pub team: Option<TeamId>,
    /// The centres where the member is accredited now.
    pub accreditations: BTreeSet<DepartementCode>,
}

impl StaffSnapshot {
    /// A snapshot with the given roles, no team and no accreditation.
    pub fn new(id: StaffId, roles: impl IntoIterator<Item = Role>) -> Self {
        StaffSnapshot {
            id,
            roles: roles.into_iter().collect(),
            team: None,
            accreditations: BTreeSet::new(),
        }
    }

    /// Whether the member holds `role` now.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the member is accredited at `centre` now, as a volunteer or a referent.
    pub fn accredited_at(&self, centre: DepartementCode) -> bool {
        (self.has(Role::Volunteer) || self.has(Role::Referent))
            && self.accreditations.contains(&centre)
    }

    /// Whether the member may act on a case held by `centre`: a platform listener may act
    /// on any case, a centre volunteer or referent only where accredited now.
    pub fn may_act_for(&self, centre: CentreId) -> bool {
        self.has(Role::PlatformListener)
            || centre.departement().is_some_and(|d| self.accredited_at(d))
    }
}

/// Commands on a staff stream; all are given by an administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaffCommand {
    /// Enrols a new member with their first roles (and team, for a platform listener).
    Enrol {
        /// The id the caller generated for the member.
        staff_id: StaffId,
        /// At least one role.
        roles: BTreeSet<Role>,
        /// The platform team; required when `roles` holds `PlatformListener`.
        team: Option<TeamId>,
    },
    /// Grants one more role.
    GrantRole(Role),
    /// Takes a role away.
    RevokeRole(Role),
    /// Puts the member in a platform team (or moves them to another).
    JoinTeam(TeamId),
    /// Accredits a volunteer or referent at a centre.
    GrantAccreditation(DepartementCode),
    /// Withdraws an accreditation: the member can no longer act for that centre.
    RevokeAccreditation(DepartementCode),
    /// Records a new bearer token of the member by its digest; the caller drew the
    /// token at random and shows it once.
    IssueToken {
        /// The id the caller generated for the token.
        token_id: TokenId,
        /// The digest of the token: the token itself is never recorded.
        digest: TokenDigest,
    },
    /// Revokes one of the member's tokens; an administrator or the member themself
    /// may give it.
    RevokeToken(TokenId),
}

/// The digest of a bearer token (a BLAKE3 hash, made by the caller): enough to
/// recognise the token, useless to forge it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TokenDigest(pub [u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// A member of staff was enrolled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffEnrolled {
    /// The member's id.
    pub staff_id: StaffId,
    /// The first roles.
    pub roles: BTreeSet<Role>,
    /// The platform team, if any.
    pub team: Option<TeamId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A role was granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGranted {
    /// The role.
    pub role: Role,
    /// When.
    pub at: DateTime<Utc>,
}

/// A role was revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRevoked {
    /// The role.
    pub role: Role,
    /// When.
    pub at: DateTime<Utc>,
}

/// The member joined a platform team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamJoined {
    /// The team.
    pub team: TeamId,
    /// When.
    pub at: DateTime<Utc>,
}

/// The member was accredited at a centre.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccreditationGranted {
    /// The centre.
    pub centre: DepartementCode,
    /// When.
    pub at: DateTime<Utc>,
}

/// The member's accreditation at a centre was revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccreditationRevoked {
    /// The centre.
    pub centre: DepartementCode,
    /// When.
    pub at: DateTime<Utc>,
}

/// A bearer token was issued to the member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssued {
    /// The token.
    pub token_id: TokenId,
    /// Its digest.
    pub digest: TokenDigest,
    /// When.
    pub at: DateTime<Utc>,
}

/// A bearer token was revoked: it no longer opens anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoked {
    /// The token.
    pub token_id: TokenId,
    /// When.
    pub at: DateTime<Utc>,
}

/// The events of a staff stream.
/// Serializes as the event's own fields, without its type name (which the store keeps
/// beside the payload): for readable renderings such as an audited history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum StaffEvent {
    /// See [`StaffEnrolled`].
    StaffEnrolled(StaffEnrolled),
    /// See [`RoleGranted`].
    RoleGranted(RoleGranted),
    /// See [`RoleRevoked`].
    RoleRevoked(RoleRevoked),
    /// See [`TeamJoined`].
    TeamJoined(TeamJoined),
    /// See [`AccreditationGranted`].
    AccreditationGranted(AccreditationGranted),
    /// See [`AccreditationRevoked`].
    AccreditationRevoked(AccreditationRevoked),
    /// See [`TokenIssued`].
    TokenIssued(TokenIssued),
    /// See [`TokenRevoked`].
    TokenRevoked(TokenRevoked),
}

/// The state of a staff stream: the fold of its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffState {
    snapshot: Option<StaffSnapshot>,
    tokens: BTreeMap<TokenId, TokenDigest>,
    revoked: BTreeSet<TokenId>,
}

impl StaffState {
    /// The member's roles and accreditations now, once enrolled.
    pub fn snapshot(&self) -> Option<&StaffSnapshot> {
        self.snapshot.as_ref()
    }

    /// The member's tokens that are not revoked, by id.
    pub fn tokens(&self) -> &BTreeMap<TokenId, TokenDigest> {
        &self.tokens
    }
}

/// Decides what a staff command records, or why it is refused.
pub fn decide(
    state: &StaffState,
    command: &StaffCommand,
    ctx: &Context,
) -> Result<Vec<StaffEvent>, DomainError> {
    let own = state
        .snapshot
        .as_ref()
        .is_some_and(|m| m.id == ctx.actor.id);
    let own_token = own
        && matches!(
            command,
            StaffCommand::RevokeToken(_) | StaffCommand::IssueToken { .. }
        );
    if !ctx.actor.has(Role::Administrator) && !own_token {
        return Err(DomainError::NotAnAdministrator);
    }
    // Nobody widens their own powers: another administrator grants them.
    if own
        && matches!(
            command,
            StaffCommand::GrantRole(_) | StaffCommand::GrantAccreditation(_)
        )
    {
        return Err(DomainError::GrantToSelf);
    }
    let at = ctx.now;
    let member = match (&state.snapshot, command) {
        (
            None,
            StaffCommand::Enrol {
                staff_id,
                roles,
                team,
            },
        ) => {
            if roles.is_empty() {
                return Err(DomainError::NoRole);
            }
            if roles.contains(&Role::PlatformListener) && team.is_none() {
                return Err(DomainError::ListenerWithoutTeam);
            }
            return Ok(vec![StaffEvent::StaffEnrolled(StaffEnrolled {
                staff_id: *staff_id,
                roles: roles.clone(),
                team: *team,
                at,
            })]);
        }
        (Some(_), StaffCommand::Enrol { .. }) => return Err(DomainError::StaffAlreadyEnrolled),
        (None, _) => return Err(DomainError::StaffNotEnrolled),
        (Some(member), _) => member,
    };
    let event = match *command {
        StaffCommand::Enrol { .. } => return Err(DomainError::StaffAlreadyEnrolled),
        StaffCommand::GrantRole(role) => {
            if member.has(role) {
                return Err(DomainError::RoleAlreadyHeld(role));
            }
            if role == Role::PlatformListener && member.team.is_none() {
                return Err(DomainError::ListenerWithoutTeam);
            }
            StaffEvent::RoleGranted(RoleGranted { role, at })
        }
        StaffCommand::RevokeRole(role) => {
            if !member.has(role) {
                return Err(DomainError::RoleNotHeld(role));
            }
            StaffEvent::RoleRevoked(RoleRevoked { role, at })
        }
        StaffCommand::JoinTeam(team) => {
            if member.team == Some(team) {
                return Err(DomainError::AlreadyInTeam);
            }
            StaffEvent::TeamJoined(TeamJoined { team, at })
        }
        StaffCommand::GrantAccreditation(centre) => {
            if !(member.has(Role::Volunteer) || member.has(Role::Referent)) {
                return Err(DomainError::AccreditationNeedsVolunteer);
            }
            if member.accreditations.contains(&centre) {
                return Err(DomainError::AlreadyAccredited(centre));
            }
            StaffEvent::AccreditationGranted(AccreditationGranted { centre, at })
        }
        StaffCommand::RevokeAccreditation(centre) => {
            if !member.accreditations.contains(&centre) {
                return Err(DomainError::NotAccredited(centre));
            }
            StaffEvent::AccreditationRevoked(AccreditationRevoked { centre, at })
        }
        StaffCommand::IssueToken { token_id, digest } => {
            if state.tokens.contains_key(&token_id) || state.revoked.contains(&token_id) {
                return Err(DomainError::TokenAlreadyIssued(token_id));
            }
            StaffEvent::TokenIssued(TokenIssued {
                token_id,
                digest,
                at,
            })
        }
        StaffCommand::RevokeToken(token_id) => {
            if !state.tokens.contains_key(&token_id) {
                return Err(DomainError::UnknownToken(token_id));
            }
            StaffEvent::TokenRevoked(TokenRevoked { token_id, at })
        }
    };
    Ok(vec![event])
}

/// Applies one event to the state. Events that make no sense for the state (a grant
/// before enrolment) leave it unchanged: the fold never fails.
pub fn evolve(mut state: StaffState, event: &StaffEvent) -> StaffState {
    if let StaffEvent::StaffEnrolled(e) = event {
        state.snapshot = Some(StaffSnapshot {
            id: e.staff_id,
            roles: e.roles.clone(),
            team: e.team,
            accreditations: BTreeSet::new(),
        });
        return state;
    }
    if let Some(m) = state.snapshot.as_mut() {
        match event {
            StaffEvent::StaffEnrolled(_) => {}
            StaffEvent::RoleGranted(e) => {
                m.roles.insert(e.role);
            }
            StaffEvent::RoleRevoked(e) => {
                m.roles.remove(&e.role);
            }
            StaffEvent::TeamJoined(e) => m.team = Some(e.team),
            StaffEvent::AccreditationGranted(e) => {
                m.accreditations.insert(e.centre);
            }
            StaffEvent::AccreditationRevoked(e) => {
                m.accreditations.remove(&e.centre);
            }
            StaffEvent::TokenIssued(e) => {
                state.tokens.insert(e.token_id, e.digest);
            }
            StaffEvent::TokenRevoked(e) => {
                state.tokens.remove(&e.token_id);
                state.revoked.insert(e.token_id);
            }
        }
    }
    state
}

/// Folds a staff stream's events into its state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a StaffEvent>) -> StaffState {
    events.into_iter().fold(StaffState::default(), evolve)
}
