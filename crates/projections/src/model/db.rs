//! The read-model database: which table holds each projection's model, and its layout.

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{ReadableTableMetadata, TableDefinition, TableHandle};
use serde::{Deserialize, Serialize};

use super::codec::{decode_value, encode_value};
use crate::error::{ProjectionError, Result};

/// The layout of the model tables; older layouts are dropped and rebuilt.
/// (4: the checkpoint record carries the log's chain hash.)
const LAYOUT: u32 = 4;
const META_TABLE: &str = "ecoute-projections-meta";
const LAYOUT_KEY: &[u8] = b"\x00layout";
/// The database's file, in the models' directory.
const FILE: &str = "models.redb";
/// What a sled database of models (before redb) left in the directory.
const SLED_FILES: &[&str] = &["conf", "db", "blobs"];
/// How long opening waits for another handle to release the file's lock.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A table of byte keys and byte values.
type Def<'a> = TableDefinition<'a, &'static [u8], &'static [u8]>;

/// The read-model database: a redb database apart from the event log.
///
/// Read models are derived and disposable; keeping them apart means a rebuild
/// never grows the log's files, the log can be verified and backed up on its
/// own, and a damaged model can be deleted and rebuilt. The database only
/// persists the models: they are held, updated and queried in memory.
#[derive(Clone)]
pub struct ModelDb {
    db: Arc<redb::Database>,
}

/// Which table holds a projection's active model, and what built it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ActiveModel {
    pub version: u32,
    pub generation: u64,
}

/// One table of the database: a generation of a model.
#[derive(Clone)]
pub(crate) struct Tree {
    db: Arc<redb::Database>,
    name: String,
}

impl Tree {
    /// Reads the table in one read transaction (`None`: no table yet).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(Option<&redb::ReadOnlyTable<&'static [u8], &'static [u8]>>) -> Result<T>,
    ) -> Result<T> {
        let tx = self.db.begin_read()?;
        match tx.open_table(Def::new(&self.name)) {
            Ok(table) => f(Some(&table)),
            Err(redb::TableError::TableDoesNotExist(_)) => f(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the table in one atomic write transaction, durable when it
    /// returns: `Durability::Immediate` (redb's default, set here so that no
    /// change of default can weaken it) syncs the file at the commit. Nothing
    /// of it is written if `f` fails.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut redb::Table<'_, &'static [u8], &'static [u8]>) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::Immediate);
        let out = {
            let mut table = tx.open_table(Def::new(&self.name))?;
            f(&mut table)?
        };
        tx.commit()?;
        Ok(out)
    }

    /// Removes every entry of the table.
    pub(crate) fn clear(&self) -> Result<()> {
        let tx = self.db.begin_write()?;
        tx.delete_table(Def::new(&self.name))?;
        tx.commit()?;
        Ok(())
    }
}

impl ModelDb {
    /// Opens (or creates) the read-model database in directory `path`, with an
    /// 8 MiB page cache (the models themselves are held in memory).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_cache(path, 8 << 20)
    }

    /// Opens (or creates) the read-model database with a page cache of `cache_bytes`.
    ///
    /// Every page of an existing file is checked first (the models are read
    /// whole at start anyway). A database that cannot be opened or checked —
    /// damaged, cut short, not a database — is derived data: the directory is
    /// moved aside, whole, to `<dir>-damaged-<UTC time>` beside it, the reason
    /// logged, and an empty database made in its place, from which the runtime
    /// rebuilds the models from the log. Only a database held by another
    /// process, or a second failure, is an error.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: u64) -> Result<Self> {
        let dir = path.as_ref();
        match Self::open_dir(dir, cache_bytes) {
            Ok(db) => Ok(db),
            Err(Opened::Locked(e)) => Err(e),
            Err(Opened::Damaged(why)) => {
                let kept = keep_aside(dir)?;
                tracing::error!(
                    kept = %kept,
                    error = %why,
                    "the read models' database cannot be opened; moved aside, the models are rebuilt from the log"
                );
                Self::open_dir(dir, cache_bytes).map_err(Opened::into_error)
            }
        }
    }

    fn open_dir(dir: &Path, cache_bytes: u64) -> std::result::Result<Self, Opened> {
        let io = |e: std::io::Error| Opened::Locked(ProjectionError::Db(Arc::new(e)));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
        drop_sled_files(dir).map_err(Opened::Locked)?;
        let file = dir.join(FILE);
        let existed = file.exists();
        // redb asserts on some damage (a file cut short) rather than return
        // an error: a panic reading it is damage too.
        let opened = std::panic::catch_unwind(|| Self::open_file(&file, cache_bytes, existed));
        let db = opened.unwrap_or_else(|_| {
            Err(Opened::Damaged(ProjectionError::Model(
                "the database's file is damaged: reading it failed an assertion of redb".into(),
            )))
        })?;
        if !existed {
            // The new file's name made durable, as its commits are.
            sync_dir(dir).map_err(io)?;
        }
        Ok(db)
    }

    fn open_file(
        file: &Path,
        cache_bytes: u64,
        existed: bool,
    ) -> std::result::Result<Self, Opened> {
        let mut builder = redb::Builder::new();
        builder.set_cache_size(usize::try_from(cache_bytes).unwrap_or(usize::MAX));
        let deadline = Instant::now() + LOCK_WAIT;
        let mut db = loop {
            match builder.create(file) {
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e @ redb::DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(Opened::Locked(e.into()))
                }
                Err(e) => return Err(Opened::Damaged(e.into())),
                Ok(db) => break db,
            }
        };
        if existed {
            match db.check_integrity() {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    "the read models' database was damaged and repaired to an earlier commit; its models are checked against the log"
                ),
                Err(e) => return Err(Opened::Damaged(e.into())),
            }
        }
        Self::from_db(db).map_err(Opened::Damaged)
    }

    /// A database in memory, gone when dropped: for tests and tools.
    pub fn temporary() -> Result<Self> {
        let db = redb::Builder::new()
            .set_cache_size(1 << 20)
            .create_with_backend(redb::backends::InMemoryBackend::new())?;
        Self::from_db(db)
    }

    fn from_db(db: redb::Database) -> Result<Self> {
        let db = ModelDb { db: Arc::new(db) };
        let meta = db.meta();
        let (layout, empty) = meta.read(|t| match t {
            None => Ok((None, true)),
            Some(t) => {
                let layout = match t.get(LAYOUT_KEY)? {
                    None => None,
                    Some(v) => Some(decode_value::<u32>(v.value())?),
                };
                Ok((layout, t.is_empty()?))
            }
        })?;
        if layout != Some(LAYOUT) {
            // Models written in another layout (or none yet): they are derived
            // data, so drop them all and let the runtime rebuild from the log.
            if !empty {
                tracing::warn!(
                    found = layout.unwrap_or(1),
                    layout = LAYOUT,
                    "read models of another layout dropped; they will be rebuilt from the log"
                );
            }
            let tx = db.db.begin_write()?;
            let names: Vec<String> = tx.list_tables()?.map(|t| t.name().to_owned()).collect();
            for t in names.iter().filter(|t| t.starts_with("model/")) {
                tx.delete_table(Def::new(t))?;
            }
            tx.delete_table(Def::new(META_TABLE))?;
            tx.open_table(Def::new(META_TABLE))?
                .insert(LAYOUT_KEY, &encode_value(&LAYOUT)?[..])?;
            tx.commit()?;
        }
        Ok(db)
    }

    fn meta(&self) -> Tree {
        self.meta_named(META_TABLE)
    }

    fn meta_named(&self, name: &str) -> Tree {
        Tree {
            db: self.db.clone(),
            name: name.to_owned(),
        }
    }

    pub(crate) fn active(&self, name: &str) -> Result<Option<ActiveModel>> {
        self.meta().read(|t| match t {
            None => Ok(None),
            Some(t) => match t.get(name.as_bytes())? {
                None => Ok(None),
                Some(v) => decode_value(v.value()).map(Some),
            },
        })
    }

    pub(crate) fn set_active(&self, name: &str, active: &ActiveModel) -> Result<()> {
        let value = encode_value(active)?;
        self.meta().write(|t| {
            t.insert(name.as_bytes(), &value[..])?;
            Ok(())
        })
    }

    pub(crate) fn tree(&self, name: &str, active: &ActiveModel) -> Result<Tree> {
        Ok(Tree {
            db: self.db.clone(),
            name: tree_name(name, active),
        })
    }

    pub(crate) fn drop_tree(&self, name: &str, active: &ActiveModel) -> Result<()> {
        self.tree(name, active)?.clear()
    }

    /// Drops the tables of a projection that are neither its active model nor
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
        let stale: Vec<String> = self
            .db
            .begin_read()?
            .list_tables()?
            .map(|t| t.name().to_owned())
            .filter(|t| t.starts_with(&prefix) && !keep.iter().any(|k| k == t))
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write()?;
        for t in &stale {
            tx.delete_table(Def::new(t))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Makes every model write so far durable: with redb each write already
    /// is when it returns (its transaction is committed with the file synced),
    /// so there is nothing left to do. Not needed for correctness either way:
    /// a model's state and its checkpoint are written together, so after a
    /// crash the runtime resumes from whatever consistent point survived.
    pub fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// Why a database did not open: another process holds it (or the directory
/// cannot be made), or what is there cannot be read as a database.
enum Opened {
    Locked(ProjectionError),
    Damaged(ProjectionError),
}

impl Opened {
    fn into_error(self) -> ProjectionError {
        match self {
            Opened::Locked(e) | Opened::Damaged(e) => e,
        }
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Moves the models' directory `dir` aside, whole, to `<dir>-damaged-<UTC
/// time>` beside it, durably; returns the new name.
fn keep_aside(dir: &Path) -> Result<String> {
    let io = |e: std::io::Error| ProjectionError::Db(Arc::new(e));
    let base = dir
        .file_name()
        .map_or_else(|| "models".into(), |n| n.to_string_lossy().into_owned());
    let name = format!(
        "{base}-damaged-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
    );
    let aside = dir.with_file_name(&name);
    std::fs::rename(dir, &aside).map_err(io)?;
    if let Some(parent) = aside.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent).map_err(io)?;
    }
    Ok(name)
}

/// Removes what a sled database of models (the layout before redb) left in
/// `dir`: derived data, rebuilt from the log.
fn drop_sled_files(dir: &Path) -> Result<()> {
    let io = |e: std::io::Error| ProjectionError::Db(Arc::new(e));
    if !dir.join("conf").is_file() || !dir.join("db").is_file() {
        return Ok(());
    }
    tracing::warn!(dir = %dir.display(), "read models of the sled layout dropped; they will be rebuilt from the log");
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if SLED_FILES.contains(&name.as_ref()) || name.starts_with("snap.") {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(path).map_err(io)?;
            } else {
                std::fs::remove_file(path).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// Raw access to a table, for the tests of the persisted form.
#[cfg(test)]
impl Tree {
    /// A table in a database of its own, in memory.
    pub(crate) fn temporary() -> Tree {
        ModelDb::temporary().unwrap().meta_named("m")
    }

    pub(crate) fn insert(&self, key: &[u8], value: &[u8]) {
        self.write(|t| Ok(t.insert(key, value).map(drop)?)).unwrap();
    }

    pub(crate) fn remove(&self, key: &[u8]) {
        self.write(|t| Ok(t.remove(key).map(drop)?)).unwrap();
    }

    /// Every entry whose key starts with `first`, in order.
    pub(crate) fn scan_prefix(&self, first: u8) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.read(|t| {
            let mut out = Vec::new();
            if let Some(t) = t {
                for item in t.range([first].as_slice()..)? {
                    let (k, v) = item?;
                    if k.value().first() != Some(&first) {
                        break;
                    }
                    out.push((k.value().to_vec(), v.value().to_vec()));
                }
            }
            Ok(out)
        })
        .unwrap()
    }
}

fn tree_name(name: &str, active: &ActiveModel) -> String {
    format!("model/{name}/v{}/g{}", active.version, active.generation)
}
