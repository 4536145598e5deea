//! `ModelTx`: the changes a projection makes while applying a chunk, applied to the model at once.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{decode_value, encode_into, Key};
use super::generation::Model;
use super::held::Pending;
use super::read;
use crate::error::{ProjectionError, Result};

/// The changes a projection makes while applying a chunk of events: reads see
/// them, and they reach the model at once with the new checkpoint — or not at
/// all if the chunk fails.
///
/// Values are typed: [`get`](ModelTx::get) reads one, [`put`](ModelTx::put)
/// writes one, [`update`](ModelTx::update) changes one (or inserts or removes
/// it), [`remove`](ModelTx::remove) removes one, and
/// [`append`](ModelTx::append) adds to a list that only grows. A value written
/// in the chunk is held as it is until the chunk commits: a key written by
/// several events of a chunk (a case record, a day's counter) is encoded once,
/// and changed where it is held by the next update.
///
/// Keys are bytes that must not be empty or start with `0x00` (reserved).
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

    /// The value of type `T` the chunk already holds for `key` (`None` if it
    /// removed it), to change in place.
    fn held_mut<T: 'static>(&mut self, key: &[u8]) -> Option<&mut Option<T>> {
        match self.scratch.pending.get_mut(key) {
            Some(Pending::Typed(held)) => held.as_any_mut().downcast_mut::<Option<T>>(),
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

    /// Reads the value of `key`, seeing the chunk's own writes (a value written
    /// in the chunk is cloned, not decoded).
    pub fn get<T: DeserializeOwned + Clone + 'static>(&self, key: &[u8]) -> Result<Option<T>> {
        if let Some(Pending::Typed(held)) = self.scratch.pending.get(key) {
            if let Some(value) = held.as_any().downcast_ref::<Option<T>>() {
                return Ok(value.clone());
            }
        }
        self.decode(key)
    }

    /// Decodes the value of `key` as the chunk sees it (a typed value of
    /// another type written in the chunk, through its encoding).
    fn decode<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.scratch.pending.get(key) {
            Some(Pending::Removed) => Ok(None),
            Some(Pending::Bytes(v)) => decode_value(v).map(Some),
            Some(Pending::Typed(held)) if !held.is_some() => Ok(None),
            Some(Pending::Typed(held)) => {
                let mut bytes = Vec::new();
                held.encode_into(&mut bytes)?;
                decode_value(&bytes).map(Some)
            }
            None => read(&self.model.view)
                .entries
                .get(key)
                .map(|v| decode_value(v))
                .transpose(),
        }
    }

    /// Writes the value of `key`; it is moved, not cloned, and encoded when the
    /// chunk commits.
    pub fn put<T: Serialize + Send + 'static>(&mut self, key: &[u8], value: T) -> Result<()> {
        if let Some(held) = self.held_mut::<T>(key) {
            *held = Some(value);
            return Ok(());
        }
        self.set(key, Pending::Typed(Box::new(Some(value))))
    }

    /// Removes the value of `key`.
    pub fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.set(key, Pending::Removed)
    }

    /// Changes the value of `key` where it is: `f` gets it (`None` if there is
    /// none), may change it, insert one or remove it (`None`), and its result
    /// is returned. A value written earlier in the chunk is changed where the
    /// chunk holds it — no copy, decoding or allocation: a day's counter
    /// bumped by many events of a chunk, a case's record changed by each of
    /// its events. `f` cannot reach the transaction: what else its change
    /// calls for is written after, from what it returns.
    pub fn update<T, R>(&mut self, key: &[u8], f: impl FnOnce(&mut Option<T>) -> R) -> Result<R>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        if let Some(held) = self.held_mut::<T>(key) {
            return Ok(f(held));
        }
        check_key(key)?;
        let mut value = self.decode::<T>(key)?;
        let was_there = value.is_some();
        let out = f(&mut value);
        match value {
            Some(_) => self.set(key, Pending::Typed(Box::new(value)))?,
            None if was_there => self.set(key, Pending::Removed)?,
            None => {}
        }
        Ok(out)
    }

    /// Appends a value to the values under `key` (read back with
    /// [`decode_appended`](crate::decode_appended) or
    /// [`ModelReader::get_appended`](crate::ModelReader::get_appended)): the values
    /// already there are neither decoded nor encoded again.
    pub fn append<T: Serialize>(&mut self, key: &[u8], value: &T) -> Result<()> {
        check_key(key)?;
        let mut bytes = match self.scratch.pending.get_mut(key) {
            Some(Pending::Bytes(v)) => return encode_into(value, v),
            Some(Pending::Removed) => Vec::new(),
            Some(Pending::Typed(held)) => {
                let mut v = Vec::new();
                held.encode_into(&mut v)?;
                v
            }
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

    pub(crate) fn is_empty(&self) -> bool {
        self.scratch.pending.is_empty()
    }

    /// Encodes the chunk's typed values, then applies every change and the new
    /// checkpoint — the next position to apply, and `chain`, the log's chain
    /// hash after the event before it — to the model at once. A value that
    /// cannot be encoded fails the chunk and changes nothing.
    pub(crate) fn commit(mut self, checkpoint: u64, chain: [u8; 32]) -> Result<()> {
        // Every typed value encoded into one buffer (the chunk's, reused): no
        // allocation per value.
        let Scratch { pending, values } = &mut self.scratch;
        let mut writes = Vec::with_capacity(pending.len());
        for (k, p) in pending.iter() {
            let v = match p {
                Pending::Removed => None,
                Pending::Bytes(v) => Some(Value::Own(v)),
                Pending::Typed(held) if !held.is_some() => None,
                Pending::Typed(held) => {
                    let start = values.len();
                    held.encode_into(values)?;
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
            chain,
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

    fn committed<T: DeserializeOwned>(model: &Model, key: &[u8]) -> Option<T> {
        model.get(key).map(|v| decode_value(&v).unwrap())
    }

    #[test]
    fn values_updated_in_place_are_read_and_committed_as_written() {
        let model = temp_model();
        let mut tx = ModelTx::new(&model);
        // Absent: inserted; then changed where it is held.
        for _ in 0..3 {
            tx.update(b"n", |n: &mut Option<u64>| *n.get_or_insert(0) += 1)
                .unwrap();
        }
        assert_eq!(tx.get::<u64>(b"n").unwrap(), Some(3));
        tx.put(b"b", vec![7u32]).unwrap();
        tx.update(b"b", |b: &mut Option<Vec<u32>>| {
            b.as_mut().map(|b| b.push(8))
        })
        .unwrap();
        tx.commit(1, [0; 32]).unwrap();
        assert_eq!(committed::<u64>(&model, b"n"), Some(3));

        // From the committed model: decoded once, then changed in place.
        let mut tx = ModelTx::new(&model);
        let out = tx
            .update(b"n", |n: &mut Option<u64>| {
                let n = n.get_or_insert(0);
                *n *= 10;
                *n
            })
            .unwrap();
        assert_eq!(out, 30);
        tx.update(b"n", |n: &mut Option<u64>| *n.get_or_insert(0) += 1)
            .unwrap();
        assert_eq!(tx.get::<Vec<u32>>(b"b").unwrap(), Some(vec![7, 8]));
        tx.commit(2, [0; 32]).unwrap();
        assert_eq!(committed::<u64>(&model, b"n"), Some(31));
        assert_eq!(committed::<Vec<u32>>(&model, b"b"), Some(vec![7, 8]));
        // A key of another type in the chunk is decoded, not downcast.
        let mut tx = ModelTx::new(&model);
        tx.put(b"w", 5u32).unwrap();
        assert!(tx
            .update(b"w", |n: &mut Option<u64>| *n.get_or_insert(0) += 1)
            .is_ok());
        // Reserved keys are refused, whichever way they are written.
        assert!(tx
            .update(b"\x00k", |n: &mut Option<u64>| *n = Some(1))
            .is_err());
        assert!(tx.put(b"", 1u8).is_err());
        assert!(tx.append(b"\x00a", &1u8).is_err());
        assert!(tx.remove(b"").is_err());
    }

    #[test]
    fn an_update_inserts_removes_and_inserts_again() {
        let model = temp_model();
        let mut tx = ModelTx::new(&model);
        // Absent and left absent: nothing to write.
        let seen = tx.update(b"a", |v: &mut Option<u32>| v.is_some()).unwrap();
        assert!(!seen && tx.is_empty());
        tx.update(b"a", |v: &mut Option<u32>| *v = Some(1)).unwrap();
        tx.put(b"k", 9u32).unwrap();
        tx.commit(1, [0; 32]).unwrap();

        // Removed by an update (of a committed value, then of one held).
        let mut tx = ModelTx::new(&model);
        let was = tx.update(b"a", |v: &mut Option<u32>| v.take()).unwrap();
        assert_eq!(was, Some(1));
        assert_eq!(tx.get::<u32>(b"a").unwrap(), None);
        tx.put(b"b", 2u32).unwrap();
        tx.update(b"b", |v: &mut Option<u32>| *v = None).unwrap();
        assert_eq!(tx.get::<u32>(b"b").unwrap(), None);
        tx.commit(2, [0; 32]).unwrap();
        assert_eq!(committed::<u32>(&model, b"a"), None);
        assert_eq!(committed::<u32>(&model, b"b"), None);

        // Removed, then inserted again where it was held; `remove` and `put` too.
        let mut tx = ModelTx::new(&model);
        tx.update(b"a", |v: &mut Option<u32>| *v = Some(3)).unwrap();
        tx.update(b"a", |v: &mut Option<u32>| *v = None).unwrap();
        tx.update(b"a", |v: &mut Option<u32>| *v = Some(4)).unwrap();
        tx.remove(b"k").unwrap();
        assert_eq!(tx.get::<u32>(b"k").unwrap(), None);
        tx.commit(3, [0; 32]).unwrap();
        assert_eq!(committed::<u32>(&model, b"a"), Some(4));
        assert_eq!(committed::<u32>(&model, b"k"), None);
        assert_eq!(model.size().0, 1);
    }

    #[test]
    fn a_chunk_dropped_or_committed_leaves_nothing_to_the_next() {
        let model = temp_model();
        for round in 0..3u64 {
            // A failed chunk: its changes are dropped with it.
            let mut tx = ModelTx::new(&model);
            for i in 0..3000u32 {
                tx.put(&(i | 1 << 31).to_be_bytes(), i).unwrap();
            }
            drop(tx);
            let tx = ModelTx::new(&model);
            assert!(tx.is_empty());
            assert_eq!(
                tx.get::<u32>(&(7u32 | 1 << 31).to_be_bytes()).unwrap(),
                None
            );
            drop(tx);
            // A committed chunk, through the recycled buffers.
            let mut tx = ModelTx::new(&model);
            tx.put(b"r", round).unwrap();
            tx.commit(round + 1, [0; 32]).unwrap();
            let tx = ModelTx::new(&model);
            assert!(tx.is_empty());
            assert_eq!(tx.get::<u64>(b"r").unwrap(), Some(round));
        }
        assert_eq!(model.size().0, 1);
    }
}
