//! A demo journey played through the API: the calls of a case (or of an information
//! call), the transfer, the referent, call-backs, solutions, consent and closing —
//! what each is, the traffic model (`ecoute_sim::traffic`) says; this file says which
//! requests play it.

use anyhow::Result;
use ecoute_domain::vocabulary::{CloseReason, RecontactOutcome};
use ecoute_sim::rng::Rng;
use ecoute_sim::traffic::centres::Centre;
use ecoute_sim::traffic::follow_up::{self, Decision};
use ecoute_sim::traffic::{
    self, centres, shares, About, CallSketch, Caller, Journey as Plan, JourneyKind, Number, Person,
    Purpose,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::api::{uuid_of, Api};
use super::staff::{CentreStaff, Member, StaffSet, CENTRES};
use super::DemoCounts;

/// A case a journey left, for choosing the one the guide shows.
#[derive(Debug, Clone)]
pub(super) struct CaseNote {
    pub(super) case_id: Uuid,
    pub(super) centre: &'static str,
    pub(super) referent: Option<Uuid>,
    pub(super) closed: bool,
    pub(super) richness: u32,
}

pub(super) struct JourneyOutcome {
    pub(super) index: usize,
    pub(super) counts: DemoCounts,
    pub(super) case: Option<CaseNote>,
}

/// A call recorded: its id, and whether the caller left a number.
struct Call {
    id: Uuid,
    number_left: bool,
}

/// Who answers a call: a platform listener, or a centre's volunteer (with their
/// partner's id).
enum Answerer {
    Listener(Member),
    Pair(&'static str, Member, Uuid),
}

impl Answerer {
    fn token(&self) -> &str {
        match self {
            Answerer::Listener(m) | Answerer::Pair(_, m, _) => &m.token,
        }
    }
}

pub(super) struct Journey<'a> {
    api: &'a Api,
    staff: &'a StaffSet,
    plan: &'a Plan,
    rng: Rng,
    key_prefix: String,
    step: u32,
    counts: DemoCounts,
}

impl<'a> Journey<'a> {
    pub(super) fn new(api: &'a Api, staff: &'a StaffSet, plan: &'a Plan, seed: u64) -> Journey<'a> {
        Journey {
            api,
            staff,
            plan,
            rng: Rng::new(plan.seed),
            key_prefix: format!("demo-{seed}-j{}", plan.index),
            step: 0,
            counts: DemoCounts::default(),
        }
    }

    /// A new idempotency key for the journey's next write.
    fn key(&mut self) -> String {
        self.step += 1;
        format!("{}-{}", self.key_prefix, self.step)
    }

    async fn post(&mut self, token: &str, path: &str, body: Value) -> Result<Value> {
        let key = self.key();
        self.api.post(token, path, &key, &body).await
    }

    pub(super) async fn run(mut self) -> Result<JourneyOutcome> {
        let info = centres::pick(&mut self.rng, CENTRES);
        let centre = self.staff.centre(info.code)?.clone();
        let case = match self.plan.kind {
            JourneyKind::Information { at_centre } => {
                let caller = Caller::draw(&mut self.rng, 0.0);
                let answerer = if at_centre {
                    let (a, b) = self.pair(&centre);
                    Answerer::Pair(info.code, a, b.id)
                } else {
                    Answerer::Listener(self.listener())
                };
                let token = answerer.token().to_string();
                let call = self
                    .call(answerer, info, Purpose::Information, &caller)
                    .await?;
                self.post(&token, &format!("/v1/calls/{}/end", call.id), json!({}))
                    .await?;
                self.counts.calls_without_case += 1;
                None
            }
            JourneyKind::Platform { .. } | JourneyKind::Centre => {
                Some(self.case_journey(&centre).await?)
            }
        };
        Ok(JourneyOutcome {
            index: self.plan.index,
            counts: self.counts,
            case,
        })
    }

    fn listener(&mut self) -> Member {
        self.rng.choose(&self.staff.listeners).clone()
    }

    /// Two distinct volunteers of the centre.
    fn pair(&mut self, centre: &CentreStaff) -> (Member, Member) {
        let n = centre.volunteers.len();
        let a = self.rng.below(n);
        let b = (a + 1 + self.rng.below(n - 1)) % n;
        (centre.volunteers[a].clone(), centre.volunteers[b].clone())
    }

    async fn case_journey(&mut self, centre: &CentreStaff) -> Result<CaseNote> {
        let info = centre.info;
        let caller = Caller::draw(&mut self.rng, shares::ANONYMOUS_NEW_CASE);
        let mut takers: Vec<Uuid> = Vec::new();
        let mut richness = 0u32;
        // The first call, and the case it opens.
        let (case_id, number_left, at_platform) = match self.plan.kind {
            JourneyKind::Platform { kept } => {
                let l = self.listener();
                takers.push(l.id);
                let call = self
                    .call(
                        Answerer::Listener(l.clone()),
                        info,
                        Purpose::NewCase,
                        &caller,
                    )
                    .await?;
                self.post(&l.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                    .await?;
                if kept {
                    // The platform keeps the case for now: it waits in the national queue.
                    let answer = self
                        .post(&l.token, &format!("/v1/calls/{}/case", call.id), json!({}))
                        .await?;
                    (uuid_of(&answer, "case_id")?, call.number_left, true)
                } else {
                    let answer = self
                        .post(
                            &l.token,
                            &format!("/v1/calls/{}/transfer", call.id),
                            json!({ "centre": info.code }),
                        )
                        .await?;
                    self.counts.transferred += 1;
                    (uuid_of(&answer, "case_id")?, call.number_left, false)
                }
            }
            _ => {
                let (a, b) = self.pair(centre);
                takers.extend([a.id, b.id]);
                let answerer = Answerer::Pair(info.code, a.clone(), b.id);
                let call = self.call(answerer, info, Purpose::NewCase, &caller).await?;
                self.post(&a.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                    .await?;
                let answer = self
                    .post(&a.token, &format!("/v1/calls/{}/case", call.id), json!({}))
                    .await?;
                self.counts.cases_opened_by_centres += 1;
                (uuid_of(&answer, "case_id")?, call.number_left, false)
            }
        };
        self.counts.cases += 1;
        let case_path = format!("/v1/cases/{case_id}");
        let mut second_call_left = self.plan.calls > 1;
        let mut closed = false;
        let mut referent: Option<Member> = None;
        if at_platform {
            self.counts.awaiting_transfer += 1;
        } else if self.rng.chance(shares::SNAPSHOT_REFERENT) {
            // A fresh eye: a referent of the centre who took none of the case's calls.
            let free: Vec<&Member> = centre
                .referents
                .iter()
                .filter(|r| !takers.contains(&r.id))
                .collect();
            if !free.is_empty() {
                let r = (*self.rng.choose(&free)).clone();
                self.post(
                    &r.token,
                    &format!("{case_path}/referent"),
                    json!({ "referent": r.id }),
                )
                .await?;
                self.counts.referents_assigned += 1;
                richness += 1;
                referent = Some(r);
            }
        }
        if let Some(r) = referent
            .clone()
            .filter(|_| self.rng.chance(shares::SNAPSHOT_WORKED))
        {
            if self.rng.chance(shares::SNAPSHOT_READ) {
                self.api.get(&r.token, &case_path).await?;
            }
            if self.rng.chance(shares::SNAPSHOT_ANALYSED) {
                let text = follow_up::analysis(&mut self.rng);
                self.post(
                    &r.token,
                    &format!("{case_path}/analysis"),
                    json!({ "text": text }),
                )
                .await?;
                richness += 1;
            }
            let mut reachable = number_left;
            let mut reached = false;
            if reachable {
                (reached, reachable) = self.call_back(&r, &case_path).await?;
                if !reached && reachable && self.rng.chance(shares::SNAPSHOT_AWAITING) {
                    self.post(
                        &r.token,
                        &format!("{case_path}/awaiting-call-back"),
                        json!({}),
                    )
                    .await?;
                }
            }
            if !reached && second_call_left {
                // The caller calls the platform again, and this time may leave a number.
                second_call_left = false;
                let left = self.second_call(case_id, info, &caller, reachable).await?;
                if left {
                    (reached, _) = self.call_back(&r, &case_path).await?;
                }
            }
            if reached {
                richness += 2;
                let (consented, refused) = self.solutions(&r, &case_path).await?;
                richness += consented * 2 + refused;
                if self.rng.chance(shares::SNAPSHOT_CLOSED) {
                    let reason = follow_up::close_reason(&mut self.rng, consented > 0, refused > 0);
                    self.post(
                        &r.token,
                        &format!("{case_path}/close"),
                        json!({ "reason": reason }),
                    )
                    .await?;
                    closed = true;
                }
            } else if !number_left && self.rng.chance(shares::SNAPSHOT_CLOSED_NO_CONTACT) {
                self.post(
                    &r.token,
                    &format!("{case_path}/close"),
                    json!({ "reason": CloseReason::NoFurtherContact }),
                )
                .await?;
                closed = true;
            }
        }
        if second_call_left {
            // The caller calls again: with news, or about a closed case, which reopens.
            self.second_call(case_id, info, &caller, number_left)
                .await?;
            if closed {
                self.counts.reopened += 1;
                closed = false;
            }
        }
        if closed {
            self.counts.closed += 1;
        }
        Ok(CaseNote {
            case_id,
            centre: info.code,
            referent: referent.map(|r| r.id),
            closed,
            richness,
        })
    }

    /// Attempts to call the caller back, up to [`shares::RECONTACT_ATTEMPTS`]:
    /// (reached, still reachable).
    async fn call_back(&mut self, r: &Member, case_path: &str) -> Result<(bool, bool)> {
        for _ in 0..shares::RECONTACT_ATTEMPTS {
            let outcome = follow_up::recontact(&mut self.rng);
            self.post(
                &r.token,
                &format!("{case_path}/recontacts"),
                json!({ "outcome": outcome }),
            )
            .await?;
            self.counts.recontacts += 1;
            match outcome {
                RecontactOutcome::Reached => return Ok((true, true)),
                RecontactOutcome::WrongNumber => return Ok((false, false)),
                RecontactOutcome::NoAnswer => {
                    if self.rng.chance(shares::SNAPSHOT_STOP_TRYING) {
                        break;
                    }
                }
            }
        }
        Ok((false, true))
    }

    /// Solutions, the caller's decisions, and actions on what was consented to:
    /// (consented, refused).
    async fn solutions(&mut self, r: &Member, case_path: &str) -> Result<(u32, u32)> {
        let n = follow_up::solutions_in_a_round(&mut self.rng);
        let (mut consented, mut refused) = (0, 0);
        for _ in 0..n {
            let solution = follow_up::solution(&mut self.rng);
            let answer = self
                .post(
                    &r.token,
                    &format!("{case_path}/solutions"),
                    json!({ "kind": solution.kind, "description": solution.proposal }),
                )
                .await?;
            self.counts.solutions += 1;
            let id = uuid_of(&answer, "solution_id")?;
            let path = format!("{case_path}/solutions/{id}");
            match follow_up::decision(&mut self.rng) {
                Decision::Given => {
                    self.post(
                        &r.token,
                        &format!("{path}/consent"),
                        json!({ "decision": "given" }),
                    )
                    .await?;
                    self.counts.consents_given += 1;
                    consented += 1;
                    // Only now may anything be done.
                    let mut notes = vec![solution.first_action.to_string()];
                    if follow_up::has_follow_up(&mut self.rng) {
                        notes.push(follow_up::follow_up(&mut self.rng));
                    }
                    for note in notes {
                        self.post(
                            &r.token,
                            &format!("{path}/actions"),
                            json!({ "note": note }),
                        )
                        .await?;
                        self.counts.actions += 1;
                    }
                    if follow_up::withdrawn(&mut self.rng) {
                        self.post(
                            &r.token,
                            &format!("{path}/consent"),
                            json!({ "decision": "withdrawn" }),
                        )
                        .await?;
                        self.counts.consents_withdrawn += 1;
                    }
                }
                Decision::Refused => {
                    self.post(
                        &r.token,
                        &format!("{path}/consent"),
                        json!({ "decision": "refused" }),
                    )
                    .await?;
                    self.counts.consents_refused += 1;
                    refused += 1;
                }
                // The caller wants to think it over: no decision yet.
                Decision::ThinkingItOver => {}
            }
        }
        Ok((consented, refused))
    }

    /// The caller calls the platform again about their case; the listener links the
    /// call to it. Returns whether the caller left a number this time.
    async fn second_call(
        &mut self,
        case_id: Uuid,
        info: &'static Centre,
        caller: &Caller,
        reachable: bool,
    ) -> Result<bool> {
        let l = self.listener();
        let purpose = Purpose::Again { reachable };
        let call = self
            .call(Answerer::Listener(l.clone()), info, purpose, caller)
            .await?;
        self.post(&l.token, &format!("/v1/calls/{}/end", call.id), json!({}))
            .await?;
        self.post(
            &l.token,
            &format!("/v1/calls/{}/case", call.id),
            json!({ "case_id": case_id }),
        )
        .await?;
        self.counts.calls_linked += 1;
        Ok(call.number_left)
    }

    /// Answers a call and records what the traffic model says is said in it (the call
    /// is not ended here).
    async fn call(
        &mut self,
        answerer: Answerer,
        info: &'static Centre,
        purpose: Purpose,
        caller: &Caller,
    ) -> Result<Call> {
        let body = match &answerer {
            Answerer::Listener(_) => {
                self.counts.platform_calls += 1;
                json!({ "door": "platform" })
            }
            Answerer::Pair(centre, _, partner) => {
                self.counts.centre_calls += 1;
                json!({ "door": "centre", "centre": centre, "partner": partner })
            }
        };
        let token = answerer.token().to_string();
        let answer = self.post(&token, "/v1/calls", body).await?;
        self.counts.calls += 1;
        let id = uuid_of(&answer, "call_id")?;
        let sketch = traffic::sketch_call(&mut self.rng, purpose, caller, info.code);
        self.record(&token, id, sketch).await
    }

    /// Sends what was said, one request per thing recorded.
    async fn record(&mut self, token: &str, id: Uuid, sketch: CallSketch) -> Result<Call> {
        let call = format!("/v1/calls/{id}");
        if sketch.anonymous {
            self.post(token, &format!("{call}/anonymity"), json!({}))
                .await?;
        }
        let number_left = match sketch.number {
            Number::Left(number) => {
                self.post(
                    token,
                    &format!("{call}/callback-number"),
                    json!({ "number": number }),
                )
                .await?;
                true
            }
            Number::Refused => {
                self.post(token, &format!("{call}/number-refusal"), json!({}))
                    .await?;
                false
            }
            Number::NotLeft => false,
        };
        if let Some(p) = &sketch.caller {
            self.post(token, &format!("{call}/persons"), person(p, true))
                .await?;
        }
        let mut victim = None;
        if let Some(p) = &sketch.victim {
            let answer = self
                .post(token, &format!("{call}/persons"), person(p, false))
                .await?;
            victim = Some(uuid_of(&answer, "subject_id")?);
        }
        for p in sketch.implicated.iter().chain(&sketch.others) {
            self.post(token, &format!("{call}/persons"), person(p, false))
                .await?;
        }
        if let Some(facts) = &sketch.facts {
            let body = serde_json::to_value(facts)?;
            self.post(token, &format!("{call}/facts"), body).await?;
        }
        for note in &sketch.notes {
            let about = match note.about {
                About::Victim => victim,
                About::Caller => None,
            };
            self.post(
                token,
                &format!("{call}/notes"),
                json!({ "text": note.text, "about": about }),
            )
            .await?;
        }
        Ok(Call { id, number_left })
    }
}

/// The body describing a person (the caller, when `is_caller`).
fn person(p: &Person, is_caller: bool) -> Value {
    let mut body = json!({
        "role": p.role,
        "relation": p.relation,
        "age_band": p.age_band,
        "lives_with_victim": p.lives_with_victim,
        "name": p.name,
        "address": p.address,
        "description": p.description,
    });
    if is_caller {
        body["is_caller"] = json!(true);
    }
    body
}
