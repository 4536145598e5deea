//! The typed values a chunk holds until it commits, behind `dyn Any`.

use serde::Serialize;

use super::codec::{encode_into, encode_value};
use crate::error::{ProjectionError, Result};

/// A key's change within a chunk.
pub(super) enum Pending {
    Removed,
    Bytes(Vec<u8>),
    Typed(Box<dyn Held>),
    /// Moved out by [`ModelTx::take_typed`](crate::ModelTx::take_typed), to be written back.
    Taken,
}

pub(super) fn taken() -> ProjectionError {
    ProjectionError::Model("a value taken in the chunk was not written back".into())
}

/// A typed value written in a chunk, encoded when the chunk commits.
pub(super) trait Held: Send {
    fn encode(&self) -> Result<Vec<u8>>;
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()>;
    fn as_any(&self) -> &dyn std::any::Any;
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

impl<T: Serialize + Send + 'static> Held for T {
    fn encode(&self) -> Result<Vec<u8>> {
        encode_value(self)
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_into(self, out)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}
