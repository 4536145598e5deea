//! The typed values a chunk holds until it commits, behind `dyn Any`.

use serde::Serialize;

use super::codec::encode_into;
use crate::error::Result;

/// A key's change within a chunk.
pub(super) enum Pending {
    Removed,
    /// Values appended, already encoded one after the other.
    Bytes(Vec<u8>),
    /// A typed value, an `Option<T>` behind `dyn Held`, encoded when the chunk
    /// commits; `None` once an update removed it (kept, so the next update of
    /// the key in the chunk can insert it again where it is held).
    Typed(Box<dyn Held>),
}

/// A typed value written in a chunk (`Option<T>`), encoded when the chunk commits.
pub(super) trait Held: Send {
    /// Whether the value is there (`Some`), rather than removed.
    fn is_some(&self) -> bool;
    /// Encodes the value, if it is there, onto `out`.
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()>;
    fn as_any(&self) -> &dyn std::any::Any;
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

impl<T: Serialize + Send + 'static> Held for Option<T> {
    fn is_some(&self) -> bool {
        Option::is_some(self)
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Some(value) => encode_into(value, out),
            None => Ok(()),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
