//! The simulator: a discrete-event agenda of call arrivals, call steps, case follow-ups
//! and staff changes, in simulated time. Every change goes through the domain's
//! `decide`; the states it keeps are the domain's own folds of what it produced.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use ecoute_domain::call::PersonDescription;
use ecoute_domain::call::{self, Answer, CallCommand, CallEvent, CallState, Door, Facts};
use ecoute_domain::case::{self, CaseCommand, CaseEvent, CaseState, Consent, ConsentDecision};
use ecoute_domain::staff::{self, StaffCommand, StaffState};
use ecoute_domain::vocabulary::{
    AbuseKind, AgeBand, CloseCircle, CloseReason, Evolution, Frequency, PersonRole,
    RecontactOutcome, Relation, Setting, Since, SolutionKind,
};
use ecoute_domain::{
    call_stream, case_stream, encode, staff_stream, CallId, CaseId, CentreId, Context,
    DepartementCode, DomainError, Event, Role, SolutionId, StaffId, StaffSnapshot, Subject,
    SubjectId, TeamId, VolunteerPair, Whose,
};
use ecoute_store::{Commit, EventData, ExpectedVersion, Metadata, StreamAppend, StreamId};
use uuid::Uuid;

use crate::rng::Rng;
use crate::{text, SimConfig, SimError};

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// What the simulator produced so far, counted from the events it yielded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Commits yielded.
    pub commits: u64,
    /// Events yielded.
    pub events: u64,
    /// Events yielded, per event type name.
    pub events_by_type: BTreeMap<&'static str, u64>,
    /// Calls received (`CallReceived`).
    pub calls: u64,
    /// Calls answered by the national platform.
    pub platform_calls: u64,
    /// Calls that ended without joining a case (information, orientation).
    pub calls_without_case: u64,
    /// Calls linked to an existing case (`CallLinked`).
    pub calls_linked: u64,
    /// Callers who asked to stay anonymous (`AnonymityRequested`).
    pub anonymous_calls: u64,
    /// Callers who refused that their number be kept (`NumberRetentionRefused`).
    pub number_refused: u64,
    /// Facts recorded (`FactsRecorded`).
    pub facts: u64,
    /// Facts recorded with the setting "home".
    pub facts_at_home: u64,
    /// Implicated persons described.
    pub implicated: u64,
    /// Implicated persons who are family of the victim.
    pub implicated_family: u64,
    /// Cases opened (`CaseOpened`).
    pub cases: u64,
    /// Cases opened by the national platform.
    pub cases_opened_by_platform: u64,
    /// Accreditations revoked.
    pub revocations: u64,
    /// Commands the domain refused. The simulator only gives commands it expects to be
    /// accepted, so any refusal is a bug in the simulator; the command is skipped.
    pub refused: u64,
    /// The refusals, by command and error (no personal value in either).
    pub refused_reasons: BTreeMap<String, u64>,
    /// Case steps postponed because no referent could be assigned at that moment.
    pub stalled: u64,
    /// The most calls held in memory at once.
    pub peak_calls_in_memory: usize,
    /// The most cases held in memory at once.
    pub peak_cases_in_memory: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Volunteer,
    Referent,
    Both,
}

impl Kind {
    fn roles(self) -> BTreeSet<Role> {
        match self {
            Kind::Volunteer => BTreeSet::from([Role::Volunteer]),
            Kind::Referent => BTreeSet::from([Role::Referent]),
            Kind::Both => BTreeSet::from([Role::Volunteer, Role::Referent]),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
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
struct Scheduled {
    at: DateTime<Utc>,
    seq: u64,
    action: Action,
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
type PlannedStaffCommand = (StaffId, StaffCommand, Option<(usize, Kind)>);

struct SetupStep {
    at: DateTime<Utc>,
    staff: StaffId,
    command: StaffCommand,
    accredits: Option<(usize, Kind)>,
}

#[derive(Default)]
struct Member {
    state: StaffState,
    version: Option<u64>,
}

struct Centre {
    code: DepartementCode,
    volunteers: Vec<StaffId>,
    referents: Vec<StaffId>,
}

/// Who the caller is and who the victim is, kept with a case for later calls.
#[derive(Clone, Copy)]
struct Profile {
    caller: SubjectId,
    victim: Subject,
    anonymous: bool,
}

#[derive(Clone, Copy)]
enum Purpose {
    NewCase { home: usize, profile: Profile },
    Repeat(CaseId),
    Info,
}

struct SimCall {
    state: CallState,
    version: Option<u64>,
    actor: StaffId,
    takers: Vec<StaffId>,
    plan: VecDeque<CallCommand>,
    purpose: Purpose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
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

struct SimCase {
    state: CaseState,
    version: Option<u64>,
    profile: Profile,
    home: usize,
    phase: Phase,
    token: u64,
    awaiting_flag: bool,
    no_answers: u8,
    round: Vec<SolutionId>,
    round_target: usize,
    to_act: VecDeque<(SolutionId, bool)>,
    acted: bool,
    refused_any: bool,
    woken: bool,
    incoming: u32,
    reopen_planned: bool,
    failures: u8,
}

/// A set of case ids with O(1) insert, remove and random pick, in a deterministic order.
#[derive(Default)]
struct Pool {
    items: Vec<CaseId>,
    index: HashMap<CaseId, usize>,
}

impl Pool {
    fn insert(&mut self, id: CaseId) {
        if !self.index.contains_key(&id) {
            self.index.insert(id, self.items.len());
            self.items.push(id);
        }
    }

    fn remove(&mut self, id: CaseId) {
        if let Some(i) = self.index.remove(&id) {
            self.items.swap_remove(i);
            if let Some(moved) = self.items.get(i) {
                self.index.insert(*moved, i);
            }
        }
    }

    fn pick(&self, rng: &mut Rng) -> Option<CaseId> {
        rng.pick(&self.items)
    }
}

/// Generates a helpline history, one commit at a time, deterministically from
/// [`SimConfig::seed`]. It is an [`Iterator`] of [`Commit`]s, to be appended in order.
///
/// Each commit holds the events one command produced, already encoded, for one stream —
/// or two when a call joins a case (the case's `Open`/`LinkCall` and the call's
/// `AttachToCase`, appended atomically as the server does). Expected versions are exact
/// (`NoStream` for a new stream). Event ids come from the seed, so a re-sent history is
/// idempotent. Each event's metadata names the acting staff id (`actor`) and, as
/// correlation id, the call or case (or staff member) the command was about.
pub struct Sim {
    cfg: SimConfig,
    rng: Rng,
    now: DateTime<Utc>,
    end: DateTime<Utc>,
    admin: StaffSnapshot,
    staff: HashMap<StaffId, Member>,
    staff_ids: Vec<StaffId>,
    listeners: Vec<StaffId>,
    centres: Vec<Centre>,
    centre_index: HashMap<DepartementCode, usize>,
    centre_weights: Vec<f64>,
    setup: VecDeque<SetupStep>,
    agenda: BinaryHeap<Scheduled>,
    seq: u64,
    calls: HashMap<CallId, SimCall>,
    cases: HashMap<CaseId, SimCase>,
    open: Pool,
    closed: Pool,
    waiting: Pool,
    active: HashMap<StaffId, u32>,
    stats: SimStats,
}

fn expected(version: Option<u64>) -> ExpectedVersion {
    match version {
        None => ExpectedVersion::NoStream,
        Some(v) => ExpectedVersion::Exact(v),
    }
}

fn bump(version: Option<u64>, n: usize) -> Option<u64> {
    if n == 0 {
        return version;
    }
    let n = n as u64;
    Some(version.map_or(n - 1, |v| v + n))
}

fn is_family(relation: Relation) -> bool {
    matches!(
        relation,
        Relation::Spouse
            | Relation::Child
            | Relation::Grandchild
            | Relation::Sibling
            | Relation::OtherFamily
    )
}

fn call_command_name(c: &CallCommand) -> &'static str {
    match c {
        CallCommand::Receive { .. } => "Receive",
        CallCommand::RequestAnonymity => "RequestAnonymity",
        CallCommand::RefuseNumberRetention => "RefuseNumberRetention",
        CallCommand::RecordCallbackNumber(_) => "RecordCallbackNumber",
        CallCommand::DescribePerson(_) => "DescribePerson",
        CallCommand::RecordFacts(_) => "RecordFacts",
        CallCommand::AddNote(_) => "AddNote",
        CallCommand::End => "End",
        CallCommand::AttachToCase { .. } => "AttachToCase",
    }
}

fn case_command_name(c: &CaseCommand) -> &'static str {
    match c {
        CaseCommand::Open { .. } => "Open",
        CaseCommand::LinkCall(_) => "LinkCall",
        CaseCommand::Transfer(_) => "Transfer",
        CaseCommand::Reassign(_) => "Reassign",
        CaseCommand::AssignReferent(_) => "AssignReferent",
        CaseCommand::RecordAnalysis(_) => "RecordAnalysis",
        CaseCommand::AttemptRecontact(_) => "AttemptRecontact",
        CaseCommand::AwaitCallBack => "AwaitCallBack",
        CaseCommand::ProposeSolution { .. } => "ProposeSolution",
        CaseCommand::RecordConsent { .. } => "RecordConsent",
        CaseCommand::TakeAction { .. } => "TakeAction",
        CaseCommand::Close(_) => "Close",
        CaseCommand::Reopen => "Reopen",
        CaseCommand::MissDeadline { .. } => "MissDeadline",
    }
}

fn staff_command_name(c: &StaffCommand) -> &'static str {
    match c {
        StaffCommand::Enrol { .. } => "Enrol",
        StaffCommand::GrantRole(_) => "GrantRole",
        StaffCommand::RevokeRole(_) => "RevokeRole",
        StaffCommand::JoinTeam(_) => "JoinTeam",
        StaffCommand::GrantAccreditation(_) => "GrantAccreditation",
        StaffCommand::RevokeAccreditation(_) => "RevokeAccreditation",
        StaffCommand::IssueToken { .. } => "IssueToken",
        StaffCommand::RevokeToken(_) => "RevokeToken",
    }
}

impl Sim {
    /// A simulator for `config`, with its staff set-up planned (administrator, platform
    /// listeners in teams, an auditor, a data-protection officer, and each centre's
    /// volunteers and referents, enrolled and accredited).
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        config.validate()?;
        let mut rng = Rng::new(config.seed);
        let admin_id = config
            .admin
            .unwrap_or_else(|| StaffId::from_uuid(rng.uuid()));
        let start = config.start;
        let end = start + Duration::days(i64::from(config.days));

        // The centres: a seeded choice of départements, each with its own weight.
        let mut codes: Vec<DepartementCode> = DepartementCode::all().collect();
        for i in (1..codes.len()).rev() {
            let j = rng.below(i + 1);
            codes.swap(i, j);
        }
        codes.truncate(config.centres);
        let centre_weights: Vec<f64> = codes.iter().map(|_| 0.4 + 1.6 * rng.f64()).collect();
        let centre_index = codes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        let centres: Vec<Centre> = codes
            .iter()
            .map(|code| Centre {
                code: *code,
                volunteers: Vec::new(),
                referents: Vec::new(),
            })
            .collect();

        let mut sim = Sim {
            admin: StaffSnapshot::new(admin_id, [Role::Administrator]),
            cfg: config,
            rng,
            now: start,
            end,
            staff: HashMap::new(),
            staff_ids: Vec::new(),
            listeners: Vec::new(),
            centres,
            centre_index,
            centre_weights,
            setup: VecDeque::new(),
            agenda: BinaryHeap::new(),
            seq: 0,
            calls: HashMap::new(),
            cases: HashMap::new(),
            open: Pool::default(),
            closed: Pool::default(),
            waiting: Pool::default(),
            active: HashMap::new(),
            stats: SimStats::default(),
        };
        sim.plan_setup();
        sim.schedule(start, Action::Day(0));
        let days = sim.cfg.days;
        if days > 0 {
            let revocations =
                (sim.cfg.revocations_per_year * f64::from(days) / 365.0).round() as u64;
            for _ in 0..revocations {
                let day = sim.rng.below(days as usize) as i64;
                let at =
                    start + Duration::seconds(day * DAY + 10 * HOUR + sim.rng.between(0, 7 * HOUR));
                sim.schedule(at, Action::Revoke);
            }
        }
        Ok(sim)
    }

    fn plan_setup(&mut self) {
        let mut steps: Vec<PlannedStaffCommand> = Vec::new();
        let teams = self
            .cfg
            .platform_listeners
            .div_ceil(self.cfg.listeners_per_team);
        let team_ids: Vec<TeamId> = (0..teams)
            .map(|_| TeamId::from_uuid(self.rng.uuid()))
            .collect();
        for i in 0..self.cfg.platform_listeners {
            let id = StaffId::from_uuid(self.rng.uuid());
            let team = team_ids.get(i / self.cfg.listeners_per_team).copied();
            steps.push((
                id,
                StaffCommand::Enrol {
                    staff_id: id,
                    roles: BTreeSet::from([Role::PlatformListener]),
                    team,
                },
                None,
            ));
            self.listeners.push(id);
        }
        for role in [Role::Auditor, Role::DataProtectionOfficer] {
            let id = StaffId::from_uuid(self.rng.uuid());
            steps.push((
                id,
                StaffCommand::Enrol {
                    staff_id: id,
                    roles: BTreeSet::from([role]),
                    team: None,
                },
                None,
            ));
        }
        for centre in 0..self.centres.len() {
            let code = self.centres[centre].code;
            let kinds = (0..self.cfg.volunteers_per_centre)
                .map(|_| Kind::Volunteer)
                .chain((0..self.cfg.referents_per_centre).map(|i| {
                    if i == 0 {
                        Kind::Both
                    } else {
                        Kind::Referent
                    }
                }));
            for kind in kinds.collect::<Vec<_>>() {
                let id = StaffId::from_uuid(self.rng.uuid());
                steps.push((
                    id,
                    StaffCommand::Enrol {
                        staff_id: id,
                        roles: kind.roles(),
                        team: None,
                    },
                    None,
                ));
                steps.push((
                    id,
                    StaffCommand::GrantAccreditation(code),
                    Some((centre, kind)),
                ));
            }
        }
        // Spread the set-up over the night before the first calls (09:00).
        let spacing_ms = (8 * HOUR * 1000 / (steps.len() as i64 + 1)).clamp(1, 250);
        for (i, (staff, command, accredits)) in steps.into_iter().enumerate() {
            self.setup.push_back(SetupStep {
                at: self.cfg.start + Duration::milliseconds(i as i64 * spacing_ms),
                staff,
                command,
                accredits,
            });
        }
    }

    /// The bootstrap administrator, who gives every staff command; the server must be
    /// configured with this id.
    pub fn admin(&self) -> StaffId {
        self.admin.id
    }

    /// Every member of staff enrolled so far, in the order they were enrolled.
    pub fn staff_ids(&self) -> &[StaffId] {
        &self.staff_ids
    }

    /// A member's roles, team and accreditations as their staff stream stands now.
    pub fn staff_snapshot(&self, id: StaffId) -> Option<StaffSnapshot> {
        self.snapshot(id)
    }

    /// The département codes of the simulated centres.
    pub fn centres(&self) -> Vec<DepartementCode> {
        self.centres.iter().map(|c| c.code).collect()
    }

    /// The simulated time of the last command given.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// What was produced so far.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The next commit, or `None` once the simulated period is over.
    pub fn next_commit(&mut self) -> Option<Commit> {
        loop {
            if let Some(step) = self.setup.pop_front() {
                self.now = step.at;
                if let Some(commit) = self.staff_command(step.staff, step.command) {
                    if let Some((centre, kind)) = step.accredits {
                        self.add_to_centre(step.staff, centre, kind);
                    }
                    return Some(commit);
                }
                continue;
            }
            let next = self.agenda.pop()?;
            if next.at >= self.end {
                self.agenda.clear();
                return None;
            }
            self.now = next.at;
            if let Some(commit) = self.act(next.action) {
                return Some(commit);
            }
        }
    }

    fn act(&mut self, action: Action) -> Option<Commit> {
        match action {
            Action::Day(d) => {
                self.day(d);
                None
            }
            Action::Arrive => self.arrive(),
            Action::CallStep(id) => self.call_step(id),
            Action::CaseStep(id, token) => self.case_step(id, token),
            Action::Revoke => self.revoke(),
            Action::Enrol { centre, kind } => {
                let id = StaffId::from_uuid(self.rng.uuid());
                let commit = self.staff_command(
                    id,
                    StaffCommand::Enrol {
                        staff_id: id,
                        roles: kind.roles(),
                        team: None,
                    },
                )?;
                let at = self.after(MINUTE, 30 * MINUTE);
                self.schedule(
                    at,
                    Action::Accredit {
                        staff: id,
                        centre,
                        kind,
                    },
                );
                Some(commit)
            }
            Action::Accredit {
                staff,
                centre,
                kind,
            } => {
                let code = self.centres.get(centre)?.code;
                let commit = self.staff_command(staff, StaffCommand::GrantAccreditation(code))?;
                self.add_to_centre(staff, centre, kind);
                Some(commit)
            }
        }
    }

    // ---- time and agenda ----

    fn schedule(&mut self, at: DateTime<Utc>, action: Action) {
        self.seq += 1;
        self.agenda.push(Scheduled {
            at,
            seq: self.seq,
            action,
        });
    }

    fn after(&mut self, lo_seconds: i64, hi_seconds: i64) -> DateTime<Utc> {
        self.now + Duration::seconds(self.rng.between(lo_seconds, hi_seconds))
    }

    fn day(&mut self, d: u32) {
        let date = self.cfg.start + Duration::days(i64::from(d));
        let factor = match date.weekday() {
            Weekday::Sat | Weekday::Sun => 0.75,
            _ => 1.1,
        };
        let mean = self.cfg.calls_per_day * factor;
        let n = (mean + mean.sqrt() * self.rng.normal()).round().max(0.0) as u64;
        for _ in 0..n {
            // The helpline answers from 09:00 to 19:00.
            let at = date + Duration::seconds(9 * HOUR + self.rng.between(0, 10 * HOUR - 1));
            self.schedule(at, Action::Arrive);
        }
        if d + 1 < self.cfg.days {
            self.schedule(date + Duration::days(1), Action::Day(d + 1));
        }
    }

    // ---- staff ----

    fn snapshot(&self, id: StaffId) -> Option<StaffSnapshot> {
        if id == self.admin.id {
            return Some(self.admin.clone());
        }
        self.staff.get(&id)?.state.snapshot().cloned()
    }

    fn context(&self, actor: StaffId, others: &[StaffId]) -> Result<Context, DomainError> {
        let snapshot = self
            .snapshot(actor)
            .ok_or(DomainError::MissingStaffContext(actor))?;
        let mut ctx = Context::new(self.now, snapshot);
        for id in others {
            if *id != actor {
                let s = self
                    .snapshot(*id)
                    .ok_or(DomainError::MissingStaffContext(*id))?;
                ctx = ctx.with_staff(s);
            }
        }
        Ok(ctx)
    }

    fn add_to_centre(&mut self, staff: StaffId, centre: usize, kind: Kind) {
        if let Some(c) = self.centres.get_mut(centre) {
            if matches!(kind, Kind::Volunteer | Kind::Both) {
                c.volunteers.push(staff);
            }
            if matches!(kind, Kind::Referent | Kind::Both) {
                c.referents.push(staff);
            }
        }
    }

    fn staff_command(&mut self, id: StaffId, command: StaffCommand) -> Option<Commit> {
        let ctx = Context::new(self.now, self.admin.clone());
        let member = self.staff.entry(id).or_default();
        let version = member.version;
        let events = match staff::decide(&member.state, &command, &ctx) {
            Ok(events) => events,
            Err(e) => {
                self.refuse(staff_command_name(&command), &e);
                return None;
            }
        };
        let all: Vec<Event> = events.iter().cloned().map(Event::from).collect();
        let data = self.encode_all(self.admin.id, *id.as_uuid(), &all)?;
        let commit = Commit {
            appends: vec![self.stream_append(staff_stream(id), version, data)?],
        };
        let member = self.staff.entry(id).or_default();
        member.state = events
            .iter()
            .fold(std::mem::take(&mut member.state), staff::evolve);
        member.version = bump(version, events.len());
        if matches!(command, StaffCommand::Enrol { .. }) {
            self.staff_ids.push(id);
        }
        self.count(&all);
        Some(commit)
    }

    fn revoke(&mut self) -> Option<Commit> {
        for _ in 0..8 {
            let ci = self.rng.below(self.centres.len());
            let centre = &self.centres[ci];
            let volunteers_spare = centre.volunteers.len() > 3;
            let referents_spare = centre.referents.len() > 2;
            let mut candidates: Vec<StaffId> = Vec::new();
            for id in centre.volunteers.iter().chain(centre.referents.iter()) {
                let v = centre.volunteers.contains(id);
                let r = centre.referents.contains(id);
                if (!v || volunteers_spare)
                    && (!r || referents_spare)
                    && self.active.get(id).copied().unwrap_or(0) == 0
                    && !candidates.contains(id)
                {
                    candidates.push(*id);
                }
            }
            let Some(staff) = self.rng.pick(&candidates) else {
                continue;
            };
            let code = centre.code;
            let kind = match (
                centre.volunteers.contains(&staff),
                centre.referents.contains(&staff),
            ) {
                (true, true) => Kind::Both,
                (false, true) => Kind::Referent,
                _ => Kind::Volunteer,
            };
            let commit = self.staff_command(staff, StaffCommand::RevokeAccreditation(code))?;
            let centre = &mut self.centres[ci];
            centre.volunteers.retain(|s| *s != staff);
            centre.referents.retain(|s| *s != staff);
            self.stats.revocations += 1;
            let at = self.after(2 * DAY, 20 * DAY);
            self.schedule(at, Action::Enrol { centre: ci, kind });
            return Some(commit);
        }
        None
    }

    // ---- encoding and bookkeeping ----

    fn refuse(&mut self, command: &str, error: &dyn std::fmt::Display) {
        self.stats.refused += 1;
        *self
            .stats
            .refused_reasons
            .entry(format!("{command}: {error}"))
            .or_insert(0) += 1;
    }

    fn encode_all(
        &mut self,
        actor: StaffId,
        correlation: Uuid,
        events: &[Event],
    ) -> Option<Vec<EventData>> {
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let encoded = match encode(event) {
                Ok(e) => e,
                Err(e) => {
                    self.refuse("encode", &e);
                    return None;
                }
            };
            let data = EventData::new(
                self.rng.uuid(),
                encoded.type_name,
                u32::from(encoded.schema_version),
                encoded.payload,
            )
            .with_metadata(Metadata {
                correlation_id: Some(correlation),
                causation_id: None,
                actor: Some(actor.to_string()),
                extra: BTreeMap::new(),
            });
            out.push(data);
        }
        Some(out)
    }

    fn stream_append(
        &mut self,
        stream: String,
        version: Option<u64>,
        events: Vec<EventData>,
    ) -> Option<StreamAppend> {
        match StreamId::new(stream) {
            Ok(stream) => Some(StreamAppend {
                stream,
                expected: expected(version),
                events,
            }),
            Err(e) => {
                self.refuse("stream id", &e);
                None
            }
        }
    }

    fn count(&mut self, events: &[Event]) {
        let s = &mut self.stats;
        s.commits += 1;
        for event in events {
            s.events += 1;
            *s.events_by_type.entry(event.type_name()).or_insert(0) += 1;
            match event {
                Event::Call(CallEvent::CallReceived(e)) => {
                    s.calls += 1;
                    if matches!(e.door, Door::Platform { .. }) {
                        s.platform_calls += 1;
                    }
                }
                Event::Call(CallEvent::AnonymityRequested(_)) => s.anonymous_calls += 1,
                Event::Call(CallEvent::NumberRetentionRefused(_)) => s.number_refused += 1,
                Event::Call(CallEvent::FactsRecorded(e)) => {
                    s.facts += 1;
                    if e.facts.setting == Setting::Home {
                        s.facts_at_home += 1;
                    }
                }
                Event::Call(CallEvent::PersonDescribed(e))
                    if e.person.role == PersonRole::Implicated =>
                {
                    s.implicated += 1;
                    if is_family(e.person.relation) {
                        s.implicated_family += 1;
                    }
                }
                Event::Case(CaseEvent::CaseOpened(e)) => {
                    s.cases += 1;
                    if e.opened_by == CentreId::NationalPlatform {
                        s.cases_opened_by_platform += 1;
                    }
                }
                Event::Case(CaseEvent::CallLinked(_)) => s.calls_linked += 1,
                _ => {}
            }
        }
        s.peak_calls_in_memory = s.peak_calls_in_memory.max(self.calls.len());
        s.peak_cases_in_memory = s.peak_cases_in_memory.max(self.cases.len());
    }

    // ---- calls ----

    fn pick_centre(&mut self) -> usize {
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
    fn pick_pair(&mut self, centre: usize) -> Option<VolunteerPair> {
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

    fn arrive(&mut self) -> Option<Commit> {
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

    fn new_profile(&mut self) -> Profile {
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

    fn age_band(&mut self, old: bool) -> AgeBand {
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

    fn facts(&mut self, home: bool) -> Facts {
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

    fn victim_description(&mut self, profile: &Profile, code: DepartementCode) -> CallCommand {
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

    fn plan_new(&mut self, profile: &Profile, code: DepartementCode) -> VecDeque<CallCommand> {
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

    fn plan_repeat(&mut self, profile: &Profile, reachable: bool) -> VecDeque<CallCommand> {
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

    fn plan_info(&mut self, caller_id: SubjectId) -> VecDeque<CallCommand> {
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

    fn call_step(&mut self, id: CallId) -> Option<Commit> {
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

    fn call_command(&mut self, id: CallId, command: CallCommand) -> Option<Commit> {
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
    fn attach(&mut self, call_id: CallId) -> Option<Commit> {
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

    fn finish_call(&mut self, id: CallId, attached: bool) {
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

    // ---- cases ----

    fn case_next(&mut self, id: CaseId, phase: Phase, at: DateTime<Utc>) {
        if let Some(c) = self.cases.get_mut(&id) {
            c.phase = phase;
            c.token += 1;
            let token = c.token;
            self.schedule(at, Action::CaseStep(id, token));
        }
    }

    fn drop_case(&mut self, id: CaseId) {
        self.cases.remove(&id);
        self.open.remove(id);
        self.closed.remove(id);
        self.waiting.remove(id);
    }

    fn case_centre(&self, id: CaseId) -> Option<usize> {
        let d = self.cases.get(&id)?.state.centre()?.departement()?;
        self.centre_index.get(&d).copied()
    }

    /// Whether the case's referent may follow it now.
    fn referent_ok(&self, id: CaseId) -> Option<StaffId> {
        let c = self.cases.get(&id)?;
        let d = c.state.centre()?.departement()?;
        let r = c.state.referent()?;
        let s = self.snapshot(r)?;
        (s.has(Role::Referent) && s.accredited_at(d)).then_some(r)
    }

    /// Someone who may act on the case now: its referent, a volunteer of its centre, or a
    /// platform listener.
    fn any_actor(&mut self, id: CaseId) -> Option<StaffId> {
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

    fn case_command(
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

    fn case_step(&mut self, id: CaseId, token: u64) -> Option<Commit> {
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

    fn step_transfer(&mut self, id: CaseId) -> Option<Commit> {
        let home = self.cases.get(&id)?.home;
        let code = self.centres.get(home)?.code;
        let listener = self.rng.pick(&self.listeners)?;
        let commit = self.case_command(id, listener, &[], CaseCommand::Transfer(code))?;
        let at = self.after(HOUR, 2 * DAY);
        self.case_next(id, Phase::Referent, at);
        Some(commit)
    }

    fn step_reassign(&mut self, id: CaseId) -> Option<Commit> {
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
    fn step_assign(&mut self, id: CaseId, then: Phase) -> Option<Commit> {
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

    fn victim(&self, id: CaseId) -> Option<Subject> {
        Some(self.cases.get(&id)?.profile.victim)
    }

    fn step_analyse(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let victim = self.victim(id)?;
        let analysis = text::analysis(&mut self.rng, victim);
        let commit = self.case_command(id, referent, &[], CaseCommand::RecordAnalysis(analysis))?;
        let c = self.cases.get(&id)?;
        let reassign = c.state.is_transferred()
            && c.incoming == 0
            && self.centres.len() > 1
            && self.rng.chance(0.01);
        let at = self.after(HOUR, 2 * DAY);
        let next = if reassign {
            Phase::Reassign
        } else {
            Phase::Recontact
        };
        self.case_next(id, next, at);
        Some(commit)
    }

    fn step_recontact(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let c = self.cases.get(&id)?;
        if !c.state.can_recontact() {
            if c.woken && self.rng.chance(0.6) {
                // The caller called again: the referent proposes through that call.
                let at = self.after(10 * MINUTE, DAY);
                self.case_next(id, Phase::Propose, at);
                return None;
            }
            return self.step_await(id);
        }
        let outcome = self.rng.weighted(&[
            (RecontactOutcome::Reached, 62.0),
            (RecontactOutcome::NoAnswer, 30.0),
            (RecontactOutcome::WrongNumber, 8.0),
        ]);
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
                if c.no_answers >= 3 {
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
    fn step_await(&mut self, id: CaseId) -> Option<Commit> {
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

    fn step_give_up(&mut self, id: CaseId) -> Option<Commit> {
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

    fn step_propose(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let victim = self.victim(id)?;
        let c = self.cases.get_mut(&id)?;
        if c.round.is_empty() {
            c.round_target = 1;
            c.acted = false;
            c.refused_any = false;
            c.to_act.clear();
        }
        if c.round.is_empty() && self.rng.chance(0.3) {
            if let Some(c) = self.cases.get_mut(&id) {
                c.round_target = 2;
            }
        }
        let solution_id = SolutionId::from_uuid(self.rng.uuid());
        let kind = self.rng.weighted(&[
            (SolutionKind::ContactService, 40.0),
            (SolutionKind::ContactProfessional, 30.0),
            (SolutionKind::ContactInstitution, 20.0),
            (SolutionKind::Other, 10.0),
        ]);
        let description = text::solution(&mut self.rng, victim);
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
        c.round.push(solution_id);
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

    fn step_consent(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let c = self.cases.get(&id)?;
        let pending = c.round.iter().copied().find(|s| {
            c.state
                .solutions()
                .get(s)
                .is_some_and(|s| s.consent == Consent::Pending)
        });
        let Some(solution_id) = pending else {
            let next = if c.to_act.is_empty() {
                Phase::Close
            } else {
                Phase::Act
            };
            let at = self.after(HOUR, 5 * DAY);
            self.case_next(id, next, at);
            return None;
        };
        let given = self.rng.chance(0.72);
        let decision = if given {
            ConsentDecision::Given
        } else {
            ConsentDecision::Refused
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
            c.to_act.push_back((solution_id, false));
        } else {
            c.refused_any = true;
        }
        let at = self.after(MINUTE, 5 * MINUTE);
        self.case_next(id, Phase::Consent, at);
        Some(commit)
    }

    fn step_act(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let victim = self.victim(id)?;
        let Some((solution_id, again)) = self.cases.get_mut(&id)?.to_act.pop_front() else {
            let at = self.after(DAY, 20 * DAY);
            self.case_next(id, Phase::Close, at);
            return None;
        };
        let withdraw = self.rng.chance(0.06);
        let command = if withdraw {
            CaseCommand::RecordConsent {
                solution_id,
                decision: ConsentDecision::Withdrawn,
            }
        } else {
            CaseCommand::TakeAction {
                solution_id,
                note: text::action(&mut self.rng, victim),
            }
        };
        let commit = self.case_command(id, referent, &[], command)?;
        let second = !withdraw && !again && self.rng.chance(0.25);
        let c = self.cases.get_mut(&id)?;
        if !withdraw {
            c.acted = true;
        }
        if second {
            c.to_act.push_back((solution_id, true));
        }
        let (next, at) = if c.to_act.is_empty() {
            (Phase::Close, self.after(DAY, 20 * DAY))
        } else {
            (Phase::Act, self.after(HOUR, 10 * DAY))
        };
        self.case_next(id, next, at);
        Some(commit)
    }

    fn step_close(&mut self, id: CaseId) -> Option<Commit> {
        let referent = self.referent_ok(id)?;
        let c = self.cases.get(&id)?;
        let reason = if c.acted {
            self.rng.weighted(&[
                (CloseReason::Resolved, 45.0),
                (CloseReason::Redirected, 55.0),
            ])
        } else if c.refused_any {
            CloseReason::CallerDeclined
        } else {
            CloseReason::Other
        };
        let commit = self.case_command(id, referent, &[], CaseCommand::Close(reason))?;
        self.after_close(id);
        Some(commit)
    }

    fn after_close(&mut self, id: CaseId) {
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

    fn step_closed(&mut self, id: CaseId) -> Option<Commit> {
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

impl Iterator for Sim {
    type Item = Commit;

    fn next(&mut self) -> Option<Commit> {
        self.next_commit()
    }
}
