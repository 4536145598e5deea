//! Blue/green rebuilds: a new model built from position 0 beside the live one, then
//! swapped in once caught up.

use std::sync::{Arc, OnceLock};

use super::chunk::{Chunk, Prepared};
use super::{lock, Inner, Rebuild, Slot};
use crate::error::Result;
use crate::model::{ActiveModel, Model, ModelDb};

pub(super) fn new_rebuild(db: &ModelDb, name: &str, model: ActiveModel) -> Result<Rebuild> {
    // A rebuild interrupted by a crash left a partial tree: start it afresh.
    let tree = Arc::new(Model::fresh(db.tree(name, &model)?)?);
    Ok(Rebuild {
        tree,
        model,
        next: 0,
    })
}

impl<E: Send + Sync + 'static> Inner<E> {
    pub(super) fn rebuild_step(
        &self,
        rt: &tokio::runtime::Handle,
        slot: &Slot<E>,
        head: u64,
    ) -> Result<bool> {
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

impl<E: Send + Sync + 'static> Inner<E> {
    /// Checks each model serving reads against the log it is to resume on,
    /// before anything is applied or any progress published: its checkpoint
    /// must be within the log, and the log's chain hash there the one the
    /// model noted. A model built on another log — or on a later state of this
    /// one, an older `log/` restored beside it — would otherwise resume past
    /// events it never saw; it is emptied and built again from position 0.
    pub(super) fn check_checkpoints(&self, rt: &tokio::runtime::Handle) {
        for slot in &self.slots {
            let name = slot.projection.name();
            let tree = lock(&slot.state).tree.clone();
            let (next, chain) = tree.checkpoint_and_chain();
            let Some(last) = next.checked_sub(1) else {
                continue;
            };
            let why = match self.store.read_all_blocking(rt, last, 1) {
                Ok(events) => match events.first() {
                    None => "its checkpoint is past the log's head",
                    Some(e) if e.position != last || e.chain_hash != chain => {
                        "the log's hash chain differs at its checkpoint (another log, or an older copy of this one)"
                    }
                    Some(_) => continue,
                },
                Err(e) => {
                    let error = format!("cannot check the model's checkpoint against the log: {e}");
                    tracing::error!(projection = name, checkpoint = next, error = %error, "projection stopped");
                    lock(&slot.state).failed = Some((last, error));
                    continue;
                }
            };
            tracing::warn!(
                projection = name,
                checkpoint = next,
                reason = why,
                "read model does not match the log; rebuilding it from position 0"
            );
            let mut st = lock(&slot.state);
            let fresh = self
                .db
                .tree(name, &st.model)
                .and_then(Model::fresh)
                .map(Arc::new);
            match fresh {
                Ok(fresh) => {
                    st.tree = fresh.clone();
                    st.next = 0;
                    slot.reader.swap(fresh);
                }
                Err(e) => {
                    let error = format!("cannot empty the read model to rebuild it: {e}");
                    tracing::error!(projection = name, error = %error, "projection stopped");
                    st.failed = Some((0, error));
                }
            }
        }
    }
}
