//! Scenario tables for the case stream: given events, when a command, then events or
//! an error.

mod common;

use common::*;
use ecoute_domain::call::{CallSummary, NumberStatus};
use ecoute_domain::case::*;
use ecoute_domain::vocabulary::*;
use ecoute_domain::*;
use CaseCommand as C;
use CaseEvent as E;

fn opened_by_platform(number: NumberStatus) -> E {
    E::CaseOpened(CaseOpened {
        case_id: CASE_1,
        opened_by: CentreId::NationalPlatform,
        call: linked(&platform_call(CALL_1, number)),
        at: t(0),
    })
}

fn opened_by_centre(a: StaffId, b: StaffId) -> E {
    E::CaseOpened(CaseOpened {
        case_id: CASE_1,
        opened_by: CentreId::Departement(rhone()),
        call: linked(&centre_call(CALL_1, a, b, NumberStatus::Left)),
        at: t(0),
    })
}

fn transferred(m: i64, to: &str) -> E {
    E::CaseTransferred(CaseTransferred {
        to: d(to),
        from: None,
        at: t(m),
    })
}

fn referent(m: i64, r: StaffId) -> E {
    E::ReferentAssigned(ReferentAssigned {
        referent: r,
        replaces: None,
        at: t(m),
    })
}

fn proposed(m: i64, id: SolutionId) -> E {
    E::SolutionProposed(SolutionProposed {
        solution_id: id,
        kind: SolutionKind::ContactService,
        description: about_victim("home help service"),
        at: t(m),
    })
}

fn consent(m: i64, id: SolutionId) -> E {
    E::ConsentGiven(ConsentGiven {
        solution_id: id,
        at: t(m),
    })
}

fn closed(m: i64) -> E {
    E::CaseClosed(CaseClosed {
        reason: CloseReason::Resolved,
        at: t(m),
    })
}

/// A platform case with a number, transferred to the Rhône, followed by R1.
fn followed(number: NumberStatus) -> Vec<E> {
    vec![
        opened_by_platform(number),
        transferred(1, "69"),
        referent(2, R1),
    ]
}

fn with_call(c: Context, s: CallSummary) -> Context {
    c.with_call(s)
}

#[test]
fn a_case_is_opened_by_an_ended_call_not_yet_attached() {
    let call = platform_call(CALL_1, NumberStatus::Left);
    let open = C::Open {
        case_id: CASE_1,
        call_id: CALL_1,
    };
    check_case(
        &[],
        open.clone(),
        &with_call(ctx(LISTENER, 0), call.clone()),
        Ok(vec![opened_by_platform(NumberStatus::Left)]),
    );
    check_case(
        &[],
        open.clone(),
        &ctx(LISTENER, 0),
        Err(DomainError::MissingCallContext(CALL_1)),
    );
    check_case(
        &[],
        open.clone(),
        &with_call(
            ctx(LISTENER, 0),
            CallSummary {
                ended: false,
                ..call.clone()
            },
        ),
        Err(DomainError::CallNotEnded),
    );
    check_case(
        &[],
        open.clone(),
        &with_call(
            ctx(LISTENER, 0),
            CallSummary {
                attached_to: Some(CASE_2),
                ..call.clone()
            },
        ),
        Err(DomainError::CallAlreadyAttached(CASE_2)),
    );
    check_case(
        &[opened_by_platform(NumberStatus::Left)],
        open.clone(),
        &with_call(ctx(LISTENER, 0), call),
        Err(DomainError::CaseAlreadyOpened),
    );
    // A centre call opens a case held by that centre, by its accredited volunteers.
    let centre = centre_call(CALL_1, V1, V2, NumberStatus::Left);
    check_case(
        &[],
        open.clone(),
        &with_call(ctx(V1, 0), centre.clone()),
        Ok(vec![opened_by_centre(V1, V2)]),
    );
    check_case(
        &[],
        open,
        &with_call(ctx(V13, 0), centre),
        Err(DomainError::NotAllowedOnCase {
            staff: V13,
            centre: CentreId::Departement(rhone()),
        }),
    );
    check_case(
        &[],
        C::Close(CloseReason::Other),
        &ctx(LISTENER, 0),
        Err(DomainError::CaseNotOpened),
    );
}

#[test]
fn only_a_platform_case_is_transferred_only_to_a_centre_and_only_once() {
    let given = [opened_by_platform(NumberStatus::Left)];
    check_case(
        &given,
        C::Transfer(rhone()),
        &ctx(LISTENER, 1),
        Ok(vec![transferred(1, "69")]),
    );
    check_case(
        &given,
        C::Transfer(rhone()),
        &ctx(V1, 1),
        Err(DomainError::NotAPlatformListener(V1)),
    );
    check_case(
        &[opened_by_centre(V1, V2)],
        C::Transfer(d("13")),
        &ctx(LISTENER, 1),
        Err(DomainError::NotOpenedByPlatform),
    );
    let given = [opened_by_platform(NumberStatus::Left), transferred(1, "69")];
    check_case(
        &given,
        C::Transfer(d("13")),
        &ctx(LISTENER, 2),
        Err(DomainError::AlreadyTransferred(rhone())),
    );
    // "Only to a departmental centre" is in the type: the national platform is no DepartementCode.
    assert!(DepartementCode::parse("national").is_err());
}

#[test]
fn only_the_platform_reassigns_a_transferred_case() {
    let given = [
        opened_by_platform(NumberStatus::Left),
        transferred(1, "69"),
        referent(2, R1),
    ];
    let reassigned = E::CaseTransferred(CaseTransferred {
        to: d("13"),
        from: Some(rhone()),
        at: t(3),
    });
    check_case(
        &given,
        C::Reassign(d("13")),
        &ctx(LISTENER, 3),
        Ok(vec![reassigned.clone()]),
    );
    check_case(
        &given,
        C::Reassign(d("13")),
        &ctx(R1, 3),
        Err(DomainError::NotAPlatformListener(R1)),
    );
    check_case(
        &given,
        C::Reassign(rhone()),
        &ctx(LISTENER, 3),
        Err(DomainError::SameCentre(rhone())),
    );
    check_case(
        &given[..1],
        C::Reassign(d("13")),
        &ctx(LISTENER, 3),
        Err(DomainError::NotTransferred),
    );
    check_case(
        &[opened_by_centre(V1, V2)],
        C::Reassign(d("13")),
        &ctx(LISTENER, 3),
        Err(DomainError::NotOpenedByPlatform),
    );
    // The referent of the old centre no longer follows the case.
    let state = case::fold(given.iter().chain([&reassigned]));
    assert_eq!(state.referent(), None);
    assert_eq!(state.centre(), Some(CentreId::Departement(d("13"))));
}

#[test]
fn a_referent_is_accredited_at_the_case_centre_and_took_no_call_of_it() {
    let given = [opened_by_platform(NumberStatus::Left), transferred(1, "69")];
    check_case(
        &given,
        C::AssignReferent(R1),
        &ctx(R2, 2),
        Ok(vec![referent(2, R1)]),
    );
    check_case(
        &given,
        C::AssignReferent(R1),
        &ctx(R1, 2),
        Ok(vec![referent(2, R1)]),
    );
    check_case(
        &given,
        C::AssignReferent(V1),
        &ctx(R2, 2),
        Err(DomainError::CannotFollowCasesHere),
    );
    check_case(
        &given,
        C::AssignReferent(R13),
        &ctx(R2, 2),
        Err(DomainError::CannotFollowCasesHere),
    );
    // Only those who may act for the centre name its referents.
    check_case(
        &given,
        C::AssignReferent(R1),
        &ctx(R13, 2),
        Err(DomainError::NotAllowedOnCase {
            staff: R13,
            centre: CentreId::Departement(rhone()),
        }),
    );
    // Still at the platform: no referent yet.
    check_case(
        &given[..1],
        C::AssignReferent(R1),
        &ctx(LISTENER, 1),
        Err(DomainError::CaseNotAtACentre),
    );
    // The fresh eye: RV took the call that opened the case.
    check_case(
        &[opened_by_centre(V1, RV)],
        C::AssignReferent(RV),
        &ctx(V1, 2),
        Err(DomainError::ReferentTookACall(RV)),
    );
    check_case(
        &[opened_by_centre(V1, RV)],
        C::AssignReferent(R1),
        &ctx(V1, 2),
        Ok(vec![referent(2, R1)]),
    );
    // Reassignment names who is replaced; naming the same one twice is refused.
    let given = followed(NumberStatus::Left);
    check_case(
        &given,
        C::AssignReferent(R2),
        &ctx(R2, 3),
        Ok(vec![E::ReferentAssigned(ReferentAssigned {
            referent: R2,
            replaces: Some(R1),
            at: t(3),
        })]),
    );
    check_case(
        &given,
        C::AssignReferent(R1),
        &ctx(R2, 3),
        Err(DomainError::AlreadyReferent(R1)),
    );
    // The server must supply the referent's snapshot.
    check_case(
        &given,
        C::AssignReferent(R2),
        &Context::new(t(3), snapshot(R1)),
        Err(DomainError::MissingStaffContext(R2)),
    );
}

#[test]
fn a_referent_who_takes_a_call_of_the_case_loses_the_fresh_eye() {
    let given = [
        opened_by_platform(NumberStatus::Left),
        transferred(1, "69"),
        referent(2, RV),
    ];
    let call = centre_call(CALL_2, V1, RV, NumberStatus::Left);
    check_case(
        &given,
        C::LinkCall(CALL_2),
        &with_call(ctx(V1, 5), call.clone()),
        Ok(vec![
            E::CallLinked(CallLinked {
                call: linked(&call),
                at: t(5),
            }),
            E::ReferentReleased(ReferentReleased {
                referent: RV,
                took_call: CALL_2,
                at: t(5),
            }),
        ]),
    );
}

#[test]
fn only_the_referent_follows_the_case_and_only_while_accredited() {
    let given = followed(NumberStatus::Left);
    let analysis = C::RecordAnalysis(about_victim("isolated; son manages her money"));
    check_case(
        &given,
        analysis.clone(),
        &ctx(R1, 3),
        Ok(vec![E::AnalysisRecorded(AnalysisRecorded {
            analysis: about_victim("isolated; son manages her money"),
            at: t(3),
        })]),
    );
    check_case(
        &given,
        analysis.clone(),
        &ctx(R2, 3),
        Err(DomainError::NotTheReferent(R2)),
    );
    check_case(
        &given[..2],
        analysis.clone(),
        &ctx(R1, 3),
        Err(DomainError::NoReferent),
    );
    // R1's accreditation at the Rhône was revoked: R1 can no longer act for that centre.
    let mut revoked = ctx(R1, 3);
    revoked.actor.accreditations.clear();
    check_case(
        &given,
        analysis,
        &revoked,
        Err(DomainError::NotAllowedOnCase {
            staff: R1,
            centre: CentreId::Departement(rhone()),
        }),
    );
    // Personal values name a subject of the case.
    let stranger = Personal::new(
        Subject {
            id: SubjectId::from_uuid(uuid(0x999)),
            whose: Whose::OtherPerson,
        },
        "x".to_string(),
    );
    check_case(
        &given,
        C::RecordAnalysis(stranger),
        &ctx(R1, 3),
        Err(DomainError::UnknownSubject(SubjectId::from_uuid(uuid(
            0x999,
        )))),
    );
}

#[test]
fn a_case_without_a_number_cannot_be_recontacted_and_awaits_the_call_back() {
    for number in [NumberStatus::NotLeft, NumberStatus::Refused] {
        let given = followed(number);
        check_case(
            &given,
            C::AttemptRecontact(RecontactOutcome::Reached),
            &ctx(R1, 3),
            Err(DomainError::NoNumberToCall),
        );
        check_case(
            &given,
            C::AwaitCallBack,
            &ctx(R1, 3),
            Ok(vec![E::AwaitingCallBack(AwaitingCallBack { at: t(3) })]),
        );
    }
    let awaiting = [
        followed(NumberStatus::NotLeft),
        vec![E::AwaitingCallBack(AwaitingCallBack { at: t(3) })],
    ]
    .concat();
    check_case(
        &awaiting,
        C::AwaitCallBack,
        &ctx(R1, 4),
        Err(DomainError::AlreadyAwaitingCallBack),
    );
    assert!(case::fold(&awaiting).is_awaiting_call_back());
    // The caller calls again and leaves a number: the wait is over, the referent can call.
    let call = platform_call(CALL_2, NumberStatus::Left);
    let mut after = awaiting.clone();
    after.push(E::CallLinked(CallLinked {
        call: linked(&call),
        at: t(10),
    }));
    let state = case::fold(&after);
    assert!(!state.is_awaiting_call_back());
    assert!(state.can_recontact());
    // A later call where the caller refuses that the number be kept takes the way back away.
    after.push(E::CallLinked(CallLinked {
        call: linked(&platform_call(CALL_3, NumberStatus::Refused)),
        at: t(20),
    }));
    assert!(!case::fold(&after).can_recontact());
}

#[test]
fn recontact_attempts_and_their_outcomes() {
    let given = followed(NumberStatus::Left);
    for outcome in [
        RecontactOutcome::Reached,
        RecontactOutcome::NoAnswer,
        RecontactOutcome::WrongNumber,
    ] {
        check_case(
            &given,
            C::AttemptRecontact(outcome),
            &ctx(R1, 3),
            Ok(vec![E::RecontactAttempted(RecontactAttempted {
                outcome,
                at: t(3),
            })]),
        );
    }
    check_case(
        &given,
        C::AttemptRecontact(RecontactOutcome::Reached),
        &ctx(R2, 3),
        Err(DomainError::NotTheReferent(R2)),
    );
    // After a wrong number there is nothing left to call.
    let wrong = [
        given,
        vec![E::RecontactAttempted(RecontactAttempted {
            outcome: RecontactOutcome::WrongNumber,
            at: t(3),
        })],
    ]
    .concat();
    check_case(
        &wrong,
        C::AttemptRecontact(RecontactOutcome::Reached),
        &ctx(R1, 4),
        Err(DomainError::NoNumberToCall),
    );
}

#[test]
fn nothing_is_done_without_consent_given_for_that_solution_and_not_withdrawn() {
    let given = [
        followed(NumberStatus::Left),
        vec![proposed(3, SOL_1), proposed(3, SOL_2)],
    ]
    .concat();
    let act = |id| C::TakeAction {
        solution_id: id,
        note: about_victim("called the home help service"),
    };
    let action = |m, id| {
        E::ActionTaken(ActionTaken {
            solution_id: id,
            note: about_victim("called the home help service"),
            at: t(m),
        })
    };
    let decide = |d| C::RecordConsent {
        solution_id: SOL_1,
        decision: d,
    };
    // No consent yet.
    check_case(
        &given,
        act(SOL_1),
        &ctx(R1, 4),
        Err(DomainError::NoConsent(SOL_1)),
    );
    // Consent given for SOL_1.
    check_case(
        &given,
        decide(ConsentDecision::Given),
        &ctx(R1, 4),
        Ok(vec![consent(4, SOL_1)]),
    );
    let consented = [given.clone(), vec![consent(4, SOL_1)]].concat();
    check_case(
        &consented,
        act(SOL_1),
        &ctx(R1, 5),
        Ok(vec![action(5, SOL_1)]),
    );
    // ... is not consent for SOL_2.
    check_case(
        &consented,
        act(SOL_2),
        &ctx(R1, 5),
        Err(DomainError::NoConsent(SOL_2)),
    );
    // Withdrawn since: no action.
    let withdrawal = E::ConsentWithdrawn(ConsentWithdrawn {
        solution_id: SOL_1,
        at: t(5),
    });
    check_case(
        &consented,
        decide(ConsentDecision::Withdrawn),
        &ctx(R1, 5),
        Ok(vec![withdrawal.clone()]),
    );
    let withdrawn = [consented.clone(), vec![withdrawal]].concat();
    check_case(
        &withdrawn,
        act(SOL_1),
        &ctx(R1, 6),
        Err(DomainError::NoConsent(SOL_1)),
    );
    // Given again after withdrawal: action allowed again.
    let again = [withdrawn.clone(), vec![consent(6, SOL_1)]].concat();
    check_case(&again, act(SOL_1), &ctx(R1, 7), Ok(vec![action(7, SOL_1)]));
    // Refused: no action.
    let refusal = E::ConsentRefused(ConsentRefused {
        solution_id: SOL_1,
        at: t(4),
    });
    check_case(
        &given,
        decide(ConsentDecision::Refused),
        &ctx(R1, 4),
        Ok(vec![refusal.clone()]),
    );
    let refused = [given.clone(), vec![refusal]].concat();
    check_case(
        &refused,
        act(SOL_1),
        &ctx(R1, 5),
        Err(DomainError::NoConsent(SOL_1)),
    );
    check_case(
        &refused,
        decide(ConsentDecision::Refused),
        &ctx(R1, 5),
        Err(DomainError::ConsentAlreadyRefused(SOL_1)),
    );
    check_case(
        &refused,
        decide(ConsentDecision::Withdrawn),
        &ctx(R1, 5),
        Err(DomainError::NoConsentToWithdraw(SOL_1)),
    );
    check_case(
        &consented,
        decide(ConsentDecision::Given),
        &ctx(R1, 5),
        Err(DomainError::ConsentAlreadyGiven(SOL_1)),
    );
    check_case(
        &consented,
        decide(ConsentDecision::Refused),
        &ctx(R1, 5),
        Err(DomainError::ConsentStands(SOL_1)),
    );
    // Unknown solutions and duplicate ids.
    let unknown = SolutionId::from_uuid(uuid(0x3FF));
    check_case(
        &given,
        act(unknown),
        &ctx(R1, 5),
        Err(DomainError::UnknownSolution(unknown)),
    );
    check_case(
        &given,
        C::RecordConsent {
            solution_id: unknown,
            decision: ConsentDecision::Given,
        },
        &ctx(R1, 5),
        Err(DomainError::UnknownSolution(unknown)),
    );
    check_case(
        &given,
        C::ProposeSolution {
            solution_id: SOL_1,
            kind: SolutionKind::Other,
            description: about_victim("again"),
        },
        &ctx(R1, 5),
        Err(DomainError::SolutionExists(SOL_1)),
    );
}

#[test]
fn a_closed_case_accepts_nothing_but_reopening_and_a_new_call_reopens_it() {
    let given = [
        followed(NumberStatus::Left),
        vec![proposed(3, SOL_1), consent(4, SOL_1), closed(9)],
    ]
    .concat();
    let refused = [
        C::AssignReferent(R2),
        C::RecordAnalysis(about_victim("late note")),
        C::AttemptRecontact(RecontactOutcome::Reached),
        C::AwaitCallBack,
        C::ProposeSolution {
            solution_id: SOL_2,
            kind: SolutionKind::Other,
            description: about_victim("x"),
        },
        C::RecordConsent {
            solution_id: SOL_1,
            decision: ConsentDecision::Withdrawn,
        },
        C::TakeAction {
            solution_id: SOL_1,
            note: about_victim("x"),
        },
        C::Transfer(d("13")),
        C::Reassign(d("13")),
        C::Close(CloseReason::Other),
    ];
    for command in refused {
        check_case(
            &given,
            command,
            &ctx(R1, 10),
            Err(DomainError::CaseIsClosed),
        );
    }
    let reopened = E::CaseReopened(CaseReopened {
        reason: ReopenReason::Decision,
        at: t(10),
    });
    check_case(&given, C::Reopen, &ctx(R1, 10), Ok(vec![reopened.clone()]));
    check_case(&given, C::Reopen, &ctx(LISTENER, 10), Ok(vec![reopened]));
    check_case(
        &given,
        C::Reopen,
        &ctx(R13, 10),
        Err(DomainError::NotAllowedOnCase {
            staff: R13,
            centre: CentreId::Departement(rhone()),
        }),
    );
    check_case(
        &given[..3],
        C::Reopen,
        &ctx(R1, 10),
        Err(DomainError::CaseNotClosed),
    );
    let call = platform_call(CALL_2, NumberStatus::NotLeft);
    check_case(
        &given,
        C::LinkCall(CALL_2),
        &with_call(ctx(LISTENER, 30), call.clone()),
        Ok(vec![
            E::CaseReopened(CaseReopened {
                reason: ReopenReason::NewCall(CALL_2),
                at: t(30),
            }),
            E::CallLinked(CallLinked {
                call: linked(&call),
                at: t(30),
            }),
        ]),
    );
    check_case(
        &given,
        C::LinkCall(CALL_1),
        &with_call(ctx(LISTENER, 30), platform_call(CALL_1, NumberStatus::Left)),
        Err(DomainError::CallAlreadyLinked(CALL_1)),
    );
}

#[test]
fn closing_is_for_those_who_may_act_on_the_case() {
    let given = followed(NumberStatus::Left);
    check_case(
        &given,
        C::Close(CloseReason::Redirected),
        &ctx(R2, 9),
        Ok(vec![E::CaseClosed(CaseClosed {
            reason: CloseReason::Redirected,
            at: t(9),
        })]),
    );
    check_case(
        &given,
        C::Close(CloseReason::Redirected),
        &ctx(AUDITOR, 9),
        Err(DomainError::NotAllowedOnCase {
            staff: AUDITOR,
            centre: CentreId::Departement(rhone()),
        }),
    );
    check_case(
        &given,
        C::Close(CloseReason::Redirected),
        &ctx(V13, 9),
        Err(DomainError::NotAllowedOnCase {
            staff: V13,
            centre: CentreId::Departement(rhone()),
        }),
    );
}

#[test]
fn a_centre_volunteer_cannot_link_a_call_to_a_case_of_another_centre() {
    let given = followed(NumberStatus::Left);
    let mut call = centre_call(CALL_2, V1, V2, NumberStatus::Left);
    call.door = ecoute_domain::call::Door::Centre {
        centre: d("13"),
        pair: pair(V13, V1),
    };
    check_case(
        &given,
        C::LinkCall(CALL_2),
        &with_call(ctx(V13, 9), call),
        Err(DomainError::NotAllowedOnCase {
            staff: V13,
            centre: CentreId::Departement(rhone()),
        }),
    );
}
