//! Per case, the ordered history in plain words — the case's events and those
//! of its calls — for auditors and referents. It holds no personal value: a
//! note or a number is named, never quoted.

use chrono::{DateTime, Utc};
use ecoute_domain::call::{CallEvent, Door};
use ecoute_domain::case::{CaseEvent, ReopenReason};
use ecoute_domain::{CaseId, Event};
use ecoute_store::RecordedEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{in_categories, pos_key, stream_uuid, words};
use crate::error::Result;
use crate::model::{ModelReader, ModelTx};
use crate::runtime::Projection;

pub(crate) const NAME: &str = "timeline";

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

fn entry_key(stream: Uuid, position: u64) -> Vec<u8> {
    format!("e/{stream}/{}", pos_key(position)).into_bytes()
}

fn link_key(case: Uuid, call: Uuid) -> Vec<u8> {
    format!("k/{case}/{call}").into_bytes()
}

/// Builds the timelines.
pub struct TimelineProjection;

impl Projection<Event> for TimelineProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    fn accepts(&self, event: &RecordedEvent) -> bool {
        in_categories(event, &["case", "call"])
    }

    fn apply(&self, stored: &RecordedEvent, event: &Event, model: &mut ModelTx<'_>) -> Result<()> {
        let stream = stream_uuid(stored)?;
        let text = match event {
            Event::Call(e) => describe_call(e),
            Event::Case(e) => {
                let linked = match e {
                    CaseEvent::CaseOpened(o) => Some(o.call.call_id),
                    CaseEvent::CallLinked(l) => Some(l.call.call_id),
                    _ => None,
                };
                if let Some(call) = linked {
                    model.put_typed(link_key(stream, *call.as_uuid()), &())?;
                }
                describe_case(e)
            }
            Event::Staff(_) => return Ok(()),
        };
        let entry = TimelineEntry {
            position: stored.position,
            at: event.at(),
            stream: stored.stream_id.to_string(),
            event_type: stored.event_type.clone(),
            text,
        };
        model.put_typed(entry_key(stream, stored.position), &entry)
    }
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
    }
}

fn centre_words(c: ecoute_domain::CentreId) -> String {
    match c {
        ecoute_domain::CentreId::NationalPlatform => "the national platform".into(),
        ecoute_domain::CentreId::Departement(d) => format!("centre {d}"),
    }
}

/// Queries over the `timeline` projection.
#[derive(Clone)]
pub struct Timelines {
    reader: ModelReader,
}

impl Timelines {
    /// Queries over a reader of the `timeline` projection.
    pub fn new(reader: ModelReader) -> Self {
        Timelines { reader }
    }

    /// A case's history and its calls', in global order. Empty for an unknown case.
    pub fn of_case(&self, case_id: CaseId) -> Result<Vec<TimelineEntry>> {
        let case = *case_id.as_uuid();
        let mut entries = self.entries_of(case)?;
        let prefix = format!("k/{case}/");
        for (k, ()) in self.reader.scan::<()>(prefix.as_bytes())? {
            let Some(call) = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(|s| Uuid::parse_str(s).ok())
            else {
                continue;
            };
            entries.extend(self.entries_of(call)?);
        }
        entries.sort_by_key(|e| e.position);
        Ok(entries)
    }

    fn entries_of(&self, stream: Uuid) -> Result<Vec<TimelineEntry>> {
        let prefix = format!("e/{stream}/");
        Ok(self
            .reader
            .scan::<TimelineEntry>(prefix.as_bytes())?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::entry_key;

    #[test]
    fn entry_keys_sort_by_position() {
        let s = uuid::Uuid::nil();
        assert!(entry_key(s, 9) < entry_key(s, 10));
        assert!(entry_key(s, 99_999) < entry_key(s, 1_000_000));
    }
}
