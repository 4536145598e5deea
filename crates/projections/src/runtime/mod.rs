//! The projection runtime: follows the log from each projection's checkpoint,
//! applies events in chunks written atomically with the checkpoint, rebuilds
//! blue/green, and reports lag. It knows no helpline event by name.
//!
//! Here the public API and the projections' slots; `follow` the loop that
//! follows the log, `threads` its reader and model threads, `chunk` a chunk
//! applied to a model, `rebuild` blue/green rebuilds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecoute_store::{EventStore, RecordedEvent};
use tokio::sync::{watch, Notify};

use crate::error::{ProjectionError, Result};
use crate::model::{ActiveModel, Model, ModelDb, ModelReader, ModelTx};

mod chunk;
mod follow;
mod rebuild;
mod threads;

use rebuild::new_rebuild;

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
        // No progress is published before the runtime's thread has checked
        // each model's checkpoint against the log (`rebuild.rs`): until then,
        // whoever waits for the models waits.
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
