//! What to simulate: the seed, the period, the volumes and the shares.

use chrono::{DateTime, TimeZone, Utc};
use ecoute_domain::StaffId;

use crate::traffic::shares;
use crate::SimError;

/// What to simulate. [`SimConfig::default`] matches the helpline's public volumes for
/// 2024: about 60,000 calls and 13,000 cases a year, 97% of cases opened by the national
/// platform, 52 departmental centres and about 600 volunteers.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Everything random (ids, choices, text) follows from it: same seed, same history.
    pub seed: u64,
    /// The simulated time the history starts at (staff are set up then; calls arrive
    /// from 09:00 of the first day).
    pub start: DateTime<Utc>,
    /// How many days of calls to simulate. Nothing is generated at or after
    /// `start + days`: cases still open then simply stay open.
    pub days: u32,
    /// Mean calls a day (more on weekdays, fewer at weekends). 165 ≈ 60,000 a year.
    pub calls_per_day: f64,
    /// How many departmental centres (at most 101, the number of départements).
    pub centres: usize,
    /// Volunteers who answer calls in pairs, per centre (at least 3).
    pub volunteers_per_centre: usize,
    /// Referents who follow cases, per centre (at least 2); one of them is also a
    /// volunteer who takes calls.
    pub referents_per_centre: usize,
    /// Professional listeners of the national platform.
    pub platform_listeners: usize,
    /// Listeners per platform team.
    pub listeners_per_team: usize,
    /// Share of calls that open a new case.
    pub new_case_share: f64,
    /// Share of calls about an existing case (linked to it; a closed case reopens).
    pub repeat_call_share: f64,
    /// Share of calls answered by the national platform (new cases are then
    /// transferred to a centre); the others are answered by a centre's volunteer pair.
    pub platform_share: f64,
    /// Share of new-case callers who ask to stay anonymous.
    pub anonymity_share: f64,
    /// Accreditations revoked per year across all centres (each replaced by a new
    /// member of staff a few days later).
    pub revocations_per_year: f64,
    /// Share of closed cases reopened later by a decision (new calls reopen others).
    pub reopen_share: f64,
    /// Days a closed case stays in memory, open to new calls, before it is forgotten by
    /// the simulator (not by the store).
    pub retention_days: u32,
    /// The bootstrap administrator's id (configured in the server, never enrolled);
    /// derived from the seed when `None`.
    pub admin: Option<StaffId>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 3977,
            start: Utc
                .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            days: 365,
            calls_per_day: 165.0,
            centres: 52,
            volunteers_per_centre: 9,
            referents_per_centre: 3,
            platform_listeners: 30,
            listeners_per_team: 6,
            new_case_share: shares::NEW_CASE,
            repeat_call_share: shares::CALLING_AGAIN,
            platform_share: shares::PLATFORM,
            anonymity_share: shares::ANONYMOUS_NEW_CASE,
            revocations_per_year: 30.0,
            reopen_share: shares::REOPENED,
            retention_days: 120,
            admin: None,
        }
    }
}

impl SimConfig {
    /// The default configuration with another seed and number of days.
    pub fn with_seed_and_days(seed: u64, days: u32) -> Self {
        SimConfig {
            seed,
            days,
            ..SimConfig::default()
        }
    }

    /// Checks that the configuration can produce a valid history.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |why: &str| Err(SimError::InvalidConfig(why.to_string()));
        let share = |x: f64| (0.0..=1.0).contains(&x);
        if !(1..=101).contains(&self.centres) {
            return bad("centres must be between 1 and 101");
        }
        if self.volunteers_per_centre < 3 {
            return bad("volunteers_per_centre must be at least 3");
        }
        if self.referents_per_centre < 2 {
            return bad("referents_per_centre must be at least 2");
        }
        if self.platform_listeners == 0 || self.listeners_per_team == 0 {
            return bad("platform_listeners and listeners_per_team must be at least 1");
        }
        if !(self.calls_per_day.is_finite() && self.calls_per_day >= 0.0) {
            return bad("calls_per_day must be a finite, non-negative number");
        }
        if self.calls_per_day > 1_000_000.0 {
            return bad("calls_per_day must be at most 1,000,000");
        }
        if !(self.revocations_per_year.is_finite() && self.revocations_per_year >= 0.0) {
            return bad("revocations_per_year must be a finite, non-negative number");
        }
        for (name, x) in [
            ("new_case_share", self.new_case_share),
            ("repeat_call_share", self.repeat_call_share),
            ("platform_share", self.platform_share),
            ("anonymity_share", self.anonymity_share),
            ("reopen_share", self.reopen_share),
        ] {
            if !share(x) {
                return Err(SimError::InvalidConfig(format!(
                    "{name} must be between 0 and 1"
                )));
            }
        }
        if self.new_case_share + self.repeat_call_share > 1.0 {
            return bad("new_case_share + repeat_call_share must be at most 1");
        }
        Ok(())
    }
}
