//! Reads of case data: each passes [`App::read_case`] — the access rule, the access
//! record, then the answer — so that no read of a case goes unrecorded.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ecoute_domain::case::{self, CaseState};
use ecoute_domain::event::fold_case;
use ecoute_domain::{call_stream, CaseId, CentreId, Event, HasPersonalData};
use ecoute_projections::helpline::{CaseSummary, TimelineEntry};
use ecoute_store::RecordedEvent;

use super::{Actor, App, Purpose};
use crate::access::{self, Action};
use crate::access_log::Outcome;
use crate::error::AppError;

/// One event of a case's history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The stored event.
    pub stored: RecordedEvent,
    /// The event, decoded, its personal values opened (or `Erased`).
    pub event: Event,
}

/// A case's history and its state, as of a moment or now.
pub struct History {
    /// The events of the case and of its calls, in global order.
    pub entries: Vec<HistoryEntry>,
    /// The case folded from its events up to the moment.
    pub state: CaseState,
}

/// Proof that a case was found readable by an actor, and the read recorded: what
/// [`App::read_case`] gives, and what reads that must come after the check take.
#[derive(Debug)]
pub struct CaseRead {
    pub(crate) case: CaseId,
    /// Whether the reader sees personal values (see [`App::read_case`]).
    pub(crate) values: Values,
}

/// What a reader sees of a case's personal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Opened (or `Erased`): who works the case, and an auditor who asked with
    /// the purpose `audit-values`.
    Open,
    /// `Withheld`: an auditor reviewing what was done and when.
    Withheld,
}

impl App {
    /// Checks that the case exists and that the actor may read it, recording the
    /// read — or the refused attempt, answered like a case that does not exist.
    /// Who may act on the case sees its personal values; an auditor who may only
    /// read it sees them withheld, unless they asked with the purpose
    /// `audit-values`, which the access record keeps (and the person's access
    /// answer shows).
    pub async fn read_case(&self, actor: &Actor, id: CaseId) -> Result<CaseRead, AppError> {
        let Some(case) = self.case_state(id).await? else {
            // No such case: counted, not a record (and a stream) per id asked.
            self.note_attempt(actor, Action::ReadCase(CentreId::NationalPlatform));
            return Err(AppError::NotFound("case"));
        };
        let centre = case.centre().ok_or(AppError::NotFound("case"))?;
        self.check(actor, Action::ReadCase(centre), Some(id))
            .await?;
        self.record(actor, Action::ReadCase(centre), Some(id), Outcome::Allowed)
            .await?;
        let works_it = access::allowed(actor.snapshot(), Action::ActOnCase(centre));
        let values = if works_it || actor.purpose() == Some(Purpose::AuditValues) {
            Values::Open
        } else {
            Values::Withheld
        };
        Ok(CaseRead { case: id, values })
    }

    /// The case summary, as a referent opens it (no personal value); the read is
    /// recorded.
    pub async fn case_summary(&self, actor: &Actor, id: CaseId) -> Result<CaseSummary, AppError> {
        let read = self.read_case(actor, id).await?;
        self.catch_up().await?;
        self.views
            .cases
            .summary(read.case)?
            .ok_or(AppError::NotFound("case"))
    }

    /// The events of the case and of its calls, exactly as recorded, their personal
    /// values opened; with `at`, as they stood then. The read is recorded.
    pub async fn case_history(
        &self,
        actor: &Actor,
        id: CaseId,
        at: Option<DateTime<Utc>>,
    ) -> Result<History, AppError> {
        let read = self.read_case(actor, id).await?;
        self.history(read.case, at, read.values)
            .await?
            .ok_or(AppError::NotFound("case"))
    }

    /// The case's history in plain words (no personal value). The read is recorded.
    pub async fn case_timeline(
        &self,
        actor: &Actor,
        id: CaseId,
    ) -> Result<Vec<TimelineEntry>, AppError> {
        let read = self.read_case(actor, id).await?;
        Ok(self.views.timelines.of_case(read.case).await?)
    }

    /// The history of a case: its events and those of its calls, in global order, up
    /// to `at` if given, personal values opened or withheld; `None` for an unknown
    /// case.
    pub(crate) async fn history(
        &self,
        case_id: CaseId,
        at: Option<DateTime<Utc>>,
        values: Values,
    ) -> Result<Option<History>, AppError> {
        let all = self.views.timelines.events_of_case(case_id).await?;
        if all.is_empty() {
            return Ok(None);
        }
        let upto = |e: &RecordedEvent| at.is_none_or(|at| e.recorded_at <= at);
        // The calls that had joined the case by then: the others were not its calls yet.
        let calls: BTreeSet<String> = all
            .iter()
            .filter(|(stored, _)| upto(stored))
            .filter_map(|(_, event)| match event {
                Event::Case(case::CaseEvent::CaseOpened(o)) => Some(o.call.call_id),
                Event::Case(case::CaseEvent::CallLinked(l)) => Some(l.call.call_id),
                _ => None,
            })
            .map(call_stream)
            .collect();
        let mut entries = Vec::new();
        for (stored, mut event) in all {
            let of_case = stored.stream_id.category() == "case";
            if !upto(&stored) || !(of_case || calls.contains(stored.stream_id.as_str())) {
                continue;
            }
            match values {
                Values::Open => self.open_values(&mut event)?,
                Values::Withheld => event.personal_values_mut().into_iter().for_each(|v| {
                    v.withhold();
                }),
            }
            entries.push(HistoryEntry { stored, event });
        }
        let state = fold_case(entries.iter().map(|e| &e.event));
        if state.status() == case::CaseStatus::NotOpened && at.is_some() {
            // The case did not exist yet at that moment.
            return Ok(Some(History {
                entries: Vec::new(),
                state,
            }));
        }
        Ok(Some(History { entries, state }))
    }
}
