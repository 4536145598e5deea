//! The helpline's read models, built from the domain's events.
//!
//! | projection | model | query type |
//! |---|---|---|
//! | `cases` | case summary, centre queues, referent caseloads | [`Cases`] |
//! | (live) | per case, the ordered history in plain words, read from the log on demand | [`Timelines`] |
//! | `statistics` | counts with no personal data | [`Statistics`] |
//! | `subjects` | subject id → the events holding that subject's data | [`Subjects`] |
//! | `timers` | armed deadlines by due time | [`Timers`] |
//! | `unattached` | calls never attached to a case, by reception time | [`Unattached`] |
//!
//! Keys carry ids, centre codes and dates only, never a personal value.
//!
//! # Example
//!
//! Run the helpline's projections over a store, append a call, and query.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::{TimeZone, Utc};
//! use ecoute_domain::call::{CallEvent, CallReceived, Door};
//! use ecoute_domain::{call_stream, encode, CallId, CentreId, Event, StaffId, SubjectId, TeamId};
//! use ecoute_projections::helpline::{decoder, projections, HelplineViews, StatisticsQuery};
//! use ecoute_projections::{ModelDb, Runtime, RuntimeConfig};
//! use ecoute_store::{EventData, EventStore, ExpectedVersion, MemoryStore, StoreConfig, StreamId};
//! use uuid::Uuid;
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
//! let runtime = Runtime::start(store.clone(), ModelDb::temporary()?, decoder(), projections(), RuntimeConfig::default())?;
//! let views = HelplineViews::new(&runtime, store.clone())?;
//!
//! let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
//! let call = CallId::from_uuid(Uuid::new_v4());
//! let received = Event::Call(CallEvent::CallReceived(CallReceived {
//!     call_id: call,
//!     door: Door::Platform {
//!         listener: StaffId::from_uuid(Uuid::new_v4()),
//!         team: TeamId::from_uuid(Uuid::new_v4()),
//!     },
//!     caller: SubjectId::from_uuid(Uuid::new_v4()),
//!     at,
//! }));
//! let enc = encode(&received)?;
//! let event = EventData::new(Uuid::new_v4(), enc.type_name, enc.schema_version.into(), enc.payload);
//! store.append_to_stream(StreamId::new(call_stream(call))?, ExpectedVersion::NoStream, vec![event]).await?;
//!
//! // Read your own write: wait until the projections have applied it.
//! runtime.wait_for(store.head().await?).await?;
//! let day = at.date_naive();
//! let stats = views.statistics.query(&StatisticsQuery { from: day, to: day, centre: None })?;
//! assert_eq!(stats.calls_by_door.get("platform"), Some(&1));
//! assert!(views.cases.queue(CentreId::NationalPlatform, at)?.awaiting_transfer.is_empty());
//! runtime.stop()?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use ecoute_domain::Event;
use ecoute_store::RecordedEvent;
use uuid::Uuid;

use crate::error::{ProjectionError, Result};
use crate::runtime::{Decoder, Projection, Runtime};

mod cases;
mod statistics;
mod subjects;
mod timeline;
mod timers;
mod unattached;

pub use cases::{
    CaseSummary, CaseloadEntry, Cases, CasesProjection, CentreQueue, QueueEntry, QueueKind,
    SolutionSummary,
};
pub use statistics::{
    DurationStats, Statistics, StatisticsProjection, StatisticsQuery, StatisticsReport,
};
pub use subjects::{SubjectRef, Subjects, SubjectsProjection};
pub use timeline::{deadline_words, TimelineEntry, Timelines};
pub use timers::{ArmedDeadline, TimerCounts, Timers, TimersProjection};
pub use unattached::{Unattached, UnattachedProjection};

/// Decodes stored events into the domain's events; the store's own `$` records are skipped.
pub fn decoder() -> Decoder<Event> {
    Arc::new(|e: &RecordedEvent| {
        if e.event_type.starts_with('$') {
            return Ok(None);
        }
        let version = u16::try_from(e.schema_version)
            .map_err(|_| format!("schema version {} out of range", e.schema_version))?;
        ecoute_domain::decode(&e.event_type, version, &e.payload)
            .map(Some)
            .map_err(|err| err.to_string())
    })
}

/// Every helpline projection, at its current version.
pub fn projections() -> Vec<Arc<dyn Projection<Event>>> {
    vec![
        Arc::new(CasesProjection),
        Arc::new(StatisticsProjection),
        Arc::new(SubjectsProjection),
        Arc::new(TimersProjection),
        Arc::new(UnattachedProjection),
    ]
}

/// The typed query APIs of a runtime running [`projections`].
#[derive(Clone)]
pub struct HelplineViews {
    /// Case summaries, centre queues and caseloads.
    pub cases: Cases,
    /// Case timelines (read from the log).
    pub timelines: Timelines,
    /// Statistics.
    pub statistics: Statistics,
    /// The subject index.
    pub subjects: Subjects,
    /// The armed deadlines, by due time.
    pub timers: Timers,
    /// The calls never attached to a case.
    pub unattached: Unattached,
}

impl HelplineViews {
    /// The query APIs over a runtime's models and the store they follow.
    pub fn new(runtime: &Runtime<Event>, store: Arc<dyn ecoute_store::EventStore>) -> Result<Self> {
        Ok(HelplineViews {
            cases: Cases::new(runtime.reader(cases::NAME)?),
            timelines: Timelines::new(store.clone()),
            statistics: Statistics::new(runtime.reader(statistics::NAME)?),
            subjects: Subjects::new(runtime.reader(subjects::NAME)?, store),
            timers: Timers::new(runtime.reader(timers::NAME)?),
            unattached: Unattached::new(runtime.reader(unattached::NAME)?),
        })
    }
}

/// The id after the category of a `call-<uuid>` or `case-<uuid>` stream.
pub(crate) fn stream_uuid(e: &RecordedEvent) -> Result<Uuid> {
    let s = e.stream_id.as_str();
    s.split_once('-')
        .and_then(|(_, id)| Uuid::parse_str(id).ok())
        .ok_or_else(|| ProjectionError::BadEvent {
            position: e.position,
            reason: format!("stream {s} does not end in a uuid"),
        })
}

/// Whether a stored event belongs to one of these categories.
pub(crate) fn in_categories(e: &RecordedEvent, categories: &[&str]) -> bool {
    stream_in(e.stream_id.as_str(), categories)
}

/// `case-…` is in `case`: a prefix and a dash (asked by every projection of
/// every event, so without searching the id for its first dash).
fn stream_in(stream: &str, categories: &[&str]) -> bool {
    let id = stream.as_bytes();
    categories
        .iter()
        .any(|c| id.len() > c.len() && id.starts_with(c.as_bytes()) && id[c.len()] == b'-')
}

/// `DeprivationOfRights` → `deprivation of rights`; `From80To89` → `from 80 to 89`.
pub(crate) fn words(debug: impl std::fmt::Debug) -> String {
    Words(debug).to_string()
}

/// Writes a value's `Debug` name as lower-case words (see [`words`]) without
/// allocating, for names up to 64 bytes: a statistics key is built per counted
/// fact.
pub(crate) struct Words<T>(pub T);

impl<T: std::fmt::Debug> std::fmt::Display for Words<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        let mut name = NameBuf::default();
        let owned;
        let text: &str = if write!(name, "{:?}", self.0).is_ok() {
            name.as_str()
        } else {
            owned = format!("{:?}", self.0);
            &owned
        };
        let mut prev: Option<char> = None;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '(' {
                // `CloseCircle(Family)` → `close circle (family)`.
                f.write_str(" (")?;
                prev = Some(c);
                continue;
            }
            if let Some(p) = prev {
                let next_lower = chars.peek().is_some_and(|n| n.is_lowercase());
                let boundary = p != '('
                    && ((c.is_uppercase() && (!p.is_uppercase() || next_lower))
                        || (c.is_ascii_digit() != p.is_ascii_digit()));
                if boundary {
                    f.write_char(' ')?;
                }
            }
            for l in c.to_lowercase() {
                f.write_char(l)?;
            }
            prev = Some(c);
        }
        Ok(())
    }
}

/// A name written into 64 bytes on the stack; longer ones fail to write.
struct NameBuf {
    bytes: [u8; 64],
    len: usize,
}

impl Default for NameBuf {
    fn default() -> Self {
        NameBuf {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl NameBuf {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for NameBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dest = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{stream_in, words};

    #[test]
    fn a_stream_is_in_the_category_before_its_first_dash() {
        for (stream, categories, expected) in [
            ("case-0a1b", &["case"][..], true),
            ("call-0a1b", &["case", "call"][..], true),
            ("case-", &["case"][..], true),
            ("cases-0a1b", &["case"][..], false),
            ("case", &["case"][..], false),
            ("cas-0a1b", &["case"][..], false),
            ("$$case-0a1b", &["case"][..], false),
            ("staff-0a1b", &["case", "call"][..], false),
            ("case-0a1b", &[][..], false),
        ] {
            assert_eq!(
                stream_in(stream, categories),
                expected,
                "{stream} in {categories:?}"
            );
        }
    }
    use ecoute_domain::vocabulary::{AbuseKind, AgeBand};

    #[test]
    fn enum_names_become_words() {
        // Longer than the stack buffer: the same words, through an allocation.
        #[derive(Debug)]
        struct AVeryLongNameForATypeThatNoEnumOfTheDomainWouldEverCarryAroundX9;
        assert_eq!(
            words(AVeryLongNameForATypeThatNoEnumOfTheDomainWouldEverCarryAroundX9),
            "a very long name for a type that no enum of the domain would ever carry around x 9"
        );
        assert_eq!(
            words(AbuseKind::DeprivationOfRights),
            "deprivation of rights"
        );
        assert_eq!(words(AgeBand::From80To89), "from 80 to 89");
        assert_eq!(words(AgeBand::Under60), "under 60");
        assert_eq!(
            words(ecoute_domain::vocabulary::Since::MoreThanAYear),
            "more than a year"
        );
        assert_eq!(
            words(ecoute_domain::vocabulary::PersonRole::CloseCircle(
                ecoute_domain::vocabulary::CloseCircle::Family
            )),
            "close circle (family)"
        );
    }
}
