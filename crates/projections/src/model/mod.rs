//! Where read models live: in memory, persisted in redb as snapshot pages and deltas.
//!
//! Each generation of a model is persisted in a redb table of its own as packed
//! snapshot pages and deltas, each write atomic with the model's checkpoint.
//!
//! `db.rs` holds the database of models, `generation.rs` one generation of a
//! model (in memory, and when it is written), `pages.rs` the form of its pages
//! and deltas, `entries.rs` its ordered entries (each an `entry.rs`, the
//! crate's only `unsafe`), `tx.rs` a chunk's changes (`held.rs` its typed
//! values), `reader.rs` the readers' access, `codec.rs` values and keys.

mod codec;
mod db;
mod entries;
// The crate's only unsafe code, allowed there alone, use by use.
mod entry;
mod generation;
mod held;
mod pages;
mod reader;
mod tx;

use std::sync::{RwLock, RwLockReadGuard};

pub use codec::{decode_appended, decode_value, encode_value, text_key, Key};
pub(crate) use db::ActiveModel;
pub use db::ModelDb;
pub(crate) use generation::Model;
pub use reader::ModelReader;
pub use tx::ModelTx;

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn len32(n: usize) -> u32 {
    // Keys and values are bounded far below 4 GiB by the codec's 16 MiB limit.
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
fn temp_model() -> Model {
    Model::load(db::Tree::temporary()).unwrap()
}
