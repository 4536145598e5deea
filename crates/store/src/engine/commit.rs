//! The committer: plans a group of commits (positions, chain, idempotency), applies it, hands it on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::flush::{
    fail_replies, refusal, refuse_replies, send_replies, Completion, FlushJob, Flusher, Reply,
    FLUSH_QUEUE,
};
use super::recovery::Recovered;
use super::rules::{check_expected, validate_commit};
use super::{state_of, Durability, Request, Shared, DELETED_EVENT_TYPE, TOMBSTONED_EVENT_TYPE};
use crate::backend::Kv;
use crate::clock::Clock;
use crate::error::{Failure, Result, StoreError};
use crate::headfile::HeadFile;
use crate::index::{Added, Deletion, StreamRecord};
use crate::record::{self, DeletionPayload, NewRecord, HASH_LEN};
use crate::types::*;

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
            let why = format!("cannot start the flusher thread: {e}");
            shared.fail(Failure::caused(why, Arc::new(e)));
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
    // Closed, the queue takes nothing new; but a writer may have taken its
    // place in it (a permit) just before, and put its request there only
    // now. `recv` after `close` waits for those and ends once no place is
    // held; `try_recv` would stop at an empty queue, and such a request,
    // left in a queue nobody reads, would never be answered.
    rx.close();
    while let Some(r) = rx.blocking_recv() {
        let err = || shared.failed().unwrap_or(StoreError::Closed);
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

    /// Plans and applies the requests, in groups of at most the backend's
    /// [`Kv::max_group_bytes`], and hands each to the flusher; returns false if
    /// the store failed (the requests not reached are refused).
    fn process(&mut self, requests: Vec<Request>, queue_empty: &dyn Fn() -> bool) -> bool {
        let cap = self.shared.kv.max_group_bytes();
        let mut group = Vec::new();
        let mut weight = 0usize;
        let mut rest = requests.into_iter();
        while let Some(r) = rest.next() {
            let w = request_weight(&r);
            if !group.is_empty() && weight.saturating_add(w) > cap {
                // More follows: never flush inline, hand over.
                if !self.process_group(std::mem::take(&mut group), &|| false) {
                    let e = self.shared.failed().unwrap_or(StoreError::Closed);
                    refuse_all(std::iter::once(r).chain(rest), &e);
                    return false;
                }
                weight = 0;
            }
            weight = weight.saturating_add(w);
            group.push(r);
        }
        self.process_group(group, queue_empty)
    }

    /// Plans and applies one group, then hands it to the flusher; returns false
    /// if the store failed.
    /// `queue_empty` is asked once the group is applied: whether anyone queued
    /// meanwhile decides between flushing here and handing over to the flusher.
    fn process_group(&mut self, requests: Vec<Request>, queue_empty: &dyn Fn() -> bool) -> bool {
        let now = self.clock.now().timestamp_micros().max(self.last_micros);
        let (base, chain) = (self.next, self.chain);
        let mut pending = Pending {
            base,
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
        if let Some(f) = self.shared.failed() {
            // Nothing of this group reached the backend: a plain refusal.
            refuse_replies(&mut replies, &f);
            send_replies(replies);
            return false;
        }
        let wrote = !pending.records.is_empty();
        if wrote {
            match self.apply(pending) {
                Ok(()) => self.last_micros = now,
                Err(StoreError::InvalidRequest(why)) => {
                    // Refused before anything was written (a frame too large
                    // for the journal): the group is undone, the store goes on.
                    (self.next, self.chain) = (base, chain);
                    self.shared.pending.store(base, Ordering::Release);
                    refuse_replies(&mut replies, &StoreError::InvalidRequest(why));
                    send_replies(replies);
                    return true;
                }
                Err(e) => {
                    let e = Arc::new(e);
                    tracing::error!(error = %e, "commit failed; the store refuses writes until reopened");
                    self.shared.fail(Failure::from_error(e.clone()));
                    fail_replies(&mut replies, &e);
                    send_replies(replies);
                    return false;
                }
            }
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
            self.completion.in_flight.fetch_sub(1, Ordering::AcqRel);
            let e = Arc::new(StoreError::failed("the flusher stopped"));
            self.shared.fail(Failure::reason("the flusher stopped"));
            let mut replies = job.replies;
            fail_replies(&mut replies, &e);
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

/// Bytes a request adds to a group, at most: what its records hold, and room
/// for the fixed fields of each.
fn request_weight(r: &Request) -> usize {
    const PER_EVENT: usize = 320;
    match r {
        Request::Commit(c, _) => c
            .appends
            .iter()
            .map(|a| {
                a.events
                    .iter()
                    .map(|e| {
                        PER_EVENT
                            + a.stream.as_str().len()
                            + e.event_type.len()
                            + e.payload.len()
                            + e.metadata.actor.as_ref().map_or(0, String::len)
                            + e.metadata
                                .extra
                                .iter()
                                .map(|(k, v)| 20 + k.len() + v.len())
                                .sum::<usize>()
                    })
                    .sum::<usize>()
            })
            .sum(),
        Request::Delete(stream, ..) => 2 * PER_EVENT + stream.as_str().len(),
        Request::Shutdown => 0,
    }
}

/// Answers requests never planned with `e`.
fn refuse_all(requests: impl Iterator<Item = Request>, e: &StoreError) {
    for r in requests {
        match r {
            Request::Commit(_, tx) => drop(tx.send(Err(refusal(e)))),
            Request::Delete(_, _, _, tx) => drop(tx.send(Err(refusal(e)))),
            Request::Shutdown => {}
        }
    }
}
