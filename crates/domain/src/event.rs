//! All events of the domain, and their encoding for the store.
//!
//! Each event type has a stable name (`"CallReceived"`) and a schema version. The store
//! keeps the three together; [`encode`] makes them and [`decode`] reads them back,
//! upcasting older versions to the current shape. The payload is the event struct in
//! bincode 2 (standard configuration) through serde; personal fields go through
//! [`personal::codec`](crate::personal::codec).

use crate::call::{self, CallEvent};
use crate::case::{self, CaseEvent};
use crate::personal::{HasPersonalData, Personal, PersonalField};
use crate::staff::{self, StaffEvent};
use crate::subject::SubjectEvent;
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};
use thiserror::Error;

/// The largest payload [`decode`] reads, in bytes; longer input is refused, not
/// allocated.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// Any event of any stream.
/// Serializes as the event's own fields, without its type name (which the store keeps
/// beside the payload): for readable renderings such as an audited history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Event {
    /// An event of a call stream.
    Call(CallEvent),
    /// An event of a case stream.
    Case(CaseEvent),
    /// An event of a staff stream.
    Staff(StaffEvent),
    /// An event of a subject stream.
    Subject(SubjectEvent),
}

impl From<SubjectEvent> for Event {
    fn from(e: SubjectEvent) -> Self {
        Event::Subject(e)
    }
}

impl From<CallEvent> for Event {
    fn from(e: CallEvent) -> Self {
        Event::Call(e)
    }
}

impl From<CaseEvent> for Event {
    fn from(e: CaseEvent) -> Self {
        Event::Case(e)
    }
}

impl From<StaffEvent> for Event {
    fn from(e: StaffEvent) -> Self {
        Event::Staff(e)
    }
}

/// An event ready for the store: its type name, schema version and payload bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The stable name of the event type, such as `"CallReceived"`.
    pub type_name: &'static str,
    /// The schema version of the payload.
    pub schema_version: u16,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Why an event could not be encoded.
#[derive(Debug, Error)]
#[error("event {type_name} could not be encoded: {reason}")]
pub struct EncodeError {
    /// The event type.
    pub type_name: &'static str,
    /// What went wrong.
    pub reason: String,
}

/// Why stored bytes could not be read back as an event.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// No event type has this name.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// The type exists but not in this schema version.
    #[error("event type {type_name} has no schema version {version}")]
    UnknownVersion {
        /// The event type.
        type_name: String,
        /// The version found.
        version: u16,
    },
    /// The payload is not a valid event of that type and version.
    #[error("payload of {type_name} v{version} is malformed: {reason}")]
    Malformed {
        /// The event type.
        type_name: &'static str,
        /// The version.
        version: u16,
        /// What the decoder said.
        reason: String,
    },
    /// The payload has bytes left after the event.
    #[error("payload of {type_name} v{version} has {extra} bytes after the event")]
    TrailingBytes {
        /// The event type.
        type_name: &'static str,
        /// The version.
        version: u16,
        /// How many bytes are left.
        extra: usize,
    },
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_PAYLOAD_BYTES>()
}

fn to_bytes<T: Serialize>(type_name: &'static str, value: &T) -> Result<Vec<u8>, EncodeError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| EncodeError {
        type_name,
        reason: e.to_string(),
    })
}

fn from_bytes<T: DeserializeOwned>(
    type_name: &'static str,
    version: u16,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(DecodeError::Malformed {
            type_name,
            version,
            reason: format!("payload longer than {MAX_PAYLOAD_BYTES} bytes"),
        });
    }
    let (value, read) =
        bincode::serde::decode_from_slice::<T, _>(bytes, config()).map_err(|e| {
            DecodeError::Malformed {
                type_name,
                version,
                reason: e.to_string(),
            }
        })?;
    if read != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            type_name,
            version,
            extra: bytes.len().saturating_sub(read),
        });
    }
    Ok(value)
}

macro_rules! registry {
    ($( $outer:ident ( $inner:ident :: $variant:ident ) => $version:literal, )*) => {
        /// Every event type: its stable name and current schema version.
        pub const EVENT_TYPES: &[(&str, u16)] = &[$( (stringify!($variant), $version), )*];

        impl Event {
            /// The stable name of the event type, such as `"CallReceived"`.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $( Event::$outer($inner::$variant(_)) => stringify!($variant), )*
                }
            }

            /// The current schema version of the event type.
            pub fn schema_version(&self) -> u16 {
                match self {
                    $( Event::$outer($inner::$variant(_)) => $version, )*
                }
            }

            /// When the event happened, as given by the command's context.
            pub fn at(&self) -> DateTime<Utc> {
                match self {
                    $( Event::$outer($inner::$variant(e)) => e.at, )*
                }
            }
        }

        /// Encodes an event for the store: type name, schema version and payload.
        pub fn encode(event: &Event) -> Result<Encoded, EncodeError> {
            let type_name = event.type_name();
            let payload = match event {
                $( Event::$outer($inner::$variant(e)) => to_bytes(type_name, e)?, )*
            };
            Ok(Encoded { type_name, schema_version: event.schema_version(), payload })
        }

        fn decode_current(
            type_name: &str,
            version: u16,
            bytes: &[u8],
        ) -> Result<Event, DecodeError> {
            $(
                if type_name == stringify!($variant) {
                    if version != $version {
                        return Err(DecodeError::UnknownVersion {
                            type_name: type_name.to_string(),
                            version,
                        });
                    }
                    let e = from_bytes(stringify!($variant), version, bytes)?;
                    return Ok(Event::$outer($inner::$variant(e)));
                }
            )*
            Err(DecodeError::UnknownType(type_name.chars().take(64).collect()))
        }
    };
}

registry! {
    Call(CallEvent::CallReceived) => 1,
    Call(CallEvent::AnonymityRequested) => 1,
    Call(CallEvent::NumberRetentionRefused) => 1,
    Call(CallEvent::CallbackNumberRecorded) => 2,
    Call(CallEvent::PersonDescribed) => 3,
    Call(CallEvent::FactsRecorded) => 1,
    Call(CallEvent::ListeningNoteRecorded) => 2,
    Call(CallEvent::CallEnded) => 1,
    Call(CallEvent::CallAttachedToCase) => 1,
    Call(CallEvent::CallPersonsErased) => 1,
    Case(CaseEvent::CaseOpened) => 1,
    Case(CaseEvent::CallLinked) => 1,
    Case(CaseEvent::CaseTransferred) => 1,
    Case(CaseEvent::ReferentAssigned) => 1,
    Case(CaseEvent::ReferentReleased) => 1,
    Case(CaseEvent::AnalysisRecorded) => 2,
    Case(CaseEvent::RecontactAttempted) => 1,
    Case(CaseEvent::AwaitingCallBack) => 1,
    Case(CaseEvent::SolutionProposed) => 2,
    Case(CaseEvent::ConsentGiven) => 1,
    Case(CaseEvent::ConsentRefused) => 1,
    Case(CaseEvent::ConsentWithdrawn) => 1,
    Case(CaseEvent::ActionTaken) => 2,
    Case(CaseEvent::CaseClosed) => 1,
    Case(CaseEvent::CaseReopened) => 1,
    Case(CaseEvent::DeadlineArmed) => 1,
    Case(CaseEvent::DeadlineMissed) => 1,
    Case(CaseEvent::DeadlineSatisfied) => 1,
    Case(CaseEvent::InactivityFlagged) => 1,
    Case(CaseEvent::CaseKept) => 1,
    Case(CaseEvent::CallbackNumbersErased) => 1,
    Case(CaseEvent::CasePersonsErased) => 1,
    Staff(StaffEvent::StaffEnrolled) => 1,
    Staff(StaffEvent::RoleGranted) => 1,
    Staff(StaffEvent::RoleRevoked) => 1,
    Staff(StaffEvent::TeamJoined) => 1,
    Staff(StaffEvent::AccreditationGranted) => 1,
    Staff(StaffEvent::AccreditationRevoked) => 1,
    Staff(StaffEvent::TokenIssued) => 1,
    Staff(StaffEvent::TokenRevoked) => 1,
    Subject(SubjectEvent::SubjectErased) => 2,
    Subject(SubjectEvent::NumberErased) => 1,
}

/// Reads an event back from its type name, schema version and payload, upcasting an
/// older version to the current shape. It never panics on bad bytes.
pub fn decode(type_name: &str, schema_version: u16, payload: &[u8]) -> Result<Event, DecodeError> {
    if let Some(event) = upcast::decode_old(type_name, schema_version, payload)? {
        return Ok(event);
    }
    decode_current(type_name, schema_version, payload)
}

/// The shapes of older schema versions, and how each becomes the current one.
///
/// The first versions of the six events with personal values wrote them in clear
/// (`personal::codec_v1`); they come back as clear values, to be sealed when stored
/// again. `PersonDescribed` version 1 also lacked `lives_with_victim`.
/// `SubjectErased` version 1 had no rule: the one retention rule of the time erased
/// the persons of closed cases.
mod upcast {
    use super::{from_bytes, DecodeError, Event};
    use crate::call::{
        CallEvent, CallbackNumberRecorded, ListeningNoteRecorded, PersonDescribed,
        PersonDescription,
    };
    use crate::case::{ActionTaken, AnalysisRecorded, CaseEvent, SolutionProposed};
    use crate::ids::{SolutionId, SubjectId};
    use crate::personal::Personal;
    use crate::retention::RetentionRule;
    use crate::subject::{ErasureReason, SubjectErased, SubjectEvent};
    use crate::vocabulary::{AgeBand, PersonRole, Relation, SolutionKind};
    use chrono::{DateTime, Utc};
    use serde::Deserialize;

    /// `PersonDescribed` version 1, before `lives_with_victim` was asked.
    #[derive(Deserialize)]
    struct PersonDescribedV1 {
        person: PersonDescriptionV1,
        at: DateTime<Utc>,
    }

    #[derive(Deserialize)]
    struct PersonDescriptionV1 {
        person: SubjectId,
        role: PersonRole,
        relation: Relation,
        age_band: AgeBand,
        #[serde(with = "crate::personal::codec_v1::option")]
        name: Option<Personal<String>>,
        #[serde(with = "crate::personal::codec_v1::option")]
        address: Option<Personal<String>>,
        #[serde(with = "crate::personal::codec_v1::option")]
        description: Option<Personal<String>>,
    }

    impl From<PersonDescribedV1> for PersonDescribed {
        fn from(v1: PersonDescribedV1) -> Self {
            let p = v1.person;
            PersonDescribed {
                person: PersonDescription {
                    person: p.person,
                    role: p.role,
                    relation: p.relation,
                    age_band: p.age_band,
                    // Version 1 did not ask: unknown.
                    lives_with_victim: None,
                    name: p.name,
                    address: p.address,
                    description: p.description,
                },
                at: v1.at,
            }
        }
    }

    /// `PersonDescribed` version 2: values in clear.
    #[derive(Deserialize)]
    struct PersonDescribedV2 {
        person: PersonDescriptionV2,
        at: DateTime<Utc>,
    }

    #[derive(Deserialize)]
    struct PersonDescriptionV2 {
        person: SubjectId,
        role: PersonRole,
        relation: Relation,
        age_band: AgeBand,
        lives_with_victim: Option<bool>,
        #[serde(with = "crate::personal::codec_v1::option")]
        name: Option<Personal<String>>,
        #[serde(with = "crate::personal::codec_v1::option")]
        address: Option<Personal<String>>,
        #[serde(with = "crate::personal::codec_v1::option")]
        description: Option<Personal<String>>,
    }

    impl From<PersonDescribedV2> for PersonDescribed {
        fn from(v2: PersonDescribedV2) -> Self {
            let p = v2.person;
            PersonDescribed {
                person: PersonDescription {
                    person: p.person,
                    role: p.role,
                    relation: p.relation,
                    age_band: p.age_band,
                    lives_with_victim: p.lives_with_victim,
                    name: p.name,
                    address: p.address,
                    description: p.description,
                },
                at: v2.at,
            }
        }
    }

    #[derive(Deserialize)]
    struct CallbackNumberRecordedV1 {
        #[serde(with = "crate::personal::codec_v1")]
        number: Personal<String>,
        at: DateTime<Utc>,
    }

    #[derive(Deserialize)]
    struct NoteV1 {
        #[serde(with = "crate::personal::codec_v1")]
        note: Personal<String>,
        at: DateTime<Utc>,
    }

    #[derive(Deserialize)]
    struct SolutionProposedV1 {
        solution_id: SolutionId,
        kind: SolutionKind,
        #[serde(with = "crate::personal::codec_v1")]
        description: Personal<String>,
        at: DateTime<Utc>,
    }

    #[derive(Deserialize)]
    struct ActionTakenV1 {
        solution_id: SolutionId,
        #[serde(with = "crate::personal::codec_v1")]
        note: Personal<String>,
        at: DateTime<Utc>,
    }

    /// The event, when `(type_name, version)` is an older version; `None` otherwise.
    pub(super) fn decode_old(
        type_name: &str,
        version: u16,
        bytes: &[u8],
    ) -> Result<Option<Event>, DecodeError> {
        Ok(Some(match (type_name, version) {
            ("PersonDescribed", 1) => {
                let v: PersonDescribedV1 = from_bytes("PersonDescribed", version, bytes)?;
                Event::Call(CallEvent::PersonDescribed(v.into()))
            }
            ("PersonDescribed", 2) => {
                let v: PersonDescribedV2 = from_bytes("PersonDescribed", version, bytes)?;
                Event::Call(CallEvent::PersonDescribed(v.into()))
            }
            ("CallbackNumberRecorded", 1) => {
                let v: CallbackNumberRecordedV1 =
                    from_bytes("CallbackNumberRecorded", version, bytes)?;
                Event::Call(CallEvent::CallbackNumberRecorded(CallbackNumberRecorded {
                    number: v.number,
                    at: v.at,
                }))
            }
            ("ListeningNoteRecorded", 1) => {
                let v: NoteV1 = from_bytes("ListeningNoteRecorded", version, bytes)?;
                Event::Call(CallEvent::ListeningNoteRecorded(ListeningNoteRecorded {
                    note: v.note,
                    at: v.at,
                }))
            }
            ("AnalysisRecorded", 1) => {
                #[derive(Deserialize)]
                struct V1 {
                    #[serde(with = "crate::personal::codec_v1")]
                    analysis: Personal<String>,
                    at: DateTime<Utc>,
                }
                let v: V1 = from_bytes("AnalysisRecorded", version, bytes)?;
                Event::Case(CaseEvent::AnalysisRecorded(AnalysisRecorded {
                    analysis: v.analysis,
                    at: v.at,
                }))
            }
            ("SolutionProposed", 1) => {
                let v: SolutionProposedV1 = from_bytes("SolutionProposed", version, bytes)?;
                Event::Case(CaseEvent::SolutionProposed(SolutionProposed {
                    solution_id: v.solution_id,
                    kind: v.kind,
                    description: v.description,
                    at: v.at,
                }))
            }
            ("ActionTaken", 1) => {
                let v: ActionTakenV1 = from_bytes("ActionTaken", version, bytes)?;
                Event::Case(CaseEvent::ActionTaken(ActionTaken {
                    solution_id: v.solution_id,
                    note: v.note,
                    at: v.at,
                }))
            }
            ("SubjectErased", 1) => {
                #[derive(Deserialize)]
                struct V1 {
                    subject: SubjectId,
                    reason: ErasureReason,
                    at: DateTime<Utc>,
                }
                let v: V1 = from_bytes("SubjectErased", version, bytes)?;
                let rule =
                    (v.reason == ErasureReason::Retention).then_some(RetentionRule::ClosedCase);
                Event::Subject(SubjectEvent::SubjectErased(SubjectErased {
                    subject: v.subject,
                    reason: v.reason,
                    rule,
                    at: v.at,
                }))
            }
            _ => return Ok(None),
        }))
    }
}

impl HasPersonalData for Event {
    fn personal_fields(&self) -> Vec<PersonalField> {
        let of = PersonalField::of;
        match self {
            Event::Call(CallEvent::CallbackNumberRecorded(e)) => {
                vec![of("callback_number", &e.number)]
            }
            Event::Call(CallEvent::PersonDescribed(e)) => {
                let p = &e.person;
                [
                    ("name", &p.name),
                    ("address", &p.address),
                    ("description", &p.description),
                ]
                .into_iter()
                .filter_map(|(field, v)| v.as_ref().map(|v| of(field, v)))
                .collect()
            }
            Event::Call(CallEvent::ListeningNoteRecorded(e)) => vec![of("note", &e.note)],
            Event::Case(CaseEvent::AnalysisRecorded(e)) => vec![of("analysis", &e.analysis)],
            Event::Case(CaseEvent::SolutionProposed(e)) => {
                vec![of("description", &e.description)]
            }
            Event::Case(CaseEvent::ActionTaken(e)) => vec![of("note", &e.note)],
            Event::Call(_) | Event::Case(_) | Event::Staff(_) | Event::Subject(_) => Vec::new(),
        }
    }

    fn personal_values_mut(&mut self) -> Vec<&mut Personal<String>> {
        match self {
            Event::Call(CallEvent::CallbackNumberRecorded(e)) => vec![&mut e.number],
            Event::Call(CallEvent::PersonDescribed(e)) => {
                let p = &mut e.person;
                [&mut p.name, &mut p.address, &mut p.description]
                    .into_iter()
                    .filter_map(Option::as_mut)
                    .collect()
            }
            Event::Call(CallEvent::ListeningNoteRecorded(e)) => vec![&mut e.note],
            Event::Case(CaseEvent::AnalysisRecorded(e)) => vec![&mut e.analysis],
            Event::Case(CaseEvent::SolutionProposed(e)) => vec![&mut e.description],
            Event::Case(CaseEvent::ActionTaken(e)) => vec![&mut e.note],
            Event::Call(_) | Event::Case(_) | Event::Staff(_) | Event::Subject(_) => Vec::new(),
        }
    }
}

/// Folds the events of a call stream, skipping events of other streams.
pub fn fold_call<'a>(events: impl IntoIterator<Item = &'a Event>) -> call::CallState {
    call::fold(events.into_iter().filter_map(|e| match e {
        Event::Call(c) => Some(c),
        _ => None,
    }))
}

/// Folds the events of a case stream, skipping events of other streams.
pub fn fold_case<'a>(events: impl IntoIterator<Item = &'a Event>) -> case::CaseState {
    case::fold(events.into_iter().filter_map(|e| match e {
        Event::Case(c) => Some(c),
        _ => None,
    }))
}

/// Folds the events of a subject stream, skipping events of other streams.
pub fn fold_subject<'a>(
    events: impl IntoIterator<Item = &'a Event>,
) -> crate::subject::SubjectState {
    crate::subject::fold(events.into_iter().filter_map(|e| match e {
        Event::Subject(s) => Some(s),
        _ => None,
    }))
}

/// Folds the events of a staff stream, skipping events of other streams.
pub fn fold_staff<'a>(events: impl IntoIterator<Item = &'a Event>) -> staff::StaffState {
    staff::fold(events.into_iter().filter_map(|e| match e {
        Event::Staff(c) => Some(c),
        _ => None,
    }))
}
