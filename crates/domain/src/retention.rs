//! How long personal data is kept: the deployment's retention rules, one per kind
//! of data, and the pure checks that say whether a rule is due for a call or a case.
//!
//! The rules (their legal reasons are in `docs/data-protection.md`):
//! - [`RetentionRule::ClosedCase`]: the persons of a case closed for the period;
//! - [`RetentionRule::UnattachedCall`]: the persons of a call that never joined a
//!   case, the period after it ended;
//! - [`RetentionRule::InactiveCase`]: a case with no activity for the period is
//!   flagged to its centre; unless someone records a reason to keep it within the
//!   grace period, it is closed and its persons erased;
//! - [`RetentionRule::CallbackNumber`]: the callback numbers of a case, once it is
//!   closed or its call-back deadline fell due unkept and the grace period passed,
//!   even if the case is kept.
//!
//! The domain reads no clock: the time of a check is the command's (`Context::now`),
//! the policy arrives in the context.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A retention rule: which data it erases, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RetentionRule {
    /// The persons of a case closed for the period.
    ClosedCase,
    /// The persons of a call never attached to a case, the period after it ended.
    UnattachedCall,
    /// A case without activity for the period: flagged, then closed and erased.
    InactiveCase,
    /// The callback numbers of a case closed, or whose call-back deadline passed.
    CallbackNumber,
}

impl RetentionRule {
    /// The rule's stable name: `closed-case`, `unattached-call`, `inactive-case`,
    /// `callback-number`.
    pub fn name(self) -> &'static str {
        match self {
            RetentionRule::ClosedCase => "closed-case",
            RetentionRule::UnattachedCall => "unattached-call",
            RetentionRule::InactiveCase => "inactive-case",
            RetentionRule::CallbackNumber => "callback-number",
        }
    }
}

impl std::fmt::Display for RetentionRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why someone keeps a case flagged for inactivity: a short closed list, kept in the
/// case's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeepReason {
    /// A step is under way with a professional, a service or an institution, and its
    /// outcome is awaited.
    FollowUpUnderWay,
    /// The caller said they would call again.
    CallerExpectedToCallAgain,
    /// Judicial or administrative proceedings (a report, a protection measure) are
    /// under way and the file may be asked for.
    ProceedingsUnderWay,
    /// The referent judges the person still at risk.
    PersonStillAtRisk,
}

/// The deployment's retention rules: each period, or `None` when the rule is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// How long the persons of a closed case are kept after its closing.
    pub closed_case: Option<Duration>,
    /// How long the persons of a call never attached to a case are kept after it
    /// ended (or, never ended, after it was received).
    pub unattached_call: Option<Duration>,
    /// How long a case may go without activity before it is flagged to its centre.
    pub inactive_case: Option<Duration>,
    /// How long a flagged case waits for a reason to keep it before it is closed and
    /// its persons erased.
    pub inactive_grace: Duration,
    /// How long after its call-back deadline fell due unkept a case keeps its
    /// callback numbers (a closed case keeps none); `None`: numbers follow the case.
    pub callback_number: Option<Duration>,
}

impl Default for RetentionPolicy {
    /// No erasure of closed cases (the deployment sets it), unattached calls 90 days,
    /// inactive cases flagged after 365 days and closed 30 days later, callback
    /// numbers 30 days after their deadline.
    fn default() -> Self {
        RetentionPolicy {
            closed_case: None,
            unattached_call: Some(Duration::days(90)),
            inactive_case: Some(Duration::days(365)),
            inactive_grace: Duration::days(30),
            callback_number: Some(Duration::days(30)),
        }
    }
}

impl RetentionPolicy {
    /// A policy with every rule off.
    pub fn off() -> Self {
        RetentionPolicy {
            closed_case: None,
            unattached_call: None,
            inactive_case: None,
            inactive_grace: Duration::days(30),
            callback_number: None,
        }
    }

    /// Whether any rule is on.
    pub fn any(&self) -> bool {
        self.closed_case.is_some()
            || self.unattached_call.is_some()
            || self.inactive_case.is_some()
            || self.callback_number.is_some()
    }
}

/// Whether `period` (if the rule is on) has run from `since` by `now`.
pub(crate) fn elapsed(period: Option<Duration>, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    period.is_some_and(|p| since + p <= now)
}
