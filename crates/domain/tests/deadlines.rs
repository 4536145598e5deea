//! Deadlines: armed in the same commit as the event that causes them, satisfied by the
//! events that keep them, missed only when still unkept and due — scenarios per
//! deadline, and a property test against a simple model of the promises.

mod common;

use common::*;
use ecoute_domain::call::NumberStatus;
use ecoute_domain::case::*;
use ecoute_domain::vocabulary::*;
use ecoute_domain::*;
use proptest::prelude::*;
use CaseCommand as C;
use CaseEvent as E;

fn policy() -> DeadlinePolicy {
    DeadlinePolicy::default()
}

/// A context at minute `m` with the default deadlines.
fn dctx(actor: StaffId, m: i64) -> Context {
    ctx(actor, m).with_deadlines(policy())
}

/// A platform case, opened at minute 0; no deadline until it is transferred.
fn opened(number: NumberStatus) -> CaseState {
    fold(&[E::CaseOpened(CaseOpened {
        case_id: CASE_1,
        opened_by: CentreId::NationalPlatform,
        call: linked(&platform_call(CALL_1, number)),
        at: t(0),
    })])
}

/// Decides and applies; panics with the reason when refused.
fn run(state: CaseState, command: C, ctx: &Context) -> (CaseState, Vec<E>) {
    let events = decide(&state, &command, ctx).unwrap_or_else(|e| panic!("{command:?}: {e}"));
    (events.iter().fold(state, evolve), events)
}

fn armed(kind: DeadlineKind, m: i64, delay: chrono::Duration) -> E {
    E::DeadlineArmed(DeadlineArmed {
        kind,
        due: t(m) + delay,
        at: t(m),
    })
}

fn satisfied(kind: DeadlineKind, m: i64) -> E {
    E::DeadlineSatisfied(DeadlineSatisfied { kind, at: t(m) })
}

#[test]
fn a_transferred_case_gets_a_referent_within_48_hours() {
    let (s, events) = run(
        opened(NumberStatus::Left),
        C::Transfer(rhone()),
        &dctx(LISTENER, 1),
    );
    assert_eq!(
        events[1],
        armed(DeadlineKind::Referent, 1, policy().referent)
    );
    assert_eq!(events.len(), 2, "in the same commit as the transfer");
    let due = t(1) + policy().referent;
    // Not due yet: refused; due: missed, and the case is overdue.
    let miss = C::MissDeadline {
        kind: DeadlineKind::Referent,
        due,
    };
    assert_eq!(
        decide(&s, &miss, &dctx(LISTENER, 60)),
        Err(DomainError::DeadlineNotDue)
    );
    let late = 1 + 48 * 60;
    let (s, events) = run(s, miss.clone(), &dctx(LISTENER, late));
    assert_eq!(
        events,
        vec![E::DeadlineMissed(DeadlineMissed {
            kind: DeadlineKind::Referent,
            due,
            at: t(late),
        })]
    );
    assert_eq!(
        s.overdue().collect::<Vec<_>>(),
        vec![DeadlineKind::Referent]
    );
    // Fired once: a second scheduler, or a restart, is refused.
    assert_eq!(
        decide(&s, &miss, &dctx(LISTENER, late + 1)),
        Err(DomainError::DeadlineAlreadyMissed)
    );
    // Naming the referent keeps it (late), clears the flag, and arms the call back.
    let (s, events) = run(s, C::AssignReferent(R1), &dctx(V1, late + 5));
    assert_eq!(
        events[1..],
        [
            satisfied(DeadlineKind::Referent, late + 5),
            armed(DeadlineKind::Recontact, late + 5, policy().recontact),
        ]
    );
    assert_eq!(s.overdue().count(), 0);
    // A late fire of the kept deadline finds the case moved on.
    assert_eq!(
        decide(&s, &miss, &dctx(LISTENER, late + 6)),
        Err(DomainError::DeadlineNotArmed)
    );
}

#[test]
fn a_referent_calls_back_within_72_hours_when_a_number_was_left() {
    let (s, _) = run(
        opened(NumberStatus::Left),
        C::Transfer(rhone()),
        &dctx(LISTENER, 1),
    );
    let (s, _) = run(s, C::AssignReferent(R1), &dctx(V1, 2));
    assert!(s.deadlines().contains_key(&DeadlineKind::Recontact));
    let (s, events) = run(
        s,
        C::AttemptRecontact(RecontactOutcome::NoAnswer),
        &dctx(R1, 3),
    );
    assert_eq!(events[1], satisfied(DeadlineKind::Recontact, 3));
    assert!(s.deadlines().is_empty());
    // With no number there is nobody to call back: no recontact deadline.
    let (s, _) = run(
        opened(NumberStatus::Refused),
        C::Transfer(rhone()),
        &dctx(LISTENER, 1),
    );
    let (s, events) = run(s, C::AssignReferent(R1), &dctx(V1, 2));
    assert_eq!(events[1..], [satisfied(DeadlineKind::Referent, 2)]);
    assert!(s.deadlines().is_empty());
}

#[test]
fn a_proposed_solution_gets_a_follow_up_within_14_days() {
    let (s, _) = run(
        opened(NumberStatus::Left),
        C::Transfer(rhone()),
        &dctx(LISTENER, 1),
    );
    let (s, _) = run(s, C::AssignReferent(R1), &dctx(V1, 2));
    let (s, _) = run(
        s,
        C::AttemptRecontact(RecontactOutcome::Reached),
        &dctx(R1, 3),
    );
    let propose = |id| C::ProposeSolution {
        solution_id: id,
        kind: SolutionKind::ContactService,
        description: about_victim("social services"),
    };
    let (s, events) = run(s, propose(SOL_1), &dctx(R1, 4));
    assert_eq!(
        events[1],
        armed(DeadlineKind::FollowUp(SOL_1), 4, policy().follow_up)
    );
    let (s, _) = run(s, propose(SOL_2), &dctx(R1, 5));
    let (s, events) = run(
        s,
        C::RecordConsent {
            solution_id: SOL_1,
            decision: ConsentDecision::Refused,
        },
        &dctx(R1, 6),
    );
    assert_eq!(events[1..], [satisfied(DeadlineKind::FollowUp(SOL_1), 6)]);
    assert_eq!(
        s.deadlines().keys().copied().collect::<Vec<_>>(),
        vec![DeadlineKind::FollowUp(SOL_2)]
    );
    // Closing keeps no promise pending; a late fire then finds the case closed.
    let due = s.deadlines()[&DeadlineKind::FollowUp(SOL_2)].due;
    let (s, events) = run(s, C::Close(CloseReason::Other), &dctx(R1, 7));
    assert_eq!(events[1..], [satisfied(DeadlineKind::FollowUp(SOL_2), 7)]);
    assert_eq!(
        decide(
            &s,
            &C::MissDeadline {
                kind: DeadlineKind::FollowUp(SOL_2),
                due
            },
            &dctx(LISTENER, 30 * 24 * 60)
        ),
        Err(DomainError::CaseIsClosed)
    );
}

#[test]
fn without_a_policy_no_deadline_is_kept() {
    let (s, events) = run(
        opened(NumberStatus::Left),
        C::Transfer(rhone()),
        &ctx(LISTENER, 1),
    );
    assert_eq!(events.len(), 1);
    assert!(s.deadlines().is_empty());
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Step {
    Advance(i64),
    Transfer,
    Assign(bool),
    Recontact,
    Propose,
    Decide(bool),
    Close,
    Reopen,
    /// The scheduler tries every deadline it sees armed.
    Fire,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1i64..6000).prop_map(Step::Advance),
        1 => Just(Step::Transfer),
        1 => any::<bool>().prop_map(Step::Assign),
        1 => Just(Step::Recontact),
        1 => Just(Step::Propose),
        1 => any::<bool>().prop_map(Step::Decide),
        1 => Just(Step::Close),
        1 => Just(Step::Reopen),
        3 => Just(Step::Fire),
    ]
}

/// The promises, kept by hand: when each started (minutes), and whether it was
/// reported missed.
#[derive(Default, Debug)]
struct Model {
    open: bool,
    transferred: bool,
    referent: bool,
    recontacted: bool,
    pending: Vec<(SolutionId, i64)>,
    referent_since: Option<i64>,
    recontact_since: Option<i64>,
}

impl Model {
    /// Each unkept promise and the minute it falls due.
    fn due(&self, p: DeadlinePolicy) -> Vec<(DeadlineKind, i64)> {
        let mut out = Vec::new();
        if !self.open {
            return out;
        }
        if let (true, false, Some(since)) = (self.transferred, self.referent, self.referent_since) {
            out.push((DeadlineKind::Referent, since + p.referent.num_minutes()));
        }
        if let (true, false, Some(since)) = (self.referent, self.recontacted, self.recontact_since)
        {
            out.push((DeadlineKind::Recontact, since + p.recontact.num_minutes()));
        }
        for (id, since) in &self.pending {
            out.push((
                DeadlineKind::FollowUp(*id),
                since + p.follow_up.num_minutes(),
            ));
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_kept_promise_never_fires_and_an_unkept_one_always_does(
        steps in prop::collection::vec(step(), 1..60)
    ) {
        let p = policy();
        let mut state = opened(NumberStatus::Left);
        let mut model = Model { open: true, ..Model::default() };
        let mut now = 1i64;
        let mut solutions = 0u128;
        let mut fired = std::collections::BTreeSet::new();
        for s in steps {
            let c = |actor| dctx(actor, now);
            let (command, actor) = match &s {
                Step::Advance(m) => { now += m; continue; }
                Step::Transfer => (C::Transfer(rhone()), LISTENER),
                Step::Assign(second) => (C::AssignReferent(if *second { R2 } else { R1 }), V1),
                Step::Recontact => (C::AttemptRecontact(RecontactOutcome::NoAnswer), state.referent().unwrap_or(R1)),
                Step::Propose => {
                    solutions += 1;
                    (C::ProposeSolution {
                        solution_id: SolutionId::from_uuid(uuid(0x900 + solutions)),
                        kind: SolutionKind::Other,
                        description: caller_says("an idea"),
                    }, state.referent().unwrap_or(R1))
                }
                Step::Decide(given) => {
                    let Some((id, _)) = model.pending.first().copied() else { continue };
                    (C::RecordConsent {
                        solution_id: id,
                        decision: if *given { ConsentDecision::Given } else { ConsentDecision::Refused },
                    }, state.referent().unwrap_or(R1))
                }
                Step::Close => (C::Close(CloseReason::Other), LISTENER),
                Step::Reopen => (C::Reopen, LISTENER),
                Step::Fire => {
                    let due = model.due(p);
                    for (kind, d) in state.deadlines().iter().map(|(k, d)| (*k, *d)).collect::<Vec<_>>() {
                        let r = decide(&state, &C::MissDeadline { kind, due: d.due }, &c(LISTENER));
                        let unkept_and_due = due.iter().any(|(k, m)| *k == kind && *m <= now)
                            && !fired.contains(&(kind, d.due));
                        match r {
                            Ok(events) => {
                                prop_assert!(unkept_and_due, "{kind:?} fired though kept or not due");
                                fired.insert((kind, d.due));
                                state = events.iter().fold(state, evolve);
                            }
                            Err(e) => prop_assert!(!unkept_and_due, "{kind:?} unkept and due, yet refused: {e}"),
                        }
                    }
                    // Every unkept promise that is due is armed with that due time.
                    for (kind, m) in due {
                        let d = state.deadlines().get(&kind);
                        prop_assert_eq!(d.map(|d| d.due), Some(t(m)), "{:?} not armed as the model says", kind);
                        if m <= now {
                            prop_assert!(d.is_some_and(|d| d.missed), "{:?} due and unfired", kind);
                        }
                    }
                    continue;
                }
            };
            let Ok(events) = decide(&state, &command, &c(actor)) else { continue };
            state = events.iter().fold(state, evolve);
            // The model follows what the command did.
            for e in &events {
                match e {
                    E::CaseTransferred(_) => {
                        model.transferred = true;
                        model.referent = false;
                        model.referent_since = Some(now);
                    }
                    E::ReferentAssigned(_) => {
                        // A new referent inherits a call back still owed: the caller
                        // has been waiting since the first one was named.
                        if !model.referent || model.recontacted {
                            model.recontact_since = Some(now);
                        }
                        model.referent = true;
                        model.recontacted = false;
                    }
                    E::RecontactAttempted(_) => model.recontacted = true,
                    E::SolutionProposed(s) => model.pending.push((s.solution_id, now)),
                    E::ConsentGiven(c) => model.pending.retain(|(id, _)| *id != c.solution_id),
                    E::ConsentRefused(c) => model.pending.retain(|(id, _)| *id != c.solution_id),
                    E::CaseClosed(_) => model.open = false,
                    E::CaseReopened(_) => {
                        model.open = true;
                        // Reopened promises start again from now.
                        if model.transferred && !model.referent { model.referent_since = Some(now); }
                        if model.referent && !model.recontacted { model.recontact_since = Some(now); }
                        for p in &mut model.pending { p.1 = now; }
                    }
                    _ => {}
                }
            }
        }
    }
}
