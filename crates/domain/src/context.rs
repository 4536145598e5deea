//! What a command needs to know beyond its own stream, assembled by the caller.
//!
//! `decide` is pure: it reads the clock and other streams only through this context. The
//! server folds the staff streams of the actor and of every member a command names, and
//! the call streams a case command names, into snapshots and passes them here.

use crate::call::CallSummary;
use crate::error::DomainError;
use crate::ids::{CallId, StaffId};
use crate::retention::RetentionPolicy;
use crate::staff::StaffSnapshot;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The time of a command, who gives it, and snapshots of the other aggregates it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// When the command is given; every event it produces carries this time.
    pub now: DateTime<Utc>,
    /// The member of staff giving the command, as their staff stream stands now.
    pub actor: StaffSnapshot,
    /// Other members named by the command (the second volunteer of a pair, a referent to
    /// assign), as their staff streams stand now.
    pub staff: BTreeMap<StaffId, StaffSnapshot>,
    /// The calls named by a case command, as their call streams stand now.
    pub calls: BTreeMap<CallId, CallSummary>,
    /// The deployment's deadlines: with a policy, case commands arm and satisfy them
    /// in the same commit as the events that cause them; without, none are kept.
    pub deadlines: Option<DeadlinePolicy>,
    /// The deployment's retention rules: the retention commands check them, at
    /// `now`; without a policy no retention rule is due.
    pub retention: Option<RetentionPolicy>,
}

/// How long the helpline gives itself to keep each promise of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadlinePolicy {
    /// From the transfer to a centre until a referent is named (default 48 h).
    pub referent: chrono::Duration,
    /// From the referent's naming until the first attempt to call back, when a
    /// number was left (default 72 h).
    pub recontact: chrono::Duration,
    /// From a solution's proposal until the caller's decision or an action on it
    /// (default 14 days).
    pub follow_up: chrono::Duration,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy {
            referent: chrono::Duration::hours(48),
            recontact: chrono::Duration::hours(72),
            follow_up: chrono::Duration::days(14),
        }
    }
}

impl Context {
    /// A context with only the time and the actor.
    pub fn new(now: DateTime<Utc>, actor: StaffSnapshot) -> Self {
        Context {
            now,
            actor,
            staff: BTreeMap::new(),
            calls: BTreeMap::new(),
            deadlines: None,
            retention: None,
        }
    }

    /// The same context, applying retention under `policy`.
    pub fn with_retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = Some(policy);
        self
    }

    /// The same context, keeping deadlines under `policy`.
    pub fn with_deadlines(mut self, policy: DeadlinePolicy) -> Self {
        self.deadlines = Some(policy);
        self
    }

    /// Adds the snapshot of another member of staff.
    pub fn with_staff(mut self, snapshot: StaffSnapshot) -> Self {
        self.staff.insert(snapshot.id, snapshot);
        self
    }

    /// Adds the summary of a call.
    pub fn with_call(mut self, summary: CallSummary) -> Self {
        self.calls.insert(summary.call_id, summary);
        self
    }

    /// The snapshot of `id`: the actor's own, or one supplied with [`Context::with_staff`].
    pub fn staff(&self, id: StaffId) -> Result<&StaffSnapshot, DomainError> {
        if self.actor.id == id {
            return Ok(&self.actor);
        }
        self.staff
            .get(&id)
            .ok_or(DomainError::MissingStaffContext(id))
    }

    /// The summary of call `id`, supplied with [`Context::with_call`].
    pub fn call(&self, id: CallId) -> Result<&CallSummary, DomainError> {
        self.calls
            .get(&id)
            .ok_or(DomainError::MissingCallContext(id))
    }
}
