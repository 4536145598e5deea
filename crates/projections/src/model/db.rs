//! The read-model database: which tree holds each projection's model, and its layout.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::codec::{decode_value, encode_value};
use crate::error::{ProjectionError, Result};

/// The layout of the model trees; older layouts are dropped and rebuilt.
const LAYOUT: u32 = 3;
const META_TREE: &str = "ecoute-projections-meta";
const LAYOUT_KEY: &[u8] = b"\x00layout";

/// The read-model database: a sled database apart from the event log.
///
/// Read models are derived and disposable; keeping them apart means a rebuild
/// never grows the log's files, the log can be verified and backed up on its
/// own, and a damaged model can be deleted and rebuilt. The database only
/// persists the models: they are held, updated and queried in memory.
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
    /// Opens (or creates) the read-model database in directory `path`, with an
    /// 8 MiB page cache (the models themselves are held in memory).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_cache(path, 8 << 20)
    }

    /// Opens (or creates) the read-model database with a page cache of `cache_bytes`.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: u64) -> Result<Self> {
        let config = sled::Config::new()
            .path(path.as_ref())
            .cache_capacity(cache_bytes);
        let db = ecoute_store::open_sled(&config, std::time::Duration::from_secs(5))
            .map_err(|e| ProjectionError::Db(std::sync::Arc::new(e)))?;
        Self::from_db(db)
    }

    /// A temporary database, removed when dropped: for tests and tools.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Self> {
        let meta = db.open_tree(META_TREE)?;
        let layout = match meta.get(LAYOUT_KEY)? {
            None => None,
            Some(v) => Some(decode_value::<u32>(&v)?),
        };
        if layout != Some(LAYOUT) {
            // Models written in another layout (or none yet): they are derived
            // data, so drop them all and let the runtime rebuild from the log.
            if !meta.is_empty() {
                tracing::warn!(
                    found = layout.unwrap_or(1),
                    layout = LAYOUT,
                    "read models of another layout dropped; they will be rebuilt from the log"
                );
            }
            for t in db.tree_names() {
                if t.starts_with(b"model/") {
                    db.drop_tree(t)?;
                }
            }
            meta.clear()?;
            meta.insert(LAYOUT_KEY, encode_value(&LAYOUT)?)?;
            db.flush()?;
        }
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
    /// model's state and its checkpoint are written together, so after a crash
    /// the runtime resumes from whatever consistent point survived.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

fn tree_name(name: &str, active: &ActiveModel) -> String {
    format!("model/{name}/v{}/g{}", active.version, active.generation)
}
