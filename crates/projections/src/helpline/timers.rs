//! The timer index: every armed deadline, keyed by its due time, so that finding the
//! deadlines due costs in proportion to how many are due, not to how many are armed.

use chrono::{DateTime, Utc};
use ecoute_domain::case::{CaseEvent, DeadlineKind};
use ecoute_domain::{CaseId, Event};
use ecoute_store::RecordedEvent;
use serde::{Deserialize, Serialize};

use super::{in_categories, stream_uuid};
use crate::error::Result;
use crate::model::{ModelReader, ModelTx};
use crate::runtime::Projection;

pub(crate) const NAME: &str = "timers";

/// One armed deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmedDeadline {
    /// The case.
    pub case_id: CaseId,
    /// Which promise.
    pub kind: DeadlineKind,
    /// When it falls due.
    #[serde(with = "ecoute_domain::time")]
    pub due: DateTime<Utc>,
}

/// Counts for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerCounts {
    /// Deadlines armed now (not yet kept nor missed).
    pub armed: u64,
    /// Deadlines missed since the beginning.
    pub fired: u64,
    /// Deadlines missed and not kept yet: overdue promises.
    pub overdue: u64,
}

/// Seconds since the epoch, shifted to sort as text (dates before 1970 sort first).
pub(crate) fn due_part(due: DateTime<Utc>) -> String {
    format!("{:020}", (due.timestamp() as i128 + (1i128 << 62)) as u128)
}

fn due_key(d: &ArmedDeadline) -> Vec<u8> {
    format!("d/{}/{}/{}", due_part(d.due), d.case_id, d.kind).into_bytes()
}

fn armed_key(case: CaseId, kind: DeadlineKind) -> Vec<u8> {
    format!("a/{case}/{}", kind).into_bytes()
}

fn missed_key(case: CaseId, kind: DeadlineKind) -> Vec<u8> {
    format!("m/{case}/{}", kind).into_bytes()
}

const COUNTS: &[u8] = b"n";

/// Builds the timer index.
pub struct TimersProjection;

impl Projection<Event> for TimersProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        // 2: due times held compact.
        2
    }

    fn accepts(&self, event: &RecordedEvent) -> bool {
        in_categories(event, &["case"]) && event.event_type.starts_with("Deadline")
    }

    fn apply(&self, stored: &RecordedEvent, event: &Event, model: &mut ModelTx<'_>) -> Result<()> {
        let Event::Case(ev) = event else {
            return Ok(());
        };
        let case_id = CaseId::from_uuid(stream_uuid(stored)?);
        let mut counts: TimerCounts = model.get(COUNTS)?.unwrap_or_default();
        let disarm = |model: &mut ModelTx<'_>, kind, counts: &mut TimerCounts| -> Result<()> {
            if let Some(d) = model.get::<ArmedDeadline>(&armed_key(case_id, kind))? {
                model.remove(&due_key(&d))?;
                model.remove(&armed_key(case_id, kind))?;
                counts.armed = counts.armed.saturating_sub(1);
            }
            Ok(())
        };
        match ev {
            CaseEvent::DeadlineArmed(a) => {
                disarm(model, a.kind, &mut counts)?;
                let d = ArmedDeadline {
                    case_id,
                    kind: a.kind,
                    due: a.due,
                };
                model.put(&due_key(&d), d)?;
                model.put(&armed_key(case_id, a.kind), d)?;
                counts.armed += 1;
            }
            CaseEvent::DeadlineMissed(m) => {
                disarm(model, m.kind, &mut counts)?;
                model.put(&missed_key(case_id, m.kind), m.due)?;
                counts.fired += 1;
                counts.overdue += 1;
            }
            CaseEvent::DeadlineSatisfied(s) => {
                disarm(model, s.kind, &mut counts)?;
                let missed = |m: &mut Option<DateTime<Utc>>| m.take().is_some();
                if model.update(&missed_key(case_id, s.kind), missed)? {
                    counts.overdue = counts.overdue.saturating_sub(1);
                }
            }
            _ => return Ok(()),
        }
        model.put(COUNTS, counts)
    }
}

/// Queries over the timer index.
#[derive(Clone)]
pub struct Timers {
    reader: ModelReader,
}

impl Timers {
    /// Queries over a reader of the `timers` projection.
    pub fn new(reader: ModelReader) -> Self {
        Timers { reader }
    }

    /// The armed deadlines due at `now` or before, earliest first, at most `limit`:
    /// a range read of the index, whatever the number armed.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ArmedDeadline>> {
        let end = format!("d/{}/", due_part(now + chrono::Duration::seconds(1)));
        Ok(self
            .reader
            .range::<ArmedDeadline>(b"d/", end.as_bytes())?
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| d.due <= now)
            .take(limit)
            .collect())
    }

    /// Armed, fired and overdue counts.
    pub fn counts(&self) -> Result<TimerCounts> {
        Ok(self.reader.get(COUNTS)?.unwrap_or_default())
    }
}
