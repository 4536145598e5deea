//! The helpline's domain: the events, commands and rules of a 3977-style elder-abuse
//! helpline, as pure functions.
//!
//! Four kinds of stream, each with `decide(state, command, context)` and
//! `evolve(state, event)`:
//! - [`call`]: one call (`call-<uuid>`), from answer to end and attachment to a case;
//! - [`case`]: one case, the caller's personal file (`case-<uuid>`), from opening through
//!   transfer, referent, call-back, solutions and consent, to closing and reopening;
//! - [`staff`]: one member of staff, their roles and accreditations (`staff-<uuid>`);
//! - [`subject`]: one data subject's rights exercised, such as erasure (`subject-<uuid>`).
//!
//! The domain does no I/O, never reads the clock and never draws random numbers: time
//! and every new id arrive with the command or in its [`Context`]. Facts from other
//! streams (who is accredited where, what a call left) arrive in the context too, as
//! snapshots the caller folds. Personal values are wrapped in [`Personal`], which says
//! whose they are and cannot be printed or serialized in clear by accident. [`event`]
//! encodes and decodes events for the store, upcasting older schema versions.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod call;
pub mod case;
pub mod centre;
pub mod context;
pub mod deciders;
pub mod error;
pub mod event;
pub mod ids;
pub mod personal;
pub mod reference;
pub mod retention;
pub mod staff;
pub mod subject;
pub mod time;
pub mod vocabulary;

pub use centre::{CentreId, DepartementCode};
pub use context::{Context, DeadlinePolicy};
pub use deciders::{
    join_case, retain_call, retain_case, Calls, Cases, Joined, Retained, StaffMembers, Subjects,
};
pub use ecoute_decider::{Decider, Envelope};
pub use error::DomainError;
pub use event::{decode, encode, DecodeError, EncodeError, Encoded, Event};
pub use ids::{
    call_stream, case_stream, staff_stream, subject_stream, CallId, CaseId, SolutionId, StaffId,
    SubjectId, TeamId, TokenId,
};
pub use personal::{HasPersonalData, Personal, PersonalField, Protected, Sealed, Subject, Whose};
pub use retention::{KeepReason, RetentionPolicy, RetentionRule};
pub use staff::{Role, StaffSnapshot, TokenDigest, VolunteerPair};
