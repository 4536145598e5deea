//! Staff commands and reads: enrolment, roles, accreditations, teams and tokens, the
//! first administrator.

use std::collections::BTreeSet;

use ecoute_domain::staff::{StaffCommand, StaffState};
use ecoute_domain::{
    staff_stream, Decider, DepartementCode, Role, StaffId, StaffMembers, TeamId, TokenId,
};
use uuid::Uuid;

use super::{Actor, App, Append, Outcome};
use crate::access::Action;
use crate::auth::NewToken;
use crate::error::AppError;

/// A member to enrol.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// Their roles.
    pub roles: BTreeSet<Role>,
    /// Their team (platform listeners).
    pub team: Option<TeamId>,
    /// The centres they are accredited at.
    pub accreditations: Vec<DepartementCode>,
}

/// What enrolment (or a new token) made.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// What was appended.
    pub outcome: Outcome,
    /// The new member.
    pub staff: StaffId,
    /// Their first token's id.
    pub token_id: TokenId,
    /// The token, shown once: `None` when answering a retry (it was shown then).
    pub token: Option<String>,
}

/// Whether `command` leaves `state`, an administrator who can act, unable to:
/// their role removed, or their last token revoked.
fn disarms_administrator(state: &StaffState, command: &StaffCommand) -> bool {
    let admin = state.snapshot().is_some_and(|s| s.has(Role::Administrator));
    match command {
        StaffCommand::RevokeRole(Role::Administrator) => admin,
        StaffCommand::RevokeToken(t) => admin && state.tokens().keys().all(|k| k == t),
        _ => false,
    }
}

impl App {
    /// Runs staff commands on one member, in order, and refreshes the directory
    /// before answering.
    async fn staff_commands(
        &self,
        actor: &Actor,
        target: String,
        member: StaffId,
        commands: Vec<StaffCommand>,
    ) -> Result<Outcome, AppError> {
        let outcome = self
            .run(actor, target, vec![staff_stream(member)], |loaded, now| {
                let (state, expected) = loaded.fold::<StaffMembers>(&member);
                let ctx = self.context(actor.snapshot(), now, [])?;
                let (_, events) = StaffMembers::decide_all(state, &commands, &ctx)?;
                Ok(vec![Append::new(staff_stream(member), expected, events)])
            })
            .await;
        // Whatever the answer: a refusal may follow a change that landed earlier and
        // was never taken in (see `upkeep`).
        self.staff.refresh(self.store.as_ref(), member).await?;
        outcome
    }

    /// Enrols a member with a first token (administrators).
    pub async fn enrol(&self, actor: &Actor, e: Enrolment) -> Result<Enrolled, AppError> {
        self.check(actor, Action::ManageStaff, None).await?;
        let ids = actor.ids();
        let staff = StaffId::from_uuid(ids.uuid("staff"));
        let token_id = TokenId::from_uuid(ids.uuid("token"));
        let token = NewToken::draw()?;
        let mut commands = vec![StaffCommand::Enrol {
            staff_id: staff,
            roles: e.roles,
            team: e.team,
        }];
        commands.extend(
            e.accreditations
                .into_iter()
                .map(StaffCommand::GrantAccreditation),
        );
        commands.push(StaffCommand::IssueToken {
            token_id,
            digest: token.digest,
        });
        let target = actor.new_target();
        let outcome = self.staff_commands(actor, target, staff, commands).await?;
        let token = (!outcome.replayed).then_some(token.secret);
        Ok(Enrolled {
            outcome,
            staff,
            token_id,
            token,
        })
    }

    /// Changes a member (administrators; any member may revoke their own token).
    pub async fn manage_staff(
        &self,
        actor: &Actor,
        member: StaffId,
        command: StaffCommand,
    ) -> Result<Outcome, AppError> {
        let own_token = matches!(command, StaffCommand::RevokeToken(_)) && member == actor.id();
        if !own_token {
            self.check(actor, Action::ManageStaff, None).await?;
        }
        let Some((state, _)) = self.staff.state(member) else {
            return Err(AppError::NotFound("member of staff"));
        };
        let disarms = disarms_administrator(&state, &command);
        let _turn = if disarms {
            Some(self.admin_turn.lock().await)
        } else {
            None
        };
        if disarms
            && !self
                .staff
                .acting_administrators()
                .iter()
                .any(|a| *a != member)
        {
            return Err(AppError::Rule(
                ecoute_domain::DomainError::LastAdministrator,
            ));
        }
        self.staff_commands(actor, actor.target(member), member, vec![command])
            .await
    }

    /// Issues a new token, shown once, to its holder: a member asks for their own,
    /// and an administrator issues one to another member only when that member holds
    /// none (a reset, after their tokens were revoked), so that no administrator holds
    /// a working token of someone else's unseen.
    pub async fn issue_token(&self, actor: &Actor, member: StaffId) -> Result<Enrolled, AppError> {
        if member != actor.id() {
            self.check(actor, Action::ManageStaff, None).await?;
        }
        let Some((state, _)) = self.staff.state(member) else {
            return Err(AppError::NotFound("member of staff"));
        };
        if member != actor.id() && !state.tokens().is_empty() {
            return Err(AppError::Forbidden(
                "a token is issued to its holder, who asks for it; an administrator issues \
                 one only to a member who holds none (revoke theirs first)"
                    .into(),
            ));
        }
        let token_id = TokenId::from_uuid(actor.ids().uuid("token"));
        let token = NewToken::draw()?;
        let command = StaffCommand::IssueToken {
            token_id,
            digest: token.digest,
        };
        let outcome = self
            .staff_commands(actor, actor.target(member), member, vec![command])
            .await?;
        let token = (!outcome.replayed).then_some(token.secret);
        Ok(Enrolled {
            outcome,
            staff: member,
            token_id,
            token,
        })
    }

    /// A member as they stand, with their live tokens' ids (themself, or an
    /// administrator).
    pub async fn member(&self, actor: &Actor, member: StaffId) -> Result<StaffState, AppError> {
        if member != actor.id() {
            self.check(actor, Action::ReadStaff(member), None).await?;
        }
        let (state, _) = self
            .staff
            .state(member)
            .ok_or(AppError::NotFound("member of staff"))?;
        Ok(state)
    }

    /// On an empty store, enrols a first administrator with a token, recorded as given
    /// by the system itself; returns the token, to be shown once. `None` when staff
    /// exist already.
    pub async fn bootstrap(&self) -> Result<Option<(StaffId, String)>, AppError> {
        if !self.staff.is_empty() {
            return Ok(None);
        }
        self.enrol_administrator("bootstrap").await.map(Some)
    }

    /// The operators' local recovery when no administrator can act any more (run on
    /// the server's machine, with the data directory and the master key, the server
    /// stopped): enrols a new administrator with a token, shown once, recorded as
    /// given by the system and written in the access log.
    pub async fn recover_administrator(&self) -> Result<(StaffId, String), AppError> {
        let (id, token) = self.enrol_administrator("local recovery").await?;
        let actor = Actor::system([Role::Administrator], "local recovery", None);
        self.write_access(&crate::access_log::AccessRecord {
            staff: None,
            roles: vec![Role::Administrator],
            token: None,
            token_issued_by: None,
            action: "staff.recovery".into(),
            route: actor.route().to_string(),
            case: None,
            outcome: crate::access_log::Outcome::Allowed,
            purpose: super::Purpose::StaffManagement.as_str().into(),
            at: self.now(),
            request_id: actor.request_id(),
            attempts: None,
        })
        .await?;
        Ok((id, token))
    }

    /// Enrols an administrator with a token, as the system.
    async fn enrol_administrator(&self, what: &str) -> Result<(StaffId, String), AppError> {
        let system = Actor::system([Role::Administrator], what, None);
        let id = StaffId::from_uuid(Uuid::new_v4());
        let token = NewToken::draw()?;
        let commands = vec![
            StaffCommand::Enrol {
                staff_id: id,
                roles: BTreeSet::from([Role::Administrator]),
                team: None,
            },
            StaffCommand::IssueToken {
                token_id: TokenId::from_uuid(Uuid::new_v4()),
                digest: token.digest,
            },
        ];
        let outcome = self
            .run(&system, what.into(), vec![staff_stream(id)], |_, now| {
                // The system's own context: it stands outside the directory.
                let ctx = ecoute_domain::Context::new(now, system.snapshot().clone());
                let (_, events) = StaffMembers::decide_all(StaffState::default(), &commands, &ctx)?;
                Ok(vec![Append::new(
                    staff_stream(id),
                    ecoute_store::ExpectedVersion::NoStream,
                    events,
                )])
            })
            .await?;
        debug_assert!(outcome.events.iter().any(|e| e == "TokenIssued"));
        self.staff.refresh(self.store.as_ref(), id).await?;
        Ok((id, token.secret))
    }
}
