//! Events for the store: every type round-trips through bincode, old versions are
//! upcast, bad bytes give errors and never panics, and personal values never print.

mod common;

use common::*;
use ecoute_domain::call::*;
use ecoute_domain::case::*;
use ecoute_domain::event::{DecodeError, EVENT_TYPES, MAX_PAYLOAD_BYTES};
use ecoute_domain::staff::*;
use ecoute_domain::vocabulary::*;
use ecoute_domain::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn person() -> PersonDescription {
    PersonDescription {
        person: SON,
        role: PersonRole::Implicated,
        relation: Relation::Child,
        age_band: AgeBand::From60To69,
        lives_with_victim: Some(true),
        name: Some(about_son("SECRET-NAME Durand")),
        address: Some(about_son("SECRET-ADDRESS 3 rue des Lilas")),
        description: Some(about_son("SECRET-DESCRIPTION shouts at her")),
    }
}

fn linked() -> LinkedCall {
    LinkedCall {
        call_id: CALL_1,
        centre: CentreId::NationalPlatform,
        taken_by: takers(&[LISTENER]),
        number: NumberStatus::Left,
        subjects: [(CALLER, Whose::Caller), (VICTIM, Whose::Victim)]
            .into_iter()
            .collect(),
    }
}

/// One event of every type, with personal values marked `SECRET`.
fn every_event() -> Vec<Event> {
    let at = t(7);
    vec![
        CallEvent::CallReceived(CallReceived {
            call_id: CALL_1,
            door: Door::Centre {
                centre: d("2A"),
                pair: pair(V1, V2),
            },
            caller: CALLER,
            at,
        })
        .into(),
        CallEvent::AnonymityRequested(AnonymityRequested { at }).into(),
        CallEvent::NumberRetentionRefused(NumberRetentionRefused { at }).into(),
        CallEvent::CallbackNumberRecorded(CallbackNumberRecorded {
            number: caller_says("SECRET-0612345678"),
            at,
        })
        .into(),
        CallEvent::PersonDescribed(PersonDescribed {
            person: person(),
            at,
        })
        .into(),
        CallEvent::FactsRecorded(FactsRecorded {
            facts: Facts {
                abuse_kinds: [AbuseKind::Financial, AbuseKind::DeprivationOfRights]
                    .into_iter()
                    .collect(),
                setting: Setting::Institution,
                since: Since::MonthsToAYear,
                frequency: Frequency::Daily,
                evolution: Evolution::Stable,
            },
            at,
        })
        .into(),
        CallEvent::ListeningNoteRecorded(ListeningNoteRecorded {
            note: caller_says("SECRET-NOTE"),
            at,
        })
        .into(),
        CallEvent::CallEnded(CallEnded {
            duration_seconds: 1_234,
            at,
        })
        .into(),
        CallEvent::CallAttachedToCase(CallAttachedToCase {
            case_id: CASE_1,
            new_case: true,
            at,
        })
        .into(),
        CaseEvent::CaseOpened(CaseOpened {
            case_id: CASE_1,
            opened_by: CentreId::NationalPlatform,
            call: linked(),
            at,
        })
        .into(),
        CaseEvent::CallLinked(CallLinked { call: linked(), at }).into(),
        CaseEvent::CaseTransferred(CaseTransferred {
            to: d("974"),
            from: Some(d("2B")),
            at,
        })
        .into(),
        CaseEvent::ReferentAssigned(ReferentAssigned {
            referent: R1,
            replaces: Some(R2),
            at,
        })
        .into(),
        CaseEvent::ReferentReleased(ReferentReleased {
            referent: R1,
            took_call: CALL_2,
            at,
        })
        .into(),
        CaseEvent::AnalysisRecorded(AnalysisRecorded {
            analysis: about_victim("SECRET-ANALYSIS"),
            at,
        })
        .into(),
        CaseEvent::RecontactAttempted(RecontactAttempted {
            outcome: RecontactOutcome::WrongNumber,
            at,
        })
        .into(),
        CaseEvent::AwaitingCallBack(AwaitingCallBack { at }).into(),
        CaseEvent::SolutionProposed(SolutionProposed {
            solution_id: SOL_1,
            kind: SolutionKind::ContactInstitution,
            description: about_victim("SECRET-SOLUTION"),
            at,
        })
        .into(),
        CaseEvent::ConsentGiven(ConsentGiven {
            solution_id: SOL_1,
            at,
        })
        .into(),
        CaseEvent::ConsentRefused(ConsentRefused {
            solution_id: SOL_1,
            at,
        })
        .into(),
        CaseEvent::ConsentWithdrawn(ConsentWithdrawn {
            solution_id: SOL_1,
            at,
        })
        .into(),
        CaseEvent::ActionTaken(ActionTaken {
            solution_id: SOL_1,
            note: about_victim("SECRET-ACTION"),
            at,
        })
        .into(),
        CaseEvent::CaseClosed(CaseClosed {
            reason: CloseReason::CallerDeclined,
            at,
        })
        .into(),
        CaseEvent::CaseReopened(CaseReopened {
            reason: ReopenReason::NewCall(CALL_3),
            at,
        })
        .into(),
        StaffEvent::StaffEnrolled(StaffEnrolled {
            staff_id: LISTENER,
            roles: [Role::PlatformListener, Role::Auditor]
                .into_iter()
                .collect(),
            team: Some(TEAM),
            at,
        })
        .into(),
        StaffEvent::RoleGranted(RoleGranted {
            role: Role::DataProtectionOfficer,
            at,
        })
        .into(),
        StaffEvent::RoleRevoked(RoleRevoked {
            role: Role::Administrator,
            at,
        })
        .into(),
        StaffEvent::TeamJoined(TeamJoined { team: TEAM, at }).into(),
        StaffEvent::AccreditationGranted(AccreditationGranted {
            centre: d("01"),
            at,
        })
        .into(),
        StaffEvent::AccreditationRevoked(AccreditationRevoked {
            centre: d("976"),
            at,
        })
        .into(),
        StaffEvent::TokenIssued(TokenIssued {
            token_id: TokenId::from_uuid(uuid::Uuid::from_u128(7)),
            digest: TokenDigest([9; 32]),
            at,
        })
        .into(),
        StaffEvent::TokenRevoked(TokenRevoked {
            token_id: TokenId::from_uuid(uuid::Uuid::from_u128(7)),
            at,
        })
        .into(),
        CaseEvent::DeadlineArmed(DeadlineArmed {
            kind: DeadlineKind::FollowUp(SOL_1),
            due: at,
            at,
        })
        .into(),
        CaseEvent::DeadlineMissed(DeadlineMissed {
            kind: DeadlineKind::Referent,
            due: at,
            at,
        })
        .into(),
        CaseEvent::DeadlineSatisfied(DeadlineSatisfied {
            kind: DeadlineKind::Recontact,
            at,
        })
        .into(),
        ecoute_domain::subject::SubjectEvent::SubjectErased(
            ecoute_domain::subject::SubjectErased {
                subject: CALLER,
                reason: ecoute_domain::subject::ErasureReason::Retention,
                rule: Some(RetentionRule::InactiveCase),
                at,
            },
        )
        .into(),
        ecoute_domain::subject::SubjectEvent::NumberErased(ecoute_domain::subject::NumberErased {
            subject: CALLER,
            rule: RetentionRule::CallbackNumber,
            at,
        })
        .into(),
        CallEvent::CallPersonsErased(CallPersonsErased {
            rule: RetentionRule::UnattachedCall,
            subjects: vec![CALLER, VICTIM],
            at,
        })
        .into(),
        CaseEvent::InactivityFlagged(InactivityFlagged {
            last_activity: t(1),
            closes_at: t(9),
            at,
        })
        .into(),
        CaseEvent::CaseKept(CaseKept {
            reason: KeepReason::ProceedingsUnderWay,
            at,
        })
        .into(),
        CaseEvent::CallbackNumbersErased(CallbackNumbersErased {
            numbers: vec![(CALL_1, CALLER)],
            at,
        })
        .into(),
        CaseEvent::CasePersonsErased(CasePersonsErased {
            rule: RetentionRule::ClosedCase,
            subjects: vec![CALLER, VICTIM, SON],
            at,
        })
        .into(),
    ]
}

#[test]
fn subject_erased_version_1_is_upcast_with_the_rule_of_its_time() {
    // Version 1 had no rule: its one retention rule erased the persons of closed
    // cases. Written out by hand: subject id (16 bytes), reason, at.
    let mut v1 = vec![16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x01];
    let v1_request = {
        let mut b = v1.clone();
        b.push(0);
        b
    };
    v1.push(1); // reason: Retention
    let at = b"2024-11-05T09:30:00Z";
    for (bytes, reason, rule) in [
        (
            &mut v1,
            ecoute_domain::subject::ErasureReason::Retention,
            Some(RetentionRule::ClosedCase),
        ),
        (
            &mut v1_request.clone(),
            ecoute_domain::subject::ErasureReason::Request,
            None,
        ),
    ] {
        bytes.push(20);
        bytes.extend_from_slice(at);
        let event = decode("SubjectErased", 1, bytes).expect("version 1 decodes");
        let Event::Subject(ecoute_domain::subject::SubjectEvent::SubjectErased(e)) = event else {
            panic!("not an erasure: {event:?}");
        };
        assert_eq!((e.reason, e.rule), (reason, rule));
        assert!(decode("SubjectErased", 2, bytes).is_err());
    }
}

#[test]
fn every_event_type_round_trips_through_bincode() {
    let events = every_event();
    let names: BTreeSet<&str> = events.iter().map(|e| e.type_name()).collect();
    let registered: BTreeSet<&str> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, registered, "the sample covers every event type");
    assert_eq!(events.len(), EVENT_TYPES.len());
    for event in events {
        let encoded = encode(&event).expect("encodes");
        assert_eq!(encoded.type_name, event.type_name());
        assert_eq!(encoded.schema_version, event.schema_version());
        let back =
            decode(encoded.type_name, encoded.schema_version, &encoded.payload).expect("decodes");
        assert_eq!(back, event);
        assert_eq!(back.at(), t(7));
    }
}

#[test]
fn person_described_is_version_3_and_versions_1_and_2_are_upcast() {
    // A `PersonDescribed` of schema version 1, as stored before `lives_with_victim`
    // existed: bincode 2, standard configuration, written out by hand.
    #[rustfmt::skip]
    let stored_v1: &[u8] = &[
        16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x02, // person: subject id (16 bytes)
        0,                                                         // role: Victim
        0,                                                         // relation: Themself
        3,                                                         // age band: 80 to 89
        1,                                                         // name: Some
        16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x02, //   subject id
        1,                                                         //   whose: Victim
        10, b'M', b'm', b'e', b' ', b'D', b'u', b'r', b'a', b'n', b'd', // value: "Mme Durand"
        0,                                                         // address: None
        0,                                                         // description: None
        20, b'2', b'0', b'2', b'4', b'-', b'1', b'1', b'-', b'0', b'5', b'T',
            b'0', b'9', b':', b'3', b'0', b':', b'0', b'0', b'Z',    // at
    ];
    let event = decode("PersonDescribed", 1, stored_v1).expect("version 1 decodes");
    let expected: Event = CallEvent::PersonDescribed(PersonDescribed {
        person: describe_victim(),
        at: "2024-11-05T09:30:00Z".parse().expect("a date"),
    })
    .into();
    assert_eq!(event, expected);
    // Version 2 added `lives_with_victim` (here None) after the age band; its values
    // were still in clear. Both come back as clear values.
    let mut stored_v2 = stored_v1[..20].to_vec();
    stored_v2.push(0);
    stored_v2.extend_from_slice(&stored_v1[20..]);
    let event2 = decode("PersonDescribed", 2, &stored_v2).expect("version 2 decodes");
    assert_eq!(event2, expected);
    // Re-encoded, it is version 3 (values as clear, sealed or erased), and the bytes of
    // one version are not read as another.
    let v3 = encode(&event).expect("encodes");
    assert_eq!(v3.schema_version, 3);
    assert!(decode("PersonDescribed", 1, &v3.payload).is_err());
    assert!(decode("PersonDescribed", 2, &v3.payload).is_err());
    assert!(decode("PersonDescribed", 3, stored_v1).is_err());
}

#[test]
fn sealed_values_are_stored_as_given_and_opened_back() {
    // A stand-in cipher: the domain never sees a key, it only carries what it is given.
    let seal = |_: Subject, plain: &[u8]| -> Result<Sealed, ()> {
        Ok(Sealed {
            nonce: vec![7; 24],
            ciphertext: plain.iter().rev().map(|b| b ^ 0x5a).collect(),
        })
    };
    let open = |_: Subject, s: &Sealed| -> Result<Option<String>, ()> {
        Ok(Some(
            String::from_utf8(s.ciphertext.iter().rev().map(|b| b ^ 0x5a).collect()).unwrap(),
        ))
    };
    for original in every_event() {
        let mut event = original.clone();
        let n = event.personal_values_mut().len();
        assert_eq!(n, event.personal_fields().len());
        for v in event.personal_values_mut() {
            v.seal(seal).unwrap();
            assert!(!v.is_clear() && v.reveal().is_none());
        }
        let enc = encode(&event).expect("encodes");
        assert!(
            !enc.payload.windows(6).any(|w| w == b"SECRET"),
            "{} holds a value in clear once sealed",
            enc.type_name
        );
        let mut back = decode(enc.type_name, enc.schema_version, &enc.payload).expect("decodes");
        assert_eq!(back, event, "sealed values round-trip");
        for v in back.personal_values_mut() {
            v.open(open).unwrap();
        }
        assert_eq!(back, original, "opened, they are the values given");
        // A destroyed key: the value is erased, for good.
        let mut erased = event.clone();
        for v in erased.personal_values_mut() {
            v.open(|_, _| Ok::<_, ()>(None)).unwrap();
            assert!(matches!(v.protected(), Protected::Erased));
        }
        let enc = encode(&erased).expect("encodes");
        assert_eq!(
            decode(enc.type_name, enc.schema_version, &enc.payload).unwrap(),
            erased
        );
    }
}

#[test]
fn unknown_types_versions_and_bad_payloads_are_errors() {
    let good = encode(&every_event()[7]).expect("encodes");
    assert_eq!(
        decode("CallTeleported", 1, &good.payload),
        Err(DecodeError::UnknownType("CallTeleported".into()))
    );
    assert_eq!(
        decode("CallEnded", 9, &good.payload),
        Err(DecodeError::UnknownVersion {
            type_name: "CallEnded".into(),
            version: 9
        })
    );
    let mut trailing = good.payload.clone();
    trailing.push(0);
    assert!(matches!(
        decode("CallEnded", 1, &trailing),
        Err(DecodeError::TrailingBytes { extra: 1, .. })
    ));
    for cut in 0..good.payload.len() {
        assert!(
            decode("CallEnded", 1, &good.payload[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    // A string announcing 2^60 bytes is refused by the size limit, not allocated.
    let mut huge = vec![16u8];
    huge.extend([0u8; 16]);
    huge.push(0xFD); // u64 length follows
    huge.extend((1u64 << 60).to_le_bytes());
    assert!(decode("ListeningNoteRecorded", 1, &huge).is_err());
    assert!(decode("ListeningNoteRecorded", 2, &huge).is_err());
    assert!(decode("CallEnded", 1, &vec![0u8; MAX_PAYLOAD_BYTES + 1]).is_err());
    // An invalid département code in stored bytes is refused too.
    let mut bad_centre = encode(&every_event()[28]).expect("encodes").payload;
    bad_centre[1] = b'2';
    bad_centre[2] = b'0';
    assert!(decode("AccreditationGranted", 1, &bad_centre).is_err());
}

#[test]
fn debug_of_events_shows_no_personal_value() {
    for event in every_event() {
        for printed in [format!("{event:?}"), format!("{event:#?}")] {
            assert!(!printed.contains("SECRET"), "{printed}");
        }
    }
    let printed = format!("{:?}", every_event()[3]);
    assert!(printed.contains("redacted"), "{printed}");
}

type Listed = (&'static str, SubjectId, Whose);

#[test]
fn personal_fields_list_every_personal_value_and_its_subject() {
    let listed: Vec<(&str, Vec<Listed>)> = every_event()
        .iter()
        .map(|e| {
            (
                e.type_name(),
                e.personal_fields()
                    .into_iter()
                    .map(|f| (f.field, f.subject.id, f.subject.whose))
                    .collect(),
            )
        })
        .filter(|(_, fields): &(&str, Vec<_>)| !fields.is_empty())
        .collect();
    assert_eq!(
        listed,
        vec![
            (
                "CallbackNumberRecorded",
                vec![("callback_number", CALLER, Whose::Caller)]
            ),
            (
                "PersonDescribed",
                vec![
                    ("name", SON, Whose::OtherPerson),
                    ("address", SON, Whose::OtherPerson),
                    ("description", SON, Whose::OtherPerson)
                ]
            ),
            (
                "ListeningNoteRecorded",
                vec![("note", CALLER, Whose::Caller)]
            ),
            (
                "AnalysisRecorded",
                vec![("analysis", VICTIM, Whose::Victim)]
            ),
            (
                "SolutionProposed",
                vec![("description", VICTIM, Whose::Victim)]
            ),
            ("ActionTaken", vec![("note", VICTIM, Whose::Victim)]),
        ]
    );
    // Every event that holds a SECRET lists it: the encoded bytes of the others hold none.
    for event in every_event() {
        let bytes = encode(&event).expect("encodes").payload;
        let holds_secret = bytes.windows(6).any(|w| w == b"SECRET");
        assert_eq!(
            holds_secret,
            !event.personal_fields().is_empty(),
            "{}",
            event.type_name()
        );
    }
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        type_index in 0..EVENT_TYPES.len(),
        version in 0u16..4,
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let (name, _) = EVENT_TYPES[type_index];
        let _ = decode(name, version, &bytes);
    }

    #[test]
    fn flipping_a_byte_of_a_valid_event_never_panics(
        index in 0..30usize,
        position in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let events = every_event();
        let encoded = encode(&events[index % events.len()]).expect("encodes");
        let mut bytes = encoded.payload.clone();
        let i = position.index(bytes.len());
        bytes[i] = value;
        let _ = decode(encoded.type_name, encoded.schema_version, &bytes);
    }
}
