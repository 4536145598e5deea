//! The engine: one committer thread that positions, batches and flushes
//! commits, and the readers that see only what the committer made durable.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::backend::Kv;
use crate::clock::Clock;
use crate::error::{ActualVersion, Result, StoreError};
use crate::headfile::{HeadFile, HeadNote};
use crate::index::{Added, Deletion, Index, StreamRecord, HOLE};
use crate::record::{self, DeletionPayload, NewRecord, HASH_LEN};
use crate::types::*;

/// Most events one commit may hold.
pub const MAX_COMMIT_EVENTS: usize = 10_000;
/// Most payload and metadata bytes one commit may hold.
pub const MAX_COMMIT_BYTES: usize = 16 << 20;

/// Event type of the record a soft delete writes to the `$$stream`.
pub const DELETED_EVENT_TYPE: &str = "$deleted";
/// Event type of the record a tombstone writes to the `$$stream`.
pub const TOMBSTONED_EVENT_TYPE: &str = "$tombstoned";

/// Whether the committer flushes before acknowledging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flush to disk before every acknowledgement (one flush per group of commits). The default.
    Flush,
    /// UNSAFE: acknowledge without flushing; a crash may lose acknowledged commits.
    /// Only for tests and benchmarks.
    UnsafeNoFlush,
}

pub(crate) enum Request {
    Commit(Commit, oneshot::Sender<Result<CommitResult>>),
    Delete(
        StreamId,
        ExpectedVersion,
        DeleteMode,
        oneshot::Sender<Result<DeleteResult>>,
    ),
    Shutdown,
}

/// State shared by the committer and the readers.
pub(crate) struct Shared<K: Kv> {
    pub(crate) kv: K,
    /// Number of events visible to readers: positions below it are durable and final.
    visible: AtomicU64,
    /// End of the positions the committer has planned: a record that names a
    /// position between `visible` and this is in flight; beyond it, it is damage.
    pending: AtomicU64,
    /// What the head file said on open, checked again by `verify`.
    head_note: Option<HeadNote>,
    /// Ids, streams and categories: derived from the log, kept by the committer.
    index: RwLock<Index>,
    /// Moves with the visible head; taken away when the store closes, which
    /// ends subscriptions and waits.
    head_tx: Mutex<Option<watch::Sender<u64>>>,
    head_rx: watch::Receiver<u64>,
    failure: Mutex<Option<String>>,
}

/// A read that must wait until a position becomes visible, then be retried.
pub(crate) enum Visible<T> {
    Ready(T),
    WaitFor(u64),
}

impl<K: Kv> Shared<K> {
    pub(crate) fn new(kv: K, visible: u64, head_note: Option<HeadNote>, index: Index) -> Self {
        let (head_tx, head_rx) = watch::channel(visible);
        Shared {
            kv,
            visible: AtomicU64::new(visible),
            pending: AtomicU64::new(visible),
            head_note,
            index: RwLock::new(index),
            head_tx: Mutex::new(Some(head_tx)),
            head_rx,
            failure: Mutex::new(None),
        }
    }

    pub(crate) fn visible(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }

    pub(crate) fn watch_head(&self) -> watch::Receiver<u64> {
        self.head_rx.clone()
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    fn with_head(&self, f: impl FnOnce(&watch::Sender<u64>)) {
        if let Some(tx) = self
            .head_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            f(tx);
        }
    }

    /// Ends every subscription and wait: the head will not move again.
    pub(crate) fn close_head(&self) {
        self.head_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    pub(crate) fn fail(&self, why: String) {
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(why);
        }
        // Wake readers waiting for a position that will now never become visible.
        self.with_head(|tx| tx.send_modify(|_| {}));
    }

    fn publish(&self, visible: u64) {
        self.visible.store(visible, Ordering::Release);
        self.with_head(|tx| {
            tx.send_replace(visible);
        });
    }

    /// Waits until `position` is visible, or fails if the store failed or closed.
    pub(crate) async fn wait_visible(&self, position: u64) -> Result<()> {
        let mut rx = self.head_rx.clone();
        let outcome = rx
            .wait_for(|&v| v > position || self.failure().is_some())
            .await
            .map(|v| *v > position);
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => Err(StoreError::Failed(self.failure().unwrap_or_default())),
            Err(_) => Err(StoreError::Closed),
        }
    }

    fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn index_mut(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    fn load_stream(&self, stream: &str) -> Option<StreamRecord> {
        self.index().stream(stream).map(|s| s.record())
    }

    fn load_event(&self, position: u64) -> Result<RecordedEvent> {
        match self.kv.get(&record::event_key(position))? {
            Some(bytes) => record::decode_record(position, &bytes),
            None => Err(StoreError::Corrupt {
                position,
                reason: "record missing".into(),
            }),
        }
    }

    /// Reads an event through an index entry and checks that it is the one the index names.
    fn load_indexed(&self, position: u64, stream: &str, version: u64) -> Result<RecordedEvent> {
        let ev = self.load_event(position)?;
        if ev.stream_id.as_str() != stream || ev.version != version {
            return Err(StoreError::Corrupt {
                position,
                reason: format!(
                    "index points to an event of {}@{}",
                    ev.stream_id, ev.version
                ),
            });
        }
        Ok(ev)
    }

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

    /// Walks the whole visible log: checksums, positions, commit ranges, the hash
    /// chain and the head file's note; then checks that the in-memory indexes
    /// agree with an index built afresh from the records walked.
    pub(crate) fn verify(&self, mut progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
        const CHUNK: u64 = 4096;
        let end = self.visible();
        let mut report = VerifyReport {
            records_checked: 0,
            chain_head: record::GENESIS,
            first_fault: None,
        };
        let mut prev_commit: Option<CommitRange> = None;
        let mut fresh = Index::default();
        let mut next = 0u64;
        while next < end && report.first_fault.is_none() {
            let stop = next.saturating_add(CHUNK).min(end);
            let mut expected = next;
            let mut chain = report.chain_head;
            let mut fault: Option<(u64, String)> = None;
            self.kv.scan(
                &record::event_key(next),
                &record::event_key(stop),
                false,
                &mut |key, value| {
                    let position = record::key_suffix_u64(key).unwrap_or(u64::MAX);
                    if position != expected {
                        fault = Some((expected, "record missing".into()));
                        return Ok(false);
                    }
                    let (ev, c) = match record::open_record(position, value) {
                        Ok(x) => x,
                        Err(StoreError::Corrupt { position, reason }) => {
                            fault = Some((position, reason));
                            return Ok(false);
                        }
                        Err(e) => return Err(e),
                    };
                    if record::chain_hash(&chain, c.format_and_body) != c.hash {
                        fault = Some((position, "hash chain broken".into()));
                        return Ok(false);
                    }
                    let commit_ok = match prev_commit {
                        None => ev.commit.first == 0,
                        Some(prev) if position == ev.commit.first => prev.last + 1 == position,
                        Some(prev) => prev == ev.commit,
                    };
                    if !commit_ok {
                        fault = Some((
                            position,
                            "commit range does not follow the previous record".into(),
                        ));
                        return Ok(false);
                    }
                    if let Some(note) = self.head_note.filter(|n| n.count == position + 1) {
                        if note.hash != c.hash {
                            fault = Some((
                                position,
                                "the record differs from the one the head file recorded".into(),
                            ));
                            return Ok(false);
                        }
                    }
                    chain = c.hash;
                    prev_commit = Some(ev.commit);
                    fresh.observe(&ev);
                    report.records_checked += 1;
                    expected += 1;
                    Ok(true)
                },
            )?;
            report.chain_head = chain;
            if fault.is_none() && expected != stop {
                fault = Some((expected, "record missing".into()));
            }
            report.first_fault = fault;
            next = stop;
            progress(next, end);
        }
        if report.first_fault.is_none() {
            if let Some(c) = prev_commit {
                if c.last != end - 1 {
                    report.first_fault = Some((end - 1, "last commit is incomplete".into()));
                }
            }
        }
        if report.first_fault.is_none() {
            if let Some(note) = self.head_note.filter(|n| n.count > end) {
                report.first_fault = Some((
                    end,
                    format!(
                        "the log ends at {end} but the head file recorded {} durable events",
                        note.count
                    ),
                ));
            }
        }
        if report.first_fault.is_none() {
            if let Err(why) = self.index().agrees_below(&fresh, end) {
                report.first_fault = Some((end, why));
            }
        }
        Ok(report)
    }
}

pub(crate) fn state_of(rec: Option<&StreamRecord>) -> StreamState {
    match rec {
        None => StreamState::Absent,
        Some(r) => match (r.deletion, r.last_version) {
            (Deletion::Tombstone, _) => StreamState::Tombstoned,
            (Deletion::Soft, last) => StreamState::SoftDeleted { last_version: last },
            (Deletion::None, Some(last)) => StreamState::Active { last_version: last },
            (Deletion::None, None) => StreamState::Absent,
        },
    }
}

/// Checks an expected version against a stream's stored record.
pub(crate) fn check_expected(
    stream: &StreamId,
    rec: Option<&StreamRecord>,
    expected: ExpectedVersion,
) -> Result<()> {
    let actual = match state_of(rec) {
        StreamState::Tombstoned => return Err(StoreError::StreamDeleted(stream.to_string())),
        StreamState::Absent => ActualVersion::Absent,
        StreamState::Active { last_version } => ActualVersion::Revision(last_version),
        StreamState::SoftDeleted { last_version } => ActualVersion::SoftDeleted(last_version),
    };
    let ok = match (expected, actual) {
        (ExpectedVersion::Any, _) => true,
        (ExpectedVersion::NoStream, ActualVersion::Revision(_)) => false,
        (ExpectedVersion::NoStream, _) => true,
        (ExpectedVersion::StreamExists, ActualVersion::Revision(_)) => true,
        (ExpectedVersion::StreamExists, _) => false,
        (ExpectedVersion::Exact(n), ActualVersion::Revision(v))
        | (ExpectedVersion::Exact(n), ActualVersion::SoftDeleted(Some(v))) => n == v,
        (ExpectedVersion::Exact(_), _) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(StoreError::WrongExpectedVersion {
            stream: stream.to_string(),
            expected,
            actual,
        })
    }
}

fn validate_event_type(t: &str) -> Result<()> {
    if t.is_empty()
        || t.len() > MAX_EVENT_TYPE_LEN
        || t.starts_with('$')
        || t.chars().any(char::is_control)
    {
        return Err(StoreError::InvalidRequest(format!(
            "event type {t:?} must be 1 to {MAX_EVENT_TYPE_LEN} bytes, without control characters, and not start with $"
        )));
    }
    Ok(())
}

fn validate_commit(commit: &Commit) -> Result<()> {
    let invalid = |m: String| Err(StoreError::InvalidRequest(m));
    if commit.appends.is_empty() {
        return invalid("a commit needs at least one stream".into());
    }
    let mut streams = HashSet::new();
    let mut ids = HashSet::new();
    let mut count = 0usize;
    let mut bytes = 0usize;
    for a in &commit.appends {
        if a.stream.is_system() {
            return invalid(format!("stream {} is reserved for the store", a.stream));
        }
        if !streams.insert(a.stream.as_str()) {
            return invalid(format!("stream {} appears twice in one commit", a.stream));
        }
        if a.events.is_empty() {
            return invalid(format!("no events for stream {}", a.stream));
        }
        for e in &a.events {
            validate_event_type(&e.event_type)?;
            if !ids.insert(e.id) {
                return invalid(format!("event id {} appears twice in one commit", e.id));
            }
            count += 1;
            bytes += e.payload.len()
                + e.event_type.len()
                + e.metadata.actor.as_ref().map_or(0, String::len)
                + e.metadata
                    .extra
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>();
        }
    }
    if count > MAX_COMMIT_EVENTS {
        return invalid(format!(
            "{count} events in one commit; at most {MAX_COMMIT_EVENTS}"
        ));
    }
    if bytes > MAX_COMMIT_BYTES {
        return invalid(format!(
            "{bytes} bytes in one commit; at most {MAX_COMMIT_BYTES}"
        ));
    }
    Ok(())
}

/// What one group commit accumulates before it is applied and flushed.
#[derive(Default)]
struct Pending {
    /// First position of this group.
    base: u64,
    /// Encoded event records, for positions `base..`.
    records: Vec<Vec<u8>>,
    /// The events added, for the in-memory indexes.
    added: Vec<Added>,
    streams: HashMap<String, StreamRecord>,
    ids: HashMap<Uuid, u64>,
}

/// One writer: positions, chains, batches and flushes every commit.
///
/// It sits behind a mutex: the committer thread takes it for each group it
/// gathered from the queue, and an appending task may take it too, when the
/// queue is empty and nothing is in flight, to commit and flush its own commit
/// at once (see [`Committer::try_commit_now`]). Either way one holder at a time
/// assigns positions, so they stay gapless and in commit order.
pub(crate) struct Committer<K: Kv> {
    shared: Arc<Shared<K>>,
    clock: Arc<dyn Clock>,
    max_batch: usize,
    next: u64,
    chain: [u8; HASH_LEN],
    last_micros: i64,
    completion: Arc<Completion<K>>,
    /// The flusher's queue, while the committer thread runs: `None` before it
    /// starts and once it stopped, when nothing may be committed here.
    flusher: Option<std::sync::mpsc::SyncSender<FlushJob>>,
}

enum Reply {
    Commit(oneshot::Sender<Result<CommitResult>>, Result<CommitResult>),
    Delete(oneshot::Sender<Result<DeleteResult>>, Result<DeleteResult>),
}

/// The committer's starting point, recovered from the log.
pub(crate) struct Recovered {
    pub next: u64,
    pub chain: [u8; HASH_LEN],
    pub last_micros: i64,
    /// Damage that forbids writing: the store opens for reading and `verify` only.
    pub fault: Option<String>,
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
                    rec.fault = Some(format!("record {expected} is missing"));
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
                        rec.fault = Some(e.to_string());
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
                rec.fault.get_or_insert(format!(
                    "the last commit is incomplete: it ends at {} but the log at {position}",
                    ev.commit.last
                ));
            }
            rec.chain = hash;
            rec.last_micros = ev.recorded_at.timestamp_micros();
        }
        _ if expected > 0 => {
            rec.fault
                .get_or_insert(format!("the last record, at {}, is damaged", expected - 1));
        }
        _ => {}
    }
    if let (None, Some(note)) = (&rec.fault, note) {
        if rec.next < note.count {
            rec.fault = Some(format!(
                "the log holds {} events but the head file recorded {} durable ones: its tail was lost",
                rec.next, note.count
            ));
        } else if note.count > 0 {
            let at = note.count - 1;
            let same = kv
                .get(&record::event_key(at))?
                .and_then(|b| record::check_record(at, &b).ok().map(|c| c.hash))
                == Some(note.hash);
            if !same {
                rec.fault = Some(format!(
                    "the record at {at} is not the one the head file recorded"
                ));
            }
        }
    }
    Ok(rec)
}

fn lock_core<K: Kv>(c: &Mutex<Committer<K>>) -> std::sync::MutexGuard<'_, Committer<K>> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

/// The committer thread: gathers queued requests into groups and commits them,
/// until shutdown, the last sender is dropped, or a write fails. A second
/// thread flushes groups, so that the next group is planned and applied while
/// the last is flushed.
pub(crate) fn run_committer<K: Kv>(
    core: Arc<Mutex<Committer<K>>>,
    mut rx: mpsc::Receiver<Request>,
) {
    let (to_flusher, jobs) = std::sync::mpsc::sync_channel::<FlushJob>(FLUSH_QUEUE);
    let (shared, max_batch) = {
        let mut c = lock_core(&core);
        c.flusher = Some(to_flusher);
        (c.shared.clone(), c.max_batch)
    };
    let flusher = Flusher {
        completion: lock_core(&core).completion.clone(),
    };
    let flusher = match std::thread::Builder::new()
        .name("ecoute-flusher".into())
        .spawn(move || flusher.run(jobs))
    {
        Ok(handle) => Some(handle),
        Err(e) => {
            shared.fail(format!("cannot start the flusher thread: {e}"));
            None
        }
    };
    let mut shutdown = flusher.is_none();
    while !shutdown {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut requests = Vec::with_capacity(64);
        match first {
            Request::Shutdown => break,
            r => requests.push(r),
        }
        while requests.len() < max_batch {
            match rx.try_recv() {
                Ok(Request::Shutdown) => {
                    shutdown = true;
                    break;
                }
                Ok(r) => requests.push(r),
                Err(_) => break,
            }
        }
        if !lock_core(&core).process(requests, &|| rx.is_empty()) {
            break;
        }
    }
    // No commit after this one, on this thread or any other; let the flusher
    // finish what it was given, then refuse whatever is still queued.
    {
        let mut c = lock_core(&core);
        c.flusher = None;
    }
    if let Some(handle) = flusher {
        let _ = handle.join();
    }
    rx.close();
    while let Ok(r) = rx.try_recv() {
        let err = || match shared.failure() {
            Some(f) => StoreError::Failed(f),
            None => StoreError::Closed,
        };
        match r {
            Request::Commit(_, tx) => drop(tx.send(Err(err()))),
            Request::Delete(_, _, _, tx) => drop(tx.send(Err(err()))),
            Request::Shutdown => {}
        }
    }
}

impl<K: Kv> Committer<K> {
    pub(crate) fn new(
        shared: Arc<Shared<K>>,
        clock: Arc<dyn Clock>,
        durability: Durability,
        max_batch: usize,
        recovered: Recovered,
        head_file: Option<HeadFile>,
    ) -> Self {
        Committer {
            shared: shared.clone(),
            clock,
            max_batch: max_batch.max(1),
            next: recovered.next,
            chain: recovered.chain,
            last_micros: recovered.last_micros,
            completion: Arc::new(Completion {
                shared,
                durability,
                // Only a flushed head may be noted: an unflushed one could run ahead of the disk.
                head_file: Mutex::new(head_file.filter(|_| durability == Durability::Flush)),
                in_flight: AtomicU64::new(0),
            }),
            flusher: None,
        }
    }

    /// Commits and flushes `commit` on the calling thread if nothing else is
    /// queued or in flight (a lone writer then costs no thread hand-off at
    /// all); gives it back otherwise, to go through the queue.
    pub(crate) fn try_commit_now(
        &mut self,
        commit: Commit,
        queue_empty: &dyn Fn() -> bool,
    ) -> std::result::Result<oneshot::Receiver<Result<CommitResult>>, Commit> {
        if self.flusher.is_none()
            || !queue_empty()
            || self.completion.in_flight.load(Ordering::Acquire) != 0
        {
            return Err(commit);
        }
        let (tx, rx) = oneshot::channel();
        // Answered here once flushed; or, if others queued meanwhile, by the
        // flusher, which then takes the group so that theirs can be planned.
        self.process(vec![Request::Commit(commit, tx)], queue_empty);
        Ok(rx)
    }

    /// Plans and applies one group, then hands it to the flusher; returns false
    /// if the store failed.
    /// `queue_empty` is asked once the group is applied: whether anyone queued
    /// meanwhile decides between flushing here and handing over to the flusher.
    fn process(&mut self, requests: Vec<Request>, queue_empty: &dyn Fn() -> bool) -> bool {
        let now = self.clock.now().timestamp_micros().max(self.last_micros);
        let mut pending = Pending {
            base: self.next,
            ..Pending::default()
        };
        let mut replies = Vec::with_capacity(requests.len());
        for r in requests {
            match r {
                Request::Commit(commit, tx) => {
                    let res = self.plan_commit(&mut pending, &commit, now);
                    replies.push(Reply::Commit(tx, res));
                }
                Request::Delete(stream, expected, mode, tx) => {
                    let res = self.plan_delete(&mut pending, &stream, expected, mode, now);
                    replies.push(Reply::Delete(tx, res));
                }
                Request::Shutdown => {}
            }
        }
        if let Some(f) = self.shared.failure() {
            fail_replies(&mut replies, &StoreError::Failed(f));
            send_replies(replies);
            return false;
        }
        let wrote = !pending.records.is_empty();
        if wrote {
            if let Err(e) = self.apply(pending) {
                let why = e.to_string();
                tracing::error!(error = %why, "commit failed; the store refuses writes until reopened");
                self.shared.fail(why);
                fail_replies(&mut replies, &e);
                send_replies(replies);
                return false;
            }
            self.last_micros = now;
        }
        let job = FlushJob {
            end: self.next,
            chain: self.chain,
            wrote,
            replies,
        };
        // Nothing in flight and nobody waiting: flush here rather than wake the
        // flusher (one thread hand-off less for a lone writer). Under load the
        // flusher takes it, so that the next group is planned during this flush.
        let Some(flusher) = self.flusher.as_ref() else {
            return self.completion.complete(vec![job]);
        };
        if self.completion.in_flight.load(Ordering::Acquire) == 0 && queue_empty() {
            return self.completion.complete(vec![job]);
        }
        self.completion.in_flight.fetch_add(1, Ordering::AcqRel);
        if let Err(std::sync::mpsc::SendError(job)) = flusher.send(job) {
            let mut replies = job.replies;
            fail_replies(
                &mut replies,
                &StoreError::Failed("the flusher stopped".into()),
            );
            send_replies(replies);
            return false;
        }
        true
    }

    /// Writes the group's records (one key per event) and updates the indexes.
    fn apply(&self, pending: Pending) -> Result<()> {
        let Pending {
            base,
            records,
            added,
            streams,
            ..
        } = pending;
        let writes = records
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| (record::event_key(base + i as u64).to_vec(), bytes))
            .collect();
        self.shared.pending.store(self.next, Ordering::Release);
        self.shared.kv.apply(writes)?;
        let mut index = self.shared.index_mut();
        for a in &added {
            index.add(a);
        }
        for (stream, rec) in &streams {
            index.set_state(stream, rec);
        }
        Ok(())
    }

    fn stream_record(&self, pending: &Pending, stream: &str) -> Option<StreamRecord> {
        match pending.streams.get(stream) {
            Some(r) => Some(*r),
            None => self.shared.load_stream(stream),
        }
    }

    fn event_position(&self, pending: &Pending, id: &Uuid) -> Option<u64> {
        pending
            .ids
            .get(id)
            .copied()
            .or_else(|| self.shared.index().position_of(id))
    }

    fn event_at(&self, pending: &Pending, position: u64) -> Result<RecordedEvent> {
        if position >= pending.base {
            let idx = (position - pending.base) as usize;
            if let Some(bytes) = pending.records.get(idx) {
                return record::decode_record(position, bytes);
            }
        }
        self.shared.load_event(position)
    }

    fn plan_commit(
        &mut self,
        pending: &mut Pending,
        commit: &Commit,
        now: i64,
    ) -> Result<CommitResult> {
        validate_commit(commit)?;
        // Idempotency: are the ids already stored?
        let mut found = Vec::with_capacity(commit.len());
        for a in &commit.appends {
            for e in &a.events {
                found.push((e.id, self.event_position(pending, &e.id)));
            }
        }
        let stored = found.iter().filter(|(_, p)| p.is_some()).count();
        if stored == found.len() {
            return self.replay_result(pending, commit, &found);
        }
        if let Some((id, _)) = found.iter().find(|(_, p)| p.is_some()) {
            return Err(StoreError::IdempotencyMismatch { event_id: *id });
        }
        // Expected versions, all checked before anything is positioned.
        let mut recs = Vec::with_capacity(commit.appends.len());
        for a in &commit.appends {
            let rec = self.stream_record(pending, a.stream.as_str());
            check_expected(&a.stream, rec.as_ref(), a.expected)?;
            recs.push(rec);
        }
        let first = self.next;
        let last = first + commit.len() as u64 - 1;
        let range = CommitRange { first, last };
        let mut position = first;
        let mut chain = self.chain;
        let mut records = Vec::with_capacity(commit.len());
        let mut added = Vec::with_capacity(commit.len());
        let mut streams = Vec::with_capacity(commit.appends.len());
        let mut written = Vec::with_capacity(commit.appends.len());
        for (a, rec) in commit.appends.iter().zip(recs) {
            let s = a.stream.as_str();
            let first_version = rec.and_then(|r| r.last_version).map_or(0, |v| v + 1);
            let mut version = first_version;
            for e in &a.events {
                let (bytes, hash) = record::encode_record(
                    &NewRecord {
                        position,
                        commit: range,
                        stream: s,
                        version,
                        id: e.id,
                        event_type: &e.event_type,
                        schema_version: e.schema_version,
                        recorded_at_micros: now,
                        metadata: &e.metadata,
                        payload: &e.payload,
                    },
                    &chain,
                )?;
                chain = hash;
                records.push(bytes);
                added.push(Added {
                    position,
                    id: e.id,
                    stream: s.to_owned(),
                    version,
                });
                position += 1;
                version += 1;
            }
            let last_version = version - 1;
            streams.push((
                s.to_owned(),
                StreamRecord {
                    last_version: Some(last_version),
                    truncate_before: rec.map_or(0, |r| r.truncate_before),
                    deletion: Deletion::None,
                    changed_at: position - 1,
                },
            ));
            written.push(StreamWritten {
                stream: a.stream.clone(),
                first_version,
                last_version,
            });
        }
        // Nothing failed: make it part of the group.
        for (i, e) in commit.appends.iter().flat_map(|a| &a.events).enumerate() {
            pending.ids.insert(e.id, first + i as u64);
        }
        pending.records.extend(records);
        pending.added.extend(added);
        pending.streams.extend(streams);
        self.next = position;
        self.chain = chain;
        Ok(CommitResult {
            positions: range,
            streams: written,
            duplicate: false,
        })
    }

    /// A commit whose ids are all stored: it must be the very same commit.
    fn replay_result(
        &self,
        pending: &Pending,
        commit: &Commit,
        found: &[(Uuid, Option<u64>)],
    ) -> Result<CommitResult> {
        let first = found.first().and_then(|(_, p)| *p).unwrap_or(0);
        let mut written = Vec::with_capacity(commit.appends.len());
        let mut i = 0u64;
        for a in &commit.appends {
            let mut versions = (u64::MAX, 0u64);
            for e in &a.events {
                let position = first + i;
                let mismatch = || StoreError::IdempotencyMismatch { event_id: e.id };
                if found.get(i as usize).and_then(|(_, p)| *p) != Some(position) {
                    return Err(mismatch());
                }
                let stored = self.event_at(pending, position)?;
                let same = stored.id == e.id
                    && stored.stream_id == a.stream
                    && stored.event_type == e.event_type
                    && stored.schema_version == e.schema_version
                    && stored.payload == e.payload
                    && stored.commit.first == first
                    && stored.commit.last == first + commit.len() as u64 - 1;
                if !same {
                    return Err(mismatch());
                }
                versions = (
                    versions.0.min(stored.version),
                    versions.1.max(stored.version),
                );
                i += 1;
            }
            written.push(StreamWritten {
                stream: a.stream.clone(),
                first_version: versions.0,
                last_version: versions.1,
            });
        }
        Ok(CommitResult {
            positions: CommitRange {
                first,
                last: first + i - 1,
            },
            streams: written,
            duplicate: true,
        })
    }

    fn plan_delete(
        &mut self,
        pending: &mut Pending,
        stream: &StreamId,
        expected: ExpectedVersion,
        mode: DeleteMode,
        now: i64,
    ) -> Result<DeleteResult> {
        if stream.is_system() {
            return Err(StoreError::InvalidRequest(format!(
                "stream {stream} is reserved for the store"
            )));
        }
        let rec = self.stream_record(pending, stream.as_str());
        check_expected(stream, rec.as_ref(), expected)?;
        match (state_of(rec.as_ref()), mode) {
            (StreamState::Absent, DeleteMode::Soft) => {
                return Err(StoreError::StreamNotFound(stream.to_string()))
            }
            (StreamState::SoftDeleted { .. }, DeleteMode::Soft) => {
                return Ok(DeleteResult { position: None })
            }
            _ => {}
        }
        let truncate_before = rec.and_then(|r| r.last_version).map_or(0, |v| v + 1);
        let meta = stream.metadata_stream();
        let meta_rec = self.stream_record(pending, meta.as_str());
        let meta_version = meta_rec.and_then(|r| r.last_version).map_or(0, |v| v + 1);
        let position = self.next;
        let id = Uuid::new_v4();
        let event_type = match mode {
            DeleteMode::Soft => DELETED_EVENT_TYPE,
            DeleteMode::Tombstone => TOMBSTONED_EVENT_TYPE,
        };
        let payload = record::encode_deletion(&DeletionPayload { truncate_before });
        let metadata = Metadata::default();
        let (bytes, hash) = record::encode_record(
            &NewRecord {
                position,
                commit: CommitRange {
                    first: position,
                    last: position,
                },
                stream: meta.as_str(),
                version: meta_version,
                id,
                event_type,
                schema_version: 1,
                recorded_at_micros: now,
                metadata: &metadata,
                payload: &payload,
            },
            &self.chain,
        )?;
        pending.records.push(bytes);
        pending.ids.insert(id, position);
        pending.added.push(Added {
            position,
            id,
            stream: meta.as_str().to_owned(),
            version: meta_version,
        });
        pending.streams.insert(
            meta.as_str().to_owned(),
            StreamRecord {
                last_version: Some(meta_version),
                truncate_before: 0,
                deletion: Deletion::None,
                changed_at: position,
            },
        );
        pending.streams.insert(
            stream.as_str().to_owned(),
            StreamRecord {
                last_version: rec.and_then(|r| r.last_version),
                truncate_before,
                deletion: match mode {
                    DeleteMode::Soft => Deletion::Soft,
                    DeleteMode::Tombstone => Deletion::Tombstone,
                },
                changed_at: position,
            },
        );
        self.next += 1;
        self.chain = hash;
        Ok(DeleteResult {
            position: Some(position),
        })
    }
}

/// Groups applied but not yet flushed that the flusher may hold at once.
const FLUSH_QUEUE: usize = 16;

/// A group applied to the backend, waiting for its flush and acknowledgement.
struct FlushJob {
    /// The log's length once this group is durable.
    end: u64,
    /// The chain hash of the group's last record.
    chain: [u8; HASH_LEN],
    /// Whether the group wrote anything (a group of refusals writes nothing).
    wrote: bool,
    replies: Vec<Reply>,
}

/// Flushes groups and acknowledges them: on the flusher thread, or on the
/// committer's own when nothing else is in flight.
struct Completion<K: Kv> {
    shared: Arc<Shared<K>>,
    durability: Durability,
    /// Taken only to note the head after a flush (a plain write, never synced).
    head_file: Mutex<Option<HeadFile>>,
    /// Groups handed to the flusher and not yet acknowledged.
    in_flight: AtomicU64,
}

impl<K: Kv> Completion<K> {
    /// One flush for the groups, then the head moves, the head file is noted
    /// and the commits are acknowledged. False if the flush failed: the store
    /// has failed, and the groups' commits were answered with the error.
    fn complete(&self, group: Vec<FlushJob>) -> bool {
        let wrote = group.iter().any(|j| j.wrote);
        let outcome = if wrote && self.durability == Durability::Flush {
            self.shared.kv.flush()
        } else {
            Ok(())
        };
        match outcome {
            Ok(()) => {
                let Some(&FlushJob { end, chain, .. }) = group.last() else {
                    return true;
                };
                self.shared.publish(end);
                for j in group {
                    send_replies(j.replies);
                }
                // After the answers: the note is a plain write that no answer waits for.
                if wrote {
                    self.note(end, chain);
                }
                true
            }
            Err(e) => {
                let why = e.to_string();
                tracing::error!(error = %why, "flush failed; the store refuses writes until reopened");
                self.shared.fail(why);
                for mut j in group {
                    fail_replies(&mut j.replies, &e);
                    send_replies(j.replies);
                }
                false
            }
        }
    }

    fn note(&self, count: u64, hash: [u8; HASH_LEN]) {
        let mut hf = self.head_file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hf) = hf.as_mut() {
            if let Err(e) = hf.write(&HeadNote { count, hash }) {
                tracing::warn!(error = %e, "cannot note the head in the head file");
            }
        }
    }
}

/// The second thread: one flush for every group applied since the last one.
struct Flusher<K: Kv> {
    completion: Arc<Completion<K>>,
}

impl<K: Kv> Flusher<K> {
    fn run(self, jobs: std::sync::mpsc::Receiver<FlushJob>) {
        let c = &self.completion;
        while let Ok(first) = jobs.recv() {
            let mut group = vec![first];
            while let Ok(j) = jobs.try_recv() {
                group.push(j);
            }
            let n = group.len() as u64;
            let ok = c.complete(group);
            c.in_flight.fetch_sub(n, Ordering::AcqRel);
            if !ok {
                // Refuse the groups still coming.
                let e = StoreError::Failed(c.shared.failure().unwrap_or_default());
                while let Ok(mut j) = jobs.recv() {
                    fail_replies(&mut j.replies, &e);
                    send_replies(j.replies);
                    c.in_flight.fetch_sub(1, Ordering::AcqRel);
                }
                return;
            }
        }
    }
}

/// Turns the successes of a failed group into the failure.
fn fail_replies(replies: &mut [Reply], e: &StoreError) {
    for r in replies {
        match r {
            Reply::Commit(_, res @ Ok(_)) => *res = Err(copy_error(e)),
            Reply::Delete(_, res @ Ok(_)) => *res = Err(copy_error(e)),
            _ => {}
        }
    }
}

fn send_replies(replies: Vec<Reply>) {
    for r in replies {
        match r {
            Reply::Commit(tx, res) => drop(tx.send(res)),
            Reply::Delete(tx, res) => drop(tx.send(res)),
        }
    }
}

/// The same failure, for each of the commits of a failed group.
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::DiskFull => StoreError::DiskFull,
        StoreError::Io(io) => StoreError::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => StoreError::Failed(other.to_string()),
    }
}
