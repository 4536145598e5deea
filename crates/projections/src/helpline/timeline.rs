//! Per case, the ordered history in plain words — the case's events and those
//! of its calls — for auditors and referents. It holds no personal value: a
//! note or a number is named, never quoted.
//!
//! A *live* read model: folded on demand from the log (the case's stream, which
//! names its calls, then each call's stream), so it is always exactly what was
//! recorded and costs nothing to keep or rebuild. Its queries are async.

use chrono::{DateTime, Utc};
use ecoute_domain::call::{CallEvent, Door};
use ecoute_domain::case::{CaseEvent, ReopenReason};
use ecoute_domain::{CaseId, Event};
use ecoute_store::RecordedEvent;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use ecoute_domain::{call_stream, case_stream};
use ecoute_store::{Direction, EventStore, ReadFrom, StoreError, StreamId};

use super::{decoder, words};
use crate::error::{ProjectionError, Result};
use crate::runtime::Decoder;

/// One line of a case's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The event's global position.
    pub position: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The stream it belongs to (`case-…` or `call-…`).
    pub stream: String,
    /// The event's type name.
    pub event_type: String,
    /// What happened, in plain words.
    pub text: String,
}

/// The entry of one stored event of a call or case stream, if it is one.
fn entry(stored: &RecordedEvent, event: &Event) -> Option<TimelineEntry> {
    let text = match event {
        Event::Call(e) => describe_call(e),
        Event::Case(e) => describe_case(e),
        Event::Staff(_) | Event::Subject(_) => return None,
    };
    Some(TimelineEntry {
        position: stored.position,
        at: event.at(),
        stream: stored.stream_id.to_string(),
        event_type: stored.event_type.clone(),
        text,
    })
}

fn describe_call(e: &CallEvent) -> String {
    match e {
        CallEvent::CallReceived(r) => match &r.door {
            Door::Platform { .. } => {
                "call received at the national platform, answered by a listener".into()
            }
            Door::Centre { centre, .. } => {
                format!("call received at centre {centre}, answered by a pair of volunteers")
            }
        },
        CallEvent::AnonymityRequested(_) => "the caller asked to stay anonymous".into(),
        CallEvent::NumberRetentionRefused(_) => "the caller refused that the number be kept".into(),
        CallEvent::CallbackNumberRecorded(_) => "a callback number was recorded".into(),
        CallEvent::PersonDescribed(p) => {
            let d = &p.person;
            let mut text = format!(
                "person described: {}, relation to the victim: {}, age {}",
                words(d.role),
                words(d.relation),
                words(d.age_band)
            );
            match d.lives_with_victim {
                Some(true) => text.push_str(", lives with the victim"),
                Some(false) => text.push_str(", does not live with the victim"),
                None => {}
            }
            text
        }
        CallEvent::FactsRecorded(f) => {
            let f = &f.facts;
            let kinds: Vec<String> = f.abuse_kinds.iter().map(words).collect();
            format!(
                "facts recorded: {}; setting: {}; since: {}; frequency: {}; evolution: {}",
                if kinds.is_empty() {
                    "no abuse kind named".into()
                } else {
                    kinds.join(", ")
                },
                words(f.setting),
                words(f.since),
                words(f.frequency),
                words(f.evolution)
            )
        }
        CallEvent::ListeningNoteRecorded(_) => "a listening note was recorded".into(),
        CallEvent::CallEnded(c) => {
            let minutes = c.duration_seconds / 60;
            format!(
                "call ended after {minutes} min {} s",
                c.duration_seconds % 60
            )
        }
        CallEvent::CallAttachedToCase(a) => {
            if a.new_case {
                format!("call attached to a new case {}", a.case_id)
            } else {
                format!("call attached to the existing case {}", a.case_id)
            }
        }
        CallEvent::CallPersonsErased(e) => format!(
            "the persons of the call erased: retention rule {} (the call joined no case)",
            e.rule
        ),
    }
}

fn describe_case(e: &CaseEvent) -> String {
    match e {
        CaseEvent::CaseOpened(o) => format!("case opened by {}", centre_words(o.opened_by)),
        CaseEvent::CallLinked(l) => format!("call {} linked to the case", l.call.call_id),
        CaseEvent::CaseTransferred(t) => match t.from {
            None => format!("transferred to centre {}", t.to),
            Some(from) => format!("reassigned from centre {from} to centre {}", t.to),
        },
        CaseEvent::ReferentAssigned(r) => match r.replaces {
            None => format!("referent {} assigned", r.referent),
            Some(old) => format!("referent {} assigned in place of {old}", r.referent),
        },
        CaseEvent::ReferentReleased(r) => {
            format!(
                "referent {} released: they took call {}",
                r.referent, r.took_call
            )
        }
        CaseEvent::AnalysisRecorded(_) => "an analysis was recorded".into(),
        CaseEvent::RecontactAttempted(r) => format!("recontact attempted: {}", words(r.outcome)),
        CaseEvent::AwaitingCallBack(_) => "awaiting the caller's call-back".into(),
        CaseEvent::SolutionProposed(s) => {
            format!("solution {} proposed: {}", s.solution_id, words(s.kind))
        }
        CaseEvent::ConsentGiven(c) => format!("consent given for solution {}", c.solution_id),
        CaseEvent::ConsentRefused(c) => format!("consent refused for solution {}", c.solution_id),
        CaseEvent::ConsentWithdrawn(c) => {
            format!("consent withdrawn for solution {}", c.solution_id)
        }
        CaseEvent::ActionTaken(a) => format!("action taken on solution {}", a.solution_id),
        CaseEvent::CaseClosed(c) => format!("case closed: {}", words(c.reason)),
        CaseEvent::CaseReopened(r) => match r.reason {
            ReopenReason::Decision => "case reopened".into(),
            ReopenReason::NewCall(call) => format!("case reopened by a new call {call}"),
        },
        CaseEvent::DeadlineArmed(d) => format!(
            "{} due by {}",
            deadline_words(d.kind),
            d.due.format("%Y-%m-%d %H:%M UTC")
        ),
        CaseEvent::DeadlineMissed(d) => format!(
            "overdue: {} was due by {}",
            deadline_words(d.kind),
            d.due.format("%Y-%m-%d %H:%M UTC")
        ),
        CaseEvent::DeadlineSatisfied(d) => format!("{} no longer pending", deadline_words(d.kind)),
        CaseEvent::InactivityFlagged(f) => format!(
            "flagged: no activity since {}; closed and its persons erased on {} unless kept",
            f.last_activity.format("%Y-%m-%d"),
            f.closes_at.format("%Y-%m-%d %H:%M UTC")
        ),
        CaseEvent::CaseKept(k) => format!("kept despite inactivity: {}", words(k.reason)),
        CaseEvent::CallbackNumbersErased(n) => format!(
            "{} callback number(s) erased: retention rule callback-number",
            n.numbers.len()
        ),
        CaseEvent::CasePersonsErased(p) => {
            format!("the persons of the case erased: retention rule {}", p.rule)
        }
    }
}

/// A deadline in plain words.
pub fn deadline_words(kind: ecoute_domain::case::DeadlineKind) -> String {
    use ecoute_domain::case::DeadlineKind as K;
    match kind {
        K::Referent => "a referent".into(),
        K::Recontact => "a first call back".into(),
        K::FollowUp(s) => format!("a follow-up of solution {s}"),
    }
}

fn centre_words(c: ecoute_domain::CentreId) -> String {
    match c {
        ecoute_domain::CentreId::NationalPlatform => "the national platform".into(),
        ecoute_domain::CentreId::Departement(d) => format!("centre {d}"),
    }
}

/// Case timelines, read from the log.
#[derive(Clone)]
pub struct Timelines {
    store: Arc<dyn EventStore>,
    decode: Decoder<Event>,
}

impl Timelines {
    /// Timelines over a store.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Timelines {
            store,
            decode: decoder(),
        }
    }

    /// A case's history and its calls', in global order. Empty for an unknown case.
    pub async fn of_case(&self, case_id: CaseId) -> Result<Vec<TimelineEntry>> {
        Ok(self
            .events_of_case(case_id)
            .await?
            .iter()
            .filter_map(|(stored, event)| entry(stored, event))
            .collect())
    }

    /// The stored events of a case and of every call it names, decoded, in global
    /// order: what a timeline, an audited history or an export is made of. Empty for
    /// an unknown case.
    pub async fn events_of_case(&self, case_id: CaseId) -> Result<Vec<(RecordedEvent, Event)>> {
        let case_stream = StreamId::new(case_stream(case_id))
            .map_err(|e| ProjectionError::caused(e.to_string(), e))?;
        let mut events = self.read(&case_stream).await?;
        let calls: Vec<_> = events
            .iter()
            .filter_map(|(_, event)| match event {
                Event::Case(CaseEvent::CaseOpened(o)) => Some(o.call.call_id),
                Event::Case(CaseEvent::CallLinked(l)) => Some(l.call.call_id),
                _ => None,
            })
            .collect();
        for call in calls {
            let stream = StreamId::new(call_stream(call))
                .map_err(|e| ProjectionError::caused(e.to_string(), e))?;
            events.extend(self.read(&stream).await?);
        }
        events.sort_by_key(|(stored, _)| stored.position);
        Ok(events)
    }

    /// Every event of a stream, decoded; none if the stream does not exist.
    async fn read(&self, stream: &StreamId) -> Result<Vec<(RecordedEvent, Event)>> {
        const PAGE: usize = 512;
        let mut out = Vec::new();
        let mut from = 0;
        loop {
            let page = match self
                .store
                .read_stream(stream, ReadFrom::Version(from), Direction::Forward, PAGE)
                .await
            {
                Ok(page) => page,
                Err(StoreError::StreamNotFound(_)) => return Ok(out),
                Err(e) => return Err(e.into()),
            };
            let full = page.len() == PAGE;
            for stored in page {
                from = stored.version + 1;
                let decoded =
                    (self.decode)(&stored).map_err(|reason| ProjectionError::BadEvent {
                        position: stored.position,
                        reason,
                    })?;
                if let Some(event) = decoded {
                    out.push((stored, event));
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }
}
