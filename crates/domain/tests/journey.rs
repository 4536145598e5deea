//! The whole journey of the seed, end to end, the way the server will drive the domain:
//! staff streams folded into the snapshots of the context, call summaries passed to the
//! case, and every event stored encoded and read back decoded.

mod common;

use common::*;
use ecoute_domain::call::{self, Answer, CallCommand, Facts, NumberStatus, PersonDescription};
use ecoute_domain::case::{self, CaseCommand, CaseStatus, Consent, ConsentDecision};
use ecoute_domain::event::{fold_call, fold_case, fold_staff};
use ecoute_domain::staff::{self, StaffCommand};
use ecoute_domain::vocabulary::*;
use ecoute_domain::*;
use std::collections::BTreeMap;

/// An in-memory log of encoded events, per stream, and a clock in minutes.
#[derive(Default)]
struct World {
    streams: BTreeMap<String, Vec<Encoded>>,
    minute: i64,
}

impl World {
    fn read(&self, stream: &str) -> Vec<Event> {
        self.streams
            .get(stream)
            .map(|es| {
                es.iter()
                    .map(|e| decode(e.type_name, e.schema_version, &e.payload).expect("decodes"))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn append(&mut self, stream: String, events: Vec<Event>) {
        let log = self.streams.entry(stream).or_default();
        log.extend(events.iter().map(|e| encode(e).expect("encodes")));
    }

    fn snapshot(&self, id: StaffId) -> StaffSnapshot {
        if id == ADMIN {
            // The bootstrap administrator is configured, not enrolled.
            return StaffSnapshot::new(ADMIN, [Role::Administrator]);
        }
        fold_staff(&self.read(&staff_stream(id)))
            .snapshot()
            .cloned()
            .expect("enrolled")
    }

    /// The context the server assembles: the time, the actor, the staff and calls named.
    fn context(&mut self, actor: StaffId, staff: &[StaffId], calls: &[CallId]) -> Context {
        self.minute += 1;
        let mut c = Context::new(t(self.minute), self.snapshot(actor));
        for s in staff {
            c = c.with_staff(self.snapshot(*s));
        }
        for id in calls {
            let summary = fold_call(&self.read(&call_stream(*id)))
                .summary()
                .expect("received");
            c = c.with_call(summary);
        }
        c
    }

    fn staff(&mut self, id: StaffId, command: StaffCommand) {
        let c = self.context(ADMIN, &[], &[]);
        let state = fold_staff(&self.read(&staff_stream(id)));
        let events = staff::decide(&state, &command, &c).expect("staff command accepted");
        self.append(
            staff_stream(id),
            events.into_iter().map(Event::from).collect(),
        );
    }

    fn call(
        &mut self,
        actor: StaffId,
        id: CallId,
        others: &[StaffId],
        command: CallCommand,
    ) -> Result<(), DomainError> {
        let c = self.context(actor, others, &[]);
        let state = fold_call(&self.read(&call_stream(id)));
        let events = call::decide(&state, &command, &c)?;
        self.append(
            call_stream(id),
            events.into_iter().map(Event::from).collect(),
        );
        Ok(())
    }

    fn case(
        &mut self,
        actor: StaffId,
        id: CaseId,
        staff: &[StaffId],
        calls: &[CallId],
        command: CaseCommand,
    ) -> Result<(), DomainError> {
        let c = self.context(actor, staff, calls);
        let state = fold_case(&self.read(&case_stream(id)));
        let events = case::decide(&state, &command, &c)?;
        self.append(
            case_stream(id),
            events.into_iter().map(Event::from).collect(),
        );
        Ok(())
    }

    /// Opens a case from a call, or links the call: both streams in one commit.
    fn attach(
        &mut self,
        actor: StaffId,
        call_id: CallId,
        case_id: CaseId,
        new_case: bool,
    ) -> Result<(), DomainError> {
        let command = if new_case {
            CaseCommand::Open { case_id, call_id }
        } else {
            CaseCommand::LinkCall(call_id)
        };
        self.case(actor, case_id, &[], &[call_id], command)?;
        self.call(
            actor,
            call_id,
            &[],
            CallCommand::AttachToCase { case_id, new_case },
        )
    }

    fn case_state(&self, id: CaseId) -> case::CaseState {
        fold_case(&self.read(&case_stream(id)))
    }
}

fn enrol(
    w: &mut World,
    id: StaffId,
    roles: &[Role],
    team: Option<TeamId>,
    centres: &[DepartementCode],
) {
    w.staff(
        id,
        StaffCommand::Enrol {
            staff_id: id,
            roles: roles.iter().copied().collect(),
            team,
        },
    );
    for c in centres {
        w.staff(id, StaffCommand::GrantAccreditation(*c));
    }
}

fn staffed_world() -> World {
    let mut w = World::default();
    enrol(&mut w, LISTENER, &[Role::PlatformListener], Some(TEAM), &[]);
    enrol(&mut w, V1, &[Role::Volunteer], None, &[rhone()]);
    enrol(&mut w, V2, &[Role::Volunteer], None, &[rhone()]);
    enrol(&mut w, R1, &[Role::Referent], None, &[rhone()]);
    w
}

#[test]
fn platform_call_anonymous_without_number_to_transfer_referent_callback_consent_action_close_reopen(
) {
    let mut w = staffed_world();

    // A neighbour calls the 3977; a platform listener answers.
    w.call(
        LISTENER,
        CALL_1,
        &[],
        CallCommand::Receive {
            call_id: CALL_1,
            caller: CALLER,
            answer: Answer::PlatformListener,
        },
    )
    .unwrap();
    // Anonymity, and no number kept: "ce sera à moi d'appeler".
    w.call(LISTENER, CALL_1, &[], CallCommand::RequestAnonymity)
        .unwrap();
    w.call(LISTENER, CALL_1, &[], CallCommand::RefuseNumberRetention)
        .unwrap();
    assert_eq!(
        w.call(
            LISTENER,
            CALL_1,
            &[],
            CallCommand::RecordCallbackNumber(caller_says("0612345678"))
        ),
        Err(DomainError::NumberRetentionRefused)
    );
    // The people and their links, without judging; the facts.
    w.call(
        LISTENER,
        CALL_1,
        &[],
        CallCommand::DescribePerson(describe_victim()),
    )
    .unwrap();
    w.call(
        LISTENER,
        CALL_1,
        &[],
        CallCommand::DescribePerson(PersonDescription {
            person: SON,
            role: PersonRole::Implicated,
            relation: Relation::Child,
            age_band: AgeBand::Under60,
            lives_with_victim: Some(true),
            name: None,
            address: None,
            description: Some(about_son("takes her pension")),
        }),
    )
    .unwrap();
    w.call(
        LISTENER,
        CALL_1,
        &[],
        CallCommand::RecordFacts(Facts {
            abuse_kinds: [AbuseKind::Financial, AbuseKind::Psychological]
                .into_iter()
                .collect(),
            setting: Setting::Home,
            since: Since::MoreThanAYear,
            frequency: Frequency::Weekly,
            evolution: Evolution::Worsening,
        }),
    )
    .unwrap();
    w.call(
        LISTENER,
        CALL_1,
        &[],
        CallCommand::AddNote(caller_says("afraid to be recognised")),
    )
    .unwrap();
    w.call(LISTENER, CALL_1, &[], CallCommand::End).unwrap();
    w.attach(LISTENER, CALL_1, CASE_1, true).unwrap();
    assert_eq!(
        fold_call(&w.read(&call_stream(CALL_1))).attached_to(),
        Some(CASE_1)
    );

    // "le relai sera pris ensuite par le centre de mon département".
    w.case(LISTENER, CASE_1, &[], &[], CaseCommand::Transfer(rhone()))
        .unwrap();
    // "D'autres bénévoles du centre (référents)": R1 took no call of the case.
    w.case(V1, CASE_1, &[R1], &[], CaseCommand::AssignReferent(R1))
        .unwrap();
    w.case(
        R1,
        CASE_1,
        &[],
        &[],
        CaseCommand::RecordAnalysis(about_victim("financial abuse by the son, isolation")),
    )
    .unwrap();
    // No number: no recontact; the case awaits the caller's call-back.
    assert_eq!(
        w.case(
            R1,
            CASE_1,
            &[],
            &[],
            CaseCommand::AttemptRecontact(RecontactOutcome::Reached)
        ),
        Err(DomainError::NoNumberToCall)
    );
    assert!(
        w.case_state(CASE_1).is_awaiting_call_back(),
        "with no number the case shows it awaits the caller's call-back"
    );
    w.case(R1, CASE_1, &[], &[], CaseCommand::AwaitCallBack)
        .unwrap();
    assert!(w.case_state(CASE_1).is_awaiting_call_back());

    // The caller calls again and this time leaves a number.
    w.call(
        LISTENER,
        CALL_2,
        &[],
        CallCommand::Receive {
            call_id: CALL_2,
            caller: CALLER,
            answer: Answer::PlatformListener,
        },
    )
    .unwrap();
    w.call(
        LISTENER,
        CALL_2,
        &[],
        CallCommand::RecordCallbackNumber(caller_says("06 12 34 56 78")),
    )
    .unwrap();
    w.call(LISTENER, CALL_2, &[], CallCommand::End).unwrap();
    w.attach(LISTENER, CALL_2, CASE_1, false).unwrap();
    assert!(!w.case_state(CASE_1).is_awaiting_call_back());

    // The referent calls back and proposes a solution; nothing without consent.
    w.case(
        R1,
        CASE_1,
        &[],
        &[],
        CaseCommand::AttemptRecontact(RecontactOutcome::Reached),
    )
    .unwrap();
    w.case(
        R1,
        CASE_1,
        &[],
        &[],
        CaseCommand::ProposeSolution {
            solution_id: SOL_1,
            kind: SolutionKind::ContactService,
            description: about_victim("social services of the town"),
        },
    )
    .unwrap();
    let act = CaseCommand::TakeAction {
        solution_id: SOL_1,
        note: about_victim("wrote to social services"),
    };
    assert_eq!(
        w.case(R1, CASE_1, &[], &[], act.clone()),
        Err(DomainError::NoConsent(SOL_1))
    );
    w.case(
        R1,
        CASE_1,
        &[],
        &[],
        CaseCommand::RecordConsent {
            solution_id: SOL_1,
            decision: ConsentDecision::Given,
        },
    )
    .unwrap();
    w.case(R1, CASE_1, &[], &[], act).unwrap();
    w.case(
        R1,
        CASE_1,
        &[],
        &[],
        CaseCommand::Close(CloseReason::Redirected),
    )
    .unwrap();
    assert_eq!(w.case_state(CASE_1).status(), CaseStatus::Closed);
    assert_eq!(
        w.case(R1, CASE_1, &[], &[], CaseCommand::AwaitCallBack),
        Err(DomainError::CaseIsClosed)
    );
    w.case(R1, CASE_1, &[], &[], CaseCommand::Reopen).unwrap();

    let state = w.case_state(CASE_1);
    assert_eq!(state.status(), CaseStatus::Open);
    assert_eq!(state.centre(), Some(CentreId::Departement(rhone())));
    assert_eq!(state.referent(), Some(R1));
    assert_eq!(state.calls().count(), 2);
    assert_eq!(state.solutions()[&SOL_1].consent, Consent::Given);
    assert_eq!(state.solutions()[&SOL_1].actions, 1);
}

#[test]
fn centre_call_answered_by_a_pair_then_a_revoked_volunteer_can_no_longer_answer() {
    let mut w = staffed_world();
    let by_pair = |a, b| Answer::VolunteerPair {
        centre: rhone(),
        pair: pair(a, b),
    };
    w.call(
        V1,
        CALL_1,
        &[V2],
        CallCommand::Receive {
            call_id: CALL_1,
            caller: CALLER,
            answer: by_pair(V1, V2),
        },
    )
    .unwrap();
    w.call(
        V2,
        CALL_1,
        &[],
        CallCommand::RecordCallbackNumber(caller_says("0478000000")),
    )
    .unwrap();
    w.call(V1, CALL_1, &[], CallCommand::End).unwrap();
    w.attach(V1, CALL_1, CASE_1, true).unwrap();
    let state = w.case_state(CASE_1);
    assert_eq!(state.opened_by(), Some(CentreId::Departement(rhone())));
    assert_eq!(state.call_takers(), &takers(&[V1, V2]));
    // A centre's case is not transferred.
    assert_eq!(
        w.case(LISTENER, CASE_1, &[], &[], CaseCommand::Transfer(rhone())),
        Err(DomainError::NotOpenedByPlatform)
    );
    // The fresh eye: V1 answered, so V1 cannot become referent even with the role.
    w.staff(V1, StaffCommand::GrantRole(Role::Referent));
    assert_eq!(
        w.case(R1, CASE_1, &[V1], &[], CaseCommand::AssignReferent(V1)),
        Err(DomainError::ReferentTookACall(V1))
    );
    w.case(V2, CASE_1, &[R1], &[], CaseCommand::AssignReferent(R1))
        .unwrap();
    w.case(
        R1,
        CASE_1,
        &[],
        &[],
        CaseCommand::AttemptRecontact(RecontactOutcome::NoAnswer),
    )
    .unwrap();

    // V2's accreditation is revoked: V2 no longer answers nor acts for the Rhône.
    w.staff(V2, StaffCommand::RevokeAccreditation(rhone()));
    assert_eq!(
        w.call(
            V1,
            CALL_2,
            &[V2],
            CallCommand::Receive {
                call_id: CALL_2,
                caller: CALLER,
                answer: by_pair(V1, V2)
            }
        ),
        // V1 is not told what V2 lacks.
        Err(DomainError::PartnerCannotAnswer)
    );
    assert_eq!(
        w.case(V2, CASE_1, &[], &[], CaseCommand::Close(CloseReason::Other)),
        Err(DomainError::NotAllowedOnCase {
            staff: V2,
            centre: CentreId::Departement(rhone())
        })
    );
    // R1's accreditation is revoked: the referent can no longer follow the case.
    w.staff(R1, StaffCommand::RevokeAccreditation(rhone()));
    assert_eq!(
        w.case(
            R1,
            CASE_1,
            &[],
            &[],
            CaseCommand::AttemptRecontact(RecontactOutcome::Reached)
        ),
        Err(DomainError::NotAllowedOnCase {
            staff: R1,
            centre: CentreId::Departement(rhone())
        })
    );
    // Every event on disk decodes; the states are the fold.
    assert_eq!(w.case_state(CASE_1).call_takers(), &takers(&[V1, V2]));
    assert_eq!(
        fold_call(&w.read(&call_stream(CALL_1))).number(),
        NumberStatus::Left
    );
}
