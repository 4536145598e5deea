//! The runtime's long-lived threads: readers that read and decode chunks ahead, and one
//! worker per model that applies large chunks and persists its model.

use std::collections::HashMap;
use std::sync::{mpsc, Arc};

use super::chunk::{Chunk, Prepared};
use super::Inner;
use crate::error::Result;

/// A chunk of the log being read by a reader while the one before is applied.
pub(super) type Ahead<E> = (u64, mpsc::Receiver<Result<Prepared<E>>>);

/// What a reader thread is asked to do.
enum ReaderJob<E> {
    Read {
        from: u64,
        limit: usize,
        reply: mpsc::SyncSender<Result<Prepared<E>>>,
    },
    /// A chunk every model is done with.
    Drop(Arc<Prepared<E>>),
}

/// How many reader threads read chunks ahead, taking turns.
const READERS: usize = 2;

/// Long-lived threads, each with a queue of its own, joined when dropped: a
/// stopped runtime has let go of its store and model database.
struct Threads<J> {
    queues: Vec<Option<mpsc::Sender<J>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl<J: Send + 'static> Threads<J> {
    /// `n` threads; thread `i` runs `work(i, job)` for each job sent to it. A
    /// thread that cannot start is left out: its jobs are given back.
    fn start(n: usize, name: &str, work: impl Fn(usize, J) + Send + Sync + 'static) -> Self {
        let work = Arc::new(work);
        let mut pool = Threads {
            queues: Vec::with_capacity(n),
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let (tx, rx) = mpsc::channel::<J>();
            let work = work.clone();
            let spawned = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || rx.iter().for_each(|job| work(i, job)));
            match spawned {
                Ok(thread) => {
                    pool.queues.push(Some(tx));
                    pool.threads.push(thread);
                }
                Err(e) => {
                    tracing::warn!(error = %e, thread = name, "cannot start a projection thread; its work is done inline");
                    pool.queues.push(None);
                }
            }
        }
        pool
    }

    /// Sends a job to thread `i`, or gives it back if there is no such thread.
    fn send(&self, i: usize, job: J) -> std::result::Result<(), J> {
        match self.queues.get(i) {
            Some(Some(tx)) => tx.send(job).map_err(|mpsc::SendError(job)| job),
            _ => Err(job),
        }
    }
}

impl<J> Drop for Threads<J> {
    fn drop(&mut self) {
        // Closing the queues ends the threads.
        self.queues.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The threads that read and decode chunks ahead of the one being applied, in
/// turn, and free them once applied: each chunk's many small allocations
/// (events, their strings and payloads, the decoded events) are made and
/// freed on one thread, the store's blocking read included. glibc's allocator
/// is at its slowest when one thread frees what another allocated, and the
/// chunks are most of a rebuild's allocations.
pub(super) struct Readers<E> {
    threads: Threads<ReaderJob<E>>,
    next: std::cell::Cell<usize>,
}

impl<E: Send + Sync + 'static> Readers<E> {
    pub(super) fn start(inner: &Arc<Inner<E>>, rt: &tokio::runtime::Handle) -> Readers<E> {
        let (inner, rt) = (inner.clone(), rt.clone());
        let threads = Threads::start(READERS, "ecoute-pj-read", move |i, job| match job {
            ReaderJob::Read { from, limit, reply } => {
                // A reply nobody waits for any more (the start moved) is freed here.
                let _ = reply.send(inner.read_chunk(&rt, from, limit, i));
            }
            ReaderJob::Drop(chunk) => drop(chunk),
        });
        Readers {
            threads,
            next: std::cell::Cell::new(0),
        }
    }

    /// Asks for the chunk of `limit` events from `from`.
    pub(super) fn read(
        &self,
        inner: &Inner<E>,
        rt: &tokio::runtime::Handle,
        from: u64,
        limit: usize,
    ) -> Ahead<E> {
        let (reply, rx) = mpsc::sync_channel(1);
        let i = self.next.get();
        self.next.set((i + 1) % READERS);
        // No reader thread to take it: read here.
        if let Err(ReaderJob::Read { reply, .. }) =
            self.threads.send(i, ReaderJob::Read { from, limit, reply })
        {
            let _ = reply.send(inner.read_chunk(rt, from, limit, usize::MAX));
        }
        (from, rx)
    }

    /// Hands back a chunk every model is done with, to be freed where it was
    /// made (here, if it was read here).
    pub(super) fn done(&self, chunk: Arc<Prepared<E>>) {
        let _ = self.threads.send(chunk.reader, ReaderJob::Drop(chunk));
    }
}

/// Long-lived threads, one per projection, that apply large chunks to the live
/// models beside each other. Threads started per chunk cost their start and,
/// worse, a fresh allocator heap each time, with a model's entries allocated
/// on one short-lived thread and freed on another; here a model's entries are
/// made and dropped on its own thread.
pub(super) struct Workers<E> {
    threads: Threads<Arc<Prepared<E>>>,
    /// The first position of each chunk a worker is done with.
    done: mpsc::Receiver<u64>,
    /// Workers done with a chunk the runtime has not waited for yet.
    finished: std::cell::RefCell<HashMap<u64, usize>>,
    in_flight: std::cell::RefCell<Option<InFlight<E>>>,
}

/// The chunk being applied while the next one is handed out: its first
/// position, and how many workers took it.
type InFlight<E> = (Arc<Prepared<E>>, u64, usize);

impl<E: Send + Sync + 'static> Workers<E> {
    pub(super) fn start(inner: &Arc<Inner<E>>) -> Workers<E> {
        let (done_tx, done) = mpsc::channel();
        let inner = inner.clone();
        let n = inner.slots.len();
        let threads = Threads::start(
            n,
            "ecoute-pj-model",
            move |i, prepared: Arc<Prepared<E>>| {
                let slot = &inner.slots[i];
                inner.apply_live(slot, &Chunk::new(&prepared, &inner.decode));
                let start = prepared.events.first().map_or(0, |e| e.position);
                drop(prepared);
                // Its own model's write, here: beside the other models' work,
                // not between chunks on the runtime's thread.
                inner.persist_slot(slot, false);
                let _ = done_tx.send(start);
            },
        );
        Workers {
            threads,
            done,
            finished: Default::default(),
            in_flight: Default::default(),
        }
    }

    /// Where the next chunk starts while one is being applied.
    pub(super) fn next_start(&self) -> Option<u64> {
        self.in_flight
            .borrow()
            .as_ref()
            .and_then(|(chunk, _, _)| chunk.events.last().map(|e| e.position + 1))
    }

    /// Hands a chunk to the live slots, each on its thread, then waits for the
    /// chunk before it: a model's worker goes on to this chunk as soon as it is
    /// done with the last, while the slower models finish theirs (each worker
    /// takes its chunks in order).
    pub(super) fn apply(
        &self,
        inner: &Inner<E>,
        live: &[usize],
        prepared: Arc<Prepared<E>>,
        reader: &Readers<E>,
    ) {
        let start = prepared.events.first().map_or(0, |e| e.position);
        let mut sent = 0;
        for &i in live {
            match self.threads.send(i, prepared.clone()) {
                Ok(()) => sent += 1,
                // No thread for this slot: its chunks are all applied here, in order.
                Err(_) => inner.apply_live(&inner.slots[i], &Chunk::new(&prepared, &inner.decode)),
            }
        }
        self.finish(reader);
        *self.in_flight.borrow_mut() = Some((prepared, start, sent));
    }

    /// Waits for the chunk being applied, if any, and frees it.
    pub(super) fn finish(&self, reader: &Readers<E>) {
        let Some((chunk, start, sent)) = self.in_flight.borrow_mut().take() else {
            return;
        };
        let mut finished = self.finished.borrow_mut();
        while finished.get(&start).copied().unwrap_or(0) < sent {
            // A worker only goes away with its queue: this cannot fail while we hold them.
            match self.done.recv() {
                Ok(s) => *finished.entry(s).or_default() += 1,
                Err(_) => break,
            }
        }
        finished.remove(&start);
        reader.done(chunk);
    }
}
