//! `ModelReader`: read access to a projection's active model, following blue/green swaps.

use std::ops::Bound;
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;

use super::codec::{decode_appended, decode_value};
use super::generation::Model;
use super::read;
use crate::error::Result;

/// Read access to one projection's active model, in memory; follows blue/green swaps.
#[derive(Clone)]
pub struct ModelReader {
    pub(crate) active: Arc<RwLock<Arc<Model>>>,
}

impl ModelReader {
    pub(crate) fn new(model: Arc<Model>) -> Self {
        ModelReader {
            active: Arc::new(RwLock::new(model)),
        }
    }

    pub(crate) fn swap(&self, model: Arc<Model>) {
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = model;
    }

    fn model(&self) -> Arc<Model> {
        read(&self.active).clone()
    }

    /// Reads and decodes one value.
    pub fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        let model = self.model();
        let view = read(&model.view);
        view.entries.get(key).map(|v| decode_value(v)).transpose()
    }

    /// Decodes the values appended under a key ([`ModelTx::append`](crate::ModelTx::append)), in order.
    pub fn get_appended<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Vec<T>> {
        let model = self.model();
        let view = read(&model.view);
        view.entries
            .get(key)
            .map_or(Ok(Vec::new()), decode_appended)
    }

    /// Decodes every value under a prefix, in key order.
    pub fn scan<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>> {
        let model = self.model();
        let view = read(&model.view);
        view.entries
            .range(Bound::Included(prefix), Bound::Unbounded)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| Ok((k.to_vec(), decode_value(v)?)))
            .collect()
    }

    /// Decodes the values of keys in `[start, end)`, in key order.
    pub fn range<T: DeserializeOwned>(
        &self,
        start: &[u8],
        end: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let model = self.model();
        let view = read(&model.view);
        view.entries
            .range(Bound::Included(start), Bound::Excluded(end))
            .map(|(k, v)| Ok((k.to_vec(), decode_value(v)?)))
            .collect()
    }

    /// Every key and value of the model, raw, in key order: for comparing two
    /// builds of the same model.
    pub fn dump(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let model = self.model();
        let view = read(&model.view);
        Ok(view
            .entries
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect())
    }

    /// The position up to which this model is built (the next position it will apply).
    pub fn checkpoint(&self) -> Result<u64> {
        Ok(self.model().checkpoint())
    }

    /// The number of entries and the bytes of their keys and values held in memory.
    pub fn size(&self) -> (usize, usize) {
        self.model().size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::temp_model;
    use crate::model::tx::ModelTx;

    #[test]
    fn appended_values_read_back_in_order() {
        let model = temp_model();
        let mut tx = ModelTx::new(&model);
        tx.append(b"s", &(1u64, "one".to_string())).unwrap();
        tx.append(b"s", &(2u64, "two".to_string())).unwrap();
        tx.commit(1, [0; 32]).unwrap();
        // Onto a committed value, then onto a value removed in the same chunk.
        let mut tx = ModelTx::new(&model);
        tx.append(b"s", &(3u64, "three".to_string())).unwrap();
        tx.remove(b"t").unwrap();
        tx.append(b"t", &(7u64, "seven".to_string())).unwrap();
        tx.commit(2, [0; 32]).unwrap();
        let reader = ModelReader::new(Arc::new(model));
        let s: Vec<(u64, String)> = reader.get_appended(b"s").unwrap();
        assert_eq!(
            s,
            vec![(1, "one".into()), (2, "two".into()), (3, "three".into())]
        );
        let t: Vec<(u64, String)> = reader.get_appended(b"t").unwrap();
        assert_eq!(t, vec![(7, "seven".into())]);
        assert!(reader
            .get_appended::<(u64, String)>(b"u")
            .unwrap()
            .is_empty());
        // A value cut short is an error, not a panic (between two values: fewer values).
        let model = reader.model();
        let raw = model.get(b"s").unwrap();
        for cut in 1..raw.len() {
            let decoded = decode_appended::<(u64, String)>(&raw[..cut]);
            match cut {
                5 => assert_eq!(decoded.unwrap().len(), 1),
                10 => assert_eq!(decoded.unwrap().len(), 2),
                _ => assert!(decoded.is_err(), "cut at {cut}"),
            }
        }
    }
}
