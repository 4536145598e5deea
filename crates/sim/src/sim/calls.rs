//! Calls in the simulation: arrivals, what is said, and attaching a call to its case.

use std::collections::{BTreeSet, VecDeque};

use ecoute_domain::call::PersonDescription;
use ecoute_domain::call::{self, Answer, CallCommand, CallState, Facts};
use ecoute_domain::case::{self, CaseCommand, CaseState};
use ecoute_domain::vocabulary::{
    AbuseKind, AgeBand, CloseCircle, Evolution, Frequency, PersonRole, Relation, Setting, Since,
};
use ecoute_domain::{
    call_stream, case_stream, CallId, CaseId, CentreId, DepartementCode, Event, Subject, SubjectId,
    VolunteerPair, Whose,
};
use ecoute_store::Commit;

use super::commit::{bump, call_command_name, case_command_name};
use super::types::*;
use super::Sim;
use super::{DAY, HOUR, MINUTE};
use crate::text;

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
            let profile = self.new_profile();
            Purpose::NewCase { home, profile }
        } else if roll < self.cfg.new_case_share + self.cfg.repeat_call_share {
            let target = if self.rng.chance(0.35) {
                self.waiting.pick(&mut self.rng)
            } else {
                None
            };
            let target = target.or_else(|| {
                if self.rng.chance(0.12) {
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

        // Which door: the platform, or the centre of the caller's département.
        let centre_door = match purpose {
            Purpose::NewCase { home, .. } => {
                (!self.rng.chance(self.cfg.platform_share)).then_some(home)
            }
            Purpose::Repeat(case) => {
                let centre = self
                    .cases
                    .get(&case)
                    .and_then(|c| c.state.centre())
                    .and_then(|c| c.departement())
                    .and_then(|d| self.centre_index.get(&d).copied());
                centre.filter(|_| self.rng.chance(0.1))
            }
            Purpose::Info => {
                let home = self.pick_centre();
                self.rng.chance(0.05).then_some(home)
            }
        };
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
        let (caller, mut plan) = match purpose {
            Purpose::NewCase { home, profile } => {
                let code = self.centres[home].code;
                (profile.caller, self.plan_new(&profile, code))
            }
            Purpose::Repeat(case) => {
                let c = self.cases.get_mut(&case)?;
                c.incoming += 1;
                let profile = c.profile;
                let reachable = c.state.can_recontact();
                (profile.caller, self.plan_repeat(&profile, reachable))
            }
            Purpose::Info => {
                let caller = SubjectId::from_uuid(self.rng.uuid());
                (caller, self.plan_info(caller))
            }
        };
        plan.push_front(CallCommand::Receive {
            call_id,
            caller,
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

    pub(super) fn new_profile(&mut self) -> Profile {
        let caller = SubjectId::from_uuid(self.rng.uuid());
        let caller_is_victim = self.rng.chance(0.22);
        let victim = if caller_is_victim {
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
            anonymous: self.rng.chance(self.cfg.anonymity_share),
        }
    }

    pub(super) fn age_band(&mut self, old: bool) -> AgeBand {
        if old {
            self.rng.weighted(&[
                (AgeBand::From60To69, 10.0),
                (AgeBand::From70To79, 25.0),
                (AgeBand::From80To89, 40.0),
                (AgeBand::From90, 20.0),
                (AgeBand::Unknown, 5.0),
            ])
        } else {
            self.rng.weighted(&[
                (AgeBand::Under60, 70.0),
                (AgeBand::From60To69, 15.0),
                (AgeBand::From70To79, 5.0),
                (AgeBand::Unknown, 10.0),
            ])
        }
    }

    pub(super) fn facts(&mut self, home: bool) -> Facts {
        let kinds = [
            (AbuseKind::Psychological, 38.0),
            (AbuseKind::Financial, 25.0),
            (AbuseKind::Physical, 13.0),
            (AbuseKind::Neglect, 12.0),
            (AbuseKind::DeprivationOfRights, 7.0),
            (AbuseKind::Medical, 3.0),
            (AbuseKind::Sexual, 2.0),
        ];
        let mut abuse_kinds = BTreeSet::from([self.rng.weighted(&kinds)]);
        if self.rng.chance(0.45) {
            abuse_kinds.insert(self.rng.weighted(&kinds));
        }
        if self.rng.chance(0.15) {
            abuse_kinds.insert(self.rng.weighted(&kinds));
        }
        Facts {
            abuse_kinds,
            setting: if home {
                Setting::Home
            } else {
                Setting::Institution
            },
            since: self.rng.weighted(&[
                (Since::LessThanAMonth, 15.0),
                (Since::MonthsToAYear, 35.0),
                (Since::MoreThanAYear, 40.0),
                (Since::Unknown, 10.0),
            ]),
            frequency: self.rng.weighted(&[
                (Frequency::Once, 8.0),
                (Frequency::Occasional, 30.0),
                (Frequency::Weekly, 27.0),
                (Frequency::Daily, 25.0),
                (Frequency::Unknown, 10.0),
            ]),
            evolution: self.rng.weighted(&[
                (Evolution::Worsening, 45.0),
                (Evolution::Stable, 35.0),
                (Evolution::Improving, 5.0),
                (Evolution::Unknown, 15.0),
            ]),
        }
    }

    pub(super) fn victim_description(
        &mut self,
        profile: &Profile,
        code: DepartementCode,
    ) -> CallCommand {
        let v = profile.victim;
        let may_identify = !(v.whose == Whose::Caller && profile.anonymous);
        let name = (may_identify && self.rng.chance(0.8)).then(|| text::name(&mut self.rng, v));
        let address = (may_identify && self.rng.chance(0.4))
            .then(|| text::address(&mut self.rng, v, code.as_str()));
        let description = self
            .rng
            .chance(0.3)
            .then(|| text::description(&mut self.rng, v));
        CallCommand::DescribePerson(PersonDescription {
            person: v.id,
            role: PersonRole::Victim,
            relation: Relation::Themself,
            age_band: self.age_band(true),
            lives_with_victim: None,
            name,
            address,
            description,
        })
    }

    pub(super) fn plan_new(
        &mut self,
        profile: &Profile,
        code: DepartementCode,
    ) -> VecDeque<CallCommand> {
        let mut plan = VecDeque::new();
        let caller = Subject::caller(profile.caller);
        if profile.anonymous {
            plan.push_back(CallCommand::RequestAnonymity);
        }
        let (refuse, leave) = if profile.anonymous {
            (0.45, 0.35)
        } else {
            (0.05, 0.70)
        };
        let x = self.rng.f64();
        if x < refuse {
            plan.push_back(CallCommand::RefuseNumberRetention);
        } else if x < refuse + leave {
            plan.push_back(CallCommand::RecordCallbackNumber(text::phone(
                &mut self.rng,
                caller,
            )));
        }
        plan.push_back(self.victim_description(profile, code));
        let home = self.rng.chance(0.73);
        if profile.victim.whose != Whose::Caller {
            // The caller, from the close circle or a professional.
            let (role, relation) = self.rng.weighted(&[
                (
                    (
                        PersonRole::CloseCircle(CloseCircle::Family),
                        Relation::Child,
                    ),
                    35.0,
                ),
                (
                    (
                        PersonRole::CloseCircle(CloseCircle::Family),
                        Relation::Grandchild,
                    ),
                    8.0,
                ),
                (
                    (
                        PersonRole::CloseCircle(CloseCircle::Family),
                        Relation::Spouse,
                    ),
                    5.0,
                ),
                (
                    (
                        PersonRole::CloseCircle(CloseCircle::Family),
                        Relation::OtherFamily,
                    ),
                    7.0,
                ),
                (
                    (
                        PersonRole::CloseCircle(CloseCircle::Friend),
                        Relation::Friend,
                    ),
                    10.0,
                ),
                (
                    (
                        PersonRole::CloseCircle(CloseCircle::Neighbour),
                        Relation::Neighbour,
                    ),
                    15.0,
                ),
                ((PersonRole::Professional, Relation::Professional), 20.0),
            ]);
            let name = (!profile.anonymous && self.rng.chance(0.7))
                .then(|| text::name(&mut self.rng, caller));
            plan.push_back(CallCommand::DescribePerson(PersonDescription {
                person: profile.caller,
                role,
                relation,
                age_band: self.age_band(false),
                lives_with_victim: Some(home && self.rng.chance(0.2)),
                name,
                address: None,
                description: None,
            }));
        }
        let implicated = if self.rng.chance(0.85) { 1 } else { 2 };
        for _ in 0..implicated {
            let relation = if home {
                self.rng.weighted(&[
                    (Relation::Child, 42.0),
                    (Relation::Spouse, 16.0),
                    (Relation::Grandchild, 7.0),
                    (Relation::OtherFamily, 6.0),
                    (Relation::Sibling, 2.0),
                    (Relation::Professional, 12.0),
                    (Relation::Neighbour, 6.0),
                    (Relation::Friend, 4.0),
                    (Relation::Other, 5.0),
                ])
            } else {
                self.rng.weighted(&[
                    (Relation::Professional, 70.0),
                    (Relation::Child, 10.0),
                    (Relation::OtherFamily, 5.0),
                    (Relation::Other, 15.0),
                ])
            };
            let person = Subject {
                id: SubjectId::from_uuid(self.rng.uuid()),
                whose: Whose::OtherPerson,
            };
            let name = self
                .rng
                .chance(0.3)
                .then(|| text::name(&mut self.rng, person));
            let description = self
                .rng
                .chance(0.6)
                .then(|| text::description(&mut self.rng, person));
            let young = matches!(
                relation,
                Relation::Child | Relation::Grandchild | Relation::Professional
            );
            plan.push_back(CallCommand::DescribePerson(PersonDescription {
                person: person.id,
                role: PersonRole::Implicated,
                relation,
                age_band: self.age_band(!young),
                lives_with_victim: Some(home && self.rng.chance(0.5)),
                name,
                address: None,
                description,
            }));
        }
        if self.rng.chance(0.2) {
            let person = SubjectId::from_uuid(self.rng.uuid());
            plan.push_back(CallCommand::DescribePerson(PersonDescription {
                person,
                role: PersonRole::Professional,
                relation: Relation::Professional,
                age_band: self.age_band(false),
                lives_with_victim: Some(false),
                name: None,
                address: None,
                description: None,
            }));
        }
        plan.push_back(CallCommand::RecordFacts(self.facts(home)));
        if self.rng.chance(0.7) {
            let about = if self.rng.chance(0.5) {
                caller
            } else {
                profile.victim
            };
            plan.push_back(CallCommand::AddNote(text::note(&mut self.rng, about)));
        }
        plan.push_back(CallCommand::End);
        plan
    }

    pub(super) fn plan_repeat(
        &mut self,
        profile: &Profile,
        reachable: bool,
    ) -> VecDeque<CallCommand> {
        let mut plan = VecDeque::new();
        let caller = Subject::caller(profile.caller);
        if profile.anonymous {
            plan.push_back(CallCommand::RequestAnonymity);
        }
        let (refuse, leave) = if reachable { (0.03, 0.15) } else { (0.1, 0.55) };
        let x = self.rng.f64();
        if x < refuse {
            plan.push_back(CallCommand::RefuseNumberRetention);
        } else if x < refuse + leave {
            plan.push_back(CallCommand::RecordCallbackNumber(text::phone(
                &mut self.rng,
                caller,
            )));
        }
        let victim_described = self.rng.chance(0.3);
        if victim_described {
            let v = profile.victim;
            let description = self
                .rng
                .chance(0.5)
                .then(|| text::description(&mut self.rng, v));
            plan.push_back(CallCommand::DescribePerson(PersonDescription {
                person: v.id,
                role: PersonRole::Victim,
                relation: Relation::Themself,
                age_band: self.age_band(true),
                lives_with_victim: None,
                name: None,
                address: None,
                description,
            }));
        }
        if self.rng.chance(0.5) {
            let home = self.rng.chance(0.73);
            plan.push_back(CallCommand::RecordFacts(self.facts(home)));
        }
        if self.rng.chance(0.6) {
            let about = if victim_described && self.rng.chance(0.5) {
                profile.victim
            } else {
                caller
            };
            plan.push_back(CallCommand::AddNote(text::note(&mut self.rng, about)));
        }
        plan.push_back(CallCommand::End);
        plan
    }

    pub(super) fn plan_info(&mut self, caller_id: SubjectId) -> VecDeque<CallCommand> {
        let mut plan = VecDeque::new();
        let caller = Subject::caller(caller_id);
        if self.rng.chance(0.1) {
            plan.push_back(CallCommand::RequestAnonymity);
        }
        let x = self.rng.f64();
        if x < 0.05 {
            plan.push_back(CallCommand::RefuseNumberRetention);
        } else if x < 0.2 {
            plan.push_back(CallCommand::RecordCallbackNumber(text::phone(
                &mut self.rng,
                caller,
            )));
        }
        if self.rng.chance(0.3) {
            let victim = SubjectId::from_uuid(self.rng.uuid());
            plan.push_back(CallCommand::DescribePerson(PersonDescription {
                person: victim,
                role: PersonRole::Victim,
                relation: Relation::Themself,
                age_band: self.age_band(true),
                lives_with_victim: None,
                name: None,
                address: None,
                description: None,
            }));
        }
        if self.rng.chance(0.4) {
            let home = self.rng.chance(0.73);
            plan.push_back(CallCommand::RecordFacts(self.facts(home)));
        }
        if self.rng.chance(0.3) {
            plan.push_back(CallCommand::AddNote(text::note(&mut self.rng, caller)));
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
