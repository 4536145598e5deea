//! The simulator: a discrete-event agenda of call arrivals, call steps, case follow-ups
//! and staff changes, in simulated time. Every change goes through the domain's
//! `decide`; the states it keeps are the domain's own folds of what it produced.

mod calls;
mod cases;
mod commit;
mod roster;
mod stats;
mod types;

use std::collections::{BinaryHeap, HashMap, VecDeque};

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use ecoute_domain::staff::StaffCommand;
use ecoute_domain::{CallId, CaseId, DepartementCode, Role, StaffId, StaffSnapshot};
use ecoute_store::Commit;

use crate::rng::Rng;
use crate::{SimConfig, SimError};

pub use stats::SimStats;
use types::{Action, Centre, Member, Pool, Scheduled, SetupStep, SimCall, SimCase};

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

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
}

impl Iterator for Sim {
    type Item = Commit;

    fn next(&mut self) -> Option<Commit> {
        self.next_commit()
    }
}
