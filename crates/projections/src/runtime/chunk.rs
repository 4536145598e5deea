//! A chunk of the log read ahead, and its application to one model in one transaction.

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

use ecoute_store::RecordedEvent;

use super::{Decoder, Projection};
use crate::error::Result;
use crate::model::{Model, ModelTx};

/// A chunk of the log read, and decoded ahead where a projection wants it.
pub(super) struct Prepared<E> {
    pub(super) events: Vec<RecordedEvent>,
    pub(super) decoded: Vec<OnceLock<Result<Option<E>, String>>>,
    /// The reader that made it and frees it.
    pub(super) reader: usize,
}

/// Events of one chunk, each decoded at most once, when a projection needs it.
pub(super) struct Chunk<'a, E> {
    events: &'a [RecordedEvent],
    decoded: &'a [OnceLock<Result<Option<E>, String>>],
    decode: &'a Decoder<E>,
}

impl<'a, E: 'static> Chunk<'a, E> {
    pub(super) fn new(prepared: &'a Prepared<E>, decode: &'a Decoder<E>) -> Self {
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
    pub(super) fn apply(
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
        // The log's chain hash after the last event applied: the model's
        // checkpoint names the log it was built on.
        let chain = match self
            .events
            .iter()
            .rev()
            .find(|e| e.position + 1 == new_next)
        {
            Some(e) => e.chain_hash,
            None => tree.checkpoint_and_chain().1,
        };
        tx.commit(new_next, chain)
            .map_err(|e| (next, e.to_string()))?;
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
