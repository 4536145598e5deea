//! The readers: `$all`, categories, streams and ids, as of the visible head.

use std::sync::atomic::Ordering;

use uuid::Uuid;

use super::{state_of, Shared, Visible};
use crate::backend::Kv;
use crate::error::{Result, StoreError};
use crate::index::{Deletion, StreamRecord, HOLE};
use crate::record;
use crate::types::*;

impl<K: Kv> Shared<K> {
    pub(crate) fn read_all(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>> {
        let end = self.visible();
        if from >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let stop = from.saturating_add(limit as u64).min(end);
        let mut out = Vec::with_capacity((stop - from) as usize);
        let mut expected = from;
        self.kv.scan(
            &record::event_key(from),
            &record::event_key(stop),
            false,
            &mut |key, value| {
                let position = record::key_suffix_u64(key).unwrap_or(u64::MAX);
                if position != expected {
                    return Err(StoreError::Corrupt {
                        position: expected,
                        reason: "record missing".into(),
                    });
                }
                out.push(record::decode_record(position, value)?);
                expected += 1;
                Ok(true)
            },
        )?;
        if expected != stop {
            return Err(StoreError::Corrupt {
                position: expected,
                reason: "record missing".into(),
            });
        }
        Ok(out)
    }

    pub(crate) fn read_category(
        &self,
        category: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        validate_category(category)?;
        let end = self.visible();
        if from >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let positions = self.index().category_positions(category, from, end, limit);
        positions
            .into_iter()
            .map(|p| {
                let ev = self.load_event(p)?;
                if ev.stream_id.category() != category {
                    return Err(StoreError::Corrupt {
                        position: p,
                        reason: "category index points to another category".into(),
                    });
                }
                Ok(ev)
            })
            .collect()
    }

    /// The event with this id, once its commit is durable.
    pub(crate) fn event_by_id(&self, id: &Uuid) -> Result<Visible<Option<RecordedEvent>>> {
        let Some(position) = self.index().position_of(id) else {
            return Ok(Visible::Ready(None));
        };
        if position >= self.visible() {
            // Planned but not yet durable: wait for it (or for the store to fail).
            return Ok(Visible::WaitFor(position));
        }
        let ev = self.load_event(position)?;
        if ev.id != *id {
            return Err(StoreError::Corrupt {
                position,
                reason: format!("the id index names this position for event {id}"),
            });
        }
        Ok(Visible::Ready(Some(ev)))
    }

    /// The stream's record as of the visible head, or the position to wait for.
    fn visible_stream(&self, stream: &StreamId) -> Result<Visible<Option<StreamRecord>>> {
        let end = self.visible();
        let rec = self.load_stream(stream.as_str());
        match rec {
            Some(r) if r.changed_at >= end => {
                // Read after the record: a commit in flight has raised it already.
                if r.changed_at < self.pending.load(Ordering::Acquire) {
                    Ok(Visible::WaitFor(r.changed_at))
                } else {
                    Err(StoreError::Corrupt {
                        position: r.changed_at,
                        reason: format!("the record of stream {stream} names a position beyond the log's head {end}"),
                    })
                }
            }
            other => Ok(Visible::Ready(other)),
        }
    }

    pub(crate) fn stream_state(&self, stream: &StreamId) -> Result<Visible<StreamState>> {
        Ok(match self.visible_stream(stream)? {
            Visible::WaitFor(p) => Visible::WaitFor(p),
            Visible::Ready(rec) => Visible::Ready(state_of(rec.as_ref())),
        })
    }

    pub(crate) fn read_stream(
        &self,
        stream: &StreamId,
        from: ReadFrom,
        direction: Direction,
        limit: usize,
    ) -> Result<Visible<Vec<RecordedEvent>>> {
        let rec = match self.visible_stream(stream)? {
            Visible::WaitFor(p) => return Ok(Visible::WaitFor(p)),
            Visible::Ready(rec) => rec,
        };
        let (last, truncate_before) = match rec {
            None => return Err(StoreError::StreamNotFound(stream.to_string())),
            Some(r) => match (r.deletion, r.last_version) {
                (Deletion::Tombstone, _) => {
                    return Err(StoreError::StreamDeleted(stream.to_string()))
                }
                (Deletion::Soft, _) | (Deletion::None, None) => {
                    return Err(StoreError::StreamNotFound(stream.to_string()))
                }
                (Deletion::None, Some(last)) => (last, r.truncate_before),
            },
        };
        if limit == 0 {
            return Ok(Visible::Ready(Vec::new()));
        }
        let (lo, hi, reverse) = match direction {
            Direction::Forward => {
                let start = match from {
                    ReadFrom::Edge => truncate_before,
                    ReadFrom::Version(v) => v.max(truncate_before),
                };
                (start, last.saturating_add(1), false)
            }
            Direction::Backward => {
                let start = match from {
                    ReadFrom::Edge => last,
                    ReadFrom::Version(v) => v.min(last),
                };
                (truncate_before, start.saturating_add(1), true)
            }
        };
        if lo >= hi {
            return Ok(Visible::Ready(Vec::new()));
        }
        let s = stream.as_str();
        let found: Vec<(u64, u64)> = {
            let index = self.index();
            let positions = index
                .stream(s)
                .map(|x| x.positions.as_slice())
                .unwrap_or_default();
            let at = |v: u64| {
                usize::try_from(v)
                    .ok()
                    .and_then(|i| positions.get(i).copied())
            };
            let versions: Box<dyn Iterator<Item = u64>> = if reverse {
                Box::new((lo..hi).rev())
            } else {
                Box::new(lo..hi)
            };
            versions
                .take(limit)
                .map_while(|v| at(v).filter(|&p| p != HOLE).map(|p| (v, p)))
                .collect()
        };
        // Versions are gapless: a hole in the index is damage, not a shorter stream.
        let want = usize::try_from(hi - lo).unwrap_or(usize::MAX).min(limit);
        let expected = |i: usize| {
            let i = i as u64;
            if reverse {
                hi - 1 - i
            } else {
                lo + i
            }
        };
        if let Some(i) = (0..want).find(|&i| found.get(i).map(|f| f.0) != Some(expected(i))) {
            let version = expected(i);
            // The event is in a record that could not be read when the store opened.
            if let Some(&position) = self.index().damaged.first() {
                return Err(StoreError::Corrupt {
                    position,
                    reason: format!("version {version} of stream {s} is in a damaged record"),
                });
            }
            return Err(StoreError::CorruptIndex(format!(
                "stream {s} has no event at version {version}"
            )));
        }
        let events = found
            .into_iter()
            .map(|(v, p)| self.load_indexed(p, s, v))
            .collect::<Result<Vec<_>>>()?;
        Ok(Visible::Ready(events))
    }
}
