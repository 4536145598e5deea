//! Case exports for auditors, stamped with the log's chain head, and their check
//! against the log: what was exported is what is recorded, except values erased
//! since.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ecoute_domain::{CaseId, Protected};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::reads::{CaseRead, Values};
use super::{Actor, App, HistoryEntry};
use crate::error::AppError;

/// The most events an export of one case may hold (Temporal caps a history at
/// 51,200 events; a helpline case holds tens).
pub const MAX_EXPORTED_EVENTS: usize = 51_200;

/// The format name every export carries.
pub const EXPORT_FORMAT: &str = "ecoute-case-export/1";

/// Where the log stood when the export was made.
#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogStamp {
    /// The number of events in the log then.
    pub head: u64,
    /// The chain hash of the log's last event then (hex; empty for an empty log).
    pub chain_head: String,
}

/// One exported event.
#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExportedEvent {
    /// Its global position.
    pub position: u64,
    /// Its stream.
    pub stream: String,
    /// Its version in the stream.
    pub version: u64,
    /// Its type.
    pub r#type: String,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The chain hash of its record (hex).
    pub record_hash: String,
    /// Its fields, personal values opened.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A case's history, as exported for an auditor.
#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct CaseExport {
    /// `ecoute-case-export/1`.
    pub format: String,
    /// The case.
    pub case_id: Uuid,
    /// When it was exported.
    pub exported_at: DateTime<Utc>,
    /// Where the log stood.
    pub log: LogStamp,
    /// The events of the case and of its calls, in order.
    pub events: Vec<ExportedEvent>,
}

/// The verdict on an export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportCheck {
    /// Whether the export is exactly what the log holds (erasures since aside).
    pub valid: bool,
    /// How many events were checked.
    pub events_checked: usize,
    /// Whether the log's chain head at the stamped position is the one stamped.
    pub log_unaltered: bool,
    /// Personal values exported in clear and erased since (not a fault).
    pub erased_since: usize,
    /// Personal values withheld in the export (an auditor's export without the
    /// values: not a fault; the rest is checked as usual).
    pub withheld: usize,
    /// What differs, by position.
    pub faults: Vec<String>,
}

fn json(entry: &HistoryEntry) -> Result<Value, AppError> {
    serde_json::to_value(&entry.event).map_err(|e| AppError::fault("an event does not render", e))
}

/// Whether an object of an event's fields is a personal value, as it renders:
/// `{"subject": …, "value": …}`.
fn is_personal(o: &serde_json::Map<String, Value>) -> bool {
    o.len() == 2 && o.contains_key("subject") && o.contains_key("value")
}

/// Whether an exported event's fields hold a personal value in clear.
fn holds_clear(data: &Value) -> bool {
    match data {
        Value::Object(o) => {
            if is_personal(o) && o.get("value").and_then(|v| v.get("Clear")).is_some() {
                return true;
            }
            o.values().any(holds_clear)
        }
        Value::Array(a) => a.iter().any(holds_clear),
        _ => false,
    }
}

/// Compares an exported event's fields with the event as it reads now: `Some((n,
/// w))` when they are the same but for `n` personal values erased since and `w`
/// withheld in the export (a personal value renders as `{"subject": …, "value":
/// …}`; an erased one's value as [`Protected::Erased`] does, a withheld one's as
/// [`Protected::Withheld`]), `None` when anything else differs.
fn forgiven(
    now: &Value,
    exported: &Value,
    erased: &Value,
    withheld: &Value,
) -> Option<(usize, usize)> {
    if now == exported {
        return Some((0, 0));
    }
    let add = |(a, b): (usize, usize), (c, d): (usize, usize)| (a + c, b + d);
    match (now, exported) {
        (Value::Object(n), Value::Object(x)) => {
            if is_personal(n) && is_personal(x) && x.get("subject") == n.get("subject") {
                if x.get("value") == Some(withheld) {
                    return Some((0, 1));
                }
                if n.get("value") == Some(erased) {
                    return Some((1, 0));
                }
                return None;
            }
            if n.len() != x.len() {
                return None;
            }
            n.iter().try_fold((0, 0), |sum, (k, v)| {
                Some(add(sum, forgiven(v, x.get(k)?, erased, withheld)?))
            })
        }
        (Value::Array(n), Value::Array(x)) if n.len() == x.len() => {
            n.iter().zip(x).try_fold((0, 0), |sum, (a, b)| {
                Some(add(sum, forgiven(a, b, erased, withheld)?))
            })
        }
        _ => None,
    }
}

impl App {
    /// A case's history as a document, stamped with the log's chain head; the read is
    /// recorded.
    pub async fn export_case(&self, actor: &Actor, id: CaseId) -> Result<CaseExport, AppError> {
        let read = self.read_case(actor, id).await?;
        let head = ecoute_store::EventStore::head(self.store.as_ref()).await?;
        let history = self
            .history(read.case, None, read.values)
            .await?
            .ok_or(AppError::NotFound("case"))?;
        let mut events = Vec::with_capacity(history.entries.len());
        for e in history.entries.iter().filter(|e| e.stored.position < head) {
            events.push(ExportedEvent {
                position: e.stored.position,
                stream: e.stored.stream_id.to_string(),
                version: e.stored.version,
                r#type: e.stored.event_type.clone(),
                recorded_at: e.stored.recorded_at,
                record_hash: self
                    .store
                    .chain_hash(e.stored.position)?
                    .ok_or_else(|| AppError::internal("an exported event beyond the head"))?,
                data: json(e)?,
            });
        }
        let chain_head = match head {
            0 => String::new(),
            n => self.store.chain_hash(n - 1)?.unwrap_or_default(),
        };
        Ok(CaseExport {
            format: EXPORT_FORMAT.into(),
            case_id: *id.as_uuid(),
            exported_at: self.now(),
            log: LogStamp { head, chain_head },
            events,
        })
    }

    /// Checks an export of the case `read` found readable (and recorded) against the
    /// log: the chain head stamped, each event's record hash, place and fields, none
    /// missing, none twice; values erased since are counted, not faults. A reader
    /// who sees the case's values withheld checks only exports without values: an
    /// export holding a value in clear is refused, so that the check cannot confirm
    /// a guess of a value they may not read.
    pub async fn verify_export(
        &self,
        read: CaseRead,
        doc: &CaseExport,
    ) -> Result<ExportCheck, AppError> {
        if doc.format != EXPORT_FORMAT {
            return Err(AppError::bad("format", format!("expected {EXPORT_FORMAT}")));
        }
        if doc.case_id != *read.case.as_uuid() {
            return Err(AppError::bad(
                "case_id",
                "not the case this check was asked for",
            ));
        }
        if doc.events.len() > MAX_EXPORTED_EVENTS {
            return Err(AppError::bad(
                "events",
                format!("more than {MAX_EXPORTED_EVENTS} events: not an export of one case"),
            ));
        }
        let mut faults = Vec::new();
        let stamped = match doc.log.head {
            0 => Some(String::new()),
            n => self.store.chain_hash(n - 1)?,
        };
        let log_unaltered = stamped.as_deref() == Some(doc.log.chain_head.as_str());
        if !log_unaltered {
            faults.push(format!(
                "the log's chain hash at position {} is not the one stamped",
                doc.log.head.saturating_sub(1)
            ));
        }
        if read.values == Values::Withheld && doc.events.iter().any(|e| holds_clear(&e.data)) {
            return Err(AppError::bad(
                "X-Purpose",
                "this export holds personal values: check it with the purpose audit-values",
            ));
        }
        // Compared with the values open, on the server: the answer says only
        // whether they match (and a reader of withheld values sent none).
        let history = self
            .history(read.case, None, Values::Open)
            .await?
            .ok_or(AppError::NotFound("case"))?;
        let by_position: HashMap<u64, &HistoryEntry> = history
            .entries
            .iter()
            .map(|e| (e.stored.position, e))
            .collect();
        let erased = serde_json::to_value(Protected::<String>::Erased)
            .map_err(|e| AppError::fault("erasure does not render", e))?;
        let withheld = serde_json::to_value(Protected::<String>::Withheld)
            .map_err(|e| AppError::fault("withholding does not render", e))?;
        let (mut erased_count, mut withheld_count) = (0, 0);
        let mut seen = HashSet::new();
        for e in &doc.events {
            let p = e.position;
            if !seen.insert(p) {
                faults.push(format!("position {p}: exported twice"));
                continue;
            }
            let Some(now) = by_position.get(&p) else {
                faults.push(format!(
                    "position {p}: not an event of this case in the log"
                ));
                continue;
            };
            if self.store.chain_hash(p)?.as_deref() != Some(e.record_hash.as_str()) {
                faults.push(format!("position {p}: the record's hash differs"));
            }
            if now.stored.stream_id.as_str() != e.stream
                || now.stored.version != e.version
                || now.stored.event_type != e.r#type
                || now.stored.recorded_at != e.recorded_at
            {
                faults.push(format!(
                    "position {p}: stream, version, type or time differ"
                ));
            }
            match forgiven(&json(now)?, &e.data, &erased, &withheld) {
                Some((n, w)) => {
                    erased_count += n;
                    withheld_count += w;
                }
                None => faults.push(format!("position {p}: the fields differ")),
            }
        }
        let exported: HashSet<u64> = doc.events.iter().map(|e| e.position).collect();
        for p in by_position
            .keys()
            .filter(|p| **p < doc.log.head && !exported.contains(p))
        {
            faults.push(format!(
                "position {p}: an event of the case is missing from the export"
            ));
        }
        faults.sort();
        Ok(ExportCheck {
            valid: faults.is_empty(),
            events_checked: doc.events.len(),
            log_unaltered,
            erased_since: erased_count,
            withheld: withheld_count,
            faults,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::forgiven;
    use serde_json::json;

    #[test]
    fn only_values_erased_since_or_withheld_are_forgiven() {
        let (erased, withheld) = (json!("Erased"), json!("Withheld"));
        let subject = json!({"id": "s1", "whose": "Caller"});
        let clear = json!({"number": {"subject": subject, "value": {"Clear": "0611"}}, "at": 1});
        let now = json!({"number": {"subject": subject, "value": "Erased"}, "at": 1});
        let held = json!({"number": {"subject": subject, "value": "Withheld"}, "at": 1});
        let check =
            |a: &serde_json::Value, b: &serde_json::Value| forgiven(a, b, &erased, &withheld);
        // (as it reads now, as exported, expected)
        let table = [
            (clear.clone(), clear.clone(), Some((0, 0))),
            (now.clone(), clear.clone(), Some((1, 0))),
            (now.clone(), now.clone(), Some((0, 0))),
            // Withheld in an auditor's export, whatever it reads now.
            (clear.clone(), held.clone(), Some((0, 1))),
            (now.clone(), held.clone(), Some((0, 1))),
            // Withheld, but another field changed.
            (
                clear.clone(),
                json!({"number": {"subject": subject, "value": "Withheld"}, "at": 2}),
                None,
            ),
            // Withheld under another subject.
            (
                clear.clone(),
                json!({"number": {"subject": {"id": "s2", "whose": "Caller"}, "value": "Withheld"}, "at": 1}),
                None,
            ),
            // Another field changed.
            (
                now.clone(),
                json!({"number": {"subject": subject, "value": {"Clear": "0611"}}, "at": 2}),
                None,
            ),
            // Another subject's value passed off as the erased one.
            (
                now.clone(),
                json!({"number": {"subject": {"id": "s2", "whose": "Caller"}, "value": {"Clear": "0611"}}, "at": 1}),
                None,
            ),
            // A value that was clear now and differs is not an erasure.
            (
                clear.clone(),
                json!({"number": {"subject": subject, "value": {"Clear": "0699"}}, "at": 1}),
                None,
            ),
            // A field missing from the export.
            (now.clone(), json!({"at": 1}), None),
            (
                json!([now.clone(), 1]),
                json!([clear.clone(), 1]),
                Some((1, 0)),
            ),
            (json!([now.clone()]), json!([clear.clone(), 1]), None),
        ];
        for (i, (now, exported, expected)) in table.iter().enumerate() {
            assert_eq!(check(now, exported), *expected, "case {i}");
        }
    }
}
