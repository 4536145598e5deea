//! One case (dossier, the caller's personal file), as a stream `case-<uuid>`: opened by
//! a call, transferred from the national platform to a centre, followed by a referent who
//! calls back, proposes solutions and acts only with the caller's consent; closed and
//! reopened.
//!
//! The state keeps no personal value, only ids, flags and plain facts.
//!
//! Here the commands and events; in `state` the state, its queries and `evolve`; in
//! `decide` the rules.

use crate::call::{CallSummary, NumberStatus};
use crate::centre::{CentreId, DepartementCode};
use crate::ids::{CallId, CaseId, SolutionId, StaffId, SubjectId};
use crate::personal::{Personal, Whose};
use crate::retention::{KeepReason, RetentionRule};
use crate::vocabulary::{CloseReason, RecontactOutcome, SolutionKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

mod decide;
mod state;

pub use decide::decide;
pub use state::{evolve, fold, CaseState, CaseStatus, Consent, SolutionState};

/// Commands on a case stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseCommand {
    /// Opens the case from a call; the call's summary is in the context.
    Open {
        /// The id the caller generated for the case.
        case_id: CaseId,
        /// The call that opens it.
        call_id: CallId,
    },
    /// Adds a later call of the same situation; a closed case is reopened by it. The
    /// call's summary is in the context.
    LinkCall(CallId),
    /// The national platform hands the case to the centre of the caller's département.
    Transfer(DepartementCode),
    /// The national platform moves an already transferred case to another centre.
    Reassign(DepartementCode),
    /// Names the referent who follows the case; their snapshot is in the context.
    AssignReferent(StaffId),
    /// The referent records their analysis of the situation.
    RecordAnalysis(Personal<String>),
    /// The referent tried to call the caller back.
    AttemptRecontact(RecontactOutcome),
    /// The referent records that the case waits for the caller to call again.
    AwaitCallBack,
    /// The referent proposes a solution to the caller.
    ProposeSolution {
        /// The id the caller generated for the solution.
        solution_id: SolutionId,
        /// What kind of contact it is.
        kind: SolutionKind,
        /// The solution, described in free text.
        description: Personal<String>,
    },
    /// The referent records the caller's decision on one solution.
    RecordConsent {
        /// The solution.
        solution_id: SolutionId,
        /// Given, refused or withdrawn.
        decision: ConsentDecision,
    },
    /// The referent records a step taken on a solution, with the caller's consent.
    TakeAction {
        /// The solution.
        solution_id: SolutionId,
        /// What was done.
        note: Personal<String>,
    },
    /// Closes the case.
    Close(CloseReason),
    /// Reopens a closed case.
    Reopen,
    /// A deadline fell due without being kept: the scheduler flags the case. Refused
    /// when the case has moved on (the deadline was kept, re-armed or the case closed)
    /// or it is not due yet.
    MissDeadline {
        /// Which promise.
        kind: DeadlineKind,
        /// The due time the scheduler saw armed.
        due: DateTime<Utc>,
    },
    /// Someone who may act on the case keeps a case flagged for inactivity, for a
    /// reason from a closed list: it is not closed, and counts as active again.
    Keep(KeepReason),
    /// A step of a retention rule, given by the system (with the data-protection
    /// officer's role) at the command's time; refused unless the rule is due now.
    Retention(RetentionStep),
}

/// What a retention rule does to a case, one step at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RetentionStep {
    /// Flag an open case without activity for the period to its centre.
    FlagInactive,
    /// Close a case flagged and not kept within the grace period, and erase its
    /// persons.
    CloseInactive,
    /// Erase the persons of a case closed for the period.
    EraseClosed,
    /// Erase the callback numbers of a case closed, or whose call-back deadline
    /// passed the grace period unkept.
    EraseCallbackNumbers,
}

/// A case flagged to its centre for inactivity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InactivityFlag {
    /// When it was flagged.
    #[serde(with = "crate::time")]
    pub flagged_at: DateTime<Utc>,
    /// When it is closed and its persons erased, unless someone keeps it.
    #[serde(with = "crate::time")]
    pub closes_at: DateTime<Utc>,
}

/// A promise of the helpline that has a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DeadlineKind {
    /// A transferred case gets a referent.
    Referent,
    /// The referent makes a first attempt to call the caller back.
    Recontact,
    /// A proposed solution gets the caller's decision or an action.
    FollowUp(SolutionId),
}

impl std::fmt::Display for DeadlineKind {
    /// The stable name of a deadline: `referent`, `recontact`, `follow-up/<solution>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeadlineKind::Referent => f.write_str("referent"),
            DeadlineKind::Recontact => f.write_str("recontact"),
            DeadlineKind::FollowUp(s) => write!(f, "follow-up/{s}"),
        }
    }
}

/// An armed deadline of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// When it falls due.
    #[serde(with = "crate::time")]
    pub due: DateTime<Utc>,
    /// Whether it fell due unkept: the case is overdue on it until it is kept.
    pub missed: bool,
}

/// A deadline was armed by the event before it in the same commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineArmed {
    /// Which promise.
    pub kind: DeadlineKind,
    /// When it falls due.
    pub due: DateTime<Utc>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A deadline fell due unkept: the case is flagged overdue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineMissed {
    /// Which promise.
    pub kind: DeadlineKind,
    /// The due time missed.
    pub due: DateTime<Utc>,
    /// When the miss was recorded.
    pub at: DateTime<Utc>,
}

/// A deadline was kept (or no longer applies: the case closed, the referent changed),
/// by the event before it in the same commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineSatisfied {
    /// Which promise.
    pub kind: DeadlineKind,
    /// When.
    pub at: DateTime<Utc>,
}

/// The caller's decision on a proposed solution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentDecision {
    /// The caller agrees that the solution be acted on.
    Given,
    /// The caller does not agree.
    Refused,
    /// The caller takes back a consent given before.
    Withdrawn,
}

/// A call as the case knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedCall {
    /// The call.
    pub call_id: CallId,
    /// Where it was answered.
    pub centre: CentreId,
    /// Who took it: they cannot be the case's referent.
    pub taken_by: BTreeSet<StaffId>,
    /// Whether the caller can be called back from it.
    pub number: NumberStatus,
    /// The subjects of the call, with their kind; no personal value.
    pub subjects: BTreeMap<SubjectId, Whose>,
}

impl LinkedCall {
    fn from_summary(s: &CallSummary) -> Self {
        LinkedCall {
            call_id: s.call_id,
            centre: s.door.centre(),
            taken_by: s.door.taken_by(),
            number: s.number,
            subjects: s.subjects.iter().map(|s| (s.id, s.whose)).collect(),
        }
    }
}

/// The case was opened by a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseOpened {
    /// The case.
    pub case_id: CaseId,
    /// The place that opened it, which holds it until a transfer.
    pub opened_by: CentreId,
    /// The first call.
    pub call: LinkedCall,
    /// When.
    pub at: DateTime<Utc>,
}

/// Another call joined the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLinked {
    /// The call.
    pub call: LinkedCall,
    /// When.
    pub at: DateTime<Utc>,
}

/// The case was handed to a departmental centre.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTransferred {
    /// The centre that takes over.
    pub to: DepartementCode,
    /// The centre that held it before, when the platform reassigns it.
    pub from: Option<DepartementCode>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A referent was named to follow the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferentAssigned {
    /// The referent.
    pub referent: StaffId,
    /// The referent replaced, when reassigned.
    pub replaces: Option<StaffId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The referent stopped following the case because they took one of its calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferentReleased {
    /// The referent.
    pub referent: StaffId,
    /// The call they took.
    pub took_call: CallId,
    /// When.
    pub at: DateTime<Utc>,
}

/// The referent recorded an analysis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisRecorded {
    /// The analysis, personal data of the subject it is about.
    #[serde(with = "crate::personal::codec")]
    pub analysis: Personal<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The referent tried to call the caller back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecontactAttempted {
    /// Reached, no answer, or wrong number.
    pub outcome: RecontactOutcome,
    /// When.
    pub at: DateTime<Utc>,
}

/// The case waits for the caller to call again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingCallBack {
    /// When.
    pub at: DateTime<Utc>,
}

/// A solution was proposed to the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionProposed {
    /// The solution.
    pub solution_id: SolutionId,
    /// What kind of contact it is.
    pub kind: SolutionKind,
    /// The solution in free text, personal data of the subject it is about.
    #[serde(with = "crate::personal::codec")]
    pub description: Personal<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The caller consented to a solution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentGiven {
    /// The solution.
    pub solution_id: SolutionId,
    /// When.
    pub at: DateTime<Utc>,
}

/// The caller refused a solution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRefused {
    /// The solution.
    pub solution_id: SolutionId,
    /// When.
    pub at: DateTime<Utc>,
}

/// The caller took back their consent to a solution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentWithdrawn {
    /// The solution.
    pub solution_id: SolutionId,
    /// When.
    pub at: DateTime<Utc>,
}

/// A step was taken on a solution, with the caller's consent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTaken {
    /// The solution.
    pub solution_id: SolutionId,
    /// What was done, personal data of the subject it is about.
    #[serde(with = "crate::personal::codec")]
    pub note: Personal<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The case was closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseClosed {
    /// Why.
    pub reason: CloseReason,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why a case was reopened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReopenReason {
    /// Someone who may act on the case decided to reopen it.
    Decision,
    /// A new call about the situation came in.
    NewCall(CallId),
}

/// A closed case was reopened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReopened {
    /// Why.
    pub reason: ReopenReason,
    /// When.
    pub at: DateTime<Utc>,
}

/// The case went without activity for the retention period: it is flagged to its
/// centre, and will be closed and its persons erased unless someone keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InactivityFlagged {
    /// The time of the case's last activity.
    pub last_activity: DateTime<Utc>,
    /// When it is closed unless kept.
    pub closes_at: DateTime<Utc>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Someone kept a case flagged for inactivity, for a reason from the closed list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseKept {
    /// Why.
    pub reason: KeepReason,
    /// When.
    pub at: DateTime<Utc>,
}

/// The callback numbers of the case's calls were erased (their key slots destroyed)
/// by the callback-number retention rule; the rest of the case is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackNumbersErased {
    /// Each call whose number was erased, with its caller (whose number slot goes).
    pub numbers: Vec<(CallId, SubjectId)>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The persons of the case's calls were erased by a retention rule (each subject's
/// erasure is recorded in their own stream, in the same commit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasePersonsErased {
    /// The rule.
    pub rule: RetentionRule,
    /// The subjects of the case's calls.
    pub subjects: Vec<SubjectId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The events of a case stream.
/// Serializes as the event's own fields, without its type name (which the store keeps
/// beside the payload): for readable renderings such as an audited history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CaseEvent {
    /// See [`CaseOpened`].
    CaseOpened(CaseOpened),
    /// See [`CallLinked`].
    CallLinked(CallLinked),
    /// See [`CaseTransferred`].
    CaseTransferred(CaseTransferred),
    /// See [`ReferentAssigned`].
    ReferentAssigned(ReferentAssigned),
    /// See [`ReferentReleased`].
    ReferentReleased(ReferentReleased),
    /// See [`AnalysisRecorded`].
    AnalysisRecorded(AnalysisRecorded),
    /// See [`RecontactAttempted`].
    RecontactAttempted(RecontactAttempted),
    /// See [`AwaitingCallBack`].
    AwaitingCallBack(AwaitingCallBack),
    /// See [`SolutionProposed`].
    SolutionProposed(SolutionProposed),
    /// See [`ConsentGiven`].
    ConsentGiven(ConsentGiven),
    /// See [`ConsentRefused`].
    ConsentRefused(ConsentRefused),
    /// See [`ConsentWithdrawn`].
    ConsentWithdrawn(ConsentWithdrawn),
    /// See [`ActionTaken`].
    ActionTaken(ActionTaken),
    /// See [`CaseClosed`].
    CaseClosed(CaseClosed),
    /// See [`CaseReopened`].
    CaseReopened(CaseReopened),
    /// See [`DeadlineArmed`].
    DeadlineArmed(DeadlineArmed),
    /// See [`DeadlineMissed`].
    DeadlineMissed(DeadlineMissed),
    /// See [`DeadlineSatisfied`].
    DeadlineSatisfied(DeadlineSatisfied),
    /// See [`InactivityFlagged`].
    InactivityFlagged(InactivityFlagged),
    /// See [`CaseKept`].
    CaseKept(CaseKept),
    /// See [`CallbackNumbersErased`].
    CallbackNumbersErased(CallbackNumbersErased),
    /// See [`CasePersonsErased`].
    CasePersonsErased(CasePersonsErased),
}

impl CaseEvent {
    /// When the event happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            CaseEvent::CaseOpened(e) => e.at,
            CaseEvent::CallLinked(e) => e.at,
            CaseEvent::CaseTransferred(e) => e.at,
            CaseEvent::ReferentAssigned(e) => e.at,
            CaseEvent::ReferentReleased(e) => e.at,
            CaseEvent::AnalysisRecorded(e) => e.at,
            CaseEvent::RecontactAttempted(e) => e.at,
            CaseEvent::AwaitingCallBack(e) => e.at,
            CaseEvent::SolutionProposed(e) => e.at,
            CaseEvent::ConsentGiven(e) => e.at,
            CaseEvent::ConsentRefused(e) => e.at,
            CaseEvent::ConsentWithdrawn(e) => e.at,
            CaseEvent::ActionTaken(e) => e.at,
            CaseEvent::CaseClosed(e) => e.at,
            CaseEvent::CaseReopened(e) => e.at,
            CaseEvent::DeadlineArmed(e) => e.at,
            CaseEvent::DeadlineMissed(e) => e.at,
            CaseEvent::DeadlineSatisfied(e) => e.at,
            CaseEvent::InactivityFlagged(e) => e.at,
            CaseEvent::CaseKept(e) => e.at,
            CaseEvent::CallbackNumbersErased(e) => e.at,
            CaseEvent::CasePersonsErased(e) => e.at,
        }
    }

    /// Whether the event is someone's activity on the case, as the inactive-case
    /// rule counts it: not the system's bookkeeping (deadlines, retention).
    pub fn is_activity(&self) -> bool {
        !matches!(
            self,
            CaseEvent::DeadlineArmed(_)
                | CaseEvent::DeadlineMissed(_)
                | CaseEvent::DeadlineSatisfied(_)
                | CaseEvent::InactivityFlagged(_)
                | CaseEvent::CallbackNumbersErased(_)
                | CaseEvent::CasePersonsErased(_)
        )
    }
}
