//! Retention: each rule is due only once its period ran, at the command's time;
//! a kept case is not closed; a retention step that is not due (early, moved on,
//! already taken) is refused and records nothing; the subjects' events follow the
//! call's or case's, leaving out those already erased.

mod common;

use std::collections::BTreeMap;

use common::*;
use ecoute_domain::call::{CallCommand, CallEvent, CallPersonsErased, NumberStatus};
use ecoute_domain::case::*;
use ecoute_domain::subject::{self, SubjectEvent, SubjectState};
use ecoute_domain::vocabulary::CloseReason;
use ecoute_domain::*;
use CaseCommand as C;
use CaseEvent as E;

/// Minute of day `n`.
fn day(n: i64) -> i64 {
    n * 24 * 60
}

fn policy() -> RetentionPolicy {
    RetentionPolicy {
        closed_case: Some(chrono::Duration::days(365)),
        ..RetentionPolicy::default()
    }
}

/// The system as the retention rules act, at minute `m`, under [`policy`].
fn system(m: i64) -> Context {
    let dpo = StaffSnapshot::new(StaffId::from_uuid(uuid(0)), [Role::DataProtectionOfficer]);
    Context::new(t(m), dpo)
        .with_retention(policy())
        .with_deadlines(DeadlinePolicy::default())
}

fn opened() -> E {
    E::CaseOpened(CaseOpened {
        case_id: CASE_1,
        opened_by: CentreId::NationalPlatform,
        call: linked(&platform_call(CALL_1, NumberStatus::Left)),
        at: t(0),
    })
}

fn closed(m: i64) -> E {
    E::CaseClosed(CaseClosed {
        reason: CloseReason::Resolved,
        at: t(m),
    })
}

fn flagged(m: i64) -> E {
    E::InactivityFlagged(InactivityFlagged {
        last_activity: t(0),
        closes_at: t(m + day(30)),
        at: t(m),
    })
}

fn all_subjects() -> Vec<SubjectId> {
    vec![CALLER, VICTIM, SON]
}

#[test]
fn each_step_is_due_only_once_its_period_ran() {
    let missed_recontact = [
        E::DeadlineArmed(DeadlineArmed {
            kind: DeadlineKind::Recontact,
            due: t(10),
            at: t(1),
        }),
        E::DeadlineMissed(DeadlineMissed {
            kind: DeadlineKind::Recontact,
            due: t(10),
            at: t(11),
        }),
    ];
    use RetentionStep::*;
    let cases: Vec<(&str, Vec<E>, i64, Vec<RetentionStep>)> = vec![
        ("open, active yesterday", vec![opened()], day(1), vec![]),
        (
            "open, a day short of a year",
            vec![opened()],
            day(364),
            vec![],
        ),
        (
            "open, a year idle",
            vec![opened()],
            day(365),
            vec![FlagInactive],
        ),
        (
            "flagged, within the grace",
            vec![opened(), flagged(day(365))],
            day(394),
            vec![],
        ),
        (
            "flagged, grace over",
            vec![opened(), flagged(day(365))],
            day(395),
            vec![CloseInactive],
        ),
        (
            "kept after the flag: active again",
            vec![
                opened(),
                flagged(day(365)),
                E::CaseKept(CaseKept {
                    reason: KeepReason::FollowUpUnderWay,
                    at: t(day(366)),
                }),
            ],
            day(400),
            vec![],
        ),
        (
            "flagged, then activity: the flag goes",
            vec![
                opened(),
                flagged(day(365)),
                E::AwaitingCallBack(AwaitingCallBack { at: t(day(366)) }),
            ],
            day(400),
            vec![],
        ),
        (
            "closed: its number at once",
            vec![opened(), closed(5)],
            6,
            vec![EraseCallbackNumbers],
        ),
        (
            "closed a year ago: number and persons",
            vec![opened(), closed(5)],
            5 + day(365),
            vec![EraseCallbackNumbers, EraseClosed],
        ),
        (
            "call-back deadline missed, grace running",
            [vec![opened()], missed_recontact.to_vec()].concat(),
            10 + day(29),
            vec![],
        ),
        (
            "call-back deadline missed, grace over",
            [vec![opened()], missed_recontact.to_vec()].concat(),
            10 + day(30),
            vec![EraseCallbackNumbers],
        ),
        (
            "numbers erased already",
            vec![
                opened(),
                closed(5),
                E::CallbackNumbersErased(CallbackNumbersErased {
                    numbers: vec![(CALL_1, CALLER)],
                    at: t(6),
                }),
            ],
            7,
            vec![],
        ),
        (
            "persons erased already, then nothing",
            vec![
                opened(),
                closed(5),
                E::CasePersonsErased(CasePersonsErased {
                    rule: RetentionRule::ClosedCase,
                    subjects: all_subjects(),
                    at: t(6 + day(365)),
                }),
            ],
            day(800),
            vec![],
        ),
    ];
    for (name, given, m, expected) in cases {
        let state = fold(&given);
        assert_eq!(state.retention_due(&policy(), t(m)), expected, "{name}");
        assert!(
            state
                .retention_due(&RetentionPolicy::off(), t(m))
                .is_empty(),
            "{name}: every rule off"
        );
    }
}

#[test]
fn the_inactive_case_rule_flags_then_closes_unless_kept() {
    // Nothing early; the flag at a year.
    check_case(
        &[opened()],
        C::Retention(RetentionStep::FlagInactive),
        &system(day(364)),
        Err(DomainError::RetentionNotDue),
    );
    check_case(
        &[opened()],
        C::Retention(RetentionStep::FlagInactive),
        &system(day(365)),
        Ok(vec![flagged(day(365))]),
    );
    // Only the system, with the data-protection officer's role.
    check_case(
        &[opened()],
        C::Retention(RetentionStep::FlagInactive),
        &ctx(LISTENER, day(365)).with_retention(policy()),
        Err(DomainError::NotTheDataProtectionOfficer),
    );
    // Kept, with a reason, by someone who may act on the case; only when flagged.
    check_case(
        &[opened()],
        C::Keep(KeepReason::PersonStillAtRisk),
        &ctx(LISTENER, day(300)),
        Err(DomainError::NotFlaggedInactive),
    );
    check_case(
        &[opened(), flagged(day(365))],
        C::Keep(KeepReason::PersonStillAtRisk),
        &ctx(V13, day(366)),
        Err(DomainError::NotAllowedOnCase {
            staff: V13,
            centre: CentreId::NationalPlatform,
        }),
    );
    check_case(
        &[opened(), flagged(day(365))],
        C::Keep(KeepReason::PersonStillAtRisk),
        &ctx(LISTENER, day(366)),
        Ok(vec![E::CaseKept(CaseKept {
            reason: KeepReason::PersonStillAtRisk,
            at: t(day(366)),
        })]),
    );
    // Kept: not closed at the end of the grace.
    let kept = [
        opened(),
        flagged(day(365)),
        E::CaseKept(CaseKept {
            reason: KeepReason::PersonStillAtRisk,
            at: t(day(366)),
        }),
    ];
    check_case(
        &kept,
        C::Retention(RetentionStep::CloseInactive),
        &system(day(400)),
        Err(DomainError::RetentionNotDue),
    );
    // Not kept: closed, as inactive, and its persons erased, in one decision.
    check_case(
        &[opened(), flagged(day(365))],
        C::Retention(RetentionStep::CloseInactive),
        &system(day(394)),
        Err(DomainError::RetentionNotDue),
    );
    check_case(
        &[opened(), flagged(day(365))],
        C::Retention(RetentionStep::CloseInactive),
        &system(day(395)),
        Ok(vec![
            E::CaseClosed(CaseClosed {
                reason: CloseReason::Inactive,
                at: t(day(395)),
            }),
            E::CasePersonsErased(CasePersonsErased {
                rule: RetentionRule::InactiveCase,
                subjects: all_subjects(),
                at: t(day(395)),
            }),
        ]),
    );
    // Nobody closes a case as inactive by hand.
    check_case(
        &[opened()],
        C::Close(CloseReason::Inactive),
        &ctx(LISTENER, 5),
        Err(DomainError::ClosedAsInactiveOnlyByRetention),
    );
}

#[test]
fn a_closed_case_loses_its_numbers_at_once_and_its_persons_after_the_period() {
    check_case(
        &[opened(), closed(5)],
        C::Retention(RetentionStep::EraseCallbackNumbers),
        &system(6),
        Ok(vec![E::CallbackNumbersErased(CallbackNumbersErased {
            numbers: vec![(CALL_1, CALLER)],
            at: t(6),
        })]),
    );
    check_case(
        &[opened(), closed(5)],
        C::Retention(RetentionStep::EraseClosed),
        &system(5 + day(364)),
        Err(DomainError::RetentionNotDue),
    );
    // Reopened: open again, nothing erased.
    let reopened = [
        opened(),
        closed(5),
        E::CaseReopened(CaseReopened {
            reason: ReopenReason::Decision,
            at: t(7),
        }),
    ];
    check_case(
        &reopened,
        C::Retention(RetentionStep::EraseClosed),
        &system(day(500)),
        Err(DomainError::RetentionNotDue),
    );
    // An open case whose number is erased can no longer be called back; its
    // call-back deadline goes with the number.
    let missed = [
        opened(),
        E::DeadlineArmed(DeadlineArmed {
            kind: DeadlineKind::Recontact,
            due: t(10),
            at: t(1),
        }),
        E::DeadlineMissed(DeadlineMissed {
            kind: DeadlineKind::Recontact,
            due: t(10),
            at: t(11),
        }),
    ];
    let state = fold(&missed);
    let events = decide(
        &state,
        &C::Retention(RetentionStep::EraseCallbackNumbers),
        &system(10 + day(30)),
    )
    .expect("due");
    let after = events.iter().fold(state, evolve);
    assert!(!after.can_recontact() && after.is_awaiting_call_back());
    assert!(after.deadlines().is_empty(), "{events:?}");
    assert_eq!(after.kept_numbers(), vec![]);
}

#[test]
fn subjects_are_erased_with_their_case_each_once() {
    let state = fold(&[opened(), closed(5)]);
    let erased_on_request = subject::fold(&[SubjectEvent::SubjectErased(subject::SubjectErased {
        subject: SON,
        reason: subject::ErasureReason::Request,
        rule: None,
        at: t(6),
    })]);
    let subjects: BTreeMap<SubjectId, SubjectState> = [
        (CALLER, SubjectState::default()),
        (VICTIM, SubjectState::default()),
        (SON, erased_on_request),
    ]
    .into_iter()
    .collect();
    let retained = retain_case(
        &state,
        RetentionStep::EraseClosed,
        &subjects,
        &system(5 + day(365)),
    )
    .expect("due");
    let erased: Vec<SubjectId> = retained.subjects.iter().map(|(s, _)| *s).collect();
    assert_eq!(erased, vec![CALLER, VICTIM], "the son was erased already");
    for (_, events) in &retained.subjects {
        let SubjectEvent::SubjectErased(e) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(e.rule, Some(RetentionRule::ClosedCase));
        assert_eq!(e.reason, subject::ErasureReason::Retention);
    }
    // The number alone: the caller's number slot, the rest kept.
    let numbers = retain_case(
        &state,
        RetentionStep::EraseCallbackNumbers,
        &subjects,
        &system(6),
    )
    .expect("due");
    assert_eq!(numbers.subjects.len(), 1);
    assert!(matches!(
        numbers.subjects[0].1[..],
        [SubjectEvent::NumberErased(subject::NumberErased {
            subject: CALLER,
            rule: RetentionRule::CallbackNumber,
            ..
        })]
    ));
    // A subject whose stream was not read is refused, not guessed.
    let missing: BTreeMap<SubjectId, SubjectState> =
        [(CALLER, SubjectState::default())].into_iter().collect();
    assert_eq!(
        retain_case(
            &state,
            RetentionStep::EraseClosed,
            &missing,
            &system(day(400))
        ),
        Err(DomainError::MissingSubjectContext(VICTIM))
    );
    // Not due: nothing, for anyone.
    assert_eq!(
        retain_case(
            &state,
            RetentionStep::EraseClosed,
            &subjects,
            &system(day(200))
        ),
        Err(DomainError::RetentionNotDue)
    );
}

/// An ended platform call (received at minute 0, ended at minute 20), never attached.
fn unattached_call() -> Vec<CallEvent> {
    use ecoute_domain::call::*;
    vec![
        CallEvent::CallReceived(CallReceived {
            call_id: CALL_1,
            door: Door::Platform {
                listener: LISTENER,
                team: TEAM,
            },
            caller: CALLER,
            at: t(0),
        }),
        CallEvent::PersonDescribed(PersonDescribed {
            person: describe_victim(),
            at: t(5),
        }),
        CallEvent::CallEnded(CallEnded {
            duration_seconds: 1200,
            at: t(20),
        }),
    ]
}

#[test]
fn a_call_that_joined_no_case_is_erased_after_its_own_period() {
    check_call(
        &unattached_call(),
        CallCommand::EraseByRetention,
        &system(19 + day(90)),
        Err(DomainError::RetentionNotDue),
    );
    let erased = CallEvent::CallPersonsErased(CallPersonsErased {
        rule: RetentionRule::UnattachedCall,
        subjects: vec![CALLER, VICTIM],
        at: t(20 + day(90)),
    });
    check_call(
        &unattached_call(),
        CallCommand::EraseByRetention,
        &system(20 + day(90)),
        Ok(vec![erased.clone()]),
    );
    // A call that joined a case follows the case's rules.
    let attached = [
        unattached_call(),
        vec![CallEvent::CallAttachedToCase(
            ecoute_domain::call::CallAttachedToCase {
                case_id: CASE_1,
                new_case: true,
                at: t(21),
            },
        )],
    ]
    .concat();
    check_call(
        &attached,
        CallCommand::EraseByRetention,
        &system(day(400)),
        Err(DomainError::RetentionNotDue),
    );
    // Once erased, the call accepts nothing more: it cannot join a case later.
    let after = [unattached_call(), vec![erased]].concat();
    check_call(
        &after,
        CallCommand::AttachToCase {
            case_id: CASE_1,
            new_case: true,
        },
        &ctx(LISTENER, day(100)),
        Err(DomainError::CallErasedByRetention),
    );
    // Its subjects are erased with it, with the rule.
    let state = ecoute_domain::call::fold(&unattached_call());
    let subjects: BTreeMap<SubjectId, SubjectState> = [CALLER, VICTIM]
        .into_iter()
        .map(|s| (s, SubjectState::default()))
        .collect();
    let retained = retain_call(&state, &subjects, &system(20 + day(90))).expect("due");
    assert_eq!(retained.subjects.len(), 2);
    // The rule off: never due.
    let off = system(day(1000)).with_retention(RetentionPolicy::off());
    assert_eq!(
        retain_call(&state, &subjects, &off),
        Err(DomainError::RetentionNotDue)
    );
}
