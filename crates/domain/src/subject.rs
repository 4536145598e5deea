//! A data subject's rights, as events of one stream per subject (`subject-<uuid>`).
//!
//! Erasing a subject records [`SubjectErased`] and destroys their key (the server
//! does that, once the event is in the log): from then on every value of theirs
//! reads as erased, while the log, its hash chain and the statistics stay as they
//! were. Only the data-protection officer erases on request; the retention rules
//! erase as the system, with the same role, and say which rule. A callback number
//! alone is erased by [`NumberErased`] (the number's own key slot destroyed), the
//! rest of what the caller said kept.

use crate::context::Context;
use crate::error::DomainError;
use crate::ids::SubjectId;
use crate::retention::RetentionRule;
use crate::staff::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a subject's data was erased.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErasureReason {
    /// The person asked for it (GDPR Art. 17), through the data-protection officer.
    Request,
    /// A retention rule's period ran out (the rule is recorded beside the reason).
    Retention,
}

/// Commands on a subject stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectCommand {
    /// Records that the subject's data was erased on request (their key destroyed).
    Erase {
        /// The subject.
        subject: SubjectId,
        /// Why.
        reason: ErasureReason,
    },
    /// Records that a retention rule erased the subject's data (their key destroyed).
    /// Decided with the call or case the rule applies to (`retain_call`,
    /// `retain_case`), which checks that it is due.
    EraseByRetention {
        /// The subject.
        subject: SubjectId,
        /// The rule.
        rule: RetentionRule,
    },
    /// Records that a retention rule erased the subject's callback number alone (its
    /// key slot destroyed).
    EraseNumber {
        /// The subject (the caller who left the number).
        subject: SubjectId,
        /// The rule.
        rule: RetentionRule,
    },
}

/// The subject's data was erased: their key is destroyed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectErased {
    /// The subject.
    pub subject: SubjectId,
    /// Why.
    pub reason: ErasureReason,
    /// The retention rule, when a rule erased it (added in version 2).
    pub rule: Option<RetentionRule>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The subject's callback number was erased: the number's key slot is destroyed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberErased {
    /// The subject.
    pub subject: SubjectId,
    /// The retention rule.
    pub rule: RetentionRule,
    /// When.
    pub at: DateTime<Utc>,
}

/// Serializes as the event's own fields, without its type name (which the store keeps
/// beside the payload): for readable renderings such as an audited history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SubjectEvent {
    /// See [`SubjectErased`].
    SubjectErased(SubjectErased),
    /// See [`NumberErased`].
    NumberErased(NumberErased),
}

/// An erasure as the subject's state keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Erasure {
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: ErasureReason,
    /// The retention rule, if a rule erased it.
    pub rule: Option<RetentionRule>,
}

/// The state of a subject stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectState {
    erased: Option<Erasure>,
    number_erased: Option<(DateTime<Utc>, RetentionRule)>,
}

impl SubjectState {
    /// When and why the subject was erased, if they were.
    pub fn erased(&self) -> Option<(DateTime<Utc>, ErasureReason)> {
        self.erased.map(|e| (e.at, e.reason))
    }

    /// The subject's erasure, with its rule, if they were erased.
    pub fn erasure(&self) -> Option<Erasure> {
        self.erased
    }

    /// When and by which rule the subject's callback number alone was erased.
    pub fn number_erased(&self) -> Option<(DateTime<Utc>, RetentionRule)> {
        self.number_erased
    }
}

/// Decides what a subject command records, or why it is refused.
pub fn decide(
    state: &SubjectState,
    command: &SubjectCommand,
    ctx: &Context,
) -> Result<Vec<SubjectEvent>, DomainError> {
    if !ctx.actor.has(Role::DataProtectionOfficer) {
        return Err(DomainError::NotTheDataProtectionOfficer);
    }
    let (subject, reason, rule) = match *command {
        SubjectCommand::Erase { subject, reason } => (subject, reason, None),
        SubjectCommand::EraseByRetention { subject, rule } => {
            (subject, ErasureReason::Retention, Some(rule))
        }
        SubjectCommand::EraseNumber { subject, rule } => {
            if state.erased.is_some() {
                return Err(DomainError::SubjectAlreadyErased(subject));
            }
            if state.number_erased.is_some() {
                return Err(DomainError::RetentionNotDue);
            }
            return Ok(vec![SubjectEvent::NumberErased(NumberErased {
                subject,
                rule,
                at: ctx.now,
            })]);
        }
    };
    if state.erased.is_some() {
        return Err(DomainError::SubjectAlreadyErased(subject));
    }
    Ok(vec![SubjectEvent::SubjectErased(SubjectErased {
        subject,
        reason,
        rule,
        at: ctx.now,
    })])
}

/// Applies one event to the state.
pub fn evolve(mut state: SubjectState, event: &SubjectEvent) -> SubjectState {
    match event {
        SubjectEvent::SubjectErased(e) => {
            state.erased = Some(Erasure {
                at: e.at,
                reason: e.reason,
                rule: e.rule,
            })
        }
        SubjectEvent::NumberErased(e) => state.number_erased = Some((e.at, e.rule)),
    }
    state
}

/// Folds a subject stream's events into its state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a SubjectEvent>) -> SubjectState {
    events.into_iter().fold(SubjectState::default(), evolve)
}
