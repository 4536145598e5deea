//! Who may do what: every access rule of the server, in one place.
//!
//! Every route asks [`allowed`] before doing anything. The domain then checks its own
//! rules (the referent of a case, the taker of a call); these rules decide what a
//! member may *see* and which kinds of action their roles open:
//!
//! | role | calls | cases | queues, caseloads | statistics | staff | data subjects |
//! |---|---|---|---|---|---|---|
//! | platform listener | every centre | read and act, every centre | every centre | yes | — | — |
//! | volunteer | centres accredited now | read and act, centres accredited now | those centres | yes | — | — |
//! | referent | centres accredited now | read and act, centres accredited now | those centres, own caseload | yes | — | — |
//! | auditor | — | read (summary, history, timeline), every centre; personal values withheld unless asked for (`audit-values`) | — | yes | — | — |
//! | data-protection officer | — | — | — | yes | — | access, erasure |
//! | administrator | — | — | — | yes | manage | — |
//!
//! Backups are taken by administrators.
//!
//! A volunteer who is also a referent holds both columns. A case or call that a
//! member may not see answers exactly like one that does not exist.

use ecoute_domain::{CentreId, Role, StaffId, StaffSnapshot};

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer a new call at this place.
    ReceiveCall(CentreId),
    /// Record on (or attach) a call answered at this place.
    ActOnCall(CentreId),
    /// Read a case held by this centre: summary, history or timeline.
    ReadCase(CentreId),
    /// Give a command on a case held by this centre.
    ActOnCase(CentreId),
    /// Read the queues of a centre.
    ReadQueue(CentreId),
    /// Read a referent's caseload.
    ReadCaseload(StaffId),
    /// Read statistics (no personal data).
    ReadStatistics,
    /// Enrol staff, grant and revoke roles, accreditations and tokens.
    ManageStaff,
    /// Read a member's roles and accreditations.
    ReadStaff(StaffId),
    /// Answer a data subject's request (access, erasure).
    SubjectRights,
    /// Take a backup of the data.
    Backup,
}

impl Action {
    /// A stable name, for the access log and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Action::ReceiveCall(_) => "call.receive",
            Action::ActOnCall(_) => "call.act",
            Action::ReadCase(_) => "case.read",
            Action::ActOnCase(_) => "case.act",
            Action::ReadQueue(_) => "centre.queue",
            Action::ReadCaseload(_) => "staff.caseload",
            Action::ReadStatistics => "statistics",
            Action::ManageStaff => "staff.manage",
            Action::ReadStaff(_) => "staff.read",
            Action::SubjectRights => "subject.rights",
            Action::Backup => "backup",
        }
    }

    /// Whether a refusal must look like "not found" (the resource is a case or call,
    /// whose existence is itself confidential).
    pub fn hides_existence(&self) -> bool {
        matches!(
            self,
            Action::ActOnCall(_) | Action::ReadCase(_) | Action::ActOnCase(_)
        )
    }
}

/// Whether `actor` answers calls as a volunteer at `centre` now.
fn volunteer_at(actor: &StaffSnapshot, centre: CentreId) -> bool {
    actor.has(Role::Volunteer) && centre.departement().is_some_and(|d| actor.accredited_at(d))
}

/// Whether `actor`, as they stand now, may do `action`.
pub fn allowed(actor: &StaffSnapshot, action: Action) -> bool {
    let listener = actor.has(Role::PlatformListener);
    match action {
        Action::ReceiveCall(CentreId::NationalPlatform) => listener,
        Action::ReceiveCall(centre) => volunteer_at(actor, centre),
        // The domain's rule: a platform listener anywhere, a centre's volunteers and
        // referents where accredited now.
        Action::ActOnCall(centre) | Action::ActOnCase(centre) | Action::ReadQueue(centre) => {
            actor.may_act_for(centre)
        }
        Action::ReadCase(centre) => actor.may_act_for(centre) || actor.has(Role::Auditor),
        Action::ReadCaseload(referent) => {
            listener || (actor.id == referent && actor.has(Role::Referent))
        }
        Action::ReadStatistics => !actor.roles.is_empty(),
        Action::ManageStaff => actor.has(Role::Administrator),
        Action::ReadStaff(id) => actor.id == id || actor.has(Role::Administrator),
        Action::SubjectRights => actor.has(Role::DataProtectionOfficer),
        Action::Backup => actor.has(Role::Administrator),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecoute_domain::{DepartementCode, TeamId};
    use uuid::Uuid;

    fn member(n: u128, roles: &[Role], centres: &[&str]) -> StaffSnapshot {
        let mut s = StaffSnapshot::new(StaffId::from_uuid(Uuid::from_u128(n)), roles.to_vec());
        s.team = Some(TeamId::from_uuid(Uuid::from_u128(99)));
        s.accreditations = centres
            .iter()
            .map(|c| DepartementCode::parse(c).unwrap())
            .collect();
        s
    }

    fn centre(c: &str) -> CentreId {
        CentreId::parse(c).unwrap()
    }

    #[test]
    fn the_matrix() {
        let listener = member(1, &[Role::PlatformListener], &[]);
        let volunteer = member(2, &[Role::Volunteer], &["69"]);
        let referent = member(3, &[Role::Referent], &["69"]);
        let auditor = member(4, &[Role::Auditor], &[]);
        let dpo = member(5, &[Role::DataProtectionOfficer], &[]);
        let admin = member(6, &[Role::Administrator], &[]);
        let own = centre("69");
        let other = centre("13");
        let national = CentreId::NationalPlatform;
        // (action, [listener, volunteer, referent, auditor, dpo, admin])
        let table: Vec<(Action, [bool; 6])> = vec![
            (
                Action::ReceiveCall(national),
                [true, false, false, false, false, false],
            ),
            (
                Action::ReceiveCall(own),
                [false, true, false, false, false, false],
            ),
            (
                Action::ReceiveCall(other),
                [false, false, false, false, false, false],
            ),
            (
                Action::ActOnCall(national),
                [true, false, false, false, false, false],
            ),
            (
                Action::ActOnCall(own),
                [true, true, true, false, false, false],
            ),
            (
                Action::ActOnCall(other),
                [true, false, false, false, false, false],
            ),
            (
                Action::ReadCase(own),
                [true, true, true, true, false, false],
            ),
            (
                Action::ReadCase(other),
                [true, false, false, true, false, false],
            ),
            (
                Action::ReadCase(national),
                [true, false, false, true, false, false],
            ),
            (
                Action::ActOnCase(own),
                [true, true, true, false, false, false],
            ),
            (
                Action::ActOnCase(other),
                [true, false, false, false, false, false],
            ),
            (
                Action::ReadQueue(own),
                [true, true, true, false, false, false],
            ),
            (
                Action::ReadQueue(other),
                [true, false, false, false, false, false],
            ),
            (
                Action::ReadCaseload(referent.id),
                [true, false, true, false, false, false],
            ),
            (Action::ReadStatistics, [true, true, true, true, true, true]),
            (
                Action::ManageStaff,
                [false, false, false, false, false, true],
            ),
            (
                Action::SubjectRights,
                [false, false, false, false, true, false],
            ),
            (Action::Backup, [false, false, false, false, false, true]),
        ];
        let who = [&listener, &volunteer, &referent, &auditor, &dpo, &admin];
        for (action, expected) in table {
            for (m, want) in who.iter().zip(expected) {
                assert_eq!(allowed(m, action), want, "{action:?} for {:?}", m.roles);
            }
        }
    }

    #[test]
    fn an_accreditation_counts_only_while_held() {
        let mut referent = member(3, &[Role::Referent], &["69"]);
        assert!(allowed(&referent, Action::ReadCase(centre("69"))));
        referent.accreditations.clear();
        assert!(!allowed(&referent, Action::ReadCase(centre("69"))));
    }

    #[test]
    fn staff_read_themselves_and_administrators_read_everyone() {
        let v = member(2, &[Role::Volunteer], &["69"]);
        let admin = member(6, &[Role::Administrator], &[]);
        assert!(allowed(&v, Action::ReadStaff(v.id)));
        assert!(!allowed(&v, Action::ReadStaff(admin.id)));
        assert!(allowed(&admin, Action::ReadStaff(v.id)));
    }
}
