//! The calls never attached to a case, keyed by when they were received: what the
//! unattached-call retention rule looks at, found by a range read whose cost follows
//! the number old enough, not the number kept.

use chrono::{DateTime, Utc};
use ecoute_domain::call::CallEvent;
use ecoute_domain::{CallId, Event};
use ecoute_store::RecordedEvent;

use super::timers::due_part;
use super::{in_categories, stream_uuid};
use crate::error::Result;
use crate::model::{ModelReader, ModelTx};
use crate::runtime::Projection;

pub(crate) const NAME: &str = "unattached";

fn received_key(at: DateTime<Utc>, call: CallId) -> Vec<u8> {
    format!("u/{}/{call}", due_part(at)).into_bytes()
}

fn call_key(call: CallId) -> Vec<u8> {
    format!("c/{call}").into_bytes()
}

/// Builds the index of unattached calls.
pub struct UnattachedProjection;

impl Projection<Event> for UnattachedProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    fn accepts(&self, event: &RecordedEvent) -> bool {
        in_categories(event, &["call"])
            && matches!(
                event.event_type.as_str(),
                "CallReceived" | "CallAttachedToCase" | "CallPersonsErased"
            )
    }

    fn apply(&self, stored: &RecordedEvent, event: &Event, model: &mut ModelTx<'_>) -> Result<()> {
        let Event::Call(ev) = event else {
            return Ok(());
        };
        let call = CallId::from_uuid(stream_uuid(stored)?);
        match ev {
            CallEvent::CallReceived(r) => {
                model.put(&received_key(r.at, call), call)?;
                model.put(&call_key(call), ecoute_domain::time::At(r.at))?;
            }
            CallEvent::CallAttachedToCase(_) | CallEvent::CallPersonsErased(_) => {
                if let Some(at) = model.get::<ecoute_domain::time::At>(&call_key(call))? {
                    model.remove(&received_key(at.0, call))?;
                    model.remove(&call_key(call))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Queries over the index of unattached calls.
#[derive(Clone)]
pub struct Unattached {
    reader: ModelReader,
}

impl Unattached {
    /// Queries over a reader of the `unattached` projection.
    pub fn new(reader: ModelReader) -> Self {
        Unattached { reader }
    }

    /// Calls never attached to a case (nor erased) received before `before`, oldest
    /// first, at most `limit`: the candidates of the unattached-call rule (the domain
    /// checks the period from each call's end).
    pub fn received_before(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<CallId>> {
        let end = format!("u/{}/", due_part(before));
        Ok(self
            .reader
            .range::<CallId>(b"u/", end.as_bytes())?
            .into_iter()
            .map(|(_, c)| c)
            .take(limit)
            .collect())
    }
}
