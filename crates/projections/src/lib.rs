//! Projections: checkpointed, rebuildable read models over the event log.
//!
//! The [runtime](Runtime) follows the log and feeds each [`Projection`] the
//! events from its checkpoint on. It knows no helpline event by name: events are
//! decoded once per chunk by a [`Decoder`] and shared by every projection.
//!
//! # Guarantees
//!
//! - **Exactly-once effect.** A projection's changes for a chunk of events and
//!   its new checkpoint are written in one atomic batch, so after a crash a
//!   model neither skips an event nor applies one twice.
//! - **One read of the log.** Projections that run together share each read.
//! - **Blue/green rebuilds.** A model whose version changed, or whose rebuild is
//!   asked for, is built from position 0 into a fresh tree while the old one
//!   serves reads, then swapped in once caught up.
//! - **Isolation.** A projection that fails on an event stops there, with the
//!   position and the error, its model as it was before; the others go on.
//! - **Apart from the log.** Read models live in a redb database of their own
//!   ([`ModelDb`]), never in the event trees.
#![warn(missing_docs)]
// The one exception: a model entry's thin pointer (`model::entry`).
#![deny(unsafe_code)]

mod error;
pub mod helpline;
mod model;
mod runtime;

pub use error::{Cause, ProjectionError, Result};
pub use model::{
    decode_appended, decode_value, encode_value, text_key, Key, ModelDb, ModelReader, ModelTx,
};
pub use runtime::{Decoder, Projection, ProjectionState, ProjectionStatus, Runtime, RuntimeConfig};
