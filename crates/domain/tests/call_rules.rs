//! Scenario tables for the call stream: given events, when a command, then events or
//! an error.

mod common;

use common::*;
use ecoute_domain::call::*;
use ecoute_domain::vocabulary::*;
use ecoute_domain::*;
use CallCommand as C;
use CallEvent as E;

fn platform_received() -> E {
    E::CallReceived(CallReceived {
        call_id: CALL_1,
        door: Door::Platform {
            listener: LISTENER,
            team: TEAM,
        },
        caller: CALLER,
        at: t(0),
    })
}

fn centre_received() -> E {
    E::CallReceived(CallReceived {
        call_id: CALL_1,
        door: Door::Centre {
            centre: rhone(),
            pair: pair(V1, V2),
        },
        caller: CALLER,
        at: t(0),
    })
}

fn receive(answer: Answer) -> C {
    C::Receive {
        call_id: CALL_1,
        caller: CALLER,
        answer,
    }
}

fn by_pair(a: StaffId, b: StaffId) -> Answer {
    Answer::VolunteerPair {
        centre: rhone(),
        pair: pair(a, b),
    }
}

fn anonymous(m: i64) -> E {
    E::AnonymityRequested(AnonymityRequested { at: t(m) })
}

fn refused(m: i64) -> E {
    E::NumberRetentionRefused(NumberRetentionRefused { at: t(m) })
}

fn ended(m: i64) -> E {
    E::CallEnded(CallEnded {
        duration_seconds: u32::try_from(m * 60).unwrap_or(0),
        at: t(m),
    })
}

fn describe_caller(name: Option<&str>, address: Option<&str>) -> PersonDescription {
    PersonDescription {
        person: CALLER,
        role: PersonRole::CloseCircle(CloseCircle::Neighbour),
        relation: Relation::Neighbour,
        age_band: AgeBand::From60To69,
        lives_with_victim: Some(false),
        name: name.map(caller_says),
        address: address.map(caller_says),
        description: Some(caller_says("worried, hears shouting")),
    }
}

fn facts(kinds: &[AbuseKind]) -> Facts {
    Facts {
        abuse_kinds: kinds.iter().copied().collect(),
        setting: Setting::Home,
        since: Since::MoreThanAYear,
        frequency: Frequency::Weekly,
        evolution: Evolution::Worsening,
    }
}

#[test]
fn a_platform_call_is_answered_by_one_platform_listener() {
    check_call(
        &[],
        receive(Answer::PlatformListener),
        &ctx(LISTENER, 0),
        Ok(vec![platform_received()]),
    );
    check_call(
        &[],
        receive(Answer::PlatformListener),
        &ctx(V1, 0),
        Err(DomainError::NotAPlatformListener(V1)),
    );
    // A listener without a team is refused (the snapshot is built by hand here).
    let mut lonely = ctx(LISTENER, 0);
    lonely.actor.team = None;
    check_call(
        &[],
        receive(Answer::PlatformListener),
        &lonely,
        Err(DomainError::ListenerWithoutTeam),
    );
    check_call(
        &[platform_received()],
        receive(Answer::PlatformListener),
        &ctx(LISTENER, 1),
        Err(DomainError::CallAlreadyReceived),
    );
}

#[test]
fn a_centre_call_is_answered_by_two_distinct_volunteers_accredited_there() {
    check_call(
        &[],
        receive(by_pair(V1, V2)),
        &ctx(V1, 0),
        Ok(vec![centre_received()]),
    );
    check_call(
        &[],
        receive(by_pair(V2, V1)),
        &ctx(V1, 0),
        Ok(vec![E::CallReceived(CallReceived {
            call_id: CALL_1,
            door: Door::Centre {
                centre: rhone(),
                pair: pair(V2, V1),
            },
            caller: CALLER,
            at: t(0),
        })]),
    );
    assert_eq!(
        VolunteerPair::new(V1, V1),
        Err(DomainError::SameVolunteerTwice)
    );
    // The actor is one of the pair.
    check_call(
        &[],
        receive(by_pair(V1, V2)),
        &ctx(RV, 0),
        Err(DomainError::ActorNotAnswerer),
    );
    // Both are volunteers accredited at the centre called, now; a refusal about
    // the partner does not say what they lack (their roles are not the actor's to
    // learn), one about the actor does.
    check_call(
        &[],
        receive(by_pair(V1, R1)),
        &ctx(V1, 0),
        Err(DomainError::PartnerCannotAnswer),
    );
    check_call(
        &[],
        receive(by_pair(V1, V13)),
        &ctx(V1, 0),
        Err(DomainError::PartnerCannotAnswer),
    );
    check_call(
        &[],
        receive(by_pair(V_REVOKED, V1)),
        &ctx(V1, 0),
        Err(DomainError::PartnerCannotAnswer),
    );
    check_call(
        &[],
        receive(by_pair(V_REVOKED, V1)),
        &ctx(V_REVOKED, 0),
        Err(DomainError::NotAccreditedAtCentre {
            staff: V_REVOKED,
            centre: CentreId::Departement(rhone()),
        }),
    );
    // The server must supply the second volunteer's snapshot.
    let only_actor = Context::new(t(0), snapshot(V1));
    check_call(
        &[],
        receive(by_pair(V1, V2)),
        &only_actor,
        Err(DomainError::MissingStaffContext(V2)),
    );
}

#[test]
fn only_who_answered_records_the_call() {
    check_call(
        &[],
        C::RequestAnonymity,
        &ctx(LISTENER, 1),
        Err(DomainError::CallNotReceived),
    );
    check_call(
        &[platform_received()],
        C::RequestAnonymity,
        &ctx(LISTENER_2, 1),
        Err(DomainError::ActorNotAnswerer),
    );
    check_call(
        &[centre_received()],
        C::RequestAnonymity,
        &ctx(V2, 1),
        Ok(vec![anonymous(1)]),
    );
    check_call(
        &[centre_received()],
        C::RequestAnonymity,
        &ctx(RV, 1),
        Err(DomainError::ActorNotAnswerer),
    );
}

#[test]
fn a_volunteer_whose_accreditation_was_revoked_no_longer_records_for_that_centre() {
    let mut revoked = ctx(V2, 1);
    revoked.actor.accreditations.clear();
    check_call(
        &[centre_received()],
        C::End,
        &revoked,
        Err(DomainError::ActorNotAnswerer),
    );
}

#[test]
fn once_number_retention_is_refused_no_callback_number_is_recorded() {
    let number = caller_says("06 12 34 56 78");
    check_call(
        &[platform_received()],
        C::RecordCallbackNumber(number.clone()),
        &ctx(LISTENER, 1),
        Ok(vec![E::CallbackNumberRecorded(CallbackNumberRecorded {
            number: number.clone(),
            at: t(1),
        })]),
    );
    check_call(
        &[platform_received()],
        C::RefuseNumberRetention,
        &ctx(LISTENER, 1),
        Ok(vec![refused(1)]),
    );
    check_call(
        &[platform_received(), refused(1)],
        C::RecordCallbackNumber(number.clone()),
        &ctx(LISTENER, 2),
        Err(DomainError::NumberRetentionRefused),
    );
    check_call(
        &[platform_received(), refused(1)],
        C::RefuseNumberRetention,
        &ctx(LISTENER, 2),
        Err(DomainError::NumberRetentionAlreadyRefused),
    );
    // Refused after a number was left: the call no longer offers a way back.
    let state = call::fold(&[
        platform_received(),
        E::CallbackNumberRecorded(CallbackNumberRecorded { number, at: t(1) }),
        refused(2),
    ]);
    assert_eq!(state.number(), NumberStatus::Refused);
}

#[test]
fn a_callback_number_is_the_callers_and_looks_like_a_number() {
    for bad in [
        "",
        "abc",
        "12",
        "06 12 34 56 78 90 12 34 56 78 90",
        "06+12",
        "call me",
    ] {
        check_call(
            &[platform_received()],
            C::RecordCallbackNumber(caller_says(bad)),
            &ctx(LISTENER, 1),
            Err(DomainError::InvalidPhoneNumber),
        );
    }
    for good in ["0612345678", "+33 6 12 34 56 78", "06.12.34.56.78", "3977"] {
        let got = call::decide(
            &call::fold(&[platform_received()]),
            &C::RecordCallbackNumber(caller_says(good)),
            &ctx(LISTENER, 1),
        );
        assert!(got.is_ok(), "{good}: {got:?}");
    }
    check_call(
        &[platform_received()],
        C::RecordCallbackNumber(about_victim("0612345678")),
        &ctx(LISTENER, 1),
        Err(DomainError::SubjectMismatch {
            field: "callback_number",
        }),
    );
}

#[test]
fn an_anonymous_caller_has_no_identifying_field_recorded() {
    let given = [platform_received(), anonymous(1)];
    check_call(
        &given,
        C::DescribePerson(describe_caller(Some("Paul"), None)),
        &ctx(LISTENER, 2),
        Err(DomainError::AnonymousCaller),
    );
    check_call(
        &given,
        C::DescribePerson(describe_caller(None, Some("3 rue des Lilas"))),
        &ctx(LISTENER, 2),
        Err(DomainError::AnonymousCaller),
    );
    // Without name or address the caller is still described, and others are named.
    check_call(
        &given,
        C::DescribePerson(describe_caller(None, None)),
        &ctx(LISTENER, 2),
        Ok(vec![E::PersonDescribed(PersonDescribed {
            person: describe_caller(None, None),
            at: t(2),
        })]),
    );
    check_call(
        &given,
        C::DescribePerson(describe_victim()),
        &ctx(LISTENER, 2),
        Ok(vec![E::PersonDescribed(PersonDescribed {
            person: describe_victim(),
            at: t(2),
        })]),
    );
    // An anonymous caller may still leave a number: the seed says "et même refuser".
    assert!(call::decide(
        &call::fold(&given),
        &C::RecordCallbackNumber(caller_says("0612345678")),
        &ctx(LISTENER, 2)
    )
    .is_ok());
    check_call(
        &given,
        C::RequestAnonymity,
        &ctx(LISTENER, 2),
        Err(DomainError::AlreadyAnonymous),
    );
    // Asked after the name was given, anonymity withdraws the caller's identity.
    let named = E::PersonDescribed(PersonDescribed {
        person: describe_caller(Some("Paul"), None),
        at: t(1),
    });
    assert!(call::fold(&[platform_received(), named.clone()]).caller_identified());
    assert!(!call::fold(&[platform_received(), named, anonymous(2)]).caller_identified());
}

#[test]
fn personal_values_carry_the_subject_they_describe() {
    let mut wrong = describe_victim();
    wrong.name = Some(caller_says("Mme Durand"));
    check_call(
        &[platform_received()],
        C::DescribePerson(wrong),
        &ctx(LISTENER, 1),
        Err(DomainError::SubjectMismatch { field: "name" }),
    );
    let mut empty = describe_victim();
    empty.name = Some(about_victim("  "));
    check_call(
        &[platform_received()],
        C::DescribePerson(empty),
        &ctx(LISTENER, 1),
        Err(DomainError::EmptyText { field: "name" }),
    );
    let mut long = describe_victim();
    long.name = Some(about_victim(&"x".repeat(MAX_TEXT_CHARS + 1)));
    check_call(
        &[platform_received()],
        C::DescribePerson(long),
        &ctx(LISTENER, 1),
        Err(DomainError::TextTooLong {
            field: "name",
            max: MAX_TEXT_CHARS,
        }),
    );
    // A note is about a person of the call.
    check_call(
        &[platform_received()],
        C::AddNote(about_victim("she is afraid")),
        &ctx(LISTENER, 1),
        Err(DomainError::UnknownSubject(VICTIM)),
    );
    let described = E::PersonDescribed(PersonDescribed {
        person: describe_victim(),
        at: t(1),
    });
    check_call(
        &[platform_received(), described.clone()],
        C::AddNote(about_victim("she is afraid")),
        &ctx(LISTENER, 2),
        Ok(vec![E::ListeningNoteRecorded(ListeningNoteRecorded {
            note: about_victim("she is afraid"),
            at: t(2),
        })]),
    );
    check_call(
        &[platform_received()],
        C::AddNote(caller_says("the caller is exhausted")),
        &ctx(LISTENER, 2),
        Ok(vec![E::ListeningNoteRecorded(ListeningNoteRecorded {
            note: caller_says("the caller is exhausted"),
            at: t(2),
        })]),
    );
    // The victim's subject cannot be reused for another kind of person.
    let mut as_other = describe_victim();
    as_other.role = PersonRole::Implicated;
    as_other.name = Some(Personal::new(
        Subject {
            id: VICTIM,
            whose: Whose::OtherPerson,
        },
        "x".into(),
    ));
    check_call(
        &[platform_received(), described],
        C::DescribePerson(as_other),
        &ctx(LISTENER, 2),
        Err(DomainError::SubjectMismatch { field: "person" }),
    );
}

#[test]
fn facts_name_at_least_one_abuse_kind() {
    let f = facts(&[AbuseKind::Financial, AbuseKind::Psychological]);
    check_call(
        &[platform_received()],
        C::RecordFacts(f.clone()),
        &ctx(LISTENER, 3),
        Ok(vec![E::FactsRecorded(FactsRecorded { facts: f, at: t(3) })]),
    );
    check_call(
        &[platform_received()],
        C::RecordFacts(facts(&[])),
        &ctx(LISTENER, 3),
        Err(DomainError::NoAbuseKind),
    );
}

#[test]
fn a_call_ends_once_and_after_it_began() {
    check_call(
        &[platform_received()],
        C::End,
        &ctx(LISTENER, 25),
        Ok(vec![ended(25)]),
    );
    check_call(
        &[platform_received(), ended(25)],
        C::End,
        &ctx(LISTENER, 26),
        Err(DomainError::CallAlreadyEnded),
    );
    check_call(
        &[platform_received()],
        C::End,
        &ctx(LISTENER, -1),
        Err(DomainError::EndedBeforeReceived),
    );
    // The listener may still complete the record after hanging up.
    check_call(
        &[platform_received(), ended(25)],
        C::RequestAnonymity,
        &ctx(LISTENER, 26),
        Ok(vec![anonymous(26)]),
    );
}

#[test]
fn a_call_joins_one_case_once_it_ended_and_is_sealed_then() {
    let attach = C::AttachToCase {
        case_id: CASE_1,
        new_case: true,
    };
    check_call(
        &[platform_received()],
        attach.clone(),
        &ctx(LISTENER, 5),
        Err(DomainError::CallNotEnded),
    );
    let attached = E::CallAttachedToCase(CallAttachedToCase {
        case_id: CASE_1,
        new_case: true,
        at: t(26),
    });
    check_call(
        &[platform_received(), ended(25)],
        attach.clone(),
        &ctx(LISTENER, 26),
        Ok(vec![attached.clone()]),
    );
    let given = [platform_received(), ended(25), attached];
    check_call(
        &given,
        C::AttachToCase {
            case_id: CASE_2,
            new_case: false,
        },
        &ctx(LISTENER, 27),
        Err(DomainError::CallAlreadyAttached(CASE_1)),
    );
    check_call(
        &given,
        C::AddNote(caller_says("more")),
        &ctx(LISTENER, 27),
        Err(DomainError::CallAlreadyAttached(CASE_1)),
    );
}

#[test]
fn the_summary_tells_the_case_what_it_needs() {
    let number = caller_says("0612345678");
    let state = call::fold(&[
        centre_received(),
        E::CallbackNumberRecorded(CallbackNumberRecorded { number, at: t(1) }),
        E::PersonDescribed(PersonDescribed {
            person: describe_victim(),
            at: t(2),
        }),
        ended(10),
    ]);
    let s = state.summary().expect("received");
    assert_eq!(s.number, NumberStatus::Left);
    assert!(s.ended);
    assert_eq!(s.door.taken_by(), takers(&[V1, V2]));
    assert_eq!(s.subjects.len(), 2);
    assert_eq!(state.duration_seconds(), Some(600));
    assert!(call::fold(&[]).summary().is_none());
}
