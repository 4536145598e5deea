//! The retention rules, applied: each pass finds the candidates in the read models
//! (calls never attached to a case, by reception time; cases whose retention step is
//! due, as the domain's `CaseState::retention_due` says) and gives each one its
//! retention command as the system, through [`App::run`]. The domain decides again
//! on the stream as it stands — a candidate that moved on (a call attached, a case
//! kept or reopened) is refused and nothing changes — and every key destruction an
//! erasure allows is carried out by the runner after the commit.

use std::collections::BTreeMap;

use ecoute_domain::case::RetentionStep;
use ecoute_domain::subject::SubjectEvent;
use ecoute_domain::subject::SubjectState;
use ecoute_domain::{
    retain_call, retain_case, subject_stream, CallId, Calls, CaseId, Cases, Decider, Envelope,
    Event, Retained, RetentionPolicy, RetentionRule, Role, SubjectId, Subjects,
};
use ecoute_store::ExpectedVersion;

use super::{Actor, App, Append, Loaded};
use crate::error::AppError;

/// What one retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Calls never attached to a case whose persons were erased.
    pub calls: usize,
    /// Cases flagged to their centre for inactivity.
    pub flagged: usize,
    /// Inactive cases closed, their persons erased.
    pub closed: usize,
    /// Closed cases whose persons were erased.
    pub cases_erased: usize,
    /// Cases whose callback numbers were erased.
    pub numbers: usize,
    /// Subjects erased (their keys destroyed), by every rule together.
    pub subjects: usize,
    /// Candidates the domain refused (they moved on since the read model saw them).
    pub refused: usize,
}

impl App {
    /// The deployment's retention rules.
    pub fn retention(&self) -> RetentionPolicy {
        self.config.retention
    }

    /// The retention rules, in words (for the access answer).
    pub fn retention_rule(&self) -> String {
        let p = self.config.retention;
        let days = |d: chrono::Duration| d.num_days();
        let mut rules = Vec::new();
        match p.closed_case {
            Some(d) => rules.push(format!(
                "the data of a case is erased {} days after the case was closed (a case \
                 reopened by a new call starts again)",
                days(d)
            )),
            None => rules.push(
                "the data of a closed case is kept while the case may be reopened; this \
                 deployment sets no period after closing, and the data-protection officer \
                 erases on request"
                    .to_string(),
            ),
        }
        if let Some(d) = p.unattached_call {
            rules.push(format!(
                "the data of a call that joined no case is erased {} days after the call",
                days(d)
            ));
        }
        if let Some(d) = p.inactive_case {
            rules.push(format!(
                "a case without activity for {} days is flagged to its centre and, unless \
                 someone records a reason to keep it within {} days, closed and its data erased",
                days(d),
                days(p.inactive_grace)
            ));
        }
        if let Some(d) = p.callback_number {
            rules.push(format!(
                "a callback number is erased once its case is closed, or {} days after the \
                 call back it was left for fell due unmade",
                days(d)
            ));
        }
        rules.join("; ")
    }

    /// Applies every retention rule that is on, once, at the engine's clock; returns
    /// what it did.
    pub async fn apply_retention(&self) -> Result<RetentionReport, AppError> {
        let policy = self.config.retention;
        let mut report = RetentionReport::default();
        if !policy.any() {
            return Ok(report);
        }
        self.catch_up().await?;
        let now = self.now();
        if let Some(period) = policy.unattached_call {
            for call in self
                .views
                .unattached
                .received_before(now - period, usize::MAX)?
            {
                self.retain_call(call, &mut report).await?;
            }
        }
        for (case, steps) in self.views.cases.retention_due(now, &policy)? {
            for step in steps {
                self.retain_case(case, step, &mut report).await?;
            }
        }
        Ok(report)
    }

    /// The unattached-call rule on one call.
    async fn retain_call(
        &self,
        call: CallId,
        report: &mut RetentionReport,
    ) -> Result<(), AppError> {
        let Some(state) = self.call_state(call).await? else {
            return Ok(());
        };
        let subjects: Vec<SubjectId> = state.subjects().keys().copied().collect();
        let rule = RetentionRule::UnattachedCall;
        let actor = retention_actor(rule);
        let target = format!("retention {rule} of call {call}");
        let Some(erased) = self
            .run_retention::<Calls, _>(&actor, target, &call, &subjects, report, retain_call)
            .await?
        else {
            return Ok(());
        };
        report.calls += 1;
        self.log_retention(&actor, None, rule, &erased, report)
            .await
    }

    /// One retention step on one case.
    async fn retain_case(
        &self,
        case: CaseId,
        step: RetentionStep,
        report: &mut RetentionReport,
    ) -> Result<(), AppError> {
        let Some(state) = self.case_state(case).await? else {
            return Ok(());
        };
        let (rule, subjects): (RetentionRule, Vec<SubjectId>) = match step {
            RetentionStep::FlagInactive => (RetentionRule::InactiveCase, Vec::new()),
            RetentionStep::CloseInactive => (
                RetentionRule::InactiveCase,
                state.subjects().keys().copied().collect(),
            ),
            RetentionStep::EraseClosed => (
                RetentionRule::ClosedCase,
                state.subjects().keys().copied().collect(),
            ),
            RetentionStep::EraseCallbackNumbers => (
                RetentionRule::CallbackNumber,
                state.kept_numbers().into_iter().map(|(_, s)| s).collect(),
            ),
        };
        let actor = retention_actor(rule);
        let target = format!("retention {rule} {step:?} of case {case}");
        let decide = |state: &_, subjects: &_, ctx: &_| retain_case(state, step, subjects, ctx);
        let Some(erased) = self
            .run_retention::<Cases, _>(&actor, target, &case, &subjects, report, decide)
            .await?
        else {
            return Ok(());
        };
        match step {
            RetentionStep::FlagInactive => {
                report.flagged += 1;
                tracing::info!("retention: a case without activity was flagged to its centre");
            }
            RetentionStep::CloseInactive => report.closed += 1,
            RetentionStep::EraseClosed => report.cases_erased += 1,
            RetentionStep::EraseCallbackNumbers => report.numbers += 1,
        }
        self.log_retention(&actor, Some(case), rule, &erased, report)
            .await
    }

    /// Runs one retention decision of `D` on `id`, over its stream and its
    /// subjects' streams, as `actor`: the events `decide` gives for the entity and
    /// for each subject it erases, in one commit. Returns what the commit erased
    /// (each subject, and whether their number alone), or `None` when nothing was
    /// committed now (refused: the candidate moved on; or a replay).
    async fn run_retention<D, F>(
        &self,
        actor: &Actor,
        target: String,
        id: &D::Id,
        subjects: &[SubjectId],
        report: &mut RetentionReport,
        decide: F,
    ) -> Result<Option<Vec<(SubjectId, bool)>>, AppError>
    where
        D: Decider,
        D::Id: Sync,
        D::Event: Into<Event>,
        Event: Envelope<D>,
        F: Fn(
                &D::State,
                &BTreeMap<SubjectId, SubjectState>,
                &ecoute_domain::Context,
            ) -> Result<Retained<D::Event>, ecoute_domain::DomainError>
            + Send
            + Sync,
    {
        let stream = D::stream(id);
        let erased = Erased::default();
        let result = self
            .run(actor, target, streams(&stream, subjects), |loaded, now| {
                let (state, expected) = loaded.fold::<D>(id);
                let ctx = self.context(actor.snapshot(), now, [])?;
                let retained = decide(&state, &subject_states(loaded, subjects), &ctx)?;
                erased.note(&retained.subjects);
                Ok(appends(
                    &stream,
                    expected,
                    retained.own,
                    retained.subjects,
                    loaded,
                ))
            })
            .await;
        Ok(committed(result, report)?.then(|| erased.take()))
    }

    /// Records each erasure of a retention commit in the access log, with its rule.
    async fn log_retention(
        &self,
        actor: &Actor,
        case: Option<CaseId>,
        rule: RetentionRule,
        erased: &[(SubjectId, bool)],
        report: &mut RetentionReport,
    ) -> Result<(), AppError> {
        for (_, number_only) in erased {
            let purpose = if *number_only {
                format!("retention period over: rule {rule} (the callback number alone)")
            } else {
                report.subjects += 1;
                format!("retention period over: rule {rule}")
            };
            self.log_erasure(actor, case, purpose).await?;
        }
        if !erased.is_empty() {
            tracing::info!(
                rule = rule.name(),
                erased = erased.len(),
                "retention: personal data erased"
            );
        }
        Ok(())
    }
}

/// The system as the retention rules act: with the data-protection officer's role.
fn retention_actor(rule: RetentionRule) -> Actor {
    Actor::system(
        [Role::DataProtectionOfficer],
        &format!("retention {rule}"),
        None,
    )
}

/// The call's or case's stream and its subjects' streams.
fn streams(own: &str, subjects: &[SubjectId]) -> Vec<String> {
    std::iter::once(own.to_string())
        .chain(subjects.iter().map(|s| subject_stream(*s)))
        .collect()
}

/// The states of the subjects' streams loaded: a subject the decision names and
/// nobody loaded is refused by the domain (`MissingSubjectContext`), not guessed.
fn subject_states(loaded: &Loaded, subjects: &[SubjectId]) -> BTreeMap<SubjectId, SubjectState> {
    subjects
        .iter()
        .map(|s| (*s, loaded.fold::<Subjects>(s).0))
        .collect()
}

/// The appends of a retention decision: the call's or case's events, then each
/// subject's, at the versions read.
fn appends<E: Into<Event>>(
    own: &str,
    expected: ExpectedVersion,
    events: Vec<E>,
    subjects: Vec<(SubjectId, Vec<SubjectEvent>)>,
    loaded: &Loaded,
) -> Vec<Append> {
    let mut out = vec![Append::new(own.to_string(), expected, events)];
    for (s, events) in subjects {
        let (_, expected) = loaded.fold::<Subjects>(&s);
        out.push(Append::new(subject_stream(s), expected, events));
    }
    out
}

/// What the last decision of a retention command erased: each subject, and
/// whether their number alone (a decision lost to a race is decided again, and
/// noted again).
#[derive(Default)]
struct Erased(std::sync::Mutex<Vec<(SubjectId, bool)>>);

impl Erased {
    fn note(&self, subjects: &[(SubjectId, Vec<SubjectEvent>)]) {
        let noted = subjects
            .iter()
            .map(|(s, events)| {
                let number_only = events
                    .iter()
                    .all(|e| matches!(e, SubjectEvent::NumberErased(_)));
                (*s, number_only)
            })
            .collect();
        if let Ok(mut e) = self.0.lock() {
            *e = noted;
        }
    }

    fn take(&self) -> Vec<(SubjectId, bool)> {
        self.0
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }
}

/// Whether the command committed now: a refusal by the domain (the candidate moved
/// on) is counted and changes nothing; a commit another pass made is not counted
/// twice.
fn committed(
    result: Result<super::Outcome, AppError>,
    report: &mut RetentionReport,
) -> Result<bool, AppError> {
    match result {
        Ok(outcome) => Ok(!outcome.replayed),
        Err(AppError::Rule(_)) | Err(AppError::Conflict(_)) => {
            report.refused += 1;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
