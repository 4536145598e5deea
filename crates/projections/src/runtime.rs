//! The projection runtime: follows the log from each projection's checkpoint,
//! applies events in chunks written atomically with the checkpoint, rebuilds
//! blue/green, and reports lag. It knows no helpline event by name.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use ecoute_store::{EventStore, RecordedEvent};
use tokio::sync::{watch, Notify};

use crate::error::{ProjectionError, Result};
use crate::model::{ActiveModel, Model, ModelDb, ModelReader, ModelTx};

/// A read model built from the log.
///
/// `E` is the decoded event type, decoded once per event and shared by every
/// projection of the runtime.
pub trait Projection<E>: Send + Sync + 'static {
    /// A stable name: the model's trees and checkpoint are found by it.
    fn name(&self) -> &'static str;

    /// Bumped whenever the code changes what the model holds; the runtime then
    /// rebuilds the model from position 0 beside the old one and swaps.
    fn version(&self) -> u32;

    /// A cheap pre-filter on the stored event (its category or type): events it
    /// refuses are neither decoded nor applied for this projection.
    fn accepts(&self, event: &RecordedEvent) -> bool {
        let _ = event;
        true
    }

    /// Applies one event to the model. An error stops this projection (and only
    /// it) before the chunk that holds the event, with its position.
    fn apply(&self, event: &RecordedEvent, decoded: &E, model: &mut ModelTx<'_>) -> Result<()>;
}

/// Turns a stored event into the runtime's event type: `Ok(None)` skips it
/// (the store's own `$` records, say); `Err` is a bad event.
pub type Decoder<E> = Arc<dyn Fn(&RecordedEvent) -> Result<Option<E>, String> + Send + Sync>;

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Events read and applied per chunk (the models change at once per chunk).
    pub chunk: usize,
    /// A model's changes are persisted once they are this old...
    pub persist_after: Duration,
    /// ...or this many bytes, whichever comes first (and when the runtime stops).
    pub persist_bytes: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            chunk: 4096,
            persist_after: Duration::from_secs(2),
            persist_bytes: 8 << 20,
        }
    }
}

/// What a projection is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectionState {
    /// Applying history; reads show a model behind the log.
    CatchingUp,
    /// Following the log live.
    Live,
    /// A new model is being built beside the one serving reads.
    Rebuilding {
        /// How far the new model has got.
        checkpoint: u64,
    },
    /// Stopped on an event it could not apply; the model is as it was before it.
    Failed {
        /// The position of the event.
        position: u64,
        /// What went wrong.
        error: String,
    },
}

/// A projection's progress, for operators and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// The projection's name.
    pub name: &'static str,
    /// The version of the code that built the model serving reads.
    pub version: u32,
    /// The next position the serving model will apply.
    pub checkpoint: u64,
    /// Events behind the head of the log.
    pub lag: u64,
    /// What it is doing.
    pub state: ProjectionState,
}

struct Rebuild {
    tree: Arc<Model>,
    model: ActiveModel,
    next: u64,
}

struct SlotState {
    tree: Arc<Model>,
    model: ActiveModel,
    next: u64,
    /// Built by older code: serves reads, is not updated, awaits its rebuild.
    frozen: bool,
    failed: Option<(u64, String)>,
    rebuild: Option<Rebuild>,
}

struct Slot<E> {
    projection: Arc<dyn Projection<E>>,
    reader: ModelReader,
    state: Mutex<SlotState>,
}

struct Inner<E> {
    store: Arc<dyn EventStore>,
    db: ModelDb,
    decode: Decoder<E>,
    config: RuntimeConfig,
    slots: Vec<Slot<E>>,
    by_name: HashMap<&'static str, usize>,
    stop: AtomicBool,
    wake: Notify,
    /// The lowest checkpoint of the projections that are live and healthy.
    progress: watch::Sender<u64>,
    head: watch::Receiver<u64>,
}

/// The running projections: start with [`Runtime::start`], query with
/// [`Runtime::reader`] and [`Runtime::status`], stop with [`Runtime::stop`].
pub struct Runtime<E: Send + Sync + 'static> {
    inner: Arc<Inner<E>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<E: Send + Sync + 'static> Runtime<E> {
    /// Opens each projection's model (rebuilding those whose version changed)
    /// and starts following the log on a thread of its own.
    ///
    /// Must be called from within a tokio runtime: the runtime's thread reads
    /// the log through it.
    pub fn start(
        store: Arc<dyn EventStore>,
        db: ModelDb,
        decode: Decoder<E>,
        projections: Vec<Arc<dyn Projection<E>>>,
        config: RuntimeConfig,
    ) -> Result<Self> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| ProjectionError::Model("the runtime needs a tokio runtime".into()))?;
        let mut slots = Vec::with_capacity(projections.len());
        let mut by_name = HashMap::new();
        for p in projections {
            let name = p.name();
            if by_name.insert(name, slots.len()).is_some() {
                return Err(ProjectionError::Model(format!(
                    "two projections named {name}"
                )));
            }
            slots.push(open_slot(&db, p)?);
        }
        let head = store.watch_head();
        let (progress, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            store,
            db,
            decode,
            config,
            slots,
            by_name,
            stop: AtomicBool::new(false),
            wake: Notify::new(),
            progress,
            head,
        });
        inner.publish_progress();
        let runner = inner.clone();
        let thread = std::thread::Builder::new()
            .name("ecoute-pj-run".into())
            .spawn(move || runner.run(&handle))
            .map_err(|e| {
                ProjectionError::caused(format!("cannot start the projection thread: {e}"), e)
            })?;
        Ok(Runtime {
            inner,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Read access to a projection's model.
    pub fn reader(&self, name: &str) -> Result<ModelReader> {
        let i = self.slot_index(name)?;
        Ok(self.inner.slots[i].reader.clone())
    }

    fn slot_index(&self, name: &str) -> Result<usize> {
        self.inner
            .by_name
            .get(name)
            .copied()
            .ok_or_else(|| ProjectionError::UnknownProjection(name.to_owned()))
    }

    /// Every projection's progress.
    pub fn status(&self) -> Vec<ProjectionStatus> {
        let head = *self.inner.head.borrow();
        self.inner
            .slots
            .iter()
            .map(|s| {
                let st = lock(&s.state);
                let state = if let Some((position, error)) = &st.failed {
                    ProjectionState::Failed {
                        position: *position,
                        error: error.clone(),
                    }
                } else if let Some(rb) = &st.rebuild {
                    ProjectionState::Rebuilding {
                        checkpoint: rb.next,
                    }
                } else if st.next >= head {
                    ProjectionState::Live
                } else {
                    ProjectionState::CatchingUp
                };
                ProjectionStatus {
                    name: s.projection.name(),
                    version: st.model.version,
                    checkpoint: st.next,
                    lag: head.saturating_sub(st.next),
                    state,
                }
            })
            .collect()
    }

    /// Starts a blue/green rebuild of one projection from position 0; reads are
    /// served by the current model until the new one has caught up.
    pub fn rebuild(&self, name: &str) -> Result<()> {
        let i = self.slot_index(name)?;
        let slot = &self.inner.slots[i];
        {
            let mut st = lock(&slot.state);
            if st.rebuild.is_none() {
                let model = ActiveModel {
                    version: slot.projection.version(),
                    generation: st.model.generation + 1,
                };
                st.rebuild = Some(new_rebuild(&self.inner.db, slot.projection.name(), model)?);
            }
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Waits until every healthy, live projection has applied all events below
    /// `head` (use the store's head after a write to read your own writes).
    pub async fn wait_for(&self, head: u64) -> Result<()> {
        let mut rx = self.inner.progress.subscribe();
        rx.wait_for(|&p| p >= head)
            .await
            .map(|_| ())
            .map_err(|_| ProjectionError::Stopped)
    }

    /// Stops the runtime's thread after its current chunk and flushes the models.
    pub fn stop(&self) -> Result<()> {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
        self.inner.db.flush()
    }
}

impl<E: Send + Sync + 'static> Drop for Runtime<E> {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

fn new_rebuild(db: &ModelDb, name: &str, model: ActiveModel) -> Result<Rebuild> {
    // A rebuild interrupted by a crash left a partial tree: start it afresh.
    let tree = Arc::new(Model::fresh(db.tree(name, &model)?)?);
    Ok(Rebuild {
        tree,
        model,
        next: 0,
    })
}

fn open_slot<E: 'static>(db: &ModelDb, projection: Arc<dyn Projection<E>>) -> Result<Slot<E>> {
    let name = projection.name();
    let version = projection.version();
    let (model, rebuild) = match db.active(name)? {
        None => {
            let model = ActiveModel {
                version,
                generation: 0,
            };
            Model::fresh(db.tree(name, &model)?)?;
            db.set_active(name, &model)?;
            (model, None)
        }
        Some(model) if model.version == version => (model, None),
        Some(old) => {
            let next = ActiveModel {
                version,
                generation: old.generation + 1,
            };
            tracing::info!(
                projection = name,
                from = old.version,
                to = version,
                "projection version changed; rebuilding"
            );
            let rb = new_rebuild(db, name, next)?;
            (old, Some(rb))
        }
    };
    db.drop_stale_trees(name, &model, rebuild.as_ref().map(|r| &r.model))?;
    let tree = match Model::load(db.tree(name, &model)?) {
        Ok(tree) => tree,
        Err(e) => {
            // Derived data: a damaged model is built again from the log.
            tracing::error!(projection = name, error = %e, "read model damaged; rebuilding it from the log");
            Model::fresh(db.tree(name, &model)?)?
        }
    };
    let tree = Arc::new(tree);
    let next = tree.checkpoint();
    Ok(Slot {
        projection,
        reader: ModelReader::new(tree.clone()),
        state: Mutex::new(SlotState {
            tree,
            model,
            next,
            frozen: rebuild.is_some(),
            failed: None,
            rebuild,
        }),
    })
}

/// Below this many events a chunk's projections are applied one after the
/// other: a thread per projection would cost more than it saves.
const PARALLEL_MIN: usize = 128;

/// How many chunks are read (and decoded) ahead of the one being applied.
const READ_AHEAD: usize = 2;

/// A chunk of the log read, and decoded ahead where a projection wants it.
struct Prepared<E> {
    events: Vec<RecordedEvent>,
    decoded: Vec<OnceLock<Result<Option<E>, String>>>,
    /// The reader that made it and frees it.
    reader: usize,
}

/// A chunk of the log being read by a reader while the one before is applied.
type Ahead<E> = (u64, mpsc::Receiver<Result<Prepared<E>>>);

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
struct Readers<E> {
    threads: Threads<ReaderJob<E>>,
    next: std::cell::Cell<usize>,
}

impl<E: Send + Sync + 'static> Readers<E> {
    fn start(inner: &Arc<Inner<E>>, rt: &tokio::runtime::Handle) -> Readers<E> {
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
    fn read(
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
    fn done(&self, chunk: Arc<Prepared<E>>) {
        let _ = self.threads.send(chunk.reader, ReaderJob::Drop(chunk));
    }
}

/// Events of one chunk, each decoded at most once, when a projection needs it.
struct Chunk<'a, E> {
    events: &'a [RecordedEvent],
    decoded: &'a [OnceLock<Result<Option<E>, String>>],
    decode: &'a Decoder<E>,
}

impl<'a, E: 'static> Chunk<'a, E> {
    fn new(prepared: &'a Prepared<E>, decode: &'a Decoder<E>) -> Self {
        Chunk {
            events: &prepared.events,
            decoded: &prepared.decoded,
            decode,
        }
    }

    fn decoded(&self, i: usize) -> &Result<Option<E>, String> {
        self.decoded[i].get_or_init(|| (self.decode)(&self.events[i]))
    }

    /// Applies the chunk's events from `next` on into `tree`, then writes the
    /// changes and the new checkpoint in one batch. Returns the new checkpoint.
    fn apply(
        &self,
        projection: &dyn Projection<E>,
        tree: &Model,
        next: u64,
    ) -> Result<u64, (u64, String)> {
        let mut tx = ModelTx::new(tree);
        let mut new_next = next;
        for (i, ev) in self.events.iter().enumerate() {
            if ev.position < next {
                continue;
            }
            if projection.accepts(ev) {
                match self.decoded(i) {
                    Err(reason) => {
                        return Err((ev.position, format!("undecodable event: {reason}")))
                    }
                    Ok(None) => {}
                    Ok(Some(e)) => {
                        // A bug that panics stops this projection at this event,
                        // like an error: the chunk's changes are dropped unwritten.
                        let applied = std::panic::catch_unwind(AssertUnwindSafe(|| {
                            projection.apply(ev, e, &mut tx)
                        }));
                        match applied {
                            Ok(r) => r.map_err(|err| (ev.position, err.to_string()))?,
                            Err(panic) => {
                                return Err((
                                    ev.position,
                                    format!("the projection panicked: {}", panic_message(&*panic)),
                                ))
                            }
                        }
                    }
                }
            }
            new_next = ev.position + 1;
        }
        if new_next == next && tx.is_empty() {
            return Ok(next);
        }
        tx.commit(new_next).map_err(|e| (next, e.to_string()))?;
        Ok(new_next)
    }
}

/// What a panic carried, as text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Long-lived threads, one per projection, that apply large chunks to the live
/// models beside each other. Threads started per chunk cost their start and,
/// worse, a fresh allocator heap each time, with a model's entries allocated
/// on one short-lived thread and freed on another; here a model's entries are
/// made and dropped on its own thread.
struct Workers<E> {
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
    fn start(inner: &Arc<Inner<E>>) -> Workers<E> {
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
    fn next_start(&self) -> Option<u64> {
        self.in_flight
            .borrow()
            .as_ref()
            .and_then(|(chunk, _, _)| chunk.events.last().map(|e| e.position + 1))
    }

    /// Hands a chunk to the live slots, each on its thread, then waits for the
    /// chunk before it: a model's worker goes on to this chunk as soon as it is
    /// done with the last, while the slower models finish theirs (each worker
    /// takes its chunks in order).
    fn apply(
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
    fn finish(&self, reader: &Readers<E>) {
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

impl<E: Send + Sync + 'static> Inner<E> {
    fn publish_progress(&self) {
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

    fn run(self: &Arc<Self>, rt: &tokio::runtime::Handle) {
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
    /// flushed to the files rather than left in sled's buffers (after the first
    /// catch-up and when the runtime ends: a process killed after either
    /// replays nothing).
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
    fn persist_slot(&self, slot: &Slot<E>, all: bool) {
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
    fn read_chunk(
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
    fn apply_live(&self, slot: &Slot<E>, chunk: &Chunk<'_, E>) {
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

    fn rebuild_step(&self, rt: &tokio::runtime::Handle, slot: &Slot<E>, head: u64) -> Result<bool> {
        let (from, target) = {
            let st = lock(&slot.state);
            let Some(rb) = &st.rebuild else {
                return Ok(false);
            };
            // A frozen model catches up to the head; a live one to the live checkpoint.
            let target = if st.frozen || st.failed.is_some() {
                head
            } else {
                st.next
            };
            (rb.next, target)
        };
        if from < target {
            let limit = self
                .config
                .chunk
                .min(usize::try_from(target - from).unwrap_or(usize::MAX));
            let events = self.store.read_all_blocking(rt, from, limit)?;
            let prepared = Prepared {
                decoded: events.iter().map(|_| OnceLock::new()).collect(),
                events,
                reader: usize::MAX,
            };
            let chunk = Chunk::new(&prepared, &self.decode);
            let mut st = lock(&slot.state);
            let Some(rb) = st.rebuild.as_mut() else {
                return Ok(false);
            };
            match chunk.apply(slot.projection.as_ref(), &rb.tree, rb.next) {
                Ok(next) => rb.next = next,
                Err((position, error)) => {
                    tracing::error!(projection = slot.projection.name(), position, error = %error, "rebuild stopped");
                    st.rebuild = None;
                    st.failed = Some((position, error));
                }
            }
            return Ok(true);
        }
        // Caught up: swap the new model in, persisted whole before it becomes
        // the active one.
        let mut st = lock(&slot.state);
        let Some(rb) = st.rebuild.as_ref() else {
            return Ok(false);
        };
        if !(st.frozen || st.failed.is_some()) && rb.next < st.next {
            // The live model moved on since: catch up with it first.
            return Ok(true);
        }
        rb.tree.persist()?;
        let name = slot.projection.name();
        self.db.set_active(name, &rb.model)?;
        let Some(rb) = st.rebuild.take() else {
            return Ok(false);
        };
        let old = std::mem::replace(&mut st.model, rb.model);
        st.tree = rb.tree.clone();
        st.next = rb.next;
        st.frozen = false;
        st.failed = None;
        slot.reader.swap(rb.tree);
        if old != st.model {
            self.db.drop_tree(name, &old)?;
        }
        let version = st.model.version;
        // Readers waiting for their writes must count the swapped-in model at once:
        // while it was frozen it was left out of the progress (which may then have
        // said "everything"). Lower it before anyone can see the model live: the
        // other live models only move forward, so the minimum stays a lower bound
        // until the next full publish recomputes it.
        let next = st.next;
        self.progress.send_modify(|p| *p = (*p).min(next));
        drop(st);
        self.publish_progress();
        tracing::info!(projection = name, version, "rebuilt model swapped in");
        Ok(true)
    }
}
