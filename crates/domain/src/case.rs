//! One case (dossier, the caller's personal file), as a stream `case-<uuid>`: opened by
//! a call, transferred from the national platform to a centre, followed by a referent who
//! calls back, proposes solutions and acts only with the caller's consent; closed and
//! reopened.
//!
//! The state keeps no personal value, only ids, flags and plain facts.

use crate::call::{check_text, CallSummary, NumberStatus};
use crate::centre::{CentreId, DepartementCode};
use crate::context::Context;
use crate::error::DomainError;
use crate::ids::{CallId, CaseId, SolutionId, StaffId, SubjectId};
use crate::personal::{Personal, Whose};
use crate::staff::{Role, StaffSnapshot};
use crate::vocabulary::{CloseReason, RecontactOutcome, SolutionKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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
}

/// Where a case stands in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CaseStatus {
    /// No event yet.
    #[default]
    NotOpened,
    /// Open: it is being followed.
    Open,
    /// Closed: it accepts nothing but reopening (or a new call, which reopens it).
    Closed,
}

/// The caller's standing decision on a solution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Consent {
    /// Not asked yet.
    #[default]
    Pending,
    /// Given and not withdrawn since: the solution may be acted on.
    Given,
    /// Refused.
    Refused,
    /// Given, then withdrawn.
    Withdrawn,
}

/// A solution as the case knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionState {
    /// What kind of contact it is.
    pub kind: SolutionKind,
    /// The caller's standing decision.
    pub consent: Consent,
    /// How many actions were taken on it.
    pub actions: u32,
}

/// The state of a case stream: the fold of its events. It holds no personal value, so
/// read models may keep it (serde) and evolve it with [`evolve`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    status: CaseStatus,
    case_id: Option<CaseId>,
    opened_by: Option<CentreId>,
    centre: Option<CentreId>,
    transferred: bool,
    calls: BTreeMap<CallId, LinkedCall>,
    call_order: Vec<CallId>,
    takers: BTreeSet<StaffId>,
    subjects: BTreeMap<SubjectId, Whose>,
    reachable: bool,
    awaiting_call_back: bool,
    referent: Option<StaffId>,
    solutions: BTreeMap<SolutionId, SolutionState>,
    /// Whether the current referent tried to call back.
    recontacted: bool,
    deadlines: BTreeMap<DeadlineKind, Deadline>,
}

impl CaseState {
    /// Where the case stands.
    pub fn status(&self) -> CaseStatus {
        self.status
    }

    /// The case's id, once opened.
    pub fn case_id(&self) -> Option<CaseId> {
        self.case_id
    }

    /// The place that opened the case.
    pub fn opened_by(&self) -> Option<CentreId> {
        self.opened_by
    }

    /// The place that holds the case now.
    pub fn centre(&self) -> Option<CentreId> {
        self.centre
    }

    /// Whether the case was transferred from the national platform.
    pub fn is_transferred(&self) -> bool {
        self.transferred
    }

    /// The deadlines armed or missed, by kind.
    pub fn deadlines(&self) -> &BTreeMap<DeadlineKind, Deadline> {
        &self.deadlines
    }

    /// The deadlines that fell due unkept.
    pub fn overdue(&self) -> impl Iterator<Item = DeadlineKind> + '_ {
        self.deadlines
            .iter()
            .filter(|(_, d)| d.missed)
            .map(|(k, _)| *k)
    }

    /// Which kind of person a subject of this case's calls is, if it is one.
    pub fn subject(&self, id: SubjectId) -> Option<Whose> {
        self.subjects.get(&id).copied()
    }

    /// The calls of the case, in the order they joined.
    pub fn calls(&self) -> impl Iterator<Item = &LinkedCall> {
        self.call_order.iter().filter_map(|id| self.calls.get(id))
    }

    /// Everyone who took a call of the case.
    pub fn call_takers(&self) -> &BTreeSet<StaffId> {
        &self.takers
    }

    /// Whether a number is kept to call the caller back: the latest call that said
    /// anything about a number left one, and no attempt found it wrong since.
    pub fn can_recontact(&self) -> bool {
        self.reachable
    }

    /// Whether the case waits for the caller to call again: because the referent
    /// said so, or because no number was left and nobody can call back.
    pub fn is_awaiting_call_back(&self) -> bool {
        self.status == CaseStatus::Open && (self.awaiting_call_back || !self.reachable)
    }

    /// The referent following the case.
    pub fn referent(&self) -> Option<StaffId> {
        self.referent
    }

    /// The solutions proposed, with the caller's decisions.
    pub fn solutions(&self) -> &BTreeMap<SolutionId, SolutionState> {
        &self.solutions
    }
}

fn may_act(actor: &StaffSnapshot, centre: CentreId) -> Result<(), DomainError> {
    if actor.may_act_for(centre) {
        Ok(())
    } else {
        Err(DomainError::NotAllowedOnCase {
            staff: actor.id,
            centre,
        })
    }
}

fn check_call_can_join(summary: &CallSummary) -> Result<(), DomainError> {
    if !summary.ended {
        return Err(DomainError::CallNotEnded);
    }
    if let Some(case_id) = summary.attached_to {
        return Err(DomainError::CallAlreadyAttached(case_id));
    }
    Ok(())
}

/// Decides what a case command records, or why it is refused.
pub fn decide(
    state: &CaseState,
    command: &CaseCommand,
    ctx: &Context,
) -> Result<Vec<CaseEvent>, DomainError> {
    let at = ctx.now;
    let actor = &ctx.actor;
    let centre = match (state.status, state.centre, command) {
        (CaseStatus::NotOpened, _, CaseCommand::Open { case_id, call_id }) => {
            let summary = ctx.call(*call_id)?;
            check_call_can_join(summary)?;
            let opened_by = summary.door.centre();
            may_act(actor, opened_by)?;
            return Ok(vec![CaseEvent::CaseOpened(CaseOpened {
                case_id: *case_id,
                opened_by,
                call: LinkedCall::from_summary(summary),
                at,
            })]);
        }
        (_, _, CaseCommand::Open { .. }) if state.status != CaseStatus::NotOpened => {
            return Err(DomainError::CaseAlreadyOpened)
        }
        (CaseStatus::NotOpened, _, _) | (_, None, _) => return Err(DomainError::CaseNotOpened),
        (CaseStatus::Closed, _, c)
            if !matches!(c, CaseCommand::Reopen | CaseCommand::LinkCall(_)) =>
        {
            return Err(DomainError::CaseIsClosed)
        }
        (_, Some(centre), _) => centre,
    };
    let referent_only = |state: &CaseState| -> Result<(), DomainError> {
        let referent = state.referent.ok_or(DomainError::NoReferent)?;
        if referent != actor.id {
            return Err(DomainError::NotTheReferent(actor.id));
        }
        may_act(actor, centre)
    };
    let mut events = Vec::new();
    match command {
        CaseCommand::Open { .. } => return Err(DomainError::CaseAlreadyOpened),
        CaseCommand::LinkCall(call_id) => {
            may_act(actor, centre)?;
            let summary = ctx.call(*call_id)?;
            if state.calls.contains_key(call_id) {
                return Err(DomainError::CallAlreadyLinked(*call_id));
            }
            check_call_can_join(summary)?;
            let call = LinkedCall::from_summary(summary);
            if state.status == CaseStatus::Closed {
                events.push(CaseEvent::CaseReopened(CaseReopened {
                    reason: ReopenReason::NewCall(*call_id),
                    at,
                }));
            }
            let released = state.referent.filter(|r| call.taken_by.contains(r));
            events.push(CaseEvent::CallLinked(CallLinked { call, at }));
            if let Some(referent) = released {
                events.push(CaseEvent::ReferentReleased(ReferentReleased {
                    referent,
                    took_call: *call_id,
                    at,
                }));
            }
        }
        CaseCommand::Transfer(to) => {
            if !actor.has(Role::PlatformListener) {
                return Err(DomainError::NotAPlatformListener(actor.id));
            }
            if state.opened_by != Some(CentreId::NationalPlatform) {
                return Err(DomainError::NotOpenedByPlatform);
            }
            if let (true, CentreId::Departement(d)) = (state.transferred, centre) {
                return Err(DomainError::AlreadyTransferred(d));
            }
            events.push(CaseEvent::CaseTransferred(CaseTransferred {
                to: *to,
                from: None,
                at,
            }));
        }
        CaseCommand::Reassign(to) => {
            if !actor.has(Role::PlatformListener) {
                return Err(DomainError::NotAPlatformListener(actor.id));
            }
            if state.opened_by != Some(CentreId::NationalPlatform) {
                return Err(DomainError::NotOpenedByPlatform);
            }
            let from = match (state.transferred, centre) {
                (true, CentreId::Departement(d)) => d,
                _ => return Err(DomainError::NotTransferred),
            };
            if from == *to {
                return Err(DomainError::SameCentre(from));
            }
            events.push(CaseEvent::CaseTransferred(CaseTransferred {
                to: *to,
                from: Some(from),
                at,
            }));
        }
        CaseCommand::AssignReferent(referent) => {
            may_act(actor, centre)?;
            let d = centre.departement().ok_or(DomainError::CaseNotAtACentre)?;
            let r = ctx.staff(*referent)?;
            if !r.has(Role::Referent) {
                return Err(DomainError::NotAReferent(*referent));
            }
            if !r.accredited_at(d) {
                return Err(DomainError::NotAccreditedAtCentre {
                    staff: *referent,
                    centre,
                });
            }
            if state.takers.contains(referent) {
                return Err(DomainError::ReferentTookACall(*referent));
            }
            if state.referent == Some(*referent) {
                return Err(DomainError::AlreadyReferent(*referent));
            }
            events.push(CaseEvent::ReferentAssigned(ReferentAssigned {
                referent: *referent,
                replaces: state.referent,
                at,
            }));
        }
        CaseCommand::RecordAnalysis(analysis) => {
            referent_only(state)?;
            check_known_subject(state, "analysis", analysis)?;
            check_text("analysis", analysis)?;
            events.push(CaseEvent::AnalysisRecorded(AnalysisRecorded {
                analysis: analysis.clone(),
                at,
            }));
        }
        CaseCommand::AttemptRecontact(outcome) => {
            referent_only(state)?;
            if !state.reachable {
                return Err(DomainError::NoNumberToCall);
            }
            events.push(CaseEvent::RecontactAttempted(RecontactAttempted {
                outcome: *outcome,
                at,
            }));
        }
        CaseCommand::AwaitCallBack => {
            referent_only(state)?;
            if state.awaiting_call_back {
                return Err(DomainError::AlreadyAwaitingCallBack);
            }
            events.push(CaseEvent::AwaitingCallBack(AwaitingCallBack { at }));
        }
        CaseCommand::ProposeSolution {
            solution_id,
            kind,
            description,
        } => {
            referent_only(state)?;
            if state.solutions.contains_key(solution_id) {
                return Err(DomainError::SolutionExists(*solution_id));
            }
            check_known_subject(state, "description", description)?;
            check_text("description", description)?;
            events.push(CaseEvent::SolutionProposed(SolutionProposed {
                solution_id: *solution_id,
                kind: *kind,
                description: description.clone(),
                at,
            }));
        }
        CaseCommand::RecordConsent {
            solution_id,
            decision,
        } => {
            referent_only(state)?;
            let s = state
                .solutions
                .get(solution_id)
                .ok_or(DomainError::UnknownSolution(*solution_id))?;
            let solution_id = *solution_id;
            events.push(match (decision, s.consent) {
                (ConsentDecision::Given, Consent::Given) => {
                    return Err(DomainError::ConsentAlreadyGiven(solution_id))
                }
                (ConsentDecision::Given, _) => {
                    CaseEvent::ConsentGiven(ConsentGiven { solution_id, at })
                }
                (ConsentDecision::Refused, Consent::Given) => {
                    return Err(DomainError::ConsentStands(solution_id))
                }
                (ConsentDecision::Refused, Consent::Refused) => {
                    return Err(DomainError::ConsentAlreadyRefused(solution_id))
                }
                (ConsentDecision::Refused, _) => {
                    CaseEvent::ConsentRefused(ConsentRefused { solution_id, at })
                }
                (ConsentDecision::Withdrawn, Consent::Given) => {
                    CaseEvent::ConsentWithdrawn(ConsentWithdrawn { solution_id, at })
                }
                (ConsentDecision::Withdrawn, _) => {
                    return Err(DomainError::NoConsentToWithdraw(solution_id))
                }
            });
        }
        CaseCommand::TakeAction { solution_id, note } => {
            referent_only(state)?;
            let s = state
                .solutions
                .get(solution_id)
                .ok_or(DomainError::UnknownSolution(*solution_id))?;
            if s.consent != Consent::Given {
                return Err(DomainError::NoConsent(*solution_id));
            }
            check_known_subject(state, "note", note)?;
            check_text("note", note)?;
            events.push(CaseEvent::ActionTaken(ActionTaken {
                solution_id: *solution_id,
                note: note.clone(),
                at,
            }));
        }
        CaseCommand::Close(reason) => {
            may_act(actor, centre)?;
            events.push(CaseEvent::CaseClosed(CaseClosed {
                reason: *reason,
                at,
            }));
        }
        CaseCommand::Reopen => {
            may_act(actor, centre)?;
            if state.status != CaseStatus::Closed {
                return Err(DomainError::CaseNotClosed);
            }
            events.push(CaseEvent::CaseReopened(CaseReopened {
                reason: ReopenReason::Decision,
                at,
            }));
        }
        CaseCommand::MissDeadline { kind, due } => match state.deadlines.get(kind) {
            Some(d) if d.due == *due && d.missed => return Err(DomainError::DeadlineAlreadyMissed),
            Some(d) if d.due == *due => {
                if *due > at {
                    return Err(DomainError::DeadlineNotDue);
                }
                events.push(CaseEvent::DeadlineMissed(DeadlineMissed {
                    kind: *kind,
                    due: *due,
                    at,
                }));
            }
            _ => return Err(DomainError::DeadlineNotArmed),
        },
    }
    Ok(keep_deadlines(state, events, ctx))
}

/// The deadlines a case should have armed, as it stands.
fn wanted_deadlines(s: &CaseState) -> BTreeSet<DeadlineKind> {
    let mut wanted = BTreeSet::new();
    if s.status != CaseStatus::Open {
        return wanted;
    }
    if s.transferred && s.referent.is_none() {
        wanted.insert(DeadlineKind::Referent);
    }
    if s.referent.is_some() && s.reachable && !s.recontacted {
        wanted.insert(DeadlineKind::Recontact);
    }
    for (id, sol) in &s.solutions {
        if sol.consent == Consent::Pending && sol.actions == 0 {
            wanted.insert(DeadlineKind::FollowUp(*id));
        }
    }
    wanted
}

/// Under a deadline policy, appends to a command's events the deadlines they arm and
/// satisfy: whatever the case should now have armed and has not is armed; whatever it
/// has armed (or missed) and no longer needs is satisfied. One rule for every
/// command, so a deadline can never outlive its reason.
fn keep_deadlines(state: &CaseState, mut events: Vec<CaseEvent>, ctx: &Context) -> Vec<CaseEvent> {
    let Some(policy) = ctx.deadlines else {
        return events;
    };
    let after = events.iter().fold(state.clone(), evolve);
    let wanted = wanted_deadlines(&after);
    let at = ctx.now;
    for kind in after.deadlines.keys().filter(|k| !wanted.contains(k)) {
        events.push(CaseEvent::DeadlineSatisfied(DeadlineSatisfied {
            kind: *kind,
            at,
        }));
    }
    for kind in wanted.iter().filter(|k| !after.deadlines.contains_key(k)) {
        let delay = match kind {
            DeadlineKind::Referent => policy.referent,
            DeadlineKind::Recontact => policy.recontact,
            DeadlineKind::FollowUp(_) => policy.follow_up,
        };
        events.push(CaseEvent::DeadlineArmed(DeadlineArmed {
            kind: *kind,
            due: at + delay,
            at,
        }));
    }
    events
}

fn check_known_subject(
    state: &CaseState,
    field: &'static str,
    value: &Personal<String>,
) -> Result<(), DomainError> {
    let s = value.subject();
    match state.subjects.get(&s.id) {
        None => Err(DomainError::UnknownSubject(s.id)),
        Some(w) if *w != s.whose => Err(DomainError::SubjectMismatch { field }),
        Some(_) => Ok(()),
    }
}

fn link(state: &mut CaseState, call: &LinkedCall) {
    if state.calls.insert(call.call_id, call.clone()).is_none() {
        state.call_order.push(call.call_id);
    }
    state.takers.extend(call.taken_by.iter().copied());
    for (id, whose) in &call.subjects {
        state.subjects.entry(*id).or_insert(*whose);
    }
    match call.number {
        NumberStatus::Left => state.reachable = true,
        NumberStatus::Refused => state.reachable = false,
        NumberStatus::NotLeft => {}
    }
}

/// Applies one event to the state. The fold never fails; an event out of place leaves
/// the state as it was.
pub fn evolve(mut state: CaseState, event: &CaseEvent) -> CaseState {
    match event {
        CaseEvent::CaseOpened(e) => {
            state.status = CaseStatus::Open;
            state.case_id = Some(e.case_id);
            state.opened_by = Some(e.opened_by);
            state.centre = Some(e.opened_by);
            link(&mut state, &e.call);
        }
        CaseEvent::CallLinked(e) => {
            link(&mut state, &e.call);
            state.awaiting_call_back = false;
        }
        CaseEvent::CaseTransferred(e) => {
            state.centre = Some(CentreId::Departement(e.to));
            state.transferred = true;
            state.referent = None;
        }
        CaseEvent::ReferentAssigned(e) => {
            state.referent = Some(e.referent);
            state.recontacted = false;
        }
        CaseEvent::ReferentReleased(e) => {
            if state.referent == Some(e.referent) {
                state.referent = None;
            }
        }
        CaseEvent::AnalysisRecorded(_) => {}
        CaseEvent::RecontactAttempted(e) => {
            state.recontacted = true;
            match e.outcome {
                RecontactOutcome::Reached => state.awaiting_call_back = false,
                RecontactOutcome::NoAnswer => {}
                RecontactOutcome::WrongNumber => state.reachable = false,
            }
        }
        CaseEvent::AwaitingCallBack(_) => state.awaiting_call_back = true,
        CaseEvent::SolutionProposed(e) => {
            state.solutions.insert(
                e.solution_id,
                SolutionState {
                    kind: e.kind,
                    consent: Consent::Pending,
                    actions: 0,
                },
            );
        }
        CaseEvent::ConsentGiven(e) => set_consent(&mut state, e.solution_id, Consent::Given),
        CaseEvent::ConsentRefused(e) => set_consent(&mut state, e.solution_id, Consent::Refused),
        CaseEvent::ConsentWithdrawn(e) => {
            set_consent(&mut state, e.solution_id, Consent::Withdrawn)
        }
        CaseEvent::ActionTaken(e) => {
            if let Some(s) = state.solutions.get_mut(&e.solution_id) {
                s.actions = s.actions.saturating_add(1);
            }
        }
        CaseEvent::CaseClosed(_) => state.status = CaseStatus::Closed,
        CaseEvent::CaseReopened(_) => state.status = CaseStatus::Open,
        CaseEvent::DeadlineArmed(e) => {
            state.deadlines.insert(
                e.kind,
                Deadline {
                    due: e.due,
                    missed: false,
                },
            );
        }
        CaseEvent::DeadlineMissed(e) => {
            if let Some(d) = state.deadlines.get_mut(&e.kind) {
                if d.due == e.due {
                    d.missed = true;
                }
            }
        }
        CaseEvent::DeadlineSatisfied(e) => {
            state.deadlines.remove(&e.kind);
        }
    }
    state
}

fn set_consent(state: &mut CaseState, id: SolutionId, consent: Consent) {
    if let Some(s) = state.solutions.get_mut(&id) {
        s.consent = consent;
    }
}

/// Folds a case stream's events into its state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a CaseEvent>) -> CaseState {
    events.into_iter().fold(CaseState::default(), evolve)
}
