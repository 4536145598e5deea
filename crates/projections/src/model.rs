//! Where read models live: a sled database of their own, one tree per
//! projection generation, written in atomic batches with the checkpoint.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ProjectionError, Result};

/// Key of the checkpoint inside a projection's tree: the next position to apply.
/// Model keys may not start with `0x00`, so it never collides with them.
pub(crate) const CHECKPOINT_KEY: &[u8] = b"\x00checkpoint";
const META_TREE: &str = "ecoute-projections-meta";

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 16 << 20 }>()
}

/// Encodes a read-model value.
pub fn encode_value<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, config())
        .map_err(|e| ProjectionError::Model(format!("value cannot be encoded: {e}")))
}

/// Decodes a read-model value; a damaged value is an error, never a panic.
pub fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    bincode::serde::decode_from_slice(bytes, config())
        .map(|(v, _)| v)
        .map_err(|e| ProjectionError::Model(format!("stored value cannot be decoded: {e}")))
}

/// The read-model database: a sled database apart from the event log.
///
/// Read models are derived and disposable; keeping them apart means a rebuild
/// never grows the log's files, the log can be verified and backed up on its
/// own, and a damaged model can be deleted and rebuilt.
#[derive(Clone)]
pub struct ModelDb {
    pub(crate) db: sled::Db,
    meta: sled::Tree,
}

/// Which tree holds a projection's active model, and what built it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ActiveModel {
    pub version: u32,
    pub generation: u64,
}

impl ModelDb {
    /// Opens (or creates) the read-model database in directory `path`, with a 128 MiB
    /// page cache.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_cache(path, 128 << 20)
    }

    /// Opens (or creates) the read-model database with a page cache of `cache_bytes`.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: u64) -> Result<Self> {
        let config = sled::Config::new()
            .path(path.as_ref())
            .cache_capacity(cache_bytes);
        let db = ecoute_store::open_sled(&config, std::time::Duration::from_secs(5))
            .map_err(|e| ProjectionError::Db(e.to_string()))?;
        Self::from_db(db)
    }

    /// A temporary database, removed when dropped: for tests and tools.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Self> {
        let meta = db.open_tree(META_TREE)?;
        Ok(ModelDb { db, meta })
    }

    pub(crate) fn active(&self, name: &str) -> Result<Option<ActiveModel>> {
        match self.meta.get(name.as_bytes())? {
            None => Ok(None),
            Some(v) => decode_value(&v).map(Some),
        }
    }

    pub(crate) fn set_active(&self, name: &str, active: &ActiveModel) -> Result<()> {
        self.meta.insert(name.as_bytes(), encode_value(active)?)?;
        Ok(())
    }

    pub(crate) fn tree(&self, name: &str, active: &ActiveModel) -> Result<sled::Tree> {
        Ok(self.db.open_tree(tree_name(name, active))?)
    }

    pub(crate) fn drop_tree(&self, name: &str, active: &ActiveModel) -> Result<()> {
        self.db.drop_tree(tree_name(name, active))?;
        Ok(())
    }

    /// Drops the trees of a projection that are neither its active model nor
    /// the one being rebuilt (left behind by a crash during a swap).
    pub(crate) fn drop_stale_trees(
        &self,
        name: &str,
        keep: &ActiveModel,
        rebuild: Option<&ActiveModel>,
    ) -> Result<()> {
        let prefix = format!("model/{name}/");
        let keep: Vec<String> = std::iter::once(keep)
            .chain(rebuild)
            .map(|m| tree_name(name, m))
            .collect();
        for t in self.db.tree_names() {
            let Ok(t) = std::str::from_utf8(&t) else {
                continue;
            };
            if t.starts_with(&prefix) && !keep.iter().any(|k| k == t) {
                self.db.drop_tree(t)?;
            }
        }
        Ok(())
    }

    /// Makes every model write so far durable. Not needed for correctness: a
    /// model and its checkpoint are written together, so after a crash the
    /// runtime resumes from whatever consistent point survived.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

fn tree_name(name: &str, active: &ActiveModel) -> String {
    format!("model/{name}/v{}/g{}", active.version, active.generation)
}

pub(crate) fn checkpoint_of(tree: &sled::Tree) -> Result<u64> {
    match tree.get(CHECKPOINT_KEY)? {
        None => Ok(0),
        Some(v) => {
            let arr: [u8; 8] = v
                .as_ref()
                .try_into()
                .map_err(|_| ProjectionError::Model("malformed checkpoint".into()))?;
            Ok(u64::from_be_bytes(arr))
        }
    }
}

/// The changes a projection makes while applying a chunk of events: reads see
/// them, and they reach the tree in one atomic batch with the checkpoint.
pub struct ModelTx<'a> {
    tree: &'a sled::Tree,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> ModelTx<'a> {
    pub(crate) fn new(tree: &'a sled::Tree) -> Self {
        ModelTx {
            tree,
            writes: BTreeMap::new(),
        }
    }

    /// Reads a value, seeing this transaction's own writes.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(key)?.map(|v| v.to_vec())),
        }
    }

    /// Writes a value. Keys may not be empty or start with `0x00` (reserved).
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        check_key(&key)?;
        self.writes.insert(key, Some(value));
        Ok(())
    }

    /// Removes a value.
    pub fn remove(&mut self, key: Vec<u8>) -> Result<()> {
        check_key(&key)?;
        self.writes.insert(key, None);
        Ok(())
    }

    /// Reads and decodes a value.
    pub fn get_typed<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        self.get(key)?.map(|v| decode_value(&v)).transpose()
    }

    /// Encodes and writes a value.
    pub fn put_typed<T: Serialize>(&mut self, key: Vec<u8>, value: &T) -> Result<()> {
        let bytes = encode_value(value)?;
        self.put(key, bytes)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Writes everything and the new checkpoint in one atomic batch.
    pub(crate) fn commit(self, checkpoint: u64) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (k, v) in self.writes {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        batch.insert(CHECKPOINT_KEY, &checkpoint.to_be_bytes());
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.first().is_none_or(|b| *b == 0) {
        return Err(ProjectionError::Model(
            "model keys may not be empty or start with 0x00".into(),
        ));
    }
    Ok(())
}

/// Read access to one projection's active model; follows blue/green swaps.
#[derive(Clone)]
pub struct ModelReader {
    pub(crate) active: Arc<RwLock<sled::Tree>>,
}

impl ModelReader {
    fn tree(&self) -> sled::Tree {
        match self.active.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads and decodes one value.
    pub fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        self.tree().get(key)?.map(|v| decode_value(&v)).transpose()
    }

    /// Decodes every value under a prefix, in key order.
    pub fn scan<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>> {
        collect(self.tree().scan_prefix(prefix), |v| decode_value(v))
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
        collect(self.tree().range(start..end), |v| decode_value(v))
    }

    /// Every key and value of the model, raw, in key order (the checkpoint left
    /// out): for comparing two builds of the same model.
    pub fn dump(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        collect(self.tree().iter(), |v| Ok(v.to_vec()))
    }

    /// The position up to which this model is built (the next position it will apply).
    pub fn checkpoint(&self) -> Result<u64> {
        checkpoint_of(&self.tree())
    }
}

/// The model entries of a sled scan (the checkpoint left out), values turned by `value`.
fn collect<T>(
    iter: sled::Iter,
    mut value: impl FnMut(&[u8]) -> Result<T>,
) -> Result<Vec<(Vec<u8>, T)>> {
    let mut out = Vec::new();
    for item in iter {
        let (k, v) = item?;
        if k.first() != Some(&0) {
            out.push((k.to_vec(), value(&v)?));
        }
    }
    Ok(out)
}
