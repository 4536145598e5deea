//! Recovery: the walk of the whole log when the store opens.

use crate::backend::Kv;
use std::sync::Arc;

use crate::error::{Failure, Result};
use crate::headfile::HeadNote;
use crate::index::Index;
use crate::record::{self, HASH_LEN};
use crate::types::*;

/// The committer's starting point, recovered from the log.
pub(crate) struct Recovered {
    pub next: u64,
    pub chain: [u8; HASH_LEN],
    pub last_micros: i64,
    /// Damage that forbids writing: the store opens for reading and `verify` only.
    pub fault: Option<Failure>,
    /// The indexes, built from every record.
    pub index: Index,
    /// The first position of the last commit, when only a prefix of it is there.
    pub incomplete_tail: Option<u64>,
}

/// Reads the whole log once: builds the indexes, finds where the log ends, and
/// checks it against the head file's note. Damage does not stop the store from
/// opening; it makes it refuse writes, and says why.
pub(crate) fn recover<K: Kv>(kv: &K, note: Option<&HeadNote>) -> Result<Recovered> {
    let mut rec = Recovered {
        next: 0,
        chain: record::GENESIS,
        last_micros: i64::MIN,
        fault: None,
        index: Index::default(),
        incomplete_tail: None,
    };
    let mut last: Option<(u64, [u8; HASH_LEN], RecordedEvent)> = None;
    let mut expected = 0u64;
    kv.scan(
        &[record::PREFIX_EVENT],
        &[record::PREFIX_EVENT + 1],
        false,
        &mut |key, value| {
            let position = record::key_suffix_u64(key).unwrap_or(u64::MAX);
            if position != expected {
                rec.index
                    .damaged
                    .extend(expected..position.min(expected.saturating_add(1024)));
                if rec.fault.is_none() {
                    rec.fault = Some(Failure::reason(format!("record {expected} is missing")));
                }
            }
            expected = position.saturating_add(1);
            match record::open_record(position, value) {
                Ok((ev, checked)) => {
                    let hash = checked.hash;
                    rec.index.observe(&ev);
                    last = Some((position, hash, ev));
                }
                Err(e) => {
                    rec.index.damaged.push(position);
                    if rec.fault.is_none() {
                        rec.fault = Some(Failure::caused(e.to_string(), Arc::new(e)));
                    }
                    last = None;
                }
            }
            Ok(true)
        },
    )?;
    rec.next = expected;
    match last {
        Some((position, hash, ev)) if position + 1 == expected => {
            if ev.commit.last != position {
                rec.incomplete_tail = Some(ev.commit.first);
                rec.fault.get_or_insert_with(|| {
                    Failure::reason(format!(
                        "the last commit is incomplete: it ends at {} but the log at {position}",
                        ev.commit.last
                    ))
                });
            }
            rec.chain = hash;
            rec.last_micros = ev.recorded_at.timestamp_micros();
        }
        _ if expected > 0 => {
            rec.fault.get_or_insert_with(|| {
                Failure::reason(format!("the last record, at {}, is damaged", expected - 1))
            });
        }
        _ => {}
    }
    if let (None, Some(note)) = (&rec.fault, note) {
        if rec.next < note.count {
            rec.fault = Some(Failure::reason(format!(
                "the log holds {} events but the head file recorded {} durable ones: its tail was lost",
                rec.next, note.count
            )));
        } else if note.count > 0 {
            let at = note.count - 1;
            let same = kv
                .get(&record::event_key(at))?
                .and_then(|b| record::check_record(at, &b).ok().map(|c| c.hash))
                == Some(note.hash);
            if !same {
                rec.fault = Some(Failure::reason(format!(
                    "the record at {at} is not the one the head file recorded"
                )));
            }
        }
    }
    Ok(rec)
}
