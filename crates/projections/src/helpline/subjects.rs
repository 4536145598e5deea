//! The subject index: for each data subject (a random id, never a personal
//! value), the events that hold data about that subject — their personal values,
//! the call they made, the way a caller described them. The right of access and
//! erasure find a subject's data through it, not by scanning the log.

use ecoute_domain::call::CallEvent;
use ecoute_domain::personal::HasPersonalData;
use ecoute_domain::vocabulary::PersonRole;
use ecoute_domain::{Event, SubjectId, Whose};
use ecoute_store::RecordedEvent;
use serde::{Deserialize, Serialize};

use super::{in_categories, pos_key};
use crate::error::Result;
use crate::model::{ModelReader, ModelTx};
use crate::runtime::Projection;

pub(crate) const NAME: &str = "subjects";

/// One event holding personal data of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRef {
    /// The event's global position.
    pub position: u64,
    /// Its stream.
    pub stream: String,
    /// Its version in the stream.
    pub version: u64,
    /// Its type.
    pub event_type: String,
    /// Whether the subject is the caller, the victim or another person there.
    pub whose: Whose,
    /// The names of the fields that hold the subject's values.
    pub fields: Vec<String>,
}

fn caller_key(call_stream: &str) -> Vec<u8> {
    format!("k/{call_stream}").into_bytes()
}

fn ref_key(subject: SubjectId, position: u64) -> Vec<u8> {
    format!("s/{subject}/{}", pos_key(position)).into_bytes()
}

/// Builds the subject index.
pub struct SubjectsProjection;

impl Projection<Event> for SubjectsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        // 2: also the caller of each call, and every person described.
        2
    }

    fn accepts(&self, event: &RecordedEvent) -> bool {
        in_categories(event, &["case", "call"])
    }

    fn apply(&self, stored: &RecordedEvent, event: &Event, model: &mut ModelTx<'_>) -> Result<()> {
        let mut refs: Vec<SubjectRef> = Vec::new();
        let mut subjects: Vec<SubjectId> = Vec::new();
        let entry = |whose: Whose, field: &str| SubjectRef {
            position: stored.position,
            stream: stored.stream_id.to_string(),
            version: stored.version,
            event_type: stored.event_type.clone(),
            whose,
            fields: vec![field.to_owned()],
        };
        match event {
            Event::Call(CallEvent::CallReceived(r)) => {
                model.put_typed(caller_key(stored.stream_id.as_str()), &r.caller)?;
                subjects.push(r.caller);
                refs.push(entry(Whose::Caller, "call"));
            }
            Event::Call(CallEvent::PersonDescribed(d)) => {
                let p = &d.person;
                let caller: Option<SubjectId> =
                    model.get_typed(&caller_key(stored.stream_id.as_str()))?;
                let whose = if caller == Some(p.person) {
                    Whose::Caller
                } else if p.role == PersonRole::Victim {
                    Whose::Victim
                } else {
                    Whose::OtherPerson
                };
                subjects.push(p.person);
                refs.push(entry(whose, "profile"));
            }
            _ => {}
        }
        for f in event.personal_fields() {
            match subjects.iter().position(|s| *s == f.subject.id) {
                Some(i) => refs[i].fields.push(f.field.to_owned()),
                None => {
                    subjects.push(f.subject.id);
                    refs.push(SubjectRef {
                        position: stored.position,
                        stream: stored.stream_id.to_string(),
                        version: stored.version,
                        event_type: stored.event_type.clone(),
                        whose: f.subject.whose,
                        fields: vec![f.field.to_owned()],
                    });
                }
            }
        }
        for (subject, r) in subjects.into_iter().zip(refs) {
            model.put_typed(ref_key(subject, stored.position), &r)?;
        }
        Ok(())
    }
}

/// Queries over the `subjects` projection.
#[derive(Clone)]
pub struct Subjects {
    reader: ModelReader,
}

impl Subjects {
    /// Queries over a reader of the `subjects` projection.
    pub fn new(reader: ModelReader) -> Self {
        Subjects { reader }
    }

    /// Every event holding the subject's data, in global order.
    pub fn refs(&self, subject: SubjectId) -> Result<Vec<SubjectRef>> {
        let prefix = format!("s/{subject}/");
        Ok(self
            .reader
            .scan::<SubjectRef>(prefix.as_bytes())?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }
}
