//! Calls in the simulation: arrivals, what is said, and attaching a call to its case.

use std::collections::VecDeque;

use ecoute_domain::call::PersonDescription;
use ecoute_domain::call::{self, Answer, CallCommand, CallState};
use ecoute_domain::case::{self, CaseCommand, CaseState};
use ecoute_domain::Personal;
use ecoute_domain::{
    call_stream, case_stream, CallId, CaseId, CentreId, Event, Subject, SubjectId, VolunteerPair,
    Whose,
};
use ecoute_store::Commit;

use super::commit::{bump, call_command_name, case_command_name};
use super::types::*;
use super::Sim;
use super::{DAY, HOUR, MINUTE};
use crate::traffic::{
    self, shares, About, CallSketch, Caller, Number, Person, Purpose as TrafficPurpose,
};

impl Sim {
    pub(super) fn pick_centre(&mut self) -> usize {
        let total: f64 = self.centre_weights.iter().sum();
        let mut x = self.rng.f64() * total;
        for (i, w) in self.centre_weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        self.centres.len().saturating_sub(1)
    }

    /// A pair of volunteers accredited at `centre` now, if it has two.
    pub(super) fn pick_pair(&mut self, centre: usize) -> Option<VolunteerPair> {
        let vols = &self.centres.get(centre)?.volunteers;
        let n = vols.len();
        if n < 2 {
            return None;
        }
        let i = self.rng.below(n);
        let mut j = self.rng.below(n - 1);
        if j >= i {
            j += 1;
        }
        VolunteerPair::new(vols[i], vols[j]).ok()
    }

    pub(super) fn arrive(&mut self) -> Option<Commit> {
        let roll = self.rng.f64();
        let purpose = if roll < self.cfg.new_case_share {
            let home = self.pick_centre();
            let profile = self.new_profile(self.cfg.anonymity_share);
            Purpose::NewCase { home, profile }
        } else if roll < self.cfg.new_case_share + self.cfg.repeat_call_share {
            let target = if self.rng.chance(shares::AGAIN_ABOUT_AWAITED) {
                self.waiting.pick(&mut self.rng)
            } else {
                None
            };
            let target = target.or_else(|| {
                if self.rng.chance(shares::AGAIN_ABOUT_CLOSED) {
                    self.closed.pick(&mut self.rng)
                } else {
                    self.open.pick(&mut self.rng)
                }
            });
            match target {
                Some(case) => Purpose::Repeat(case),
                None => Purpose::Info,
            }
        } else {
            Purpose::Info
        };

        // Which door: the platform, or the centre of the caller's département; and
        // where the caller lives (for addresses and phone numbers).
        let home = match purpose {
            Purpose::NewCase { home, .. } => Some(home),
            Purpose::Repeat(case) => self
                .cases
                .get(&case)
                .and_then(|c| c.state.centre())
                .and_then(|c| c.departement())
                .and_then(|d| self.centre_index.get(&d).copied()),
            Purpose::Info => Some(self.pick_centre()),
        };
        let centre_door = home.filter(|_| !self.rng.chance(self.cfg.platform_share));
        let pair = centre_door.and_then(|c| Some((c, self.pick_pair(c)?)));
        let (actor, takers, answer) = match pair {
            Some((centre, pair)) => {
                let [a, b] = pair.members();
                let code = self.centres[centre].code;
                (a, vec![a, b], Answer::VolunteerPair { centre: code, pair })
            }
            None => {
                let listener = self.rng.pick(&self.listeners)?;
                (listener, vec![listener], Answer::PlatformListener)
            }
        };

        let call_id = CallId::from_uuid(self.rng.uuid());
        let place = match purpose {
            Purpose::Repeat(case) => self.cases.get(&case).map(|c| c.home),
            _ => home,
        };
        let code = place
            .and_then(|h| self.centres.get(h))
            .map_or("75", |c| c.code.as_str());
        let (profile, sketch) = match purpose {
            Purpose::NewCase { profile, .. } => {
                let sketch = traffic::sketch_call(
                    &mut self.rng,
                    TrafficPurpose::NewCase,
                    &profile.who,
                    code,
                );
                (profile, sketch)
            }
            Purpose::Repeat(case) => {
                let c = self.cases.get_mut(&case)?;
                c.incoming += 1;
                let profile = c.profile;
                let reachable = c.state.can_recontact();
                let purpose = TrafficPurpose::Again { reachable };
                let sketch = traffic::sketch_call(&mut self.rng, purpose, &profile.who, code);
                (profile, sketch)
            }
            Purpose::Info => {
                let profile = self.new_profile(0.0);
                let purpose = TrafficPurpose::Information;
                let sketch = traffic::sketch_call(&mut self.rng, purpose, &profile.who, code);
                (profile, sketch)
            }
        };
        let mut plan = self.commands(&profile, sketch);
        plan.push_front(CallCommand::Receive {
            call_id,
            caller: profile.caller,
            answer,
        });
        for t in &takers {
            *self.active.entry(*t).or_insert(0) += 1;
        }
        self.calls.insert(
            call_id,
            SimCall {
                state: CallState::default(),
                version: None,
                actor,
                takers,
                plan,
                purpose,
            },
        );
        self.call_step(call_id)
    }

    /// A new caller, drawn from the traffic model, anonymous with the chance
    /// `anonymity`; the victim is the caller or someone else.
    pub(super) fn new_profile(&mut self, anonymity: f64) -> Profile {
        let caller = SubjectId::from_uuid(self.rng.uuid());
        let who = Caller::draw(&mut self.rng, anonymity);
        let victim = if who.is_victim() {
            Subject::caller(caller)
        } else {
            Subject {
                id: SubjectId::from_uuid(self.rng.uuid()),
                whose: Whose::Victim,
            }
        };
        Profile {
            caller,
            victim,
            who,
        }
    }

    /// The commands that record what the traffic model says is said in the call, up to
    /// its end: each person gets a subject id, each value its subject.
    fn commands(&mut self, profile: &Profile, sketch: CallSketch) -> VecDeque<CallCommand> {
        let mut plan = VecDeque::new();
        let caller = Subject::caller(profile.caller);
        if sketch.anonymous {
            plan.push_back(CallCommand::RequestAnonymity);
        }
        match sketch.number {
            Number::Left(number) => plan.push_back(CallCommand::RecordCallbackNumber(
                Personal::new(caller, number),
            )),
            Number::Refused => plan.push_back(CallCommand::RefuseNumberRetention),
            Number::NotLeft => {}
        }
        let victim_described = sketch.victim.is_some();
        let people = sketch
            .caller
            .map(|p| (caller, p))
            .into_iter()
            .chain(sketch.victim.map(|p| (profile.victim, p)));
        let mut described: Vec<(Subject, Person)> = people.collect();
        for p in sketch.implicated.into_iter().chain(sketch.others) {
            let subject = Subject {
                id: SubjectId::from_uuid(self.rng.uuid()),
                whose: Whose::OtherPerson,
            };
            described.push((subject, p));
        }
        for (subject, p) in described {
            let value = |v: Option<String>| v.map(|v| Personal::new(subject, v));
            plan.push_back(CallCommand::DescribePerson(PersonDescription {
                person: subject.id,
                role: p.role,
                relation: p.relation,
                age_band: p.age_band,
                lives_with_victim: p.lives_with_victim,
                name: value(p.name),
                address: value(p.address),
                description: value(p.description),
            }));
        }
        if let Some(facts) = sketch.facts {
            plan.push_back(CallCommand::RecordFacts(facts));
        }
        for note in sketch.notes {
            let about = match note.about {
                About::Victim if victim_described => profile.victim,
                _ => caller,
            };
            plan.push_back(CallCommand::AddNote(Personal::new(about, note.text)));
        }
        plan.push_back(CallCommand::End);
        plan
    }

    pub(super) fn call_step(&mut self, id: CallId) -> Option<Commit> {
        let call = self.calls.get_mut(&id)?;
        let Some(command) = call.plan.pop_front() else {
            let commit = self.attach(id);
            self.finish_call(id, commit.is_some());
            return commit;
        };
        let is_end = matches!(command, CallCommand::End);
        let Some(commit) = self.call_command(id, command) else {
            self.finish_call(id, false);
            return None;
        };
        let info = matches!(self.calls.get(&id).map(|c| c.purpose), Some(Purpose::Info));
        if is_end && info {
            self.stats.calls_without_case += 1;
            self.finish_call(id, true);
        } else {
            let at = if is_end {
                self.after(20, 10 * MINUTE)
            } else {
                self.after(20, 4 * MINUTE)
            };
            self.schedule(at, Action::CallStep(id));
        }
        Some(commit)
    }

    pub(super) fn call_command(&mut self, id: CallId, command: CallCommand) -> Option<Commit> {
        let call = self.calls.get(&id)?;
        let (actor, version) = (call.actor, call.version);
        let decided = self
            .context(actor, &call.takers)
            .and_then(|ctx| call::decide(&call.state, &command, &ctx));
        let events = match decided {
            Ok(events) => events,
            Err(e) => {
                self.refuse(call_command_name(&command), &e);
                return None;
            }
        };
        let all: Vec<Event> = events.iter().cloned().map(Event::from).collect();
        let data = self.encode_all(actor, *id.as_uuid(), &all)?;
        let commit = Commit {
            appends: vec![self.stream_append(call_stream(id), version, data)?],
        };
        let call = self.calls.get_mut(&id)?;
        call.state = events
            .iter()
            .fold(std::mem::take(&mut call.state), call::evolve);
        call.version = bump(version, events.len());
        self.count(&all);
        Some(commit)
    }

    /// Opens a case from the call, or links the call to its case: one commit over both
    /// streams.
    pub(super) fn attach(&mut self, call_id: CallId) -> Option<Commit> {
        let call = self.calls.get(&call_id)?;
        let (actor, purpose, call_version) = (call.actor, call.purpose, call.version);
        let Some(summary) = call.state.summary() else {
            self.refuse("AttachToCase", &"the call was never received");
            return None;
        };
        let (case_id, new_case, command) = match purpose {
            Purpose::Info => return None,
            Purpose::NewCase { .. } => {
                let case_id = CaseId::from_uuid(self.rng.uuid());
                (case_id, true, CaseCommand::Open { case_id, call_id })
            }
            Purpose::Repeat(case_id) => (case_id, false, CaseCommand::LinkCall(call_id)),
        };
        let fresh = CaseState::default();
        let (case_state, case_version) = match self.cases.get(&case_id) {
            Some(c) if !new_case => (&c.state, c.version),
            _ => (&fresh, None),
        };
        let call = self.calls.get(&call_id)?;
        let attach = CallCommand::AttachToCase { case_id, new_case };
        let decided = self.context(actor, &call.takers).and_then(|ctx| {
            let ctx = ctx.with_call(summary);
            let case_events = case::decide(case_state, &command, &ctx)?;
            let call_events = call::decide(&call.state, &attach, &ctx)?;
            Ok((case_events, call_events))
        });
        let (case_events, call_events) = match decided {
            Ok(e) => e,
            Err(e) => {
                self.refuse(case_command_name(&command), &e);
                return None;
            }
        };
        let case_all: Vec<Event> = case_events.iter().cloned().map(Event::from).collect();
        let call_all: Vec<Event> = call_events.iter().cloned().map(Event::from).collect();
        let case_data = self.encode_all(actor, *call_id.as_uuid(), &case_all)?;
        let call_data = self.encode_all(actor, *call_id.as_uuid(), &call_all)?;
        let commit = Commit {
            appends: vec![
                self.stream_append(case_stream(case_id), case_version, case_data)?,
                self.stream_append(call_stream(call_id), call_version, call_data)?,
            ],
        };
        let mut all = case_all;
        all.extend(call_all);

        if let Some(call) = self.calls.get_mut(&call_id) {
            call.state = call_events
                .iter()
                .fold(std::mem::take(&mut call.state), call::evolve);
            call.version = bump(call_version, call_events.len());
        }
        match purpose {
            Purpose::NewCase { home, profile } => {
                let state = case::fold(&case_events);
                let platform = state.opened_by() == Some(CentreId::NationalPlatform);
                self.cases.insert(
                    case_id,
                    SimCase {
                        state,
                        version: bump(None, case_events.len()),
                        profile,
                        home,
                        phase: Phase::Transfer,
                        token: 0,
                        awaiting_flag: false,
                        no_answers: 0,
                        round: Vec::new(),
                        round_target: 0,
                        to_act: VecDeque::new(),
                        acted: false,
                        refused_any: false,
                        woken: false,
                        incoming: 0,
                        reopen_planned: false,
                        failures: 0,
                    },
                );
                self.open.insert(case_id);
                if platform {
                    let at = self.after(10 * MINUTE, 4 * HOUR);
                    self.case_next(case_id, Phase::Transfer, at);
                } else {
                    let at = self.after(HOUR, DAY);
                    self.case_next(case_id, Phase::Referent, at);
                }
            }
            Purpose::Repeat(_) => {
                let c = self.cases.get_mut(&case_id)?;
                c.state = case_events
                    .iter()
                    .fold(std::mem::take(&mut c.state), case::evolve);
                c.version = bump(case_version, case_events.len());
                c.awaiting_flag = false;
                c.incoming = c.incoming.saturating_sub(1);
                if matches!(c.phase, Phase::Waiting | Phase::Closed) {
                    c.woken = true;
                    c.reopen_planned = false;
                    c.no_answers = 0;
                    self.waiting.remove(case_id);
                    self.closed.remove(case_id);
                    self.open.insert(case_id);
                    let at = self.after(2 * HOUR, 2 * DAY);
                    self.case_next(case_id, Phase::Analyse, at);
                }
            }
            Purpose::Info => {}
        }
        self.count(&all);
        Some(commit)
    }

    pub(super) fn finish_call(&mut self, id: CallId, attached: bool) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        for t in &call.takers {
            if let Some(n) = self.active.get_mut(t) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.active.remove(t);
                }
            }
        }
        if let (Purpose::Repeat(case), false) = (call.purpose, attached) {
            if let Some(c) = self.cases.get_mut(&case) {
                c.incoming = c.incoming.saturating_sub(1);
            }
        }
    }
}
