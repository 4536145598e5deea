//! The in-memory indexes: event id → position, stream → positions by version,
//! category → positions, and each stream's deletion state.
//!
//! They are derived from the log: built by one scan of the records when the
//! store opens, then kept by the committer as it writes. The log on disk is
//! their persistent form — every record carries its id, stream and version — so
//! a commit writes one key per event and nothing else, and an index can never
//! disagree with the log it was built from.

use std::collections::HashMap;

use uuid::Uuid;

use crate::record;
use crate::types::RecordedEvent;
use crate::{DELETED_EVENT_TYPE, TOMBSTONED_EVENT_TYPE};

/// A position that could not be read when the index was built.
pub(crate) const HOLE: u64 = u64::MAX;
/// Most missing versions tolerated before a stream's next event (damaged records).
const MAX_HOLES: usize = 1 << 16;

/// Whether a stream is deleted, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Deletion {
    #[default]
    None,
    Soft,
    Tombstone,
}

/// The state of one stream, as the indexes keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamRecord {
    /// Version of the stream's last event, if it has one.
    pub last_version: Option<u64>,
    /// Reads hide versions below this (set by a soft delete).
    pub truncate_before: u64,
    pub deletion: Deletion,
    /// Global position of the last change to the stream; readers wait until it is visible.
    pub changed_at: u64,
}

/// What the index knows of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StreamIdx {
    /// `positions[v]` is the global position of version `v` ([`HOLE`] if unreadable).
    pub positions: Vec<u64>,
    pub truncate_before: u64,
    pub deletion: Deletion,
    /// The position of the last change to the stream (an event or a deletion).
    pub changed_at: u64,
}

impl StreamIdx {
    /// The stream's state as the committer and readers use it.
    pub fn record(&self) -> StreamRecord {
        StreamRecord {
            last_version: self.positions.len().checked_sub(1).map(|v| v as u64),
            truncate_before: self.truncate_before,
            deletion: self.deletion,
            changed_at: self.changed_at,
        }
    }
}

/// One event added to the log, as the index needs it.
pub(crate) struct Added {
    pub position: u64,
    pub id: Uuid,
    pub stream: String,
    pub version: u64,
}

/// The indexes over every event of the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Index {
    /// Positions whose records were missing or damaged when the index was built:
    /// their events are holes in the indexes.
    pub damaged: Vec<u64>,
    ids: HashMap<Uuid, u64>,
    streams: HashMap<String, StreamIdx>,
    categories: HashMap<String, Vec<u64>>,
}

fn category_of(stream: &str) -> &str {
    stream.split_once('-').map_or(stream, |(c, _)| c)
}

impl Index {
    /// The position of an event id.
    pub fn position_of(&self, id: &Uuid) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// A stream's state, if it was ever written or deleted.
    pub fn stream(&self, stream: &str) -> Option<&StreamIdx> {
        self.streams.get(stream)
    }

    /// Up to `limit` positions of a category from `from` on, below `end`.
    pub fn category_positions(
        &self,
        category: &str,
        from: u64,
        end: u64,
        limit: usize,
    ) -> Vec<u64> {
        let Some(ps) = self.categories.get(category) else {
            return Vec::new();
        };
        let start = ps.partition_point(|&p| p < from);
        ps[start..]
            .iter()
            .copied()
            .take_while(|&p| p < end)
            .take(limit)
            .collect()
    }

    /// Adds an event the committer wrote (or the open scan read).
    pub fn add(&mut self, a: &Added) {
        self.ids.insert(a.id, a.position);
        if !self.streams.contains_key(&a.stream) {
            self.streams.insert(a.stream.clone(), StreamIdx::default());
        }
        if let Some(s) = self.streams.get_mut(&a.stream) {
            let v = usize::try_from(a.version).unwrap_or(usize::MAX);
            if v < s.positions.len() {
                s.positions[v] = a.position;
            } else if v - s.positions.len() <= MAX_HOLES {
                s.positions.resize(v, HOLE);
                s.positions.push(a.position);
            } else {
                // A version far past the stream's end: damage, not a reason to allocate.
                self.damaged.push(a.position);
            }
            s.changed_at = s.changed_at.max(a.position);
        }
        let category = category_of(&a.stream);
        if !self.categories.contains_key(category) {
            self.categories.insert(category.to_owned(), Vec::new());
        }
        if let Some(ps) = self.categories.get_mut(category) {
            if ps.last().is_none_or(|&last| last < a.position) {
                ps.push(a.position);
            } else if let Err(i) = ps.binary_search(&a.position) {
                ps.insert(i, a.position);
            }
        }
    }

    /// Sets a stream's deletion state (after its events were added).
    pub fn set_state(&mut self, stream: &str, rec: &StreamRecord) {
        let s = self.streams.entry(stream.to_owned()).or_default();
        s.truncate_before = rec.truncate_before;
        s.deletion = rec.deletion;
        s.changed_at = s.changed_at.max(rec.changed_at);
    }

    /// Adds a stored event read back from the log, deletion records included.
    pub fn observe(&mut self, ev: &RecordedEvent) {
        let stream = ev.stream_id.as_str();
        self.add(&Added {
            position: ev.position,
            id: ev.id,
            stream: stream.to_owned(),
            version: ev.version,
        });
        if let Some(target) = stream.strip_prefix("$$") {
            let deletion = match ev.event_type.as_str() {
                DELETED_EVENT_TYPE => Deletion::Soft,
                TOMBSTONED_EVENT_TYPE => Deletion::Tombstone,
                _ => return,
            };
            let truncate_before =
                record::decode_deletion(&ev.payload).map_or(0, |p| p.truncate_before);
            let t = self.streams.entry(target.to_owned()).or_default();
            t.deletion = deletion;
            t.truncate_before = truncate_before;
            t.changed_at = t.changed_at.max(ev.position);
        } else {
            // An append recreates a soft-deleted stream.
            if let Some(s) = self.streams.get_mut(stream) {
                if s.deletion == Deletion::Soft {
                    s.deletion = Deletion::None;
                }
            }
        }
    }

    /// Whether this index and one built from the first `end` events agree on them.
    pub fn agrees_below(&self, fresh: &Index, end: u64) -> Result<(), String> {
        for (id, p) in &fresh.ids {
            if self.ids.get(id) != Some(p) {
                return Err(format!("the id index disagrees with the log on event {id}"));
            }
        }
        let live_ids = self.ids.values().filter(|&&p| p < end).count();
        if live_ids != fresh.ids.len() {
            return Err(format!(
                "the id index holds {live_ids} ids below {end}, the log {}",
                fresh.ids.len()
            ));
        }
        for (name, f) in &fresh.streams {
            let below = |s: &StreamIdx| {
                s.positions
                    .iter()
                    .copied()
                    .filter(|&p| p < end)
                    .collect::<Vec<_>>()
            };
            let Some(live) = self.streams.get(name) else {
                return Err(format!("the index lacks stream {name}"));
            };
            if below(live) != f.positions {
                return Err(format!("the index of stream {name} disagrees with the log"));
            }
            if live.changed_at < end
                && (live.deletion, live.truncate_before) != (f.deletion, f.truncate_before)
            {
                return Err(format!(
                    "the deletion state of stream {name} disagrees with the log"
                ));
            }
        }
        for (c, f) in &fresh.categories {
            let live: Vec<u64> = self
                .categories
                .get(c)
                .map(|ps| ps.iter().copied().filter(|&p| p < end).collect())
                .unwrap_or_default();
            if &live != f {
                return Err(format!("the index of category {c} disagrees with the log"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(position: u64, stream: &str, version: u64) -> Added {
        Added {
            position,
            id: Uuid::from_u128(u128::from(position) + 1),
            stream: stream.to_owned(),
            version,
        }
    }

    #[test]
    fn a_live_index_that_drifts_from_the_log_is_caught() {
        let mut fresh = Index::default();
        let mut live = Index::default();
        for (p, s, v) in [(0, "case-1", 0), (1, "call-1", 0), (2, "case-1", 1)] {
            fresh.add(&added(p, s, v));
            live.add(&added(p, s, v));
        }
        assert_eq!(live.agrees_below(&fresh, 3), Ok(()));
        // Entries at or past the end are ignored: a group in flight.
        live.add(&added(3, "case-1", 2));
        assert_eq!(live.agrees_below(&fresh, 3), Ok(()));
        // A wrong position for a version is found.
        let mut wrong = Index::default();
        for (p, s, v) in [(0, "case-1", 0), (1, "call-1", 0), (2, "case-1", 0)] {
            wrong.add(&added(p, s, v));
        }
        assert!(wrong.agrees_below(&fresh, 3).is_err());
        // A deletion state the log does not show is found.
        let mut deleted = Index::default();
        for (p, s, v) in [(0, "case-1", 0), (1, "call-1", 0), (2, "case-1", 1)] {
            deleted.add(&added(p, s, v));
        }
        deleted.set_state(
            "call-1",
            &StreamRecord {
                last_version: Some(0),
                truncate_before: 1,
                deletion: Deletion::Soft,
                changed_at: 1,
            },
        );
        assert!(deleted.agrees_below(&fresh, 3).is_err());
    }

    #[test]
    fn a_version_far_past_the_stream_end_is_damage_not_an_allocation() {
        let mut index = Index::default();
        index.add(&added(0, "case-1", 0));
        index.add(&added(1, "case-1", u64::MAX - 1));
        assert_eq!(index.damaged, vec![1]);
        assert_eq!(index.stream("case-1").map(|s| s.positions.len()), Some(1));
        // A small gap (a damaged record in between) leaves a hole.
        index.add(&added(2, "case-1", 3));
        assert_eq!(
            index.stream("case-1").map(|s| s.positions.clone()),
            Some(vec![0, HOLE, HOLE, 2])
        );
    }
}
