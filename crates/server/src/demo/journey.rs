//! A demo journey played through the API: the calls of a case (or of an information
//! call), the transfer, the referent, call-backs, solutions, consent and closing.

use anyhow::Result;
use ecoute_domain::vocabulary::{
    AgeBand, CloseReason, Evolution, Frequency, PersonRole, RecontactOutcome, Relation, Setting,
    Since,
};
use ecoute_sim::rng::Rng;
use ecoute_sim::traffic::texts::{FIRST_NAMES, STREETS, SURNAMES};
use serde_json::{json, Value};
use uuid::Uuid;

use super::api::{uuid_of, Api};
use super::staff::{CentreInfo, CentreStaff, Member, StaffSet, CENTRES};
use super::words::*;
use super::DemoCounts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A call that leads to no case (information, advice).
    Information,
    /// A case opened by the national platform.
    Platform,
    /// A case opened at a centre by a pair of volunteers.
    Centre,
}

#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) index: usize,
    pub(super) seed: u64,
    pub(super) kind: Kind,
    /// 1, or 2 when the caller calls again about their case.
    pub(super) calls: usize,
}

/// Splits `calls` into journeys, deterministically.
pub(super) fn plan(rng: &mut Rng, calls: usize) -> Vec<Plan> {
    let mut plans = Vec::new();
    let mut remaining = calls;
    while remaining > 0 {
        // As the service's own figures go (about 60,000 calls and 13,000 cases a
        // year): most calls inform or advise, and about one case in four hears from
        // its caller again.
        let kind = if rng.chance(0.76) {
            Kind::Information
        } else if rng.chance(0.03) {
            Kind::Centre
        } else {
            Kind::Platform
        };
        let n = if kind != Kind::Information && remaining >= 2 && rng.chance(0.25) {
            2
        } else {
            1
        };
        remaining -= n;
        plans.push(Plan {
            index: plans.len(),
            seed: rng.next_u64(),
            kind,
            calls: n,
        });
    }
    plans
}

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

/// The number situation a call left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Number {
    Left,
    NotLeft,
    Refused,
}

pub(super) struct Journey<'a> {
    pub(super) api: &'a Api,
    pub(super) staff: &'a StaffSet,
    pub(super) plan: &'a Plan,
    pub(super) rng: Rng,
    pub(super) key_prefix: String,
    pub(super) step: u32,
    pub(super) counts: DemoCounts,
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
    pub(super) fn key(&mut self) -> String {
        self.step += 1;
        format!("{}-{}", self.key_prefix, self.step)
    }

    pub(super) async fn post(&mut self, token: &str, path: &str, body: Value) -> Result<Value> {
        let key = self.key();
        self.api.post(token, path, &key, &body).await
    }

    pub(super) async fn run(mut self) -> Result<JourneyOutcome> {
        let centre_info = &CENTRES[{
            let weights: Vec<(usize, f64)> = CENTRES
                .iter()
                .enumerate()
                .map(|(i, c)| (i, c.weight))
                .collect();
            self.rng.weighted(&weights)
        }];
        let centre = self.staff.centre(centre_info.code)?.clone();
        let case = match self.plan.kind {
            Kind::Information => {
                if self.rng.chance(0.25) {
                    let (a, b) = self.pair(&centre);
                    let call = self.centre_call(&centre, &a, b.id, false).await?;
                    self.post(&a.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                        .await?;
                } else {
                    let l = self.listener();
                    let call = self.platform_call(&l, centre_info, false).await?;
                    self.post(&l.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                        .await?;
                }
                self.counts.calls_without_case += 1;
                None
            }
            Kind::Platform | Kind::Centre => Some(self.case_journey(&centre).await?),
        };
        Ok(JourneyOutcome {
            index: self.plan.index,
            counts: self.counts,
            case,
        })
    }

    pub(super) fn listener(&mut self) -> Member {
        self.rng.choose(&self.staff.listeners).clone()
    }

    /// Two distinct volunteers of the centre.
    pub(super) fn pair(&mut self, centre: &CentreStaff) -> (Member, Member) {
        let n = centre.volunteers.len();
        let a = self.rng.below(n);
        let b = (a + 1 + self.rng.below(n - 1)) % n;
        (centre.volunteers[a].clone(), centre.volunteers[b].clone())
    }

    pub(super) async fn case_journey(&mut self, centre: &CentreStaff) -> Result<CaseNote> {
        let info = centre.info;
        let mut takers: Vec<Uuid> = Vec::new();
        let mut richness = 0u32;
        // The first call, and the case it opens.
        let (case_id, number, at_platform) = if self.plan.kind == Kind::Centre {
            let (a, b) = self.pair(centre);
            takers.extend([a.id, b.id]);
            let call = self.centre_call(centre, &a, b.id, true).await?;
            self.post(&a.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                .await?;
            let answer = self
                .post(&a.token, &format!("/v1/calls/{}/case", call.id), json!({}))
                .await?;
            self.counts.cases_opened_by_centres += 1;
            (uuid_of(&answer, "case_id")?, call.number, false)
        } else {
            let l = self.listener();
            takers.push(l.id);
            let call = self.platform_call(&l, info, true).await?;
            self.post(&l.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                .await?;
            if self.rng.chance(0.03) {
                // The platform keeps the case for now: it waits in the national queue.
                let answer = self
                    .post(&l.token, &format!("/v1/calls/{}/case", call.id), json!({}))
                    .await?;
                (uuid_of(&answer, "case_id")?, call.number, true)
            } else {
                let answer = self
                    .post(
                        &l.token,
                        &format!("/v1/calls/{}/transfer", call.id),
                        json!({ "centre": info.code }),
                    )
                    .await?;
                self.counts.transferred += 1;
                (uuid_of(&answer, "case_id")?, call.number, false)
            }
        };
        self.counts.cases += 1;
        let case_path = format!("/v1/cases/{case_id}");
        let mut second_call_left = self.plan.calls > 1;
        let mut closed = false;
        let mut referent: Option<Member> = None;
        if at_platform {
            self.counts.awaiting_transfer += 1;
        } else if self.rng.chance(0.85) {
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
        if let Some(r) = referent.clone().filter(|_| self.rng.chance(0.9)) {
            if self.rng.chance(0.3) {
                self.api.get(&r.token, &case_path).await?;
            }
            if self.rng.chance(0.7) {
                let text = self.rng.choose(&ANALYSES).to_string();
                self.post(
                    &r.token,
                    &format!("{case_path}/analysis"),
                    json!({ "text": text }),
                )
                .await?;
                richness += 1;
            }
            let mut reachable = number == Number::Left;
            let mut reached = false;
            if reachable {
                (reached, reachable) = self.call_back(&r, &case_path).await?;
                if !reached && reachable && self.rng.chance(0.5) {
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
                let number = self.second_call(case_id, info).await?;
                if number == Number::Left {
                    (reached, _) = self.call_back(&r, &case_path).await?;
                }
            }
            if reached {
                richness += 2;
                let (consented, refused) = self.solutions(&r, &case_path).await?;
                richness += consented * 2 + refused;
                if self.rng.chance(0.45) {
                    let reason = if consented > 0 {
                        self.rng.weighted(&[
                            (CloseReason::Resolved, 0.6),
                            (CloseReason::Redirected, 0.4),
                        ])
                    } else {
                        CloseReason::CallerDeclined
                    };
                    self.post(
                        &r.token,
                        &format!("{case_path}/close"),
                        json!({ "reason": reason }),
                    )
                    .await?;
                    closed = true;
                }
            } else if number != Number::Left && self.rng.chance(0.3) {
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
            self.second_call(case_id, info).await?;
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

    /// Up to three attempts to call the caller back: (reached, still reachable).
    pub(super) async fn call_back(&mut self, r: &Member, case_path: &str) -> Result<(bool, bool)> {
        for _ in 0..3 {
            let outcome = self.rng.weighted(&[
                (RecontactOutcome::Reached, 0.6),
                (RecontactOutcome::NoAnswer, 0.36),
                (RecontactOutcome::WrongNumber, 0.04),
            ]);
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
                    if self.rng.chance(0.4) {
                        break;
                    }
                }
            }
        }
        Ok((false, true))
    }

    /// Solutions, the caller's decisions, and actions on what was consented to:
    /// (consented, refused).
    pub(super) async fn solutions(&mut self, r: &Member, case_path: &str) -> Result<(u32, u32)> {
        let n = if self.rng.chance(0.35) { 2 } else { 1 };
        let (mut consented, mut refused) = (0, 0);
        for _ in 0..n {
            let (kind, description, action) = *self.rng.choose(&SOLUTIONS);
            let answer = self
                .post(
                    &r.token,
                    &format!("{case_path}/solutions"),
                    json!({ "kind": kind, "description": description }),
                )
                .await?;
            self.counts.solutions += 1;
            let solution = uuid_of(&answer, "solution_id")?;
            let path = format!("{case_path}/solutions/{solution}");
            let decision = self.rng.f64();
            if decision < 0.68 {
                self.post(
                    &r.token,
                    &format!("{path}/consent"),
                    json!({ "decision": "given" }),
                )
                .await?;
                self.counts.consents_given += 1;
                consented += 1;
                // Only now may anything be done.
                let actions = 1 + usize::from(self.rng.chance(0.3));
                for i in 0..actions {
                    let note = if i == 0 {
                        action.to_string()
                    } else {
                        self.rng.choose(&FOLLOW_UPS).to_string()
                    };
                    self.post(
                        &r.token,
                        &format!("{path}/actions"),
                        json!({ "note": note }),
                    )
                    .await?;
                    self.counts.actions += 1;
                }
                if self.rng.chance(0.05) {
                    self.post(
                        &r.token,
                        &format!("{path}/consent"),
                        json!({ "decision": "withdrawn" }),
                    )
                    .await?;
                    self.counts.consents_withdrawn += 1;
                }
            } else if decision < 0.93 {
                self.post(
                    &r.token,
                    &format!("{path}/consent"),
                    json!({ "decision": "refused" }),
                )
                .await?;
                self.counts.consents_refused += 1;
                refused += 1;
            }
            // Otherwise the caller wants to think it over: no decision yet.
        }
        Ok((consented, refused))
    }

    /// The caller calls the platform again about their case; the listener links the
    /// call to it. Returns what the call says about the number.
    pub(super) async fn second_call(
        &mut self,
        case_id: Uuid,
        info: &'static CentreInfo,
    ) -> Result<Number> {
        let l = self.listener();
        let call = self.platform_call(&l, info, false).await?;
        self.post(&l.token, &format!("/v1/calls/{}/end", call.id), json!({}))
            .await?;
        self.post(
            &l.token,
            &format!("/v1/calls/{}/case", call.id),
            json!({ "case_id": case_id }),
        )
        .await?;
        self.counts.calls_linked += 1;
        Ok(call.number)
    }

    pub(super) async fn platform_call(
        &mut self,
        l: &Member,
        info: &'static CentreInfo,
        full: bool,
    ) -> Result<Call> {
        let answer = self
            .post(&l.token, "/v1/calls", json!({ "door": "platform" }))
            .await?;
        self.counts.calls += 1;
        self.counts.platform_calls += 1;
        let id = uuid_of(&answer, "call_id")?;
        self.listen(&l.token, id, info, full).await
    }

    pub(super) async fn centre_call(
        &mut self,
        centre: &CentreStaff,
        a: &Member,
        partner: Uuid,
        full: bool,
    ) -> Result<Call> {
        let answer = self
            .post(
                &a.token,
                "/v1/calls",
                json!({ "door": "centre", "centre": centre.info.code, "partner": partner }),
            )
            .await?;
        self.counts.calls += 1;
        self.counts.centre_calls += 1;
        let id = uuid_of(&answer, "call_id")?;
        self.listen(&a.token, id, centre.info, full).await
    }

    /// What the answerer records while listening (the call is not ended here). A
    /// `full` call describes the situation; a short one (information, a caller calling
    /// again) records less.
    pub(super) async fn listen(
        &mut self,
        token: &str,
        id: Uuid,
        info: &'static CentreInfo,
        full: bool,
    ) -> Result<Call> {
        let call = format!("/v1/calls/{id}");
        let anonymous = self.rng.chance(if full { 0.18 } else { 0.1 });
        if anonymous {
            self.post(token, &format!("{call}/anonymity"), json!({}))
                .await?;
        }
        let (leave, refuse) = if anonymous { (0.3, 0.5) } else { (0.75, 0.05) };
        let x = self.rng.f64();
        let number = if x < leave {
            let phone = self.phone(info);
            self.post(
                token,
                &format!("{call}/callback-number"),
                json!({ "number": phone }),
            )
            .await?;
            Number::Left
        } else if x < leave + refuse {
            self.post(token, &format!("{call}/number-refusal"), json!({}))
                .await?;
            Number::Refused
        } else {
            Number::NotLeft
        };
        // Who calls: the older person themself, or someone close, or a professional.
        let (role, relation, age) = self.rng.weighted(&CALLERS);
        let caller_is_victim = role == PersonRole::Victim;
        let victim_age = self.rng.weighted(&VICTIM_AGES);
        let caller_name = (!anonymous && self.rng.chance(0.7)).then(|| {
            if caller_is_victim {
                self.old_name()
            } else {
                self.name()
            }
        });
        let caller_address =
            (!anonymous && caller_is_victim && self.rng.chance(0.5)).then(|| self.address(info));
        let lives_with_victim = (!caller_is_victim).then(|| self.rng.chance(0.2));
        let body = json!({
            "is_caller": true,
            "role": role,
            "relation": relation,
            "age_band": if caller_is_victim { victim_age } else { age },
            "lives_with_victim": lives_with_victim,
            "name": caller_name,
            "address": caller_address,
            "description": self.rng.choose(&CALLER_WORDS),
        });
        let described = self.post(token, &format!("{call}/persons"), body).await?;
        let caller = uuid_of(&described, "subject_id")?;
        if !full {
            let text = self.rng.choose(&SHORT_NOTES).to_string();
            self.post(token, &format!("{call}/notes"), json!({ "text": text }))
                .await?;
            return Ok(Call { id, number });
        }
        let mut victim = caller;
        if !caller_is_victim {
            let name = self.rng.chance(0.8).then(|| self.old_name());
            let address = self.rng.chance(0.6).then(|| self.address(info));
            let body = json!({
                "role": PersonRole::Victim,
                "relation": Relation::Themself,
                "age_band": victim_age,
                "name": name,
                "address": address,
                "description": self.rng.choose(&VICTIM_WORDS),
            });
            let answer = self.post(token, &format!("{call}/persons"), body).await?;
            victim = uuid_of(&answer, "subject_id")?;
        }
        let setting = self
            .rng
            .weighted(&[(Setting::Home, 0.73), (Setting::Institution, 0.27)]);
        if self.rng.chance(0.88) {
            let (relation, age, lives, words) = if setting == Setting::Institution {
                *self.rng.choose(&IMPLICATED_IN_INSTITUTION)
            } else {
                self.rng.weighted(&IMPLICATED_AT_HOME)
            };
            let name = self.rng.chance(0.5).then(|| self.name());
            self.post(
                token,
                &format!("{call}/persons"),
                json!({
                    "role": PersonRole::Implicated,
                    "relation": relation,
                    "age_band": age,
                    "lives_with_victim": lives,
                    "name": name,
                    "description": words,
                }),
            )
            .await?;
        }
        if self.rng.chance(0.25) {
            let (role, relation, words) = *self.rng.choose(&OTHERS);
            self.post(
                token,
                &format!("{call}/persons"),
                json!({
                    "role": role,
                    "relation": relation,
                    "age_band": AgeBand::Unknown,
                    "description": words,
                }),
            )
            .await?;
        }
        let mut kinds = vec![self.rng.weighted(&ABUSE_KINDS)];
        while kinds.len() < 3 && self.rng.chance(0.35) {
            let k = self.rng.weighted(&ABUSE_KINDS);
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        let body = json!({
                "abuse_kinds": kinds,
                "setting": setting,
                "since": self.rng.weighted(&[
                    (Since::LessThanAMonth, 0.15),
                    (Since::MonthsToAYear, 0.35),
                    (Since::MoreThanAYear, 0.4),
                    (Since::Unknown, 0.1),
                ]),
                "frequency": self.rng.weighted(&[
                    (Frequency::Once, 0.08),
                    (Frequency::Occasional, 0.3),
                    (Frequency::Weekly, 0.27),
                    (Frequency::Daily, 0.27),
                    (Frequency::Unknown, 0.08),
                ]),
                "evolution": self.rng.weighted(&[
                    (Evolution::Worsening, 0.45),
                    (Evolution::Stable, 0.35),
                    (Evolution::Improving, 0.05),
                    (Evolution::Unknown, 0.15),
                ]),
        });
        self.post(token, &format!("{call}/facts"), body).await?;
        let notes = 1 + usize::from(self.rng.chance(0.4));
        for _ in 0..notes {
            let about_victim = victim != caller && self.rng.chance(0.4);
            let (text, about) = if about_victim {
                (self.rng.choose(&VICTIM_NOTES).to_string(), Some(victim))
            } else {
                (self.rng.choose(&CALLER_NOTES).to_string(), None)
            };
            self.post(
                token,
                &format!("{call}/notes"),
                json!({ "text": text, "about": about }),
            )
            .await?;
        }
        Ok(Call { id, number })
    }

    pub(super) fn name(&mut self) -> String {
        let first = self.rng.choose(&FIRST_NAMES);
        let last = self.rng.choose(&SURNAMES);
        format!("{first} {last}")
    }

    pub(super) fn old_name(&mut self) -> String {
        let (title, first) = *self.rng.choose(&OLD_FIRST_NAMES);
        let last = self.rng.choose(&SURNAMES);
        format!("{title} {first} {last}")
    }

    pub(super) fn address(&mut self, info: &CentreInfo) -> String {
        let n = self.rng.between(1, 140);
        let street = self.rng.choose(&STREETS);
        let district = self.rng.between(1, 9);
        format!("{n} {street}, {}{district:02} {}", info.postcode, info.city)
    }

    /// A phone number from the ranges ARCEP keeps for fiction.
    pub(super) fn phone(&mut self, info: &CentreInfo) -> String {
        let prefix = if self.rng.chance(0.45) {
            "06 39 98"
        } else {
            match info.code {
                "75" => "01 99 00",
                "59" => "03 53 01",
                "33" => "05 36 49",
                _ => "04 65 71",
            }
        };
        format!(
            "{prefix} {:02} {:02}",
            self.rng.between(0, 99),
            self.rng.between(0, 99)
        )
    }
}

pub(super) struct Call {
    pub(super) id: Uuid,
    pub(super) number: Number,
}
