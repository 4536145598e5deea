//! Scenario tests of the helpline's read models: events in, models out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ecoute_domain::call::*;
use ecoute_domain::case::*;
use ecoute_domain::vocabulary::*;
use ecoute_domain::*;
use ecoute_projections::helpline::*;
use ecoute_projections::{ModelDb, Runtime, RuntimeConfig};
use ecoute_store::{EventData, EventStore, ExpectedVersion, MemoryStore, StoreConfig, StreamId};
use uuid::Uuid;

const LISTENER: StaffId = StaffId::from_uuid(Uuid::from_u128(0x11));
const REFERENT: StaffId = StaffId::from_uuid(Uuid::from_u128(0x22));
const TEAM: TeamId = TeamId::from_uuid(Uuid::from_u128(0x33));
const CALL: CallId = CallId::from_uuid(Uuid::from_u128(0xc1));
const CASE: CaseId = CaseId::from_uuid(Uuid::from_u128(0xca));
const CALLER: SubjectId = SubjectId::from_uuid(Uuid::from_u128(0x51));
const VICTIM: SubjectId = SubjectId::from_uuid(Uuid::from_u128(0x52));
const IMPLICATED: SubjectId = SubjectId::from_uuid(Uuid::from_u128(0x53));
const SOLUTION: SolutionId = SolutionId::from_uuid(Uuid::from_u128(0x5a));

/// Personal values the models must never hold.
const SECRETS: [&str; 5] = [
    "0601020304",
    "Jeanne Martin",
    "Paul Martin",
    "he takes her pension",
    "call the bank",
];

fn t(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + chrono::Duration::hours(hours)
}

fn personal(id: SubjectId, whose: Whose, value: &str) -> Personal<String> {
    Personal::new(Subject { id, whose }, value.to_owned())
}

fn dep(code: &str) -> DepartementCode {
    DepartementCode::parse(code).unwrap()
}

struct World {
    store: Arc<dyn EventStore>,
    runtime: Runtime<Event>,
    views: HelplineViews,
    next_id: u128,
}

impl World {
    fn new() -> World {
        let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
        let runtime = Runtime::start(
            store.clone(),
            ModelDb::temporary().unwrap(),
            decoder(),
            projections(),
            RuntimeConfig {
                chunk: 7,
                ..RuntimeConfig::default()
            },
        )
        .unwrap();
        let views = HelplineViews::new(&runtime, store.clone()).unwrap();
        World {
            store,
            runtime,
            views,
            next_id: 1000,
        }
    }

    async fn append(&mut self, stream: String, events: Vec<Event>) {
        let data = events
            .iter()
            .map(|e| {
                let enc = encode(e).unwrap();
                self.next_id += 1;
                EventData::new(
                    Uuid::from_u128(self.next_id),
                    enc.type_name,
                    u32::from(enc.schema_version),
                    enc.payload,
                )
            })
            .collect();
        self.store
            .append_to_stream(StreamId::new(stream).unwrap(), ExpectedVersion::Any, data)
            .await
            .unwrap();
        let head = self.store.head().await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.runtime.wait_for(head))
            .await
            .unwrap()
            .unwrap();
    }

    async fn call(&mut self, e: CallEvent) {
        self.append(call_stream(CALL), vec![e.into()]).await;
    }

    async fn case(&mut self, e: CaseEvent) {
        self.append(case_stream(CASE), vec![e.into()]).await;
    }

    fn summary(&self) -> CaseSummary {
        self.views.cases.summary(CASE).unwrap().unwrap()
    }

    fn queue_of(&self, centre: CentreId) -> Vec<(QueueKind, CaseId)> {
        let q = self.views.cases.queue(centre, t(1000)).unwrap();
        let mut out = Vec::new();
        for (k, v) in [
            (QueueKind::AwaitingTransfer, q.awaiting_transfer),
            (QueueKind::AwaitingReferent, q.awaiting_referent),
            (QueueKind::AwaitingRecontact, q.awaiting_recontact),
            (QueueKind::AwaitingCallBack, q.awaiting_call_back),
        ] {
            out.extend(v.into_iter().map(|e| (k, e.case_id)));
        }
        out
    }
}

/// The platform call of the seed: a caller who leaves a number, describes the
/// victim and the implicated son, and the facts.
async fn platform_call(w: &mut World, number: bool) {
    w.call(CallEvent::CallReceived(CallReceived {
        call_id: CALL,
        door: Door::Platform {
            listener: LISTENER,
            team: TEAM,
        },
        caller: CALLER,
        at: t(0),
    }))
    .await;
    if number {
        w.call(CallEvent::CallbackNumberRecorded(CallbackNumberRecorded {
            number: personal(CALLER, Whose::Caller, "0601020304"),
            at: t(0),
        }))
        .await;
    } else {
        w.call(CallEvent::NumberRetentionRefused(NumberRetentionRefused {
            at: t(0),
        }))
        .await;
    }
    let victim = PersonDescription {
        person: VICTIM,
        role: PersonRole::Victim,
        relation: Relation::Themself,
        age_band: AgeBand::From80To89,
        lives_with_victim: None,
        name: Some(personal(VICTIM, Whose::Victim, "Jeanne Martin")),
        address: None,
        description: None,
    };
    let son = PersonDescription {
        person: IMPLICATED,
        role: PersonRole::Implicated,
        relation: Relation::Child,
        age_band: AgeBand::Under60,
        lives_with_victim: Some(true),
        name: Some(personal(IMPLICATED, Whose::OtherPerson, "Paul Martin")),
        address: None,
        description: Some(personal(
            IMPLICATED,
            Whose::OtherPerson,
            "he takes her pension",
        )),
    };
    w.call(CallEvent::PersonDescribed(PersonDescribed {
        person: victim,
        at: t(0),
    }))
    .await;
    w.call(CallEvent::PersonDescribed(PersonDescribed {
        person: son,
        at: t(0),
    }))
    .await;
    let facts = Facts {
        abuse_kinds: BTreeSet::from([AbuseKind::Financial, AbuseKind::Psychological]),
        setting: Setting::Home,
        since: Since::MoreThanAYear,
        frequency: Frequency::Weekly,
        evolution: Evolution::Worsening,
    };
    w.call(CallEvent::FactsRecorded(FactsRecorded { facts, at: t(0) }))
        .await;
    w.call(CallEvent::CallEnded(CallEnded {
        duration_seconds: 754,
        at: t(0),
    }))
    .await;
    w.call(CallEvent::CallAttachedToCase(CallAttachedToCase {
        case_id: CASE,
        new_case: true,
        at: t(0),
    }))
    .await;
    let linked = LinkedCall {
        call_id: CALL,
        centre: CentreId::NationalPlatform,
        taken_by: BTreeSet::from([LISTENER]),
        number: if number {
            NumberStatus::Left
        } else {
            NumberStatus::Refused
        },
        subjects: BTreeMap::from([
            (CALLER, Whose::Caller),
            (VICTIM, Whose::Victim),
            (IMPLICATED, Whose::OtherPerson),
        ]),
    };
    w.case(CaseEvent::CaseOpened(CaseOpened {
        case_id: CASE,
        opened_by: CentreId::NationalPlatform,
        call: linked,
        at: t(0),
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_journey_through_every_read_model() {
    let mut w = World::new();
    let lyon = CentreId::Departement(dep("69"));
    platform_call(&mut w, true).await;
    assert_eq!(
        w.queue_of(CentreId::NationalPlatform),
        vec![(QueueKind::AwaitingTransfer, CASE)]
    );

    w.case(CaseEvent::CaseTransferred(CaseTransferred {
        to: dep("69"),
        from: None,
        at: t(1),
    }))
    .await;
    assert!(w.queue_of(CentreId::NationalPlatform).is_empty());
    assert_eq!(w.queue_of(lyon), vec![(QueueKind::AwaitingReferent, CASE)]);
    let q = w.views.cases.queue(lyon, t(5)).unwrap();
    assert_eq!(q.awaiting_referent[0].since, t(1));
    assert_eq!(q.awaiting_referent[0].waited, chrono::Duration::hours(4));

    w.case(CaseEvent::ReferentAssigned(ReferentAssigned {
        referent: REFERENT,
        replaces: None,
        at: t(20),
    }))
    .await;
    assert_eq!(w.queue_of(lyon), vec![(QueueKind::AwaitingRecontact, CASE)]);
    let load = w.views.cases.caseload(REFERENT).unwrap();
    assert_eq!(load.len(), 1);
    assert_eq!(
        (load[0].case_id, load[0].centre, load[0].since),
        (CASE, lyon, t(20))
    );

    w.case(CaseEvent::RecontactAttempted(RecontactAttempted {
        outcome: RecontactOutcome::NoAnswer,
        at: t(30),
    }))
    .await;
    assert_eq!(w.queue_of(lyon), vec![(QueueKind::AwaitingRecontact, CASE)]);
    w.case(CaseEvent::RecontactAttempted(RecontactAttempted {
        outcome: RecontactOutcome::Reached,
        at: t(40),
    }))
    .await;
    assert!(w.queue_of(lyon).is_empty());

    w.case(CaseEvent::SolutionProposed(SolutionProposed {
        solution_id: SOLUTION,
        kind: SolutionKind::ContactService,
        description: personal(CALLER, Whose::Caller, "call the bank"),
        at: t(41),
    }))
    .await;
    w.case(CaseEvent::ConsentGiven(ConsentGiven {
        solution_id: SOLUTION,
        at: t(41),
    }))
    .await;
    w.case(CaseEvent::ActionTaken(ActionTaken {
        solution_id: SOLUTION,
        note: personal(CALLER, Whose::Caller, "call the bank"),
        at: t(50),
    }))
    .await;
    let s = w.summary();
    assert_eq!(s.status, CaseStatus::Open);
    assert_eq!(
        (s.opened_by, s.centre, s.referent),
        (CentreId::NationalPlatform, lyon, Some(REFERENT))
    );
    assert_eq!(s.calls, vec![CALL]);
    assert!(s.can_recontact && !s.awaiting_call_back);
    assert_eq!(s.recontact_attempts, 2);
    assert_eq!(
        s.solutions,
        vec![SolutionSummary {
            id: SOLUTION,
            kind: SolutionKind::ContactService,
            consent: Consent::Given,
            actions: 1
        }]
    );
    assert_eq!(s.last_activity, t(50));

    w.case(CaseEvent::CaseClosed(CaseClosed {
        reason: CloseReason::Resolved,
        at: t(60),
    }))
    .await;
    let s = w.summary();
    assert_eq!(
        (s.status, s.closed_reason),
        (CaseStatus::Closed, Some(CloseReason::Resolved))
    );
    assert!(
        w.views.cases.caseload(REFERENT).unwrap().is_empty(),
        "a closed case leaves the caseload"
    );

    // The timeline: every event of the case and its call, in order, in plain words, no personal value.
    let timeline = w.views.timelines.of_case(CASE).await.unwrap();
    assert_eq!(timeline.len(), 7 + 9, "7 call events and 9 case events");
    assert!(timeline.windows(2).all(|p| p[0].position < p[1].position));
    let texts: Vec<&str> = timeline.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts[0],
        "call received at the national platform, answered by a listener"
    );
    assert!(texts.contains(&"facts recorded: psychological, financial; setting: home; since: more than a year; frequency: weekly; evolution: worsening"), "{texts:#?}");
    assert!(texts.contains(&"person described: implicated, relation to the victim: child, age under 60, lives with the victim"), "{texts:#?}");
    assert!(texts.contains(&"transferred to centre 69"));
    assert!(texts.contains(&"call ended after 12 min 34 s"));
    assert_eq!(*texts.last().unwrap(), "case closed: resolved");
    for e in &timeline {
        for secret in SECRETS {
            assert!(
                !e.text.contains(secret),
                "personal value in the timeline: {}",
                e.text
            );
        }
    }

    // Statistics: counts, no personal data.
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let all = StatisticsQuery {
        from: day,
        to: day + chrono::Days::new(5),
        centre: None,
    };
    let r = w.views.statistics.query(&all).unwrap();
    assert_eq!(r.calls_per_day, BTreeMap::from([(day, 1)]));
    assert_eq!(
        r.calls_by_door,
        BTreeMap::from([("platform".to_string(), 1)])
    );
    assert_eq!(
        r.cases_opened_by_centre,
        BTreeMap::from([("national".to_string(), 1)])
    );
    assert_eq!(
        r.cases_transferred_to_centre,
        BTreeMap::from([("69".to_string(), 1)])
    );
    assert_eq!(
        r.abuse_kinds,
        BTreeMap::from([
            ("financial".to_string(), 1),
            ("psychological".to_string(), 1)
        ])
    );
    assert_eq!(r.settings, BTreeMap::from([("home".to_string(), 1)]));
    assert_eq!(
        r.implicated_relations,
        BTreeMap::from([("child".to_string(), 1)])
    );
    assert_eq!(r.call_to_referent.count, 1);
    assert!((r.call_to_referent.mean_hours - 20.0).abs() < 1e-9);
    assert_eq!(
        (r.call_to_referent.within_24h, r.call_to_referent.within_48h),
        (1.0, 1.0)
    );
    assert!((r.referent_to_first_recontact.mean_hours - 10.0).abs() < 1e-9);
    assert_eq!(
        r.solutions_proposed,
        BTreeMap::from([("contact service".to_string(), 1)])
    );
    assert_eq!((r.solutions_consented, r.consent_share), (1, 1.0));
    // Filtered by centre: the call was taken by the platform, the case is followed in 69.
    let lyon_only = w
        .views
        .statistics
        .query(&StatisticsQuery {
            centre: Some(lyon),
            ..all.clone()
        })
        .unwrap();
    assert!(lyon_only.calls_per_day.is_empty());
    assert_eq!(lyon_only.cases_transferred_to_centre.len(), 1);
    assert_eq!(lyon_only.call_to_referent.count, 1);
    // Filtered by period: nothing the week after.
    let later = StatisticsQuery {
        from: day + chrono::Days::new(7),
        to: day + chrono::Days::new(14),
        centre: None,
    };
    assert_eq!(
        w.views.statistics.query(&later).unwrap(),
        StatisticsReport::default()
    );

    // The subject index: each person's data, and only theirs.
    let caller = w.views.subjects.refs(CALLER).await.unwrap();
    let fields: Vec<(&str, Vec<String>)> = caller
        .iter()
        .map(|r| (r.event_type.as_str(), r.fields.clone()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("CallReceived", vec!["call".to_string()]),
            (
                "CallbackNumberRecorded",
                vec!["callback_number".to_string()]
            ),
            ("SolutionProposed", vec!["description".to_string()]),
            ("ActionTaken", vec!["note".to_string()]),
        ]
    );
    let son = w.views.subjects.refs(IMPLICATED).await.unwrap();
    assert_eq!(son.len(), 1);
    assert_eq!((son[0].whose, son[0].fields.len()), (Whose::OtherPerson, 3));
    assert_eq!(son[0].fields[0], "profile");
    assert_eq!(w.views.subjects.refs(VICTIM).await.unwrap().len(), 1);
    assert!(w
        .views
        .subjects
        .refs(SubjectId::from_uuid(Uuid::from_u128(0xdead)))
        .await
        .unwrap()
        .is_empty());
    assert!(w.views.subjects.any(CALLER).unwrap());
    assert!(!w
        .views
        .subjects
        .any(SubjectId::from_uuid(Uuid::from_u128(0xdead)))
        .unwrap());
    w.runtime.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_number_the_case_waits_for_the_caller() {
    let mut w = World::new();
    let centre = CentreId::Departement(dep("2A"));
    platform_call(&mut w, false).await;
    w.case(CaseEvent::CaseTransferred(CaseTransferred {
        to: dep("2A"),
        from: None,
        at: t(2),
    }))
    .await;
    assert_eq!(
        w.queue_of(centre),
        vec![(QueueKind::AwaitingReferent, CASE)]
    );
    w.case(CaseEvent::ReferentAssigned(ReferentAssigned {
        referent: REFERENT,
        replaces: None,
        at: t(3),
    }))
    .await;
    assert_eq!(
        w.queue_of(centre),
        vec![(QueueKind::AwaitingCallBack, CASE)]
    );
    let s = w.summary();
    assert!(!s.can_recontact && s.awaiting_call_back);
    assert_eq!(
        w.views.cases.caseload(REFERENT).unwrap()[0].queue,
        Some(QueueKind::AwaitingCallBack)
    );
    // Reassignment to another referent moves the caseload entry.
    let other = StaffId::from_uuid(Uuid::from_u128(0x23));
    w.case(CaseEvent::ReferentAssigned(ReferentAssigned {
        referent: other,
        replaces: Some(REFERENT),
        at: t(4),
    }))
    .await;
    assert!(w.views.cases.caseload(REFERENT).unwrap().is_empty());
    assert_eq!(w.views.cases.caseload(other).unwrap().len(), 1);
    // The statistics keep no trace of who: only counts.
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let r = w
        .views
        .statistics
        .query(&StatisticsQuery {
            from: day,
            to: day,
            centre: None,
        })
        .unwrap();
    assert_eq!(
        r.call_to_referent.count, 1,
        "only the first referent counts"
    );
    assert_eq!(r.referent_to_first_recontact.count, 0);
    w.runtime.stop().unwrap();
}
