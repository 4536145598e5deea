//! The helpline's four deciders (calls, cases, staff, data subjects) and the
//! decisions that span several streams: a call joining a case, and a retention
//! rule applied to a call or a case and the subjects it erases.
//!
//! Each decider names its stream and delegates to its module's pure `decide` and
//! `evolve`; [`Event`] carries the events of all four (see
//! [`ecoute_decider::Envelope`]). A command runner (`ecoute-engine`) loads the
//! streams, folds them with these, decides and appends.

use ecoute_decider::{Decider, Envelope};

use crate::call::{self, CallCommand, CallEvent, CallState};
use crate::case::{self, CaseCommand, CaseEvent, CaseState, RetentionStep};
use crate::context::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{call_stream, case_stream, staff_stream, subject_stream};
use crate::ids::{CallId, CaseId, StaffId, SubjectId};
use crate::retention::RetentionRule;
use crate::staff::{self, StaffCommand, StaffEvent, StaffState};
use crate::subject::{self, SubjectCommand, SubjectEvent, SubjectState};
use std::collections::BTreeMap;

macro_rules! decider {
    ($(#[$doc:meta])* $name:ident, $module:ident, $id:ty, $stream:ident,
     $state:ty, $event:ty, $command:ty, $variant:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl Decider for $name {
            type Id = $id;
            type State = $state;
            type Event = $event;
            type Command = $command;
            type Context = Context;
            type Error = DomainError;

            fn stream(id: &$id) -> String {
                $stream(*id)
            }

            fn evolve(state: $state, event: &$event) -> $state {
                $module::evolve(state, event)
            }

            fn decide(
                state: &$state,
                command: &$command,
                ctx: &Context,
            ) -> Result<Vec<$event>, DomainError> {
                $module::decide(state, command, ctx)
            }
        }

        impl Envelope<$name> for Event {
            fn as_event(&self) -> Option<&$event> {
                match self {
                    Event::$variant(e) => Some(e),
                    _ => None,
                }
            }
        }
    };
}

decider!(
    /// A call, in its stream `call-<uuid>`: answered, listened to, ended, joined to a
    /// case.
    Calls, call, CallId, call_stream, CallState, CallEvent, CallCommand, Call
);
decider!(
    /// A case, in its stream `case-<uuid>`: opened, transferred, followed, closed.
    Cases, case, CaseId, case_stream, CaseState, CaseEvent, CaseCommand, Case
);
decider!(
    /// A member of staff, in their stream `staff-<uuid>`: roles, accreditations,
    /// tokens.
    StaffMembers, staff, StaffId, staff_stream, StaffState, StaffEvent, StaffCommand, Staff
);
decider!(
    /// A data subject's rights, in their stream `subject-<uuid>`: erasure.
    Subjects, subject, SubjectId, subject_stream, SubjectState, SubjectEvent, SubjectCommand,
    Subject
);

/// What a call joining a case records on each stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The call's events (`CallAttachedToCase`).
    pub call: Vec<CallEvent>,
    /// The case's events (`CaseOpened` or `CallLinked`, then those of `then`).
    pub case: Vec<CaseEvent>,
}

/// An ended call joins a case: a new one it opens (`case` is then the state of a
/// stream with no event), or an existing one (a closed case is reopened by it); then
/// `then`, if given (a transfer), is decided on the case as the join left it. One
/// decision over two streams, to be appended in one commit.
pub fn join_case(
    call: &CallState,
    case: &CaseState,
    case_id: CaseId,
    new_case: bool,
    then: Option<&CaseCommand>,
    ctx: &Context,
) -> Result<Joined, DomainError> {
    let summary = call.summary().ok_or(DomainError::CallNotReceived)?;
    let call_id = summary.call_id;
    let ctx = ctx.clone().with_call(summary);
    let call_events = Calls::decide(call, &CallCommand::AttachToCase { case_id, new_case }, &ctx)?;
    let first = if new_case {
        CaseCommand::Open { case_id, call_id }
    } else {
        CaseCommand::LinkCall(call_id)
    };
    let (_, case_events) =
        Cases::decide_all(case.clone(), std::iter::once(&first).chain(then), &ctx)?;
    Ok(Joined {
        call: call_events,
        case: case_events,
    })
}

/// What a retention decision records: the events of the call or case it applies to,
/// and those of each subject it erases (or erases the number of), to be appended in
/// one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retained<E> {
    /// The events of the call or case.
    pub own: Vec<E>,
    /// Each subject's events, subjects already erased left out.
    pub subjects: Vec<(SubjectId, Vec<SubjectEvent>)>,
}

/// The subjects' events that a call's or case's retention events call for: an
/// erasure for each person erased, a number erasure for each number; a subject
/// already erased (on request, or by another rule) is left out.
fn subject_events(
    erased: impl IntoIterator<Item = (SubjectId, SubjectCommand)>,
    subjects: &BTreeMap<SubjectId, SubjectState>,
    ctx: &Context,
) -> Result<Vec<(SubjectId, Vec<SubjectEvent>)>, DomainError> {
    let mut out = Vec::new();
    for (id, command) in erased {
        let state = subjects
            .get(&id)
            .ok_or(DomainError::MissingSubjectContext(id))?;
        if state.erasure().is_some()
            || (matches!(command, SubjectCommand::EraseNumber { .. })
                && state.number_erased().is_some())
        {
            continue;
        }
        out.push((id, Subjects::decide(state, &command, ctx)?));
    }
    Ok(out)
}

/// The unattached-call retention rule on one call: refused unless it is due at
/// `ctx.now` under `ctx.retention`; then the call records that its persons were
/// erased, and each of them their erasure. `subjects` holds the state of every
/// subject of the call.
pub fn retain_call(
    call: &CallState,
    subjects: &BTreeMap<SubjectId, SubjectState>,
    ctx: &Context,
) -> Result<Retained<CallEvent>, DomainError> {
    let own = Calls::decide(call, &CallCommand::EraseByRetention, ctx)?;
    let mut erased = Vec::new();
    for e in &own {
        if let CallEvent::CallPersonsErased(p) = e {
            erased.extend(p.subjects.iter().map(|s| {
                let command = SubjectCommand::EraseByRetention {
                    subject: *s,
                    rule: p.rule,
                };
                (*s, command)
            }));
        }
    }
    Ok(Retained {
        subjects: subject_events(erased, subjects, ctx)?,
        own,
    })
}

/// A retention step on one case: refused unless it is due at `ctx.now` under
/// `ctx.retention`; then the case records it, and each subject it erases their
/// erasure (or their number's). `subjects` holds the state of every subject of the
/// case's calls.
pub fn retain_case(
    case: &CaseState,
    step: RetentionStep,
    subjects: &BTreeMap<SubjectId, SubjectState>,
    ctx: &Context,
) -> Result<Retained<CaseEvent>, DomainError> {
    let own = Cases::decide(case, &CaseCommand::Retention(step), ctx)?;
    let mut erased = Vec::new();
    for e in &own {
        match e {
            CaseEvent::CasePersonsErased(p) => erased.extend(p.subjects.iter().map(|s| {
                let command = SubjectCommand::EraseByRetention {
                    subject: *s,
                    rule: p.rule,
                };
                (*s, command)
            })),
            CaseEvent::CallbackNumbersErased(n) => erased.extend(n.numbers.iter().map(|(_, s)| {
                let command = SubjectCommand::EraseNumber {
                    subject: *s,
                    rule: RetentionRule::CallbackNumber,
                };
                (*s, command)
            })),
            _ => {}
        }
    }
    Ok(Retained {
        subjects: subject_events(erased, subjects, ctx)?,
        own,
    })
}
