//! Following the log: the runtime thread's loop, its chunk steps for the live models,
//! and when the models are persisted.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::chunk::{Chunk, Prepared};
use super::threads::{Ahead, Readers, Workers};
use super::{lock, Inner, Slot};
use crate::error::{ProjectionError, Result};
use crate::model::Model;

/// Below this many events a chunk's projections are applied one after the
/// other: a thread per projection would cost more than it saves.
const PARALLEL_MIN: usize = 128;

/// How many chunks are read (and decoded) ahead of the one being applied.
const READ_AHEAD: usize = 2;

impl<E: Send + Sync + 'static> Inner<E> {
    pub(super) fn publish_progress(&self) {
        let min = self
            .slots
            .iter()
            .filter_map(|s| {
                let st = lock(&s.state);
                (st.failed.is_none() && !st.frozen).then_some(st.next)
            })
            .min()
            .unwrap_or(u64::MAX);
        self.progress.send_replace(min);
    }

    pub(super) fn run(self: &Arc<Self>, rt: &tokio::runtime::Handle) {
        self.check_checkpoints(rt);
        self.publish_progress();
        let mut head_rx = self.head.clone();
        let mut head_open = true;
        let mut ahead = std::collections::VecDeque::new();
        let mut persisted_once_caught_up = false;
        let workers = Workers::start(self);
        let reader = Readers::start(self, rt);
        while !self.stop.load(Ordering::SeqCst) {
            let head = *head_rx.borrow_and_update();
            let progressed = match self.step(rt, head, &mut ahead, &workers, &reader) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "projection runtime cannot read the log; retrying");
                    rt.block_on(async { tokio::time::sleep(Duration::from_secs(1)).await });
                    false
                }
            };
            // The first time everything has caught up (after a catch-up or a
            // rebuild from zero at start), persist it all before saying so: the
            // models are durable once reported ready, and the memory the writing
            // takes is spent before whoever waits for the catch-up (the server
            // hands free memory back to the kernel then).
            if !persisted_once_caught_up && self.caught_up(head) {
                self.persist_models(true);
                persisted_once_caught_up = true;
            }
            self.publish_progress();
            self.persist_models(false);
            if !progressed {
                let closed = rt.block_on(async {
                    tokio::select! {
                        // Once the store has closed its head no longer moves: wait for a stop.
                        r = head_rx.changed(), if head_open => r.is_err(),
                        _ = self.wake.notified() => false,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => false,
                    }
                });
                head_open &= !closed;
            }
        }
        workers.finish(&reader);
        drop(ahead);
        drop(reader);
        drop(workers);
        self.persist_models(true);
    }

    /// Whether every healthy live model has applied the log below `head` and no
    /// rebuild is under way.
    fn caught_up(&self, head: u64) -> bool {
        self.slots.iter().all(|s| {
            let st = lock(&s.state);
            st.rebuild.is_none() && (st.failed.is_some() || st.frozen || st.next >= head)
        })
    }

    /// Persists the models whose changes are due; `all`: every change, then
    /// made durable (after the first catch-up and when the runtime ends: a
    /// process killed after either replays nothing).
    fn persist_models(&self, all: bool) {
        for slot in &self.slots {
            self.persist_slot(slot, all);
        }
        if all {
            if let Err(e) = self.db.flush() {
                tracing::error!(error = %e, "read models not flushed");
            }
        }
    }

    /// Persists a slot's models (the live one and a rebuild's) if their changes
    /// are due, or `all` of them.
    pub(super) fn persist_slot(&self, slot: &Slot<E>, all: bool) {
        let models: Vec<Arc<Model>> = {
            let st = lock(&slot.state);
            std::iter::once(st.tree.clone())
                .chain(st.rebuild.as_ref().map(|r| r.tree.clone()))
                .collect()
        };
        for model in models {
            let due =
                all || model.persist_due(self.config.persist_bytes, self.config.persist_after);
            if due {
                if let Err(e) = model.persist() {
                    tracing::error!(projection = slot.projection.name(), error = %e, "read model not persisted; retrying later");
                }
            }
        }
    }

    /// Reads `limit` events from `from` on the calling thread and decodes those
    /// a projection accepts (on a reader thread, while the runtime applies the
    /// chunk before); `reader` frees it.
    pub(super) fn read_chunk(
        &self,
        rt: &tokio::runtime::Handle,
        from: u64,
        limit: usize,
        reader: usize,
    ) -> Result<Prepared<E>> {
        let events = self.store.read_all_blocking(rt, from, limit)?;
        let decoded = events
            .iter()
            .map(|e| {
                let cell = OnceLock::new();
                if self.slots.iter().any(|s| s.projection.accepts(e)) {
                    let _ = cell.set((self.decode)(e));
                }
                cell
            })
            .collect();
        Ok(Prepared {
            events,
            decoded,
            reader,
        })
    }

    /// The chunk from `from`: the one read ahead if it starts there, else read now.
    fn chunk_from(
        &self,
        rt: &tokio::runtime::Handle,
        from: u64,
        ahead: &mut std::collections::VecDeque<Ahead<E>>,
        reader: &Readers<E>,
    ) -> Result<Prepared<E>> {
        let pending = match ahead.pop_front() {
            Some((start, pending)) if start == from => pending,
            // A swap or a failure moved the start: what was read ahead is of no use.
            _ => {
                ahead.clear();
                reader.read(self, rt, from, self.config.chunk).1
            }
        };
        pending.recv().map_err(|_| ProjectionError::ReaderStopped)?
    }

    /// Applies a chunk to one live projection's model.
    pub(super) fn apply_live(&self, slot: &Slot<E>, chunk: &Chunk<'_, E>) {
        let mut st = lock(&slot.state);
        if st.failed.is_some() || st.frozen {
            return;
        }
        match chunk.apply(slot.projection.as_ref(), &st.tree, st.next) {
            Ok(next) => st.next = next,
            Err((position, error)) => {
                tracing::error!(projection = slot.projection.name(), position, error = %error, "projection stopped");
                st.failed = Some((position, error));
            }
        }
    }

    /// One chunk of live work and one chunk of each rebuild; true if anything moved.
    fn step(
        self: &Arc<Self>,
        rt: &tokio::runtime::Handle,
        head: u64,
        ahead: &mut std::collections::VecDeque<Ahead<E>>,
        workers: &Workers<E>,
        reader: &Readers<E>,
    ) -> Result<bool> {
        let mut progressed = false;
        // A rebuild swaps its model in between two chunks: while one is under
        // way no chunk is left in flight past a step.
        let rebuilding = self.slots.iter().any(|s| lock(&s.state).rebuild.is_some());
        if rebuilding {
            workers.finish(reader);
        }
        let live_from = self
            .slots
            .iter()
            .filter_map(|s| {
                let st = lock(&s.state);
                (st.failed.is_none() && !st.frozen).then_some(st.next)
            })
            .min()
            // The chunk in flight is not counted yet: the next one follows it.
            .map(|from| workers.next_start().unwrap_or(from));
        if let Some(from) = live_from.filter(|f| *f < head) {
            let prepared = Arc::new(self.chunk_from(rt, from, ahead, reader)?);
            // Read the next chunks, concurrently, while this one is applied:
            // positions are dense, so a full chunk's successor starts `chunk` on.
            if let Some(end) = prepared.events.last().map(|e| e.position + 1) {
                let step = self.config.chunk as u64;
                let mut start = ahead.back().map_or(end, |(s, _)| s + step);
                if ahead.front().is_some_and(|(s, _)| *s != end) {
                    ahead.clear();
                    start = end;
                }
                while ahead.len() < READ_AHEAD && start < head {
                    ahead.push_back(reader.read(self, rt, start, self.config.chunk));
                    start += step;
                }
            }
            let live: Vec<usize> = (0..self.slots.len())
                .filter(|&i| {
                    let st = lock(&self.slots[i].state);
                    st.failed.is_none() && !st.frozen
                })
                .collect();
            progressed = !prepared.events.is_empty();
            if prepared.events.len() >= PARALLEL_MIN && live.len() > 1 {
                // The models are independent: apply a large chunk to each on its thread.
                workers.apply(self, &live, prepared, reader);
            } else {
                workers.finish(reader);
                let chunk = Chunk::new(&prepared, &self.decode);
                live.iter()
                    .for_each(|&i| self.apply_live(&self.slots[i], &chunk));
                reader.done(prepared);
            }
        }
        if !progressed || rebuilding {
            // Nothing more to read, or a rebuild to step: the chunk in flight
            // is applied first.
            workers.finish(reader);
        }
        for slot in &self.slots {
            progressed |= self.rebuild_step(rt, slot, head)?;
        }
        Ok(progressed)
    }
}
