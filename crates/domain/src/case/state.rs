//! A case's state, the fold of its events: what it holds, its queries, and `evolve`.

use super::{CaseEvent, Deadline, DeadlineKind, InactivityFlag, LinkedCall, RetentionStep};
use crate::call::NumberStatus;
use crate::centre::CentreId;
use crate::ids::{CallId, CaseId, SolutionId, StaffId, SubjectId};
use crate::personal::Whose;
use crate::retention::{elapsed, RetentionPolicy};
use crate::vocabulary::{RecontactOutcome, SolutionKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a case stands in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CaseStatus {
    /// No event yet.
    #[default]
    NotOpened,
    /// Open: it is being followed.
    Open,
    /// Closed: it accepts nothing but reopening (or a new call, which reopens it).
    Closed,
}

/// The caller's standing decision on a solution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Consent {
    /// Not asked yet.
    #[default]
    Pending,
    /// Given and not withdrawn since: the solution may be acted on.
    Given,
    /// Refused.
    Refused,
    /// Given, then withdrawn.
    Withdrawn,
}

/// A solution as the case knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionState {
    /// What kind of contact it is.
    pub kind: SolutionKind,
    /// The caller's standing decision.
    pub consent: Consent,
    /// How many actions were taken on it.
    pub actions: u32,
}

/// The state of a case stream: the fold of its events. It holds no personal value, so
/// read models may keep it (serde) and evolve it with [`evolve`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    pub(super) status: CaseStatus,
    pub(super) case_id: Option<CaseId>,
    pub(super) opened_by: Option<CentreId>,
    pub(super) centre: Option<CentreId>,
    pub(super) transferred: bool,
    pub(super) calls: BTreeMap<CallId, LinkedCall>,
    pub(super) call_order: Vec<CallId>,
    pub(super) takers: BTreeSet<StaffId>,
    pub(super) subjects: BTreeMap<SubjectId, Whose>,
    pub(super) reachable: bool,
    pub(super) awaiting_call_back: bool,
    pub(super) referent: Option<StaffId>,
    pub(super) solutions: BTreeMap<SolutionId, SolutionState>,
    /// Whether the current referent tried to call back.
    pub(super) recontacted: bool,
    pub(super) deadlines: BTreeMap<DeadlineKind, Deadline>,
    /// The time of the last activity (see [`CaseEvent::is_activity`]).
    #[serde(with = "crate::time::option")]
    pub(super) last_activity: Option<DateTime<Utc>>,
    /// When the case was last closed.
    #[serde(with = "crate::time::option")]
    pub(super) closed_at: Option<DateTime<Utc>>,
    /// The inactivity flag, while it stands.
    pub(super) inactivity: Option<InactivityFlag>,
    /// Whether a retention rule erased the persons since the case was last closed.
    pub(super) persons_erased: bool,
    /// The calls whose callback number was erased.
    pub(super) numbers_erased: BTreeSet<CallId>,
}

impl CaseState {
    /// Where the case stands.
    pub fn status(&self) -> CaseStatus {
        self.status
    }

    /// The case's id, once opened.
    pub fn case_id(&self) -> Option<CaseId> {
        self.case_id
    }

    /// The place that opened the case.
    pub fn opened_by(&self) -> Option<CentreId> {
        self.opened_by
    }

    /// The place that holds the case now.
    pub fn centre(&self) -> Option<CentreId> {
        self.centre
    }

    /// Whether the case was transferred from the national platform.
    pub fn is_transferred(&self) -> bool {
        self.transferred
    }

    /// The deadlines armed or missed, by kind.
    pub fn deadlines(&self) -> &BTreeMap<DeadlineKind, Deadline> {
        &self.deadlines
    }

    /// The deadlines that fell due unkept.
    pub fn overdue(&self) -> impl Iterator<Item = DeadlineKind> + '_ {
        self.deadlines
            .iter()
            .filter(|(_, d)| d.missed)
            .map(|(k, _)| *k)
    }

    /// Which kind of person a subject of this case's calls is, if it is one.
    pub fn subject(&self, id: SubjectId) -> Option<Whose> {
        self.subjects.get(&id).copied()
    }

    /// The calls of the case, in the order they joined.
    pub fn calls(&self) -> impl Iterator<Item = &LinkedCall> {
        self.call_order.iter().filter_map(|id| self.calls.get(id))
    }

    /// Everyone who took a call of the case.
    pub fn call_takers(&self) -> &BTreeSet<StaffId> {
        &self.takers
    }

    /// Whether a number is kept to call the caller back: the latest call that said
    /// anything about a number left one, and no attempt found it wrong since.
    pub fn can_recontact(&self) -> bool {
        self.reachable
    }

    /// Whether the case waits for the caller to call again: because the referent
    /// said so, or because no number was left and nobody can call back.
    pub fn is_awaiting_call_back(&self) -> bool {
        self.status == CaseStatus::Open && (self.awaiting_call_back || !self.reachable)
    }

    /// The referent following the case.
    pub fn referent(&self) -> Option<StaffId> {
        self.referent
    }

    /// The solutions proposed, with the caller's decisions.
    pub fn solutions(&self) -> &BTreeMap<SolutionId, SolutionState> {
        &self.solutions
    }

    /// Every subject of the case's calls, with their kind.
    pub fn subjects(&self) -> &BTreeMap<SubjectId, Whose> {
        &self.subjects
    }

    /// The time of the case's last activity (not the system's bookkeeping).
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        self.last_activity
    }

    /// When the case was last closed.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at
    }

    /// The inactivity flag, while it stands.
    pub fn inactivity(&self) -> Option<InactivityFlag> {
        self.inactivity
    }

    /// Whether a retention rule erased the persons since the case was last closed.
    pub fn persons_erased(&self) -> bool {
        self.persons_erased
    }

    /// The callback numbers still kept: each call that left one, with its caller.
    pub fn kept_numbers(&self) -> Vec<(CallId, SubjectId)> {
        self.calls()
            .filter(|c| c.number == NumberStatus::Left && !self.numbers_erased.contains(&c.call_id))
            .filter_map(|c| {
                let caller = c
                    .subjects
                    .iter()
                    .find(|(_, w)| **w == Whose::Caller)
                    .map(|(id, _)| *id)?;
                Some((c.call_id, caller))
            })
            .collect()
    }

    /// The retention steps due for the case at `now` under `policy`, in the order
    /// they are taken. The retention commands are refused unless their step is here.
    pub fn retention_due(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
    ) -> Vec<RetentionStep> {
        let mut due = Vec::new();
        match self.status {
            CaseStatus::NotOpened => return due,
            CaseStatus::Open => {
                if let Some(flag) = self.inactivity {
                    if policy.inactive_case.is_some() && flag.closes_at <= now {
                        due.push(RetentionStep::CloseInactive);
                    }
                } else if let Some(last) = self.last_activity {
                    if elapsed(policy.inactive_case, last, now) {
                        due.push(RetentionStep::FlagInactive);
                    }
                }
            }
            CaseStatus::Closed => {}
        }
        let number_due = match self.status {
            CaseStatus::Closed => policy.callback_number.is_some(),
            _ => self
                .deadlines
                .get(&DeadlineKind::Recontact)
                .is_some_and(|d| d.missed && elapsed(policy.callback_number, d.due, now)),
        };
        if number_due && !self.kept_numbers().is_empty() {
            due.push(RetentionStep::EraseCallbackNumbers);
        }
        if self.status == CaseStatus::Closed && !self.persons_erased {
            if let Some(closed) = self.closed_at {
                if elapsed(policy.closed_case, closed, now) {
                    due.push(RetentionStep::EraseClosed);
                }
            }
        }
        due
    }
}

fn link(state: &mut CaseState, call: &LinkedCall) {
    if state.calls.insert(call.call_id, call.clone()).is_none() {
        state.call_order.push(call.call_id);
    }
    state.takers.extend(call.taken_by.iter().copied());
    for (id, whose) in &call.subjects {
        state.subjects.entry(*id).or_insert(*whose);
    }
    match call.number {
        NumberStatus::Left => state.reachable = true,
        NumberStatus::Refused => state.reachable = false,
        NumberStatus::NotLeft => {}
    }
}

/// Applies one event to the state. The fold never fails; an event out of place leaves
/// the state as it was.
pub fn evolve(mut state: CaseState, event: &CaseEvent) -> CaseState {
    if event.is_activity() {
        state.last_activity = Some(event.at());
        state.inactivity = None;
    }
    match event {
        CaseEvent::CaseOpened(e) => {
            state.status = CaseStatus::Open;
            state.case_id = Some(e.case_id);
            state.opened_by = Some(e.opened_by);
            state.centre = Some(e.opened_by);
            link(&mut state, &e.call);
        }
        CaseEvent::CallLinked(e) => {
            link(&mut state, &e.call);
            state.awaiting_call_back = false;
        }
        CaseEvent::CaseTransferred(e) => {
            state.centre = Some(CentreId::Departement(e.to));
            state.transferred = true;
            state.referent = None;
        }
        CaseEvent::ReferentAssigned(e) => {
            state.referent = Some(e.referent);
            state.recontacted = false;
        }
        CaseEvent::ReferentReleased(e) => {
            if state.referent == Some(e.referent) {
                state.referent = None;
            }
        }
        CaseEvent::AnalysisRecorded(_) => {}
        CaseEvent::RecontactAttempted(e) => {
            state.recontacted = true;
            match e.outcome {
                RecontactOutcome::Reached => state.awaiting_call_back = false,
                RecontactOutcome::NoAnswer => {}
                RecontactOutcome::WrongNumber => state.reachable = false,
            }
        }
        CaseEvent::AwaitingCallBack(_) => state.awaiting_call_back = true,
        CaseEvent::SolutionProposed(e) => {
            state.solutions.insert(
                e.solution_id,
                SolutionState {
                    kind: e.kind,
                    consent: Consent::Pending,
                    actions: 0,
                },
            );
        }
        CaseEvent::ConsentGiven(e) => set_consent(&mut state, e.solution_id, Consent::Given),
        CaseEvent::ConsentRefused(e) => set_consent(&mut state, e.solution_id, Consent::Refused),
        CaseEvent::ConsentWithdrawn(e) => {
            set_consent(&mut state, e.solution_id, Consent::Withdrawn)
        }
        CaseEvent::ActionTaken(e) => {
            if let Some(s) = state.solutions.get_mut(&e.solution_id) {
                s.actions = s.actions.saturating_add(1);
            }
        }
        CaseEvent::CaseClosed(e) => {
            state.status = CaseStatus::Closed;
            state.closed_at = Some(e.at);
        }
        CaseEvent::CaseReopened(_) => {
            state.status = CaseStatus::Open;
            state.persons_erased = false;
        }
        CaseEvent::DeadlineArmed(e) => {
            state.deadlines.insert(
                e.kind,
                Deadline {
                    due: e.due,
                    missed: false,
                },
            );
        }
        CaseEvent::DeadlineMissed(e) => {
            if let Some(d) = state.deadlines.get_mut(&e.kind) {
                if d.due == e.due {
                    d.missed = true;
                }
            }
        }
        CaseEvent::DeadlineSatisfied(e) => {
            state.deadlines.remove(&e.kind);
        }
        CaseEvent::InactivityFlagged(e) => {
            state.inactivity = Some(InactivityFlag {
                flagged_at: e.at,
                closes_at: e.closes_at,
            });
        }
        CaseEvent::CaseKept(_) => {}
        CaseEvent::CallbackNumbersErased(e) => {
            state
                .numbers_erased
                .extend(e.numbers.iter().map(|(call, _)| *call));
            state.reachable = false;
        }
        CaseEvent::CasePersonsErased(_) => {
            state.persons_erased = true;
            let calls: Vec<CallId> = state.calls.keys().copied().collect();
            state.numbers_erased.extend(calls);
            state.reachable = false;
        }
    }
    state
}

fn set_consent(state: &mut CaseState, id: SolutionId, consent: Consent) {
    if let Some(s) = state.solutions.get_mut(&id) {
        s.consent = consent;
    }
}

/// Folds a case stream's events into its state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a CaseEvent>) -> CaseState {
    events.into_iter().fold(CaseState::default(), evolve)
}
