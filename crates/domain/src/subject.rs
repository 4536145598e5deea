//! A data subject's rights, as events of one stream per subject (`subject-<uuid>`).
//!
//! Erasing a subject records [`SubjectErased`] and destroys their key (the server
//! does that, once the event is in the log): from then on every value of theirs
//! reads as erased, while the log, its hash chain and the statistics stay as they
//! were. Only the
//! data-protection officer erases on request; retention erases as the system, with
//! the same role.

use crate::context::Context;
use crate::error::DomainError;
use crate::ids::SubjectId;
use crate::staff::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a subject's data was erased.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErasureReason {
    /// The person asked for it (GDPR Art. 17), through the data-protection officer.
    Request,
    /// The retention period of the case ran out.
    Retention,
}

/// Commands on a subject stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectCommand {
    /// Records that the subject's data was erased (their key destroyed).
    Erase {
        /// The subject.
        subject: SubjectId,
        /// Why.
        reason: ErasureReason,
    },
}

/// The subject's data was erased: their key is destroyed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectErased {
    /// The subject.
    pub subject: SubjectId,
    /// Why.
    pub reason: ErasureReason,
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
}

/// The state of a subject stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectState {
    erased: Option<(DateTime<Utc>, ErasureReason)>,
}

impl SubjectState {
    /// When and why the subject was erased, if they were.
    pub fn erased(&self) -> Option<(DateTime<Utc>, ErasureReason)> {
        self.erased
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
    match *command {
        SubjectCommand::Erase { subject, reason } => {
            if state.erased.is_some() {
                return Err(DomainError::SubjectAlreadyErased(subject));
            }
            Ok(vec![SubjectEvent::SubjectErased(SubjectErased {
                subject,
                reason,
                at: ctx.now,
            })])
        }
    }
}

/// Applies one event to the state.
pub fn evolve(mut state: SubjectState, event: &SubjectEvent) -> SubjectState {
    match event {
        SubjectEvent::SubjectErased(e) => state.erased = Some((e.at, e.reason)),
    }
    state
}

/// Folds a subject stream's events into its state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a SubjectEvent>) -> SubjectState {
    events.into_iter().fold(SubjectState::default(), evolve)
}
