//! Cases in the simulation: transfer, referent, call-backs, solutions, consent, actions,
//! closing and reopening, each a step of the agenda.

use chrono::{DateTime, Utc};
use ecoute_domain::case::{self, CaseCommand, CaseEvent, Consent, ConsentDecision};
use ecoute_domain::vocabulary::{CloseReason, RecontactOutcome};
use ecoute_domain::Personal;
use ecoute_domain::{case_stream, CaseId, Event, Role, SolutionId, StaffId, Subject};
use ecoute_store::Commit;

use super::commit::{bump, case_command_name};
use super::types::*;
use super::Sim;
use super::{DAY, HOUR, MINUTE};
use crate::traffic::follow_up::{self, Decision};
use crate::traffic::shares;

impl Sim {
    pub(super) fn case_next(&mut self, id: CaseId, phase: Phase, at: DateTime<Utc>) {
        if let Some(c) = self.cases.get_mut(&id) {
            c.phase = phase;
            c.token += 1;
            let token = c.token;
            self.schedule(at, Action::CaseStep(id, token));
        }
    }

    pub(super) fn drop_case(&mut self, id: CaseId) {
        self.cases.remove(&id);
        self.open.remove(id);
        self.closed.remove(id);
        self.waiting.remove(id);
    }

    pub(super) fn case_centre(&self, id: CaseId) -> Option<usize> {
        let d = self.cases.get(&id)?.state.centre()?.departement()?;
        self.centre_index.get(&d).copied()
    }

    /// Whether the case's referent may follow it now.
    pub(super) fn referent_ok(&self, id: CaseId) -> Option<StaffId> {
        let c = self.cases.get(&id)?;
        let d = c.state.centre()?.departement()?;
        let r = c.state.referent()?;
        let s = self.snapshot(r)?;
        (s.has(Role::Referent) && s.accredited_at(d)).then_some(r)
    }

    /// Someone who may act on the case now: its referent, a volunteer of its centre, or a
    /// platform listener.
    pub(super) fn any_actor(&mut self, id: CaseId) -> Option<StaffId> {
        if let Some(r) = self.referent_ok(id) {
            return Some(r);
        }
        if let Some(ci) = self.case_centre(id) {
            let vols = &self.centres[ci].volunteers;
            if let Some(v) = self.rng.pick(vols) {
                return Some(v);
            }
        }
        self.rng.pick(&self.listeners)
    }

    pub(super) fn case_command(
        &mut self,
        id: CaseId,
        actor: StaffId,
        staff: &[StaffId],
        command: CaseCommand,
    ) -> Option<Commit> {
        let c = self.cases.get(&id)?;
        let version = c.version;
        let decided = self
            .context(actor, staff)
            .and_then(|ctx| case::decide(&c.state, &command, &ctx));
        let events = match decided {
            Ok(events) => events,
            Err(e) => {
                self.refuse(case_command_name(&command), &e);
                return None;
            }
        };
        let all: Vec<Event> = events.iter().cloned().map(Event::from).collect();
        let data = self.encode_all(actor, *id.as_uuid(), &all)?;
        let commit = Commit {
            appends: vec![self.stream_append(case_stream(id), version, data)?],
        };
        let c = self.cases.get_mut(&id)?;
        for e in &events {
            match e {
                CaseEvent::AwaitingCallBack(_) => c.awaiting_flag = true,
                CaseEvent::CallLinked(_) => c.awaiting_flag = false,
                CaseEvent::RecontactAttempted(e) if e.outcome == RecontactOutcome::Reached => {
                    c.awaiting_flag = false
                }
                _ => {}
            }
        }
        c.state = events
            .iter()
            .fold(std::mem::take(&mut c.state), case::evolve);
        c.version = bump(version, events.len());
        self.count(&all);
        Some(commit)
    }

    pub(super) fn case_step(&mut self, id: CaseId, token: u64) -> Option<Commit> {
        let c = self.cases.get(&id)?;
        if c.token != token {
            return None;
        }
        let phase = c.phase;
        let refused_before = self.stats.refused;
        let result = match phase {
            Phase::Transfer => self.step_transfer(id),
            Phase::Reassign => self.step_reassign(id),
            Phase::Referent => self.step_assign(id, Phase::Analyse),
            Phase::Waiting => self.step_give_up(id),
            Phase::Closed => self.step_closed(id),
            _ if self.referent_ok(id).is_none() => self.step_assign(id, phase),
            Phase::Analyse => self.step_analyse(id),
            Phase::Recontact => self.step_recontact(id),
            Phase::AwaitBack => self.step_await(id),
            Phase::Propose => self.step_propose(id),
            Phase::Consent => self.step_consent(id),
            Phase::Act => self.step_act(id),
            Phase::Close => self.step_close(id),
        };
        if result.is_none() && self.stats.refused > refused_before {
            // A refusal is a bug of the simulator: retry a little later, then give up.
            let at = self.after(HOUR, DAY);
            if let Some(c) = self.cases.get_mut(&id) {
                c.failures = c.failures.saturating_add(1);
                if c.failures < 3 {
                    self.case_next(id, phase, at);
                } else {
                    c.reopen_planned = false;
                    self.case_next(id, Phase::Closed, at);
                }
            }
        }
        result
    }

    pub(super) fn step_transfer(&mut self, id: CaseId) -> Option<Commit> {
        let home = self.cases.get(&id)?.home;
        let code = self.centres.get(home)?.code;
        let listener = self.rng.pick(&self.listeners)?;
        let commit = self.case_command(id, listener, &[], CaseCommand::Transfer(code))?;
        let at = self.after(HOUR, 2 * DAY);
        self.case_next(id, Phase::Referent, at);
        Some(commit)
    }

    pub(super) fn step_reassign(&mut self, id: CaseId) -> Option<Commit> {
        let c = self.cases.get(&id)?;
        let (home, incoming) = (c.home, c.incoming);
        if incoming > 0 || self.centres.len() < 2 {
            let at = self.after(HOUR, DAY);
            self.case_next(id, Phase::Recontact, at);
            return None;
        }
        let mut to = self.pick_centre();
        if to == home {
            to = (home + 1) % self.centres.len();
        }
        let code = self.centres[to].code;
        let listener = self.rng.pick(&self.listeners)?;
        let commit = self.case_command(id, listener, &[], CaseCommand::Reassign(code))?;
        if let Some(c) = self.cases.get_mut(&id) {
            c.home = to;
        }
        let at = self.after(HOUR, DAY);
        self.case_next(id, Phase::Referent, at);
        Some(commit)
    }

    /// Names a referent who may follow the case (a referent accredited at its centre who
    /// took none of its calls), then goes on with `then`.
    pub(super) fn step_assign(&mut self, id: CaseId, then: Phase) -> Option<Commit> {
        let Some(ci) = self.case_centre(id) else {
            // Still at the platform: transfer first.
            let at = self.after(10 * MINUTE, HOUR);
            self.case_next(id, Phase::Transfer, at);
            return None;
        };
        let c = self.cases.get(&id)?;
        let centre = &self.centres[ci];
        let candidates: Vec<StaffId> = centre
            .referents
            .iter()
            .copied()
            .filter(|r| !c.state.call_takers().contains(r) && c.state.referent() != Some(*r))
            .collect();
        let Some(referent) = self.rng.pick(&candidates) else {
            self.stats.stalled += 1;
            let at = self.after(DAY, 2 * DAY);
            self.case_next(id, then, at);
            return None;
        };
        let actor = self
            .rng
            .pick(&self.centres[ci].volunteers)
            .unwrap_or(referent);
        let commit = self.case_command(
            id,
            actor,
            &[referent],
            CaseCommand::AssignReferent(referent),
        )?;
        let at = if then == Phase::Analyse {
            self.after(2 * HOUR, 3 * DAY)
        } else {
            self.after(30 * MINUTE, 6 * HOUR)
        };
        self.case_next(id, then, at);
        Some(commit)
    }

    pub(super) fn victim(&self, id: CaseId) -> Option<Subject> {
        Some(self.cases.get(&id)?.profile.victim)
    }

    pub(super) fn step_analyse(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let victim = self.victim(id)?;
        let analysis = Personal::new(victim, follow_up::analysis(&mut self.rng));
        let commit = self.case_command(id, referent, &[], CaseCommand::RecordAnalysis(analysis))?;
        let c = self.cases.get(&id)?;
        let reassign = c.state.is_transferred()
            && c.incoming == 0
            && self.centres.len() > 1
            && self.rng.chance(shares::REASSIGNED);
        let at = self.after(HOUR, 2 * DAY);
        let next = if reassign {
            Phase::Reassign
        } else {
            Phase::Recontact
        };
        self.case_next(id, next, at);
        Some(commit)
    }

    pub(super) fn step_recontact(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let c = self.cases.get(&id)?;
        if !c.state.can_recontact() {
            if c.woken && self.rng.chance(shares::PROPOSED_THROUGH_A_CALL) {
                // The caller called again: the referent proposes through that call.
                let at = self.after(10 * MINUTE, DAY);
                self.case_next(id, Phase::Propose, at);
                return None;
            }
            return self.step_await(id);
        }
        let outcome = follow_up::recontact(&mut self.rng);
        let commit =
            self.case_command(id, referent, &[], CaseCommand::AttemptRecontact(outcome))?;
        let c = self.cases.get_mut(&id)?;
        let (phase, lo, hi) = match outcome {
            RecontactOutcome::Reached => {
                c.no_answers = 0;
                (Phase::Propose, 5 * MINUTE, 20 * MINUTE)
            }
            RecontactOutcome::NoAnswer => {
                c.no_answers += 1;
                if usize::from(c.no_answers) >= shares::RECONTACT_ATTEMPTS {
                    (Phase::AwaitBack, HOUR, DAY)
                } else {
                    (Phase::Recontact, DAY, 3 * DAY)
                }
            }
            RecontactOutcome::WrongNumber => (Phase::AwaitBack, 10 * MINUTE, DAY),
        };
        let at = self.after(lo, hi);
        self.case_next(id, phase, at);
        Some(commit)
    }

    /// The case waits for the caller to call again; without news it is closed.
    pub(super) fn step_await(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let flagged = self.cases.get(&id)?.awaiting_flag;
        let commit = if flagged {
            None
        } else {
            Some(self.case_command(id, referent, &[], CaseCommand::AwaitCallBack)?)
        };
        if let Some(c) = self.cases.get_mut(&id) {
            c.woken = false;
        }
        self.waiting.insert(id);
        let at = self.after(20 * DAY, 60 * DAY);
        self.case_next(id, Phase::Waiting, at);
        commit
    }

    pub(super) fn step_give_up(&mut self, id: CaseId) -> Option<Commit> {
        let actor = self.any_actor(id)?;
        let commit = self.case_command(
            id,
            actor,
            &[],
            CaseCommand::Close(CloseReason::NoFurtherContact),
        )?;
        self.after_close(id);
        Some(commit)
    }

    pub(super) fn step_propose(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let victim = self.victim(id)?;
        let c = self.cases.get_mut(&id)?;
        if c.round.is_empty() {
            c.acted = false;
            c.refused_any = false;
            c.to_act.clear();
            c.round_target = follow_up::solutions_in_a_round(&mut self.rng);
        }
        let solution_id = SolutionId::from_uuid(self.rng.uuid());
        let solution = follow_up::solution(&mut self.rng);
        let kind = solution.kind;
        let description = Personal::new(victim, solution.proposal.to_string());
        let commit = self.case_command(
            id,
            referent,
            &[],
            CaseCommand::ProposeSolution {
                solution_id,
                kind,
                description,
            },
        )?;
        let c = self.cases.get_mut(&id)?;
        c.round.push((solution_id, solution.first_action));
        let more = c.round.len() < c.round_target;
        let at = if more {
            self.after(2 * MINUTE, 10 * MINUTE)
        } else {
            self.after(MINUTE, 3 * DAY)
        };
        let next = if more { Phase::Propose } else { Phase::Consent };
        self.case_next(id, next, at);
        Some(commit)
    }

    pub(super) fn step_consent(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let c = self.cases.get(&id)?;
        let pending = c.round.iter().copied().find(|(s, _)| {
            c.state
                .solutions()
                .get(s)
                .is_some_and(|s| s.consent == Consent::Pending)
        });
        let Some((solution_id, first_action)) = pending else {
            let next = if c.to_act.is_empty() {
                Phase::Close
            } else {
                Phase::Act
            };
            let at = self.after(HOUR, 5 * DAY);
            self.case_next(id, next, at);
            return None;
        };
        let (given, decision) = match follow_up::decision(&mut self.rng) {
            Decision::Given => (true, ConsentDecision::Given),
            Decision::Refused => (false, ConsentDecision::Refused),
            Decision::ThinkingItOver => {
                // The caller thinks it over: the referent asks again later.
                let at = self.after(HOUR, 3 * DAY);
                self.case_next(id, Phase::Consent, at);
                return None;
            }
        };
        let commit = self.case_command(
            id,
            referent,
            &[],
            CaseCommand::RecordConsent {
                solution_id,
                decision,
            },
        )?;
        let c = self.cases.get_mut(&id)?;
        if given {
            c.to_act.push_back((solution_id, Some(first_action)));
        } else {
            c.refused_any = true;
        }
        let at = self.after(MINUTE, 5 * MINUTE);
        self.case_next(id, Phase::Consent, at);
        Some(commit)
    }

    pub(super) fn step_act(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let victim = self.victim(id)?;
        let Some((solution_id, first_action)) = self.cases.get_mut(&id)?.to_act.pop_front() else {
            let at = self.after(DAY, 20 * DAY);
            self.case_next(id, Phase::Close, at);
            return None;
        };
        let withdraw = follow_up::withdrawn(&mut self.rng);
        let command = if withdraw {
            CaseCommand::RecordConsent {
                solution_id,
                decision: ConsentDecision::Withdrawn,
            }
        } else {
            CaseCommand::TakeAction {
                solution_id,
                note: Personal::new(
                    victim,
                    match first_action {
                        Some(action) => action.to_string(),
                        None => follow_up::follow_up(&mut self.rng),
                    },
                ),
            }
        };
        let commit = self.case_command(id, referent, &[], command)?;
        let second = !withdraw && first_action.is_some() && follow_up::has_follow_up(&mut self.rng);
        let c = self.cases.get_mut(&id)?;
        if !withdraw {
            c.acted = true;
        }
        if second {
            c.to_act.push_back((solution_id, None));
        }
        let (next, at) = if c.to_act.is_empty() {
            (Phase::Close, self.after(DAY, 20 * DAY))
        } else {
            (Phase::Act, self.after(HOUR, 10 * DAY))
        };
        self.case_next(id, next, at);
        Some(commit)
    }

    pub(super) fn step_close(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let c = self.cases.get(&id)?;
        let (acted, refused) = (c.acted, c.refused_any);
        let reason = follow_up::close_reason(&mut self.rng, acted, refused);
        let commit = self.case_command(id, referent, &[], CaseCommand::Close(reason))?;
        self.after_close(id);
        Some(commit)
    }

    pub(super) fn after_close(&mut self, id: CaseId) {
        self.waiting.remove(id);
        self.open.remove(id);
        self.closed.insert(id);
        let reopen = self.rng.chance(self.cfg.reopen_share);
        let retention = i64::from(self.cfg.retention_days) * DAY;
        let at = if reopen {
            self.after(3 * DAY, 60 * DAY)
        } else {
            self.after(retention, retention + DAY)
        };
        if let Some(c) = self.cases.get_mut(&id) {
            c.round.clear();
            c.to_act.clear();
            c.reopen_planned = reopen;
            c.woken = false;
        }
        self.case_next(id, Phase::Closed, at);
    }

    pub(super) fn step_closed(&mut self, id: CaseId) -> Option<Commit> {
        let c = self.cases.get(&id)?;
        if c.reopen_planned && c.state.status() == case::CaseStatus::Closed {
            let actor = self.any_actor(id)?;
            let commit = self.case_command(id, actor, &[], CaseCommand::Reopen)?;
            if let Some(c) = self.cases.get_mut(&id) {
                c.reopen_planned = false;
                c.woken = true;
                c.no_answers = 0;
            }
            self.closed.remove(id);
            self.open.insert(id);
            let at = self.after(HOUR, 2 * DAY);
            self.case_next(id, Phase::Analyse, at);
            return Some(commit);
        }
        if c.incoming > 0 {
            let at = self.after(DAY, 2 * DAY);
            self.case_next(id, Phase::Closed, at);
            return None;
        }
        self.drop_case(id);
        None
    }
}
