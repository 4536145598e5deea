//! `ModelTx`: the changes a projection makes while applying a chunk, applied to the model at once.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{decode_value, encode_into, Key};
use super::generation::Model;
use super::held::{taken, Pending};
use super::read;
use crate::error::{ProjectionError, Result};

/// The changes a projection makes while applying a chunk of events: reads see
/// them, and they reach the model at once with the new checkpoint — or not at
/// all if the chunk fails.
///
/// Typed writes are kept as values until the chunk commits: a key written by
/// several events of a chunk (a case record, a day's counter) is encoded once,
/// and reading it back in the chunk clones it instead of decoding it, or
/// changes it in place ([`ModelTx::update_typed`], [`ModelTx::take_boxed`]).
pub struct ModelTx<'a> {
    model: &'a Model,
    /// The chunk's changes (`pending`) and the buffer they are encoded into
    /// (`values`), taken from the model and handed back when the chunk ends.
    scratch: Scratch,
}

impl Drop for ModelTx<'_> {
    /// A chunk that fails (or a commit) hands its buffers to the next chunk.
    fn drop(&mut self) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.recycle();
        *self.model.scratch.lock().unwrap_or_else(|p| p.into_inner()) = scratch;
    }
}

/// The buffers a chunk's changes are gathered and encoded in, handed from one
/// chunk to the next: a model catching up would otherwise grow a table of a
/// few thousand keys and a buffer of their values from nothing for every
/// chunk — a dozen reallocations, and fresh pages for the large ones.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) pending: HashMap<Key, Pending>,
    pub(super) values: Vec<u8>,
}

impl Scratch {
    /// Empties the buffers for the next chunk; buffers far larger than this
    /// chunk needed (a catch-up's, now that the model follows the log live)
    /// are shrunk.
    pub(super) fn recycle(&mut self) {
        let used = self.pending.len();
        self.pending.clear();
        if self.pending.capacity() > 1024 && self.pending.capacity() > 4 * used {
            self.pending.shrink_to(used);
        }
        let used = self.values.len();
        self.values.clear();
        if self.values.capacity() > 64 << 10 && self.values.capacity() > 4 * used {
            self.values.shrink_to(used);
        }
    }
}

impl<'a> ModelTx<'a> {
    pub(crate) fn new(model: &'a Model) -> Self {
        let scratch = std::mem::take(&mut *model.scratch.lock().unwrap_or_else(|p| p.into_inner()));
        ModelTx { model, scratch }
    }

    /// The value of type `T` the chunk already holds for `key`, to change in place.
    fn pending_mut<T: 'static>(&mut self, key: &[u8]) -> Option<&mut T> {
        match self.scratch.pending.get_mut(key) {
            Some(Pending::Typed(held)) => held.as_any_mut().downcast_mut::<T>(),
            _ => None,
        }
    }

    /// Sets a key's change (its key copied only if the chunk had not changed it yet).
    fn set(&mut self, key: &[u8], change: Pending) -> Result<()> {
        check_key(key)?;
        match self.scratch.pending.get_mut(key) {
            Some(p) => *p = change,
            None => {
                self.scratch.pending.insert(Key::from_slice(key), change);
            }
        }
        Ok(())
    }

    /// Reads a value, seeing this transaction's own writes.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.scratch.pending.get(key) {
            Some(Pending::Removed) => Ok(None),
            Some(Pending::Bytes(v)) => Ok(Some(v.clone())),
            Some(Pending::Typed(v)) => v.encode().map(Some),
            Some(Pending::Taken) => Err(taken()),
            None => Ok(self.model.get(key)),
        }
    }

    /// Writes a value. Keys may not be empty or start with `0x00` (reserved).
    pub fn put(&mut self, key: &[u8], value: Vec<u8>) -> Result<()> {
        self.set(key, Pending::Bytes(value))
    }

    /// Removes a value.
    pub fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.set(key, Pending::Removed)
    }

    /// Reads and decodes a value (a value written in this chunk is cloned).
    pub fn get_typed<T: DeserializeOwned + Clone + 'static>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>> {
        if let Some(Pending::Typed(v)) = self.scratch.pending.get(key) {
            if let Some(t) = v.as_any().downcast_ref::<T>() {
                return Ok(Some(t.clone()));
            }
        }
        self.decode(key)
    }

    /// Decodes the value of `key` as the chunk sees it (a typed value written
    /// in the chunk, through its encoding).
    fn decode<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.scratch.pending.get(key) {
            Some(Pending::Removed) => Ok(None),
            Some(Pending::Bytes(v)) => decode_value(v).map(Some),
            Some(Pending::Typed(v)) => decode_value(&v.encode()?).map(Some),
            Some(Pending::Taken) => Err(taken()),
            None => read(&self.model.view)
                .entries
                .get(key)
                .map(|v| decode_value(v))
                .transpose(),
        }
    }

    /// Reads a value to write it back changed: a value written earlier in the
    /// chunk is moved out instead of cloned. It must be written back (or
    /// removed) before the chunk ends: a value taken and not written back fails
    /// the chunk, as does reading it in between.
    pub fn take_typed<T: DeserializeOwned + Send + 'static>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<T>> {
        Ok(self.take_boxed(key)?.map(|b| *b))
    }

    /// As [`ModelTx::take_typed`], in the box it is held in: written back with
    /// [`ModelTx::put_boxed`], a value changed by every event of a chunk is
    /// neither copied nor allocated again.
    pub fn take_boxed<T: DeserializeOwned + Send + 'static>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<Box<T>>> {
        if let Some(p) = self.scratch.pending.get_mut(key) {
            if matches!(p, Pending::Typed(held) if held.as_any().is::<T>()) {
                if let Pending::Typed(held) = std::mem::replace(p, Pending::Taken) {
                    if let Ok(value) = held.into_any().downcast::<T>() {
                        return Ok(Some(value));
                    }
                }
                return Err(ProjectionError::Model("a taken value changed type".into()));
            }
        }
        Ok(self.decode(key)?.map(Box::new))
    }

    /// Changes the value of `key` in place (its default if there is none): a
    /// value written earlier in the chunk is changed where it is held, without
    /// a copy, a decoding or an allocation — a day's counter bumped by many
    /// events of a chunk, say.
    pub fn update_typed<T, R>(&mut self, key: &[u8], f: impl FnOnce(&mut T) -> R) -> Result<R>
    where
        T: Serialize + DeserializeOwned + Default + Send + 'static,
    {
        if let Some(value) = self.pending_mut::<T>(key) {
            return Ok(f(value));
        }
        let mut value = self.decode::<T>(key)?.unwrap_or_default();
        let out = f(&mut value);
        self.put_owned(key, value)?;
        Ok(out)
    }

    /// Appends a value to the values under `key` (read back with
    /// [`decode_appended`](crate::decode_appended) or
    /// [`ModelReader::get_appended`](crate::ModelReader::get_appended)): the values
    /// already there are neither decoded nor encoded again.
    pub fn append_typed<T: Serialize>(&mut self, key: &[u8], value: &T) -> Result<()> {
        check_key(key)?;
        let mut bytes = match self.scratch.pending.get_mut(key) {
            Some(Pending::Bytes(v)) => return encode_into(value, v),
            Some(Pending::Taken) => return Err(taken()),
            Some(Pending::Removed) => Vec::new(),
            Some(Pending::Typed(v)) => v.encode()?,
            None => {
                let view = read(&self.model.view);
                let old = view.entries.get(key).unwrap_or_default();
                let mut v = Vec::with_capacity(old.len() + 64);
                v.extend_from_slice(old);
                v
            }
        };
        encode_into(value, &mut bytes)?;
        self.set(key, Pending::Bytes(bytes))
    }

    /// Writes a value (encoded when the chunk commits).
    pub fn put_typed<T: Serialize + Clone + Send + 'static>(
        &mut self,
        key: &[u8],
        value: &T,
    ) -> Result<()> {
        self.put_owned(key, value.clone())
    }

    /// Writes a value it takes (encoded when the chunk commits); a value of
    /// the same type written earlier in the chunk is overwritten where it is held.
    pub fn put_owned<T: Serialize + Send + 'static>(&mut self, key: &[u8], value: T) -> Result<()> {
        if let Some(slot) = self.pending_mut::<T>(key) {
            *slot = value;
            return Ok(());
        }
        self.put_boxed(key, Box::new(value))
    }

    /// Writes a boxed value it takes, in its box (encoded when the chunk commits).
    pub fn put_boxed<T: Serialize + Send + 'static>(
        &mut self,
        key: &[u8],
        value: Box<T>,
    ) -> Result<()> {
        self.set(key, Pending::Typed(value))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.scratch.pending.is_empty()
    }

    /// Encodes the chunk's typed values, then applies every change and the new
    /// checkpoint to the model at once. A value that cannot be encoded fails the
    /// chunk and changes nothing.
    pub(crate) fn commit(mut self, checkpoint: u64) -> Result<()> {
        // Every typed value encoded into one buffer (the chunk's, reused): no
        // allocation per value.
        let Scratch { pending, values } = &mut self.scratch;
        let mut writes = Vec::with_capacity(pending.len());
        for (k, p) in pending.iter() {
            let v = match p {
                Pending::Taken => return Err(taken()),
                Pending::Removed => None,
                Pending::Bytes(v) => Some(Value::Own(v)),
                Pending::Typed(v) => {
                    let start = values.len();
                    v.encode_into(values)?;
                    Some(Value::At(start, values.len()))
                }
            };
            writes.push((k.as_slice(), v));
        }
        self.model.apply(
            writes.into_iter().map(|(k, v)| {
                let v = v.map(|v| match v {
                    Value::Own(v) => v.as_slice(),
                    Value::At(start, end) => &values[start..end],
                });
                (k, v)
            }),
            checkpoint,
        );
        Ok(())
    }
}

/// Where a committed value's bytes are.
enum Value<'a> {
    Own(&'a Vec<u8>),
    /// A range of the chunk's encoded values.
    At(usize, usize),
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.first().is_none_or(|b| *b == 0) {
        return Err(ProjectionError::Model(
            "model keys may not be empty or start with 0x00".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::codec::decode_value;
    use crate::model::temp_model;

    #[test]
    fn values_updated_in_place_and_boxed_are_read_and_committed_as_written() {
        let model = temp_model();
        let mut tx = ModelTx::new(&model);
        // Absent: starts from the default; then changed where it is held.
        for _ in 0..3 {
            tx.update_typed(b"n", |n: &mut u64| *n += 1).unwrap();
        }
        assert_eq!(tx.get_typed::<u64>(b"n").unwrap(), Some(3));
        tx.put_boxed(b"b", Box::new(vec![7u32])).unwrap();
        let mut b: Box<Vec<u32>> = tx.take_boxed(b"b").unwrap().unwrap();
        b.push(8);
        tx.put_boxed(b"b", b).unwrap();
        tx.commit(1).unwrap();
        assert_eq!(decode_value::<u64>(&model.get(b"n").unwrap()).unwrap(), 3);

        // From the committed model: decoded once, then changed in place.
        let mut tx = ModelTx::new(&model);
        let out = tx
            .update_typed(b"n", |n: &mut u64| {
                *n *= 10;
                *n
            })
            .unwrap();
        assert_eq!(out, 30);
        tx.update_typed(b"n", |n: &mut u64| *n += 1).unwrap();
        let b: Box<Vec<u32>> = tx.take_boxed(b"b").unwrap().unwrap();
        assert_eq!(*b, vec![7, 8]);
        tx.put_boxed(b"b", b).unwrap();
        // Written in the chunk, then taken: reading it before it comes back fails.
        let b: Box<Vec<u32>> = tx.take_boxed(b"b").unwrap().unwrap();
        assert!(tx.get(b"b").is_err());
        tx.put_boxed(b"b", b).unwrap();
        tx.commit(2).unwrap();
        assert_eq!(decode_value::<u64>(&model.get(b"n").unwrap()).unwrap(), 31);
        assert_eq!(
            decode_value::<Vec<u32>>(&model.get(b"b").unwrap()).unwrap(),
            vec![7, 8]
        );
        // A key of another type in the chunk is decoded, not downcast.
        let mut tx = ModelTx::new(&model);
        tx.put_owned(b"w", 5u32).unwrap();
        assert!(tx.update_typed(b"w", |n: &mut u64| *n += 1).is_ok());
        // Reserved keys are refused, whichever way they are written.
        assert!(tx.update_typed(b"\x00k", |n: &mut u64| *n += 1).is_err());
        assert!(tx.put_boxed(b"", Box::new(1u8)).is_err());
    }

    #[test]
    fn a_chunk_dropped_or_committed_leaves_nothing_to_the_next() {
        let model = temp_model();
        for round in 0..3u64 {
            // A failed chunk: its changes are dropped with it.
            let mut tx = ModelTx::new(&model);
            for i in 0..3000u32 {
                tx.put_owned(&(i | 1 << 31).to_be_bytes(), i).unwrap();
            }
            drop(tx);
            let tx = ModelTx::new(&model);
            assert!(tx.is_empty());
            assert_eq!(tx.get(&(7u32 | 1 << 31).to_be_bytes()).unwrap(), None);
            drop(tx);
            // A committed chunk, through the recycled buffers.
            let mut tx = ModelTx::new(&model);
            tx.put_owned(b"r", round).unwrap();
            tx.commit(round + 1).unwrap();
            let tx = ModelTx::new(&model);
            assert!(tx.is_empty());
            assert_eq!(tx.get_typed::<u64>(b"r").unwrap(), Some(round));
        }
        assert_eq!(model.size().0, 1);
    }

    #[test]
    fn a_taken_value_moves_out_and_must_come_back() {
        let model = temp_model();
        let mut tx = ModelTx::new(&model);
        tx.put_owned(b"a", vec![1u32, 2]).unwrap();
        tx.commit(1).unwrap();

        // From the committed model: decoded; a value taken is written back changed.
        let mut tx = ModelTx::new(&model);
        let mut v: Vec<u32> = tx.take_typed(b"a").unwrap().unwrap();
        v.push(3);
        tx.put_owned(b"a", v).unwrap();
        // Pending in the chunk: moved out, then written back again.
        let mut v: Vec<u32> = tx.take_typed(b"a").unwrap().unwrap();
        v.push(4);
        tx.put_owned(b"a", v).unwrap();
        assert_eq!(tx.take_typed::<Vec<u32>>(b"none").unwrap(), None);
        tx.commit(2).unwrap();
        assert_eq!(
            decode_value::<Vec<u32>>(&model.get(b"a").unwrap()).unwrap(),
            vec![1, 2, 3, 4]
        );

        // Taken and not written back: reads of it and the commit fail, nothing changes.
        let mut tx = ModelTx::new(&model);
        tx.put_owned(b"a", vec![9u32]).unwrap();
        let _: Vec<u32> = tx.take_typed(b"a").unwrap().unwrap();
        assert!(tx.get(b"a").is_err());
        assert!(tx.get_typed::<Vec<u32>>(b"a").is_err());
        assert!(tx.append_typed(b"a", &1u32).is_err());
        assert!(tx.commit(3).is_err());
        assert_eq!(model.checkpoint(), 2);
        assert_eq!(
            decode_value::<Vec<u32>>(&model.get(b"a").unwrap()).unwrap(),
            vec![1, 2, 3, 4]
        );
    }
}
