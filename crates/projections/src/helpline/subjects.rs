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
use smallvec::{smallvec, SmallVec};

use super::{in_categories, stream_uuid};
use std::sync::Arc;

use ecoute_store::EventStore;

use crate::error::{ProjectionError, Result};
use crate::model::{Key, ModelReader, ModelTx};
use crate::runtime::Projection;
use uuid::Uuid;

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

/// What is stored of a [`SubjectRef`]: the event's stream, version and type
/// are read back from the log when asked — the index is held in memory, so it
/// keeps only what the log cannot tell. A subject's refs are packed in one
/// entry, appended one after the other in log order: a subject has a handful
/// of them, an entry costs more than the few bytes of a ref, and a new ref is
/// added without decoding the others.
#[derive(Deserialize)]
struct StoredRef {
    position: u64,
    whose: Whose,
    fields: Vec<String>,
}

/// A [`StoredRef`] as written: the same encoding, from the domain's field names.
#[derive(Serialize)]
struct NewRef<'a> {
    position: u64,
    whose: Whose,
    fields: &'a [&'static str],
}

/// `k` and the call's id (16 bytes): the caller of a call.
fn caller_key(call: Uuid) -> Key {
    let mut k = Key::new();
    k.push(b'k');
    k.extend_from_slice(call.as_bytes());
    k
}

/// `s` and the subject's id (16 bytes): the subject's refs.
fn ref_key(subject: SubjectId) -> Key {
    let mut k = Key::new();
    k.push(b's');
    k.extend_from_slice(subject.as_uuid().as_bytes());
    k
}

/// Builds the subject index.
pub struct SubjectsProjection;

impl Projection<Event> for SubjectsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        // 2: also the caller of each call, and every person described.
        // 3: binary keys, the position in the key only, the event's stream,
        // version and type read from the log.
        // 4: a subject's refs packed in one entry.
        // 5: appended one after the other, not as one list.
        5
    }

    fn accepts(&self, event: &RecordedEvent) -> bool {
        in_categories(event, &["case", "call"])
    }

    fn apply(&self, stored: &RecordedEvent, event: &Event, model: &mut ModelTx<'_>) -> Result<()> {
        // (subject, whose, fields) of each subject the event holds data about:
        // a handful, held inline.
        type Fields = SmallVec<[&'static str; 4]>;
        let mut refs: SmallVec<[(SubjectId, Whose, Fields); 4]> = SmallVec::new();
        match event {
            Event::Call(CallEvent::CallReceived(r)) => {
                model.put(&caller_key(stream_uuid(stored)?), r.caller)?;
                refs.push((r.caller, Whose::Caller, smallvec!["call"]));
            }
            Event::Call(CallEvent::PersonDescribed(d)) => {
                let p = &d.person;
                let caller: Option<SubjectId> = model.get(&caller_key(stream_uuid(stored)?))?;
                let whose = if caller == Some(p.person) {
                    Whose::Caller
                } else if p.role == PersonRole::Victim {
                    Whose::Victim
                } else {
                    Whose::OtherPerson
                };
                refs.push((p.person, whose, smallvec!["profile"]));
            }
            _ => {}
        }
        for f in event.personal_fields() {
            match refs.iter_mut().find(|(s, _, _)| *s == f.subject.id) {
                Some((_, _, fields)) => fields.push(f.field),
                None => refs.push((f.subject.id, f.subject.whose, smallvec![f.field])),
            }
        }
        for (subject, whose, fields) in refs {
            let new = NewRef {
                position: stored.position,
                whose,
                fields: &fields,
            };
            model.append(&ref_key(subject), &new)?;
        }
        Ok(())
    }
}

/// Queries over the `subjects` projection.
#[derive(Clone)]
pub struct Subjects {
    reader: ModelReader,
    store: Arc<dyn EventStore>,
}

impl Subjects {
    /// Queries over a reader of the `subjects` projection and the log it follows.
    pub fn new(reader: ModelReader, store: Arc<dyn EventStore>) -> Self {
        Subjects { reader, store }
    }

    /// Whether anything was ever recorded about the subject.
    pub fn any(&self, subject: SubjectId) -> Result<bool> {
        Ok(!self.positions(subject)?.is_empty())
    }

    fn positions(&self, subject: SubjectId) -> Result<Vec<StoredRef>> {
        self.reader.get_appended::<StoredRef>(&ref_key(subject))
    }

    /// Every event holding the subject's data, in global order (each event's
    /// stream, version and type read from the log).
    pub async fn refs(&self, subject: SubjectId) -> Result<Vec<SubjectRef>> {
        let mut out = Vec::new();
        for r in self.positions(subject)? {
            let position = r.position;
            let event = self
                .store
                .read_all(position, 1)
                .await?
                .into_iter()
                .next()
                .filter(|e| e.position == position)
                .ok_or_else(|| {
                    ProjectionError::Model(format!(
                        "the subject index names position {position}, absent from the log"
                    ))
                })?;
            out.push(SubjectRef {
                position,
                stream: event.stream_id.to_string(),
                version: event.version,
                event_type: event.event_type,
                whose: r.whose,
                fields: r.fields,
            });
        }
        Ok(out)
    }
}
