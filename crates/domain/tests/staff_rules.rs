//! Scenario tables for staff streams: roles, teams and accreditations.

mod common;

use common::*;
use ecoute_domain::staff::*;
use ecoute_domain::*;
use std::collections::BTreeSet;
use StaffCommand as C;
use StaffEvent as E;

fn enrolled(roles: &[Role], team: Option<TeamId>) -> E {
    E::StaffEnrolled(StaffEnrolled {
        staff_id: V1,
        roles: roles.iter().copied().collect(),
        team,
        at: t(0),
    })
}

fn enrol(roles: &[Role], team: Option<TeamId>) -> C {
    C::Enrol {
        staff_id: V1,
        roles: roles.iter().copied().collect(),
        team,
    }
}

#[test]
fn only_an_administrator_manages_staff() {
    check_staff(
        &[],
        enrol(&[Role::Volunteer], None),
        &ctx(ADMIN, 0),
        Ok(vec![enrolled(&[Role::Volunteer], None)]),
    );
    check_staff(
        &[],
        enrol(&[Role::Volunteer], None),
        &ctx(R1, 0),
        Err(DomainError::NotAnAdministrator),
    );
    check_staff(
        &[enrolled(&[Role::Volunteer], None)],
        C::GrantAccreditation(rhone()),
        &ctx(LISTENER, 1),
        Err(DomainError::NotAnAdministrator),
    );
}

#[test]
fn enrolment_once_with_a_role_and_a_team_for_listeners() {
    check_staff(
        &[],
        enrol(&[], None),
        &ctx(ADMIN, 0),
        Err(DomainError::NoRole),
    );
    check_staff(
        &[],
        enrol(&[Role::PlatformListener], None),
        &ctx(ADMIN, 0),
        Err(DomainError::ListenerWithoutTeam),
    );
    check_staff(
        &[],
        enrol(&[Role::PlatformListener], Some(TEAM)),
        &ctx(ADMIN, 0),
        Ok(vec![enrolled(&[Role::PlatformListener], Some(TEAM))]),
    );
    check_staff(
        &[enrolled(&[Role::Volunteer], None)],
        enrol(&[Role::Volunteer], None),
        &ctx(ADMIN, 1),
        Err(DomainError::StaffAlreadyEnrolled),
    );
    check_staff(
        &[],
        C::GrantRole(Role::Referent),
        &ctx(ADMIN, 1),
        Err(DomainError::StaffNotEnrolled),
    );
}

#[test]
fn roles_and_teams() {
    let given = [enrolled(&[Role::Volunteer], None)];
    check_staff(
        &given,
        C::GrantRole(Role::Referent),
        &ctx(ADMIN, 1),
        Ok(vec![E::RoleGranted(RoleGranted {
            role: Role::Referent,
            at: t(1),
        })]),
    );
    check_staff(
        &given,
        C::GrantRole(Role::Volunteer),
        &ctx(ADMIN, 1),
        Err(DomainError::RoleAlreadyHeld(Role::Volunteer)),
    );
    check_staff(
        &given,
        C::RevokeRole(Role::Auditor),
        &ctx(ADMIN, 1),
        Err(DomainError::RoleNotHeld(Role::Auditor)),
    );
    check_staff(
        &given,
        C::RevokeRole(Role::Volunteer),
        &ctx(ADMIN, 1),
        Ok(vec![E::RoleRevoked(RoleRevoked {
            role: Role::Volunteer,
            at: t(1),
        })]),
    );
    check_staff(
        &given,
        C::GrantRole(Role::PlatformListener),
        &ctx(ADMIN, 1),
        Err(DomainError::ListenerWithoutTeam),
    );
    check_staff(
        &given,
        C::JoinTeam(TEAM),
        &ctx(ADMIN, 1),
        Ok(vec![E::TeamJoined(TeamJoined {
            team: TEAM,
            at: t(1),
        })]),
    );
    let in_team = [
        given[0].clone(),
        E::TeamJoined(TeamJoined {
            team: TEAM,
            at: t(1),
        }),
    ];
    check_staff(
        &in_team,
        C::JoinTeam(TEAM),
        &ctx(ADMIN, 2),
        Err(DomainError::AlreadyInTeam),
    );
    check_staff(
        &in_team,
        C::GrantRole(Role::PlatformListener),
        &ctx(ADMIN, 2),
        Ok(vec![E::RoleGranted(RoleGranted {
            role: Role::PlatformListener,
            at: t(2),
        })]),
    );
}

#[test]
fn accreditations_are_granted_and_revoked_per_centre() {
    let given = [enrolled(&[Role::Volunteer], None)];
    let granted = E::AccreditationGranted(AccreditationGranted {
        centre: rhone(),
        at: t(1),
    });
    check_staff(
        &given,
        C::GrantAccreditation(rhone()),
        &ctx(ADMIN, 1),
        Ok(vec![granted.clone()]),
    );
    check_staff(
        &[enrolled(&[Role::Auditor], None)],
        C::GrantAccreditation(rhone()),
        &ctx(ADMIN, 1),
        Err(DomainError::AccreditationNeedsVolunteer),
    );
    let accredited = [given[0].clone(), granted];
    check_staff(
        &accredited,
        C::GrantAccreditation(rhone()),
        &ctx(ADMIN, 2),
        Err(DomainError::AlreadyAccredited(rhone())),
    );
    check_staff(
        &accredited,
        C::RevokeAccreditation(d("13")),
        &ctx(ADMIN, 2),
        Err(DomainError::NotAccredited(d("13"))),
    );
    let revoked = E::AccreditationRevoked(AccreditationRevoked {
        centre: rhone(),
        at: t(2),
    });
    check_staff(
        &accredited,
        C::RevokeAccreditation(rhone()),
        &ctx(ADMIN, 2),
        Ok(vec![revoked.clone()]),
    );

    let now = staff::fold(&accredited);
    let snap = now.snapshot().expect("enrolled");
    assert!(snap.accredited_at(rhone()));
    assert!(snap.may_act_for(CentreId::Departement(rhone())));
    assert!(!snap.may_act_for(CentreId::NationalPlatform));
    let after = staff::fold(accredited.iter().chain([&revoked]));
    let snap = after.snapshot().expect("enrolled");
    assert_eq!(snap.accreditations, BTreeSet::new());
    assert!(!snap.may_act_for(CentreId::Departement(rhone())));
    // An accreditation is worth nothing without the volunteer or referent role.
    let no_role = staff::fold(accredited.iter().chain([&E::RoleRevoked(RoleRevoked {
        role: Role::Volunteer,
        at: t(3),
    })]));
    assert!(!no_role.snapshot().expect("enrolled").accredited_at(rhone()));
}

#[test]
fn tokens_are_issued_by_an_administrator_or_their_holder_and_revoked_once() {
    let token = TokenId::from_uuid(uuid::Uuid::from_u128(1));
    let digest = TokenDigest([7; 32]);
    let issue = || C::IssueToken {
        token_id: token,
        digest,
    };
    let issued = E::TokenIssued(TokenIssued {
        token_id: token,
        digest,
        at: t(1),
    });
    let revoked = E::TokenRevoked(TokenRevoked {
        token_id: token,
        at: t(2),
    });
    let member = enrolled(&[Role::Volunteer], None);
    check_staff(
        std::slice::from_ref(&member),
        issue(),
        &ctx(ADMIN, 1),
        Ok(vec![issued.clone()]),
    );
    // The holder asks for their own; another member may not.
    check_staff(
        std::slice::from_ref(&member),
        issue(),
        &ctx(V1, 1),
        Ok(vec![issued.clone()]),
    );
    check_staff(
        std::slice::from_ref(&member),
        issue(),
        &ctx(R1, 1),
        Err(DomainError::NotAnAdministrator),
    );
    check_staff(
        &[],
        issue(),
        &ctx(ADMIN, 1),
        Err(DomainError::StaffNotEnrolled),
    );
    check_staff(
        &[member.clone(), issued.clone()],
        issue(),
        &ctx(ADMIN, 2),
        Err(DomainError::TokenAlreadyIssued(token)),
    );
    // The member may revoke their own token; someone else may not.
    check_staff(
        &[member.clone(), issued.clone()],
        C::RevokeToken(token),
        &ctx(V1, 2),
        Ok(vec![revoked.clone()]),
    );
    check_staff(
        &[member.clone(), issued.clone()],
        C::RevokeToken(token),
        &ctx(R1, 2),
        Err(DomainError::NotAnAdministrator),
    );
    check_staff(
        &[member.clone(), issued.clone(), revoked.clone()],
        C::RevokeToken(token),
        &ctx(ADMIN, 3),
        Err(DomainError::UnknownToken(token)),
    );
    // A revoked id is never issued again.
    check_staff(
        &[member.clone(), issued.clone(), revoked.clone()],
        issue(),
        &ctx(ADMIN, 3),
        Err(DomainError::TokenAlreadyIssued(token)),
    );
    let state = fold(&[member.clone(), issued.clone()]);
    assert_eq!(state.tokens().get(&token), Some(&digest));
    let state = fold(&[member, issued, revoked]);
    assert!(state.tokens().is_empty());
}

#[test]
fn only_the_data_protection_officer_erases_a_subject_and_only_once() {
    use ecoute_domain::subject::{
        self, ErasureReason, SubjectCommand, SubjectErased, SubjectEvent,
    };
    let erase = SubjectCommand::Erase {
        subject: CALLER,
        reason: ErasureReason::Request,
    };
    let dpo = StaffSnapshot::new(
        StaffId::from_uuid(uuid::Uuid::from_u128(0xD0)),
        [Role::DataProtectionOfficer],
    );
    let ctx = Context::new(t(5), dpo);
    let events = subject::decide(&subject::SubjectState::default(), &erase, &ctx).unwrap();
    assert_eq!(
        events,
        vec![SubjectEvent::SubjectErased(SubjectErased {
            subject: CALLER,
            reason: ErasureReason::Request,
            rule: None,
            at: t(5),
        })]
    );
    let state = subject::fold(&events);
    assert_eq!(state.erased(), Some((t(5), ErasureReason::Request)));
    assert_eq!(
        subject::decide(&state, &erase, &ctx),
        Err(DomainError::SubjectAlreadyErased(CALLER))
    );
    for someone in [ADMIN, LISTENER, R1, V1] {
        assert_eq!(
            subject::decide(&subject::SubjectState::default(), &erase, &ctx_of(someone)),
            Err(DomainError::NotTheDataProtectionOfficer)
        );
    }
}

fn ctx_of(id: StaffId) -> Context {
    ctx(id, 5)
}

#[test]
fn nobody_grants_themself_a_role_or_an_accreditation() {
    let member = enrolled(&[Role::Administrator, Role::Volunteer], None);
    let me = Context::new(
        t(1),
        StaffSnapshot::new(V1, [Role::Administrator, Role::Volunteer]),
    );
    for command in [C::GrantRole(Role::Referent), C::GrantAccreditation(rhone())] {
        check_staff(
            std::slice::from_ref(&member),
            command,
            &me,
            Err(DomainError::GrantToSelf),
        );
    }
    // Another administrator may.
    check_staff(
        std::slice::from_ref(&member),
        C::GrantRole(Role::Referent),
        &ctx(ADMIN, 1),
        Ok(vec![E::RoleGranted(RoleGranted {
            role: Role::Referent,
            at: t(1),
        })]),
    );
}
