//! The case stream against a small reference model of its lifecycle: over random
//! command sequences, the domain accepts exactly what the model allows, and folding the
//! events it produces gives the model's state.

mod common;

use common::*;
use ecoute_domain::call::{CallSummary, NumberStatus};
use ecoute_domain::case::{self, CaseCommand, CaseEvent, CaseStatus, Consent, ConsentDecision};
use ecoute_domain::vocabulary::{CloseReason, RecontactOutcome, SolutionKind};
use ecoute_domain::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const ACTORS: [StaffId; 6] = [LISTENER, V1, R1, R2, R13, RV];
const REFERENTS: [StaffId; 4] = [R1, R2, R13, RV];
const SOLUTIONS: [SolutionId; 2] = [SOL_1, SOL_2];

/// Where each fixture member is accredited, as the model sees it.
fn accredited(actor: StaffId) -> Option<&'static str> {
    match actor {
        V1 | R1 | R2 | RV => Some("69"),
        R13 => Some("13"),
        _ => None,
    }
}

fn is_referent(s: StaffId) -> bool {
    REFERENTS.contains(&s)
}

#[derive(Clone, Debug)]
enum Step {
    Open(CallSpec),
    Link(CallSpec),
    Transfer(&'static str),
    Reassign(&'static str),
    AssignReferent(StaffId),
    Recontact(RecontactOutcome),
    AwaitCallBack,
    Propose(usize),
    Consent(usize, ConsentDecision),
    Act(usize),
    Close,
    Reopen,
}

#[derive(Clone, Copy, Debug)]
struct CallSpec {
    at_platform: bool,
    number: NumberStatus,
}

/// The reference model: the lifecycle rules written as plainly as possible.
#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    status: Option<bool>, // None: not opened; Some(true): open; Some(false): closed
    by_platform: bool,
    centre: Option<&'static str>, // "national" or a département code
    transferred: bool,
    calls: usize,
    takers: BTreeSet<StaffId>,
    reachable: bool,
    awaiting: bool,
    referent: Option<StaffId>,
    consent: BTreeMap<usize, Consent>,
}

impl Model {
    /// The model as the state shows it: an open case with no number to call is
    /// awaiting the caller's call-back, whether or not the referent said so.
    fn observed(&self) -> Model {
        let mut m = self.clone();
        m.awaiting = m.status == Some(true) && (m.awaiting || !m.reachable);
        m
    }

    fn may_act(&self, actor: StaffId) -> bool {
        actor == LISTENER || (self.centre.is_some() && accredited(actor) == self.centre)
    }

    fn is_referent_acting(&self, actor: StaffId) -> bool {
        self.referent == Some(actor) && self.may_act(actor)
    }

    fn takers_of(call: CallSpec) -> BTreeSet<StaffId> {
        if call.at_platform {
            takers(&[LISTENER])
        } else {
            takers(&[V1, RV])
        }
    }

    fn link(&mut self, call: CallSpec) {
        self.calls += 1;
        self.takers.extend(Self::takers_of(call));
        match call.number {
            NumberStatus::Left => self.reachable = true,
            NumberStatus::Refused => self.reachable = false,
            NumberStatus::NotLeft => {}
        }
    }

    /// The next state if the model allows `step` by `actor`, or `None`.
    fn step(&self, actor: StaffId, step: &Step) -> Option<Model> {
        let mut m = self.clone();
        let open = self.status == Some(true);
        match *step {
            Step::Open(call) => {
                let centre = if call.at_platform { "national" } else { "69" };
                let allowed = actor == LISTENER || accredited(actor) == Some(centre);
                if self.status.is_some() || !allowed {
                    return None;
                }
                m.status = Some(true);
                m.by_platform = call.at_platform;
                m.centre = Some(centre);
                m.link(call);
            }
            _ if self.status.is_none() => return None,
            Step::Link(call) => {
                if !self.may_act(actor) {
                    return None;
                }
                m.status = Some(true);
                m.link(call);
                m.awaiting = false;
                if self
                    .referent
                    .is_some_and(|r| Self::takers_of(call).contains(&r))
                {
                    m.referent = None;
                }
            }
            Step::Reopen => {
                if open || !self.may_act(actor) {
                    return None;
                }
                m.status = Some(true);
            }
            _ if !open => return None,
            Step::Transfer(to) => {
                if actor != LISTENER || !self.by_platform || self.transferred {
                    return None;
                }
                m.centre = Some(to);
                m.transferred = true;
                m.referent = None;
            }
            Step::Reassign(to) => {
                if actor != LISTENER
                    || !self.by_platform
                    || !self.transferred
                    || self.centre == Some(to)
                {
                    return None;
                }
                m.centre = Some(to);
                m.referent = None;
            }
            Step::AssignReferent(r) => {
                let ok = self.may_act(actor)
                    && self.centre != Some("national")
                    && is_referent(r)
                    && accredited(r) == self.centre
                    && !self.takers.contains(&r)
                    && self.referent != Some(r);
                if !ok {
                    return None;
                }
                m.referent = Some(r);
            }
            Step::Close => {
                if !self.may_act(actor) {
                    return None;
                }
                m.status = Some(false);
            }
            _ if !self.is_referent_acting(actor) => return None,
            Step::Recontact(outcome) => {
                if !self.reachable {
                    return None;
                }
                match outcome {
                    RecontactOutcome::Reached => m.awaiting = false,
                    RecontactOutcome::NoAnswer => {}
                    RecontactOutcome::WrongNumber => m.reachable = false,
                }
            }
            Step::AwaitCallBack => {
                if self.awaiting {
                    return None;
                }
                m.awaiting = true;
            }
            Step::Propose(s) => {
                if self.consent.contains_key(&s) {
                    return None;
                }
                m.consent.insert(s, Consent::Pending);
            }
            Step::Consent(s, decision) => {
                let now = *self.consent.get(&s)?;
                let next = match (decision, now) {
                    (ConsentDecision::Given, c) if c != Consent::Given => Consent::Given,
                    (ConsentDecision::Refused, Consent::Pending | Consent::Withdrawn) => {
                        Consent::Refused
                    }
                    (ConsentDecision::Withdrawn, Consent::Given) => Consent::Withdrawn,
                    _ => return None,
                };
                m.consent.insert(s, next);
            }
            Step::Act(s) => {
                if self.consent.get(&s) != Some(&Consent::Given) {
                    return None;
                }
            }
        }
        Some(m)
    }
}

/// What the domain's folded state says, in the model's terms.
fn view(state: &case::CaseState) -> Model {
    Model {
        status: match state.status() {
            CaseStatus::NotOpened => None,
            CaseStatus::Open => Some(true),
            CaseStatus::Closed => Some(false),
        },
        by_platform: state.opened_by() == Some(CentreId::NationalPlatform),
        centre: state.centre().map(|c| match c {
            CentreId::NationalPlatform => "national",
            CentreId::Departement(d) => d.as_str(),
        }),
        transferred: state.is_transferred(),
        calls: state.calls().count(),
        takers: state.call_takers().clone(),
        reachable: state.can_recontact(),
        awaiting: state.is_awaiting_call_back(),
        referent: state.referent(),
        consent: state
            .solutions()
            .iter()
            .filter_map(|(id, s)| {
                SOLUTIONS
                    .iter()
                    .position(|x| x == id)
                    .map(|i| (i, s.consent))
            })
            .collect(),
    }
}

fn summary(id: CallId, spec: CallSpec) -> CallSummary {
    if spec.at_platform {
        platform_call(id, spec.number)
    } else {
        centre_call(id, V1, RV, spec.number)
    }
}

fn arb_call() -> impl Strategy<Value = CallSpec> {
    (
        any::<bool>(),
        prop_oneof![
            Just(NumberStatus::Left),
            Just(NumberStatus::NotLeft),
            Just(NumberStatus::Refused)
        ],
    )
        .prop_map(|(at_platform, number)| CallSpec {
            at_platform,
            number,
        })
}

fn arb_step() -> impl Strategy<Value = Step> {
    let centre = prop_oneof![Just("69"), Just("13")];
    let outcome = prop_oneof![
        Just(RecontactOutcome::Reached),
        Just(RecontactOutcome::NoAnswer),
        Just(RecontactOutcome::WrongNumber)
    ];
    let decision = prop_oneof![
        3 => Just(ConsentDecision::Given),
        1 => Just(ConsentDecision::Refused),
        1 => Just(ConsentDecision::Withdrawn),
    ];
    prop_oneof![
        2 => arb_call().prop_map(Step::Open),
        1 => arb_call().prop_map(Step::Link),
        3 => centre.clone().prop_map(Step::Transfer),
        2 => centre.prop_map(Step::Reassign),
        3 => proptest::sample::select(REFERENTS.to_vec()).prop_map(Step::AssignReferent),
        2 => outcome.prop_map(Step::Recontact),
        1 => Just(Step::AwaitCallBack),
        3 => (0..2usize).prop_map(Step::Propose),
        6 => ((0..2usize), decision).prop_map(|(s, d)| Step::Consent(s, d)),
        5 => (0..2usize).prop_map(Step::Act),
        1 => Just(Step::Close),
        1 => Just(Step::Reopen),
    ]
}

fn command(step: &Step, call_id: CallId) -> CaseCommand {
    match *step {
        Step::Open(_) => CaseCommand::Open {
            case_id: CASE_1,
            call_id,
        },
        Step::Link(_) => CaseCommand::LinkCall(call_id),
        Step::Transfer(c) => CaseCommand::Transfer(d(c)),
        Step::Reassign(c) => CaseCommand::Reassign(d(c)),
        Step::AssignReferent(r) => CaseCommand::AssignReferent(r),
        Step::Recontact(o) => CaseCommand::AttemptRecontact(o),
        Step::AwaitCallBack => CaseCommand::AwaitCallBack,
        Step::Propose(s) => CaseCommand::ProposeSolution {
            solution_id: SOLUTIONS[s],
            kind: SolutionKind::ContactProfessional,
            description: about_victim("see a lawyer about the power of attorney"),
        },
        Step::Consent(s, decision) => CaseCommand::RecordConsent {
            solution_id: SOLUTIONS[s],
            decision,
        },
        Step::Act(s) => CaseCommand::TakeAction {
            solution_id: SOLUTIONS[s],
            note: about_victim("appointment made"),
        },
        Step::Close => CaseCommand::Close(CloseReason::Resolved),
        Step::Reopen => CaseCommand::Reopen,
    }
}

fn kind(step: &Step) -> &'static str {
    match step {
        Step::Open(_) => "open",
        Step::Link(_) => "link",
        Step::Transfer(_) => "transfer",
        Step::Reassign(_) => "reassign",
        Step::AssignReferent(_) => "assign referent",
        Step::Recontact(_) => "recontact",
        Step::AwaitCallBack => "await call-back",
        Step::Propose(_) => "propose",
        Step::Consent(..) => "consent",
        Step::Act(_) => "act",
        Step::Close => "close",
        Step::Reopen => "reopen",
    }
}

/// Runs the steps against the domain and the model; returns the kinds of step accepted,
/// or where they first disagreed.
fn run(steps: &[(Who, Step)]) -> Result<Vec<&'static str>, String> {
    let mut model = Model::default();
    let mut events: Vec<CaseEvent> = Vec::new();
    let mut accepted = Vec::new();
    for (i, (who, step)) in steps.iter().enumerate() {
        let actor = &match who {
            Who::Staff(s) => *s,
            Who::CurrentReferent => case::fold(&events).referent().unwrap_or(R1),
        };
        let call_id = CallId::from_uuid(uuid(0x1000 + u128::try_from(i).unwrap_or(0)));
        let mut c = ctx(*actor, i64::try_from(i).unwrap_or(0));
        if let Step::Open(spec) | Step::Link(spec) = step {
            c = c.with_call(summary(call_id, *spec));
        }
        let state = case::fold(&events);
        let got = case::decide(&state, &command(step, call_id), &c);
        match (got, model.step(*actor, step)) {
            (Ok(new), Some(next)) if !new.is_empty() => {
                events.extend(new);
                model = next;
                accepted.push(kind(step));
            }
            (Err(_), None) => {}
            (got, expected) => {
                return Err(format!(
                    "step {i}: {actor:?} {step:?}: domain {got:?}, model {expected:?}"
                ))
            }
        }
        let folded = view(&case::fold(&events));
        if folded != model.observed() {
            return Err(format!(
                "after step {i}: folded {folded:?}, model {model:?}"
            ));
        }
    }
    Ok(accepted)
}

/// Who gives a step: a fixture member, or whoever follows the case when the step runs
/// (so that random sequences get past the referent's rules often enough).
#[derive(Clone, Copy, Debug)]
enum Who {
    Staff(StaffId),
    CurrentReferent,
}

fn arb_who() -> impl Strategy<Value = Who> {
    prop_oneof![
        6 => Just(Who::CurrentReferent),
        2 => Just(Who::Staff(LISTENER)),
        3 => proptest::sample::select(ACTORS.to_vec()).prop_map(Who::Staff),
    ]
}

/// Sequences mostly start by opening the case, so that they get somewhere; some don't.
fn arb_steps() -> impl Strategy<Value = Vec<(Who, Step)>> {
    let first = prop_oneof![
        4 => (prop_oneof![Just(LISTENER), Just(V1)], arb_call())
            .prop_map(|(s, call)| vec![(Who::Staff(s), Step::Open(call))]),
        1 => Just(Vec::new()),
    ];
    (
        first,
        proptest::collection::vec((arb_who(), arb_step()), 1..60),
    )
        .prop_map(|(mut first, rest)| {
            first.extend(rest);
            first
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_case_behaves_like_its_reference_model(steps in arb_steps()) {
        if let Err(disagreement) = run(&steps) {
            prop_assert!(false, "{}", disagreement);
        }
    }
}

/// The random sequences reach every step of the lifecycle, so the property above is not
/// vacuously true.
#[test]
fn random_sequences_reach_every_step_of_the_lifecycle() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Config::default().rng_algorithm),
    );
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..512 {
        let steps = arb_steps()
            .new_tree(&mut runner)
            .expect("a sequence")
            .current();
        for k in run(&steps).expect("domain and model agree") {
            *seen.entry(k).or_default() += 1;
        }
    }
    let all = [
        "open",
        "link",
        "transfer",
        "reassign",
        "assign referent",
        "recontact",
        "await call-back",
        "propose",
        "consent",
        "act",
        "close",
        "reopen",
    ];
    for k in all {
        assert!(
            seen.get(k).copied().unwrap_or(0) >= 5,
            "no accepted {k:?} in {seen:?}"
        );
    }
}
