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
            .await?;
        self.staff.refresh(self.store.as_ref(), member).await?;
        Ok(outcome)
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
        let target = actor.route().to_string();
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
        if self.staff.state(member).is_none() {
            return Err(AppError::NotFound("member of staff"));
        }
        self.staff_commands(actor, actor.target(member), member, vec![command])
            .await
    }

    /// Issues a new token to a member (administrators); shown once.
    pub async fn issue_token(&self, actor: &Actor, member: StaffId) -> Result<Enrolled, AppError> {
        self.check(actor, Action::ManageStaff, None).await?;
        if self.staff.state(member).is_none() {
            return Err(AppError::NotFound("member of staff"));
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
        let system = Actor::system([Role::Administrator], "bootstrap", None);
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
            .run(
                &system,
                "bootstrap".into(),
                vec![staff_stream(id)],
                |_, now| {
                    // The system's own context: no member of the directory yet.
                    let ctx = ecoute_domain::Context::new(now, system.snapshot().clone());
                    let (_, events) =
                        StaffMembers::decide_all(StaffState::default(), &commands, &ctx)?;
                    Ok(vec![Append::new(
                        staff_stream(id),
                        ecoute_store::ExpectedVersion::NoStream,
                        events,
                    )])
                },
            )
            .await?;
        debug_assert!(outcome.events.iter().any(|e| e == "TokenIssued"));
        self.staff.refresh(self.store.as_ref(), id).await?;
        Ok(Some((id, token.secret)))
    }
}
