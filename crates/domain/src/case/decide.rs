//! `decide` for a case: what a command records or why it is refused, and the deadlines
//! every command keeps.

use super::state::{evolve, CaseState, CaseStatus, Consent};
use super::{
    ActionTaken, AnalysisRecorded, AwaitingCallBack, CallLinked, CallbackNumbersErased, CaseClosed,
    CaseCommand, CaseEvent, CaseKept, CaseOpened, CasePersonsErased, CaseReopened, CaseTransferred,
    ConsentDecision, ConsentGiven, ConsentRefused, ConsentWithdrawn, DeadlineArmed, DeadlineKind,
    DeadlineMissed, DeadlineSatisfied, InactivityFlagged, LinkedCall, RecontactAttempted,
    ReferentAssigned, ReferentReleased, ReopenReason, RetentionStep, SolutionProposed,
};
use crate::call::{check_text, CallSummary};
use crate::centre::CentreId;
use crate::context::Context;
use crate::error::DomainError;
use crate::personal::Personal;
use crate::retention::RetentionRule;
use crate::staff::{Role, StaffSnapshot};
use crate::vocabulary::CloseReason;
use std::collections::BTreeSet;

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
            if !matches!(
                c,
                CaseCommand::Reopen | CaseCommand::LinkCall(_) | CaseCommand::Retention(_)
            ) =>
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
            // The refusal does not describe the member named (their roles and
            // accreditations), unless they name themself.
            if (!r.has(Role::Referent) || !r.accredited_at(d)) && *referent != actor.id {
                return Err(DomainError::CannotFollowCasesHere);
            }
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
            if *reason == CloseReason::Inactive {
                return Err(DomainError::ClosedAsInactiveOnlyByRetention);
            }
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
        CaseCommand::Keep(reason) => {
            may_act(actor, centre)?;
            if state.inactivity.is_none() {
                return Err(DomainError::NotFlaggedInactive);
            }
            events.push(CaseEvent::CaseKept(CaseKept {
                reason: *reason,
                at,
            }));
        }
        CaseCommand::Retention(step) => {
            if !actor.has(Role::DataProtectionOfficer) {
                return Err(DomainError::NotTheDataProtectionOfficer);
            }
            let policy = ctx.retention.ok_or(DomainError::RetentionNotDue)?;
            if !state.retention_due(&policy, at).contains(step) {
                return Err(DomainError::RetentionNotDue);
            }
            let subjects = || state.subjects.keys().copied().collect::<Vec<_>>();
            match step {
                RetentionStep::FlagInactive => {
                    events.push(CaseEvent::InactivityFlagged(InactivityFlagged {
                        last_activity: state.last_activity.unwrap_or(at),
                        closes_at: at + policy.inactive_grace,
                        at,
                    }))
                }
                RetentionStep::CloseInactive => {
                    events.push(CaseEvent::CaseClosed(CaseClosed {
                        reason: CloseReason::Inactive,
                        at,
                    }));
                    events.push(CaseEvent::CasePersonsErased(CasePersonsErased {
                        rule: RetentionRule::InactiveCase,
                        subjects: subjects(),
                        at,
                    }));
                }
                RetentionStep::EraseClosed => {
                    events.push(CaseEvent::CasePersonsErased(CasePersonsErased {
                        rule: RetentionRule::ClosedCase,
                        subjects: subjects(),
                        at,
                    }))
                }
                RetentionStep::EraseCallbackNumbers => {
                    events.push(CaseEvent::CallbackNumbersErased(CallbackNumbersErased {
                        numbers: state.kept_numbers(),
                        at,
                    }))
                }
            }
        }
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
