//! The simulator's working records: scheduled actions, staff, centres, calls and cases
//! in flight, and pools of cases to pick from.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use ecoute_domain::call::{CallCommand, CallState};
use ecoute_domain::case::CaseState;
use ecoute_domain::staff::{StaffCommand, StaffState};
use ecoute_domain::{
    CallId, CaseId, DepartementCode, Role, SolutionId, StaffId, Subject, SubjectId,
};

use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Volunteer,
    Referent,
    Both,
}

impl Kind {
    pub(super) fn roles(self) -> BTreeSet<Role> {
        match self {
            Kind::Volunteer => BTreeSet::from([Role::Volunteer]),
            Kind::Referent => BTreeSet::from([Role::Referent]),
            Kind::Both => BTreeSet::from([Role::Volunteer, Role::Referent]),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    Day(u32),
    Arrive,
    CallStep(CallId),
    CaseStep(CaseId, u64),
    Revoke,
    Enrol {
        centre: usize,
        kind: Kind,
    },
    Accredit {
        staff: StaffId,
        centre: usize,
        kind: Kind,
    },
}

#[derive(Debug)]
pub(super) struct Scheduled {
    pub(super) at: DateTime<Utc>,
    pub(super) seq: u64,
    pub(super) action: Action,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so that the max-heap pops the earliest action first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A staff command of the set-up, and the centre list it adds the member to.
pub(super) type PlannedStaffCommand = (StaffId, StaffCommand, Option<(usize, Kind)>);

pub(super) struct SetupStep {
    pub(super) at: DateTime<Utc>,
    pub(super) staff: StaffId,
    pub(super) command: StaffCommand,
    pub(super) accredits: Option<(usize, Kind)>,
}

#[derive(Default)]
pub(super) struct Member {
    pub(super) state: StaffState,
    pub(super) version: Option<u64>,
}

pub(super) struct Centre {
    pub(super) code: DepartementCode,
    pub(super) volunteers: Vec<StaffId>,
    pub(super) referents: Vec<StaffId>,
}

/// Who the caller is and who the victim is, kept with a case for later calls.
#[derive(Clone, Copy)]
pub(super) struct Profile {
    pub(super) caller: SubjectId,
    pub(super) victim: Subject,
    /// Who the caller is, as the traffic model drew them.
    pub(super) who: crate::traffic::Caller,
}

#[derive(Clone, Copy)]
pub(super) enum Purpose {
    NewCase { home: usize, profile: Profile },
    Repeat(CaseId),
    Info,
}

pub(super) struct SimCall {
    pub(super) state: CallState,
    pub(super) version: Option<u64>,
    pub(super) actor: StaffId,
    pub(super) takers: Vec<StaffId>,
    pub(super) plan: VecDeque<CallCommand>,
    pub(super) purpose: Purpose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Transfer,
    Reassign,
    Referent,
    Analyse,
    Recontact,
    AwaitBack,
    Waiting,
    Propose,
    Consent,
    Act,
    Close,
    Closed,
}

pub(super) struct SimCase {
    pub(super) state: CaseState,
    pub(super) version: Option<u64>,
    pub(super) profile: Profile,
    pub(super) home: usize,
    pub(super) phase: Phase,
    pub(super) token: u64,
    pub(super) awaiting_flag: bool,
    pub(super) no_answers: u8,
    /// The solutions of the round being proposed, with the first action of each.
    pub(super) round: Vec<(SolutionId, &'static str)>,
    pub(super) round_target: usize,
    /// Consented solutions to act on: with the first action's words, or `None` for a
    /// follow-up.
    pub(super) to_act: VecDeque<(SolutionId, Option<&'static str>)>,
    pub(super) acted: bool,
    pub(super) refused_any: bool,
    pub(super) woken: bool,
    pub(super) incoming: u32,
    pub(super) reopen_planned: bool,
    pub(super) failures: u8,
}

/// A set of case ids with O(1) insert, remove and random pick, in a deterministic order.
#[derive(Default)]
pub(super) struct Pool {
    pub(super) items: Vec<CaseId>,
    pub(super) index: HashMap<CaseId, usize>,
}

impl Pool {
    pub(super) fn insert(&mut self, id: CaseId) {
        if !self.index.contains_key(&id) {
            self.index.insert(id, self.items.len());
            self.items.push(id);
        }
    }

    pub(super) fn remove(&mut self, id: CaseId) {
        if let Some(i) = self.index.remove(&id) {
            self.items.swap_remove(i);
            if let Some(moved) = self.items.get(i) {
                self.index.insert(*moved, i);
            }
        }
    }

    pub(super) fn pick(&self, rng: &mut Rng) -> Option<CaseId> {
        rng.pick(&self.items)
    }
}
