//! Test support, hidden from the documentation and not part of the store's
//! API: the file layer under the journal and the head file, a faulty one that
//! fails the Nth call of a kind, and a power-loss model.
//!
//! Only the store's own tests use it (`tests/faults.rs`, `tests/power_loss.rs`).

mod faulty;
mod power;

use std::path::PathBuf;
use std::sync::Arc;

pub use crate::io::{FileIo, IoFile, RealIo};
pub use faulty::{Fault, FaultyIo, Step};
pub use power::PowerLossFs;

use crate::{Result, SledStore, StoreConfig};

/// Opens a [`SledStore`] whose journal and head file go through `io`, with
/// journal frames of at most `max_frame` bytes (the default if `None`).
pub fn open_sled_store(
    path: impl Into<PathBuf>,
    config: StoreConfig,
    io: Arc<dyn FileIo>,
    max_frame: Option<u32>,
) -> Result<SledStore> {
    SledStore::open_with(
        path.into(),
        config,
        io,
        max_frame.unwrap_or(crate::wal::MAX_FRAME),
    )
}
