//! Where read models live: in memory, each generation of a model persisted in
//! a sled tree of its own as packed snapshot pages and deltas, each write
//! atomic with the model's checkpoint.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ProjectionError, Result};

/// Key of the persisted checkpoint: the next position the persisted state will
/// apply (u64), the snapshot in use (u64) and its number of pages (u32), and
/// the numbers of the first delta and of the next one (u64 each), all
/// big-endian — so a lost page or delta is noticed.
const CHECKPOINT_KEY: &[u8] = b"\x00checkpoint";
/// Prefix of the snapshot pages (then the snapshot's number, big-endian u64,
/// and the page's, big-endian u32). A new snapshot is written page by page
/// beside the one in use, then switched to by the checkpoint record: pages of
/// any other snapshot are left over from an interrupted write, or from before
/// the switch, and are removed.
const PAGE: u8 = 1;
/// Prefix of the deltas written since the snapshot (then their number, big-endian u64).
const DELTA: u8 = 2;
/// Bytes of entries per snapshot page.
const PAGE_BYTES: usize = 256 << 10;
/// Deltas are folded into a new snapshot once they outweigh it (and this much).
const MIN_COMPACT_BYTES: usize = 4 << 20;
/// A write due by age waits this many times as long as the last one took...
const WRITE_BUDGET: u32 = 10;
/// ...and a whole new snapshot (a model catching up, whose changes outgrew
/// one) this many times, and at least `SNAPSHOT_AFTER`: it rewrites the whole
/// model, and what a crash would cost instead is to apply that much of the
/// log again (seconds).
const SNAPSHOT_BUDGET: u32 = 30;
const SNAPSHOT_AFTER: std::time::Duration = std::time::Duration::from_secs(10);
/// The layout of the model trees; older layouts are dropped and rebuilt.
const LAYOUT: u32 = 3;
const META_TREE: &str = "ecoute-projections-meta";
const LAYOUT_KEY: &[u8] = b"\x00layout";

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 16 << 20 }>()
}

/// Encodes a read-model value (into a reused buffer, then one allocation of
/// the exact size: a growing `Vec` would reallocate several times per value).
pub fn encode_value<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        let mut buf = scratch.try_borrow_mut().map_err(|_| {
            ProjectionError::Model("value encoding re-entered on one thread".into())
        })?;
        buf.clear();
        encode_into(value, &mut buf)?;
        let out = buf.to_vec();
        // Do not keep a rare huge buffer alive on the thread.
        if buf.capacity() > 1 << 20 {
            *buf = Vec::new();
        }
        Ok(out)
    })
}

/// Appends a value's encoding to `out`; on failure `out` is left as it was.
fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    let len = out.len();
    bincode::serde::encode_into_std_write(value, &mut *out, config())
        .map(|_| ())
        .map_err(|e| {
            out.truncate(len);
            ProjectionError::Model(format!("value cannot be encoded: {e}"))
        })
}

/// Decodes the value at the start of `bytes`, and how many bytes it took.
fn decode_first<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize)> {
    bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| ProjectionError::Model(format!("stored value cannot be decoded: {e}")))
}

/// Decodes a value made of values appended one after the other
/// ([`ModelTx::append_typed`]); a damaged value is an error, never a panic.
pub fn decode_appended<T: DeserializeOwned>(mut bytes: &[u8]) -> Result<Vec<T>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (v, used) = decode_first(bytes)?;
        out.push(v);
        bytes = bytes.get(used..).unwrap_or_default();
    }
    Ok(out)
}

/// Decodes a read-model value; a damaged value is an error, never a panic.
pub fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    decode_first(bytes).map(|(v, _)| v)
}

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

/// One entry of a model in one allocation — its key's and its value's
/// lengths (u32 each, little-endian), the key, the value — held by a thin
/// pointer beside the key's first eight bytes. Finding a key in a large model
/// compares numbers held in the tree's nodes instead of following a pointer
/// (a cache miss) per key passed on the way, and an entry still takes 16 bytes
/// of a node, as a boxed slice would. Ordered, compared and looked up by its key.
///
/// The crate's only `unsafe`: the thin pointer is a `Box<[u8]>` taken apart,
/// whose length the allocation's own header gives back.
struct Entry {
    head: u64,
    /// The start of a leaked `Box<[u8]>` of `HEADER + key + value` bytes, the
    /// lengths being those its header holds. Owned by the entry alone.
    bytes: std::ptr::NonNull<u8>,
}

/// Bytes of an entry's header: the key's length and the value's.
const HEADER: usize = 8;

// SAFETY: an entry owns its allocation alone, as a `Box<[u8]>` does, and never
// changes it: sending or sharing one is sending or sharing a `Box<[u8]>`.
#[allow(unsafe_code)]
unsafe impl Send for Entry {}
// SAFETY: as above.
#[allow(unsafe_code)]
unsafe impl Sync for Entry {}

/// The first eight bytes of a key as a big-endian number, zero-padded: if
/// `head(a) < head(b)` then `a < b`, so keys are ordered by their heads first
/// and only keys with the same head are compared whole.
fn head(key: &[u8]) -> u64 {
    let mut h = [0u8; 8];
    let n = key.len().min(8);
    h[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(h)
}

impl Entry {
    fn new(key: &[u8], value: &[u8]) -> Entry {
        // Keys and values are bounded far below 4 GiB; were one not, it would
        // be held cut to what its header says — never past its allocation.
        let (klen, vlen) = (len32(key.len()), len32(value.len()));
        let (key, value) = (&key[..klen as usize], &value[..vlen as usize]);
        let mut b = Vec::with_capacity(HEADER + key.len() + value.len());
        b.extend_from_slice(&klen.to_le_bytes());
        b.extend_from_slice(&vlen.to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(value);
        let leaked: &'static mut [u8] = Box::leak(b.into_boxed_slice());
        Entry {
            head: head(key),
            bytes: std::ptr::NonNull::from(leaked).cast::<u8>(),
        }
    }

    /// The key's and the value's lengths.
    fn header(&self) -> (usize, usize) {
        // SAFETY: the allocation starts with the 8-byte header written in
        // `new` and never changed; it lives as long as `self`.
        #[allow(unsafe_code)]
        let h: &[u8] = unsafe { std::slice::from_raw_parts(self.bytes.as_ptr(), HEADER) };
        let (k, v) = h.split_at(4);
        let word = |b: &[u8]| {
            let mut w = [0u8; 4];
            w.copy_from_slice(b);
            u32::from_le_bytes(w) as usize
        };
        (word(k), word(v))
    }

    /// The whole allocation.
    fn bytes(&self) -> &[u8] {
        let (k, v) = self.header();
        // SAFETY: `bytes` starts the live allocation of `HEADER + k + v` bytes
        // this entry owns (its header gives the lengths `new` allocated for);
        // the slice borrows `self`, so it cannot outlive the entry.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.bytes.as_ptr(), HEADER + k + v)
        }
    }

    fn split(&self) -> (&[u8], &[u8]) {
        let (k, _) = self.header();
        self.bytes()[HEADER..].split_at(k)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let (k, v) = self.header();
        let raw = std::ptr::slice_from_raw_parts_mut(self.bytes.as_ptr(), HEADER + k + v);
        // SAFETY: `raw` is the `Box<[u8]>` leaked in `new` — the same pointer
        // and length — given back once, here, when its only owner goes.
        #[allow(unsafe_code)]
        drop(unsafe { Box::from_raw(raw) });
    }
}

/// A key as the model's tree compares it: its head, then the whole key.
/// Entries and the keys looked up ([`Probe`]) are both seen through it.
trait Keyed {
    fn head(&self) -> u64;
    fn key(&self) -> &[u8];
}

impl Keyed for Entry {
    fn head(&self) -> u64 {
        self.head
    }

    fn key(&self) -> &[u8] {
        self.split().0
    }
}

/// A key looked up in a model, with its head computed once.
struct Probe<'k> {
    head: u64,
    key: &'k [u8],
}

impl<'k> Probe<'k> {
    fn new(key: &'k [u8]) -> Self {
        Probe {
            head: head(key),
            key,
        }
    }
}

impl Keyed for Probe<'_> {
    fn head(&self) -> u64 {
        self.head
    }

    fn key(&self) -> &[u8] {
        self.key
    }
}

impl<'a> std::borrow::Borrow<dyn Keyed + 'a> for Entry {
    fn borrow(&self) -> &(dyn Keyed + 'a) {
        self
    }
}

fn compare(a: &(impl Keyed + ?Sized), b: &(impl Keyed + ?Sized)) -> std::cmp::Ordering {
    a.head().cmp(&b.head()).then_with(|| a.key().cmp(b.key()))
}

impl PartialEq for dyn Keyed + '_ {
    fn eq(&self, other: &Self) -> bool {
        compare(self, other).is_eq()
    }
}

impl Eq for dyn Keyed + '_ {}

impl PartialOrd for dyn Keyed + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn Keyed + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        compare(self, other)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        compare(self, other).is_eq()
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        compare(self, other)
    }
}

/// A model's entries, ordered by key: a set of single-allocation entries, so an
/// entry costs its bytes and about 50 more (the allocation and the tree), not
/// two allocations and a wider tree.
#[derive(Default)]
struct Entries(std::collections::BTreeSet<Entry>);

impl Entries {
    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.0
            .get(&Probe::new(key) as &dyn Keyed)
            .map(|e| e.split().1)
    }

    /// Sets a value; returns the length of the value it replaced.
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Option<usize> {
        self.0
            .replace(Entry::new(key, value))
            .map(|old| old.split().1.len())
    }

    /// Removes a value; returns its length.
    fn remove(&mut self, key: &[u8]) -> Option<usize> {
        self.0
            .take(&Probe::new(key) as &dyn Keyed)
            .map(|old| old.split().1.len())
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0.iter().map(Entry::split)
    }

    fn range<'a>(
        &'a self,
        start: Bound<&'a [u8]>,
        end: Bound<&'a [u8]>,
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        fn keyed<'p>(b: &'p Bound<Probe<'_>>) -> Bound<&'p dyn Keyed> {
            match b {
                Bound::Included(p) => Bound::Included(p),
                Bound::Excluded(p) => Bound::Excluded(p),
                Bound::Unbounded => Bound::Unbounded,
            }
        }
        let (start, end) = (start.map(Probe::new), end.map(Probe::new));
        self.0
            .range::<dyn Keyed, _>((keyed(&start), keyed(&end)))
            .map(Entry::split)
    }
}

/// What readers see of a model: its entries and how far they are built.
struct View {
    entries: Entries,
    /// The next position to apply.
    checkpoint: u64,
    /// Bytes of keys and values.
    bytes: usize,
}

/// What is persisted of a model, and what is not yet.
struct Persisted {
    /// The changes made in memory since the last write, encoded in order as
    /// they will be written in a delta (a key may come more than once: the
    /// last one wins when the delta is loaded). A buffer appended to, not a set
    /// of keys: no allocation, lookup or hash per write.
    changes: Vec<u8>,
    /// The changes outgrew what a new snapshot would weigh: they are no longer
    /// recorded (a rebuild would otherwise buffer and write every change of a
    /// large history), and the next write is a whole snapshot.
    overflowed: bool,
    /// The checkpoint of the persisted state.
    checkpoint: u64,
    /// The snapshot in use, and its pages.
    snapshot: u64,
    pages: u32,
    page_bytes: usize,
    first_delta: u64,
    next_delta: u64,
    delta_bytes: usize,
    last_write: Instant,
    /// How long the last write took: writes due by age wait ten times that
    /// (a whole snapshot thirty times, and 10 s at least), so a large model
    /// rebuilt or catching up spends little of its time writing snapshots.
    last_cost: std::time::Duration,
}

/// One generation of a read model: every entry in memory, persisted in its
/// own sled tree as snapshot pages plus deltas.
///
/// Each persisted write (a delta, or a whole new snapshot that replaces the
/// pages and deltas before it) is one atomic sled batch that also carries the
/// checkpoint, so the persisted state always equals the model at that
/// checkpoint: after a crash the runtime loads it and applies the log from
/// there, neither skipping nor doubling an event.
pub(crate) struct Model {
    tree: sled::Tree,
    /// Deltas are folded into a new snapshot once they outweigh it and this.
    min_compact: usize,
    /// Bytes of entries per snapshot page.
    page_size: usize,
    view: RwLock<View>,
    persisted: std::sync::Mutex<Persisted>,
    /// A chunk's buffers, kept for the next chunk (see [`Scratch`]).
    scratch: std::sync::Mutex<Scratch>,
}

/// The buffers a chunk's changes are gathered and encoded in, handed from one
/// chunk to the next: a model catching up would otherwise grow a table of a
/// few thousand keys and a buffer of their values from nothing for every
/// chunk — a dozen reallocations, and fresh pages for the large ones.
#[derive(Default)]
struct Scratch {
    pending: HashMap<Key, Pending>,
    values: Vec<u8>,
}

impl Scratch {
    /// Empties the buffers for the next chunk; buffers far larger than this
    /// chunk needed (a catch-up's, now that the model follows the log live)
    /// are shrunk.
    fn recycle(&mut self) {
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

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

impl Model {
    /// Loads the model persisted in `tree` (empty at checkpoint 0 if none).
    /// A damaged tree is an error: the caller rebuilds the model.
    pub(crate) fn load(tree: sled::Tree) -> Result<Model> {
        Self::load_with(tree, MIN_COMPACT_BYTES, PAGE_BYTES)
    }

    fn load_with(tree: sled::Tree, min_compact: usize, page_size: usize) -> Result<Model> {
        let (checkpoint, snapshot, expect_pages, first_delta, next_delta) =
            match tree.get(CHECKPOINT_KEY)? {
                None => (0, 0, 0, 0, 0),
                Some(v) => {
                    let mut c = Cursor(&v);
                    let record = (c.u64()?, c.u64()?, c.u32_be()?, c.u64()?, c.u64()?);
                    if !c.0.is_empty() {
                        return Err(damaged("a malformed checkpoint"));
                    }
                    record
                }
            };
        let mut entries = Entries::default();
        let (mut pages, mut page_bytes) = (0u32, 0usize);
        let mut left_over = Vec::new();
        for item in tree.scan_prefix([PAGE]) {
            let (k, v) = item?;
            if k.len() != 13 {
                return Err(damaged("a malformed page key"));
            }
            if k[1..9] != snapshot.to_be_bytes() {
                left_over.push(k);
                continue;
            }
            if k[9..] != pages.to_be_bytes() {
                return Err(damaged("a snapshot page is missing"));
            }
            for_each_change(&v, |key, value| {
                if let Some(value) = value {
                    entries.insert(key, value);
                }
            })?;
            pages += 1;
            page_bytes += v.len();
        }
        let (mut expect_seq, mut delta_bytes) = (first_delta, 0usize);
        for item in tree.scan_prefix([DELTA]) {
            let (k, v) = item?;
            if k[..] != delta_key(expect_seq) || expect_seq >= next_delta {
                return Err(damaged("deltas are missing or left over"));
            }
            expect_seq += 1;
            for_each_change(&v, |key, value| match value {
                Some(value) => {
                    entries.insert(key, value);
                }
                None => {
                    entries.remove(key);
                }
            })?;
            delta_bytes += v.len();
        }
        if pages != expect_pages {
            return Err(damaged("snapshot pages are missing"));
        }
        if expect_seq != next_delta {
            return Err(damaged("deltas are missing"));
        }
        if checkpoint == 0 && !entries.is_empty() {
            return Err(damaged("entries without a checkpoint"));
        }
        for k in left_over {
            tree.remove(k)?;
        }
        let bytes = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
        Ok(Model {
            tree,
            min_compact,
            page_size,
            view: RwLock::new(View {
                entries,
                checkpoint,
                bytes,
            }),
            persisted: std::sync::Mutex::new(Persisted {
                changes: Vec::new(),
                overflowed: false,
                checkpoint,
                snapshot,
                pages,
                page_bytes,
                first_delta,
                next_delta,
                delta_bytes,
                last_write: Instant::now(),
                last_cost: std::time::Duration::ZERO,
            }),
            scratch: std::sync::Mutex::new(Scratch::default()),
        })
    }

    /// Empties the tree and returns an empty model at checkpoint 0.
    pub(crate) fn fresh(tree: sled::Tree) -> Result<Model> {
        tree.clear()?;
        Model::load(tree)
    }

    pub(crate) fn checkpoint(&self) -> u64 {
        read(&self.view).checkpoint
    }

    /// Entries and bytes of keys and values held in memory.
    pub(crate) fn size(&self) -> (usize, usize) {
        let v = read(&self.view);
        (v.entries.len(), v.bytes)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        read(&self.view).entries.get(key).map(<[u8]>::to_vec)
    }

    /// Applies a chunk's changes and its new checkpoint in memory, at once for readers.
    fn apply<'v>(
        &self,
        writes: impl IntoIterator<Item = (&'v [u8], Option<&'v [u8]>)>,
        checkpoint: u64,
    ) {
        let mut p = self.persisted.lock().unwrap_or_else(|p| p.into_inner());
        let mut v = self.view.write().unwrap_or_else(|p| p.into_inner());
        for (k, val) in writes {
            if !p.overflowed {
                push_change(&mut p.changes, k, val);
            }
            let old = match val {
                Some(val) => {
                    v.bytes += k.len() + val.len();
                    v.entries.insert(k, val)
                }
                None => v.entries.remove(k),
            };
            if let Some(old) = old {
                v.bytes -= k.len() + old;
            }
        }
        v.checkpoint = checkpoint;
        if !p.overflowed && p.delta_bytes + p.changes.len() > p.page_bytes.max(self.min_compact) {
            // A delta this large would be folded into a snapshot at once.
            p.overflowed = true;
            p.changes = Vec::new();
        }
    }

    /// Whether changes wait to be persisted and are `bytes` or more, or older than `age`.
    pub(crate) fn persist_due(&self, bytes: usize, age: std::time::Duration) -> bool {
        let p = self.persisted.lock().unwrap_or_else(|p| p.into_inner());
        let behind = p.checkpoint != self.checkpoint();
        let age = if p.overflowed {
            age.max(SNAPSHOT_AFTER)
                .max(p.last_cost.saturating_mul(SNAPSHOT_BUDGET))
        } else {
            age.max(p.last_cost.saturating_mul(WRITE_BUDGET))
        };
        behind && (p.changes.len() >= bytes || p.last_write.elapsed() >= age)
    }

    /// Persists the changes made in memory since the last write, with the
    /// checkpoint: a delta, in one atomic batch with the checkpoint record; or,
    /// once the deltas outweigh the last snapshot, a new snapshot, written page
    /// by page beside the one in use (never the whole model twice in memory)
    /// and switched to by one atomic batch with the checkpoint record. Nothing
    /// to do if nothing changed.
    pub(crate) fn persist(&self) -> Result<()> {
        let started = Instant::now();
        let mut p = self.persisted.lock().unwrap_or_else(|p| p.into_inner());
        let view = read(&self.view);
        if p.checkpoint == view.checkpoint && p.changes.is_empty() && !p.overflowed {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        let compact =
            p.overflowed || p.delta_bytes + p.changes.len() > p.page_bytes.max(self.min_compact);
        let (snapshot, pages, page_bytes, delta_bytes);
        if compact {
            snapshot = p.snapshot + 1;
            // Pages of an earlier attempt at this snapshot would pass for its own.
            for item in self.tree.scan_prefix(page_prefix(snapshot)) {
                self.tree.remove(item?.0)?;
            }
            let mut page = Vec::with_capacity(self.page_size);
            let mut n = 0u32;
            let mut written = 0usize;
            let mut entries = view.entries.iter().peekable();
            while let Some((k, v)) = entries.next() {
                push_change(&mut page, k, Some(v));
                if page.len() >= self.page_size || entries.peek().is_none() {
                    written += page.len();
                    self.tree.insert(page_key(snapshot, n), seal(&page))?;
                    page.clear();
                    n += 1;
                }
            }
            for seq in p.first_delta..p.next_delta {
                batch.remove(delta_key(seq).to_vec());
            }
            (pages, page_bytes, delta_bytes) = (n, written, 0);
        } else {
            let len = p.changes.len();
            batch.insert(delta_key(p.next_delta).to_vec(), seal(&p.changes));
            (snapshot, pages, page_bytes, delta_bytes) =
                (p.snapshot, p.pages, p.page_bytes, p.delta_bytes + len);
        }
        let (first_delta, next_delta) = if compact {
            (p.next_delta, p.next_delta)
        } else {
            (p.first_delta, p.next_delta + 1)
        };
        let mut record = Vec::with_capacity(36);
        record.extend_from_slice(&view.checkpoint.to_be_bytes());
        record.extend_from_slice(&snapshot.to_be_bytes());
        record.extend_from_slice(&pages.to_be_bytes());
        record.extend_from_slice(&first_delta.to_be_bytes());
        record.extend_from_slice(&next_delta.to_be_bytes());
        batch.insert(CHECKPOINT_KEY, record);
        let checkpoint = view.checkpoint;
        drop(view);
        self.tree.apply_batch(batch)?;
        let (old_snapshot, old_pages) = (p.snapshot, p.pages);
        p.snapshot = snapshot;
        p.first_delta = first_delta;
        p.next_delta = next_delta;
        p.pages = pages;
        p.page_bytes = page_bytes;
        p.delta_bytes = delta_bytes;
        p.checkpoint = checkpoint;
        p.overflowed = false;
        // Keep a rare large buffer's memory only if it is about to be needed again.
        p.changes.clear();
        if p.changes.capacity() > 1 << 20 {
            p.changes = Vec::new();
        }
        p.last_write = Instant::now();
        p.last_cost = started.elapsed();
        if compact {
            // The old snapshot is no longer named: its pages go (or, if this
            // fails, at the next load).
            for n in 0..old_pages {
                if let Err(e) = self.tree.remove(page_key(old_snapshot, n)) {
                    tracing::warn!(error = %e, "an old snapshot page was not removed; it will be at the next load");
                    break;
                }
            }
        }
        Ok(())
    }
}

fn damaged(what: &str) -> ProjectionError {
    ProjectionError::Model(format!("persisted model damaged: {what}"))
}

fn page_prefix(snapshot: u64) -> [u8; 9] {
    let mut k = [PAGE; 9];
    k[1..].copy_from_slice(&snapshot.to_be_bytes());
    k
}

fn page_key(snapshot: u64, n: u32) -> [u8; 13] {
    let mut k = [PAGE; 13];
    k[1..9].copy_from_slice(&snapshot.to_be_bytes());
    k[9..].copy_from_slice(&n.to_be_bytes());
    k
}

fn delta_key(seq: u64) -> [u8; 9] {
    let mut k = [DELTA; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// One change: key length (u32 LE), key, then 0 (removed) or 1 with the value's
/// length (u32 LE) and the value.
fn push_change(out: &mut Vec<u8>, key: &[u8], value: Option<&[u8]>) {
    out.extend_from_slice(&len32(key.len()).to_le_bytes());
    out.extend_from_slice(key);
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&len32(v.len()).to_le_bytes());
            out.extend_from_slice(v);
        }
    }
}

fn len32(n: usize) -> u32 {
    // Keys and values are bounded far below 4 GiB by the codec's 16 MiB limit.
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `body` followed by its CRC-32.
fn seal(body: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(body.len() + 4);
    sealed.extend_from_slice(body);
    sealed.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    sealed
}

/// Checks a sealed page or delta and calls `f` for each change, in order.
fn for_each_change(sealed: &[u8], mut f: impl FnMut(&[u8], Option<&[u8]>)) -> Result<()> {
    let split = sealed
        .len()
        .checked_sub(4)
        .ok_or_else(|| damaged("a truncated value"))?;
    let (body, crc) = sealed.split_at(split);
    let mut crc = Cursor(crc);
    if crc32fast::hash(body) != crc.u32()? {
        return Err(damaged("a checksum mismatch"));
    }
    let mut rest = Cursor(body);
    while !rest.0.is_empty() {
        let len = rest.u32()? as usize;
        let key = rest.take(len)?;
        let value = match rest.take(1)? {
            [0] => None,
            [1] => {
                let len = rest.u32()? as usize;
                Some(rest.take(len)?)
            }
            _ => return Err(damaged("an unknown change")),
        };
        f(key, value);
    }
    Ok(())
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(damaged("a truncated change"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| damaged("a truncated number"))
    }

    fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u32_be(&mut self) -> Result<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_be_bytes)
    }
}

/// A read-model key, held inline up to 64 bytes (about every key the
/// helpline's models use): building one, looking it up or keeping it among a
/// chunk's changes allocates nothing.
pub type Key = smallvec::SmallVec<[u8; 64]>;

/// A key made of text, without an allocation for the usual sizes.
pub fn text_key(args: std::fmt::Arguments<'_>) -> Key {
    struct Out(Key);
    impl std::fmt::Write for Out {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let mut out = Out(Key::new());
    // Writing into a buffer fails only if a `Display` does: none of the keys' parts do.
    let _ = std::fmt::Write::write_fmt(&mut out, args);
    out.0
}

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

/// A key's change within a chunk.
enum Pending {
    Removed,
    Bytes(Vec<u8>),
    Typed(Box<dyn Held>),
    /// Moved out by [`ModelTx::take_typed`], to be written back.
    Taken,
}

fn taken() -> ProjectionError {
    ProjectionError::Model("a value taken in the chunk was not written back".into())
}

/// A typed value written in a chunk, encoded when the chunk commits.
trait Held: Send {
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
    /// [`decode_appended`] or [`ModelReader::get_appended`]): the values
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

    /// Decodes the values appended under a key ([`ModelTx::append_typed`]), in order.
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
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Put(u8, Vec<u8>),
        Remove(u8),
        /// Commit the pending chunk at the next checkpoint.
        Commit,
        Persist,
        /// Drop the model (unpersisted changes lost, as in a crash) and load it again.
        Reload,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1u8..40, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(k, v)| Op::Put(k, v)),
            2 => (1u8..40).prop_map(Op::Remove),
            2 => Just(Op::Commit),
            1 => Just(Op::Persist),
            1 => Just(Op::Reload),
        ]
    }

    fn entries(m: &Model) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let view = read(&m.view);
        let all: BTreeMap<Vec<u8>, Vec<u8>> = view
            .entries
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        // Lookups and ranges agree with the iteration.
        for (k, v) in &all {
            assert_eq!(view.entries.get(k), Some(&v[..]));
            let from: Vec<_> = view
                .entries
                .range(Bound::Included(k), Bound::Unbounded)
                .map(|(k, _)| k.to_vec())
                .collect();
            assert_eq!(
                from,
                all.range(k.clone()..)
                    .map(|(k, _)| k.clone())
                    .collect::<Vec<_>>()
            );
        }
        all
    }

    proptest! {
        /// Whatever the order of commits, writes and crashes, a loaded model is
        /// exactly the model at its persisted checkpoint, and memory is exactly
        /// what was committed.
        #[test]
        fn a_reloaded_model_is_the_model_at_its_checkpoint(ops in proptest::collection::vec(op(), 1..120)) {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let tree = db.open_tree("m").unwrap();
            // Tiny pages and thresholds: many pages, deltas and compactions.
            let load = |t: &sled::Tree| Model::load_with(t.clone(), 64, 48).unwrap();
            let mut model = load(&tree);
            // The reference: the map at each checkpoint.
            let mut at: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![BTreeMap::new()];
            let mut pending: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Put(k, v) => { pending.insert(vec![k; 1 + k as usize % 3], Some(v)); }
                    Op::Remove(k) => { pending.insert(vec![k; 1 + k as usize % 3], None); }
                    Op::Commit => {
                        let mut next = at.last().cloned().unwrap_or_default();
                        for (k, v) in &pending {
                            match v {
                                Some(v) => { next.insert(k.clone(), v.clone()); }
                                None => { next.remove(k); }
                            }
                        }
                        model.apply(pending.iter().map(|(k, v)| (k.as_slice(), v.as_deref())), at.len() as u64);
                        pending.clear();
                        at.push(next);
                    }
                    Op::Persist => model.persist().unwrap(),
                    Op::Reload => {
                        pending.clear();
                        drop(model);
                        model = load(&tree);
                        let cp = model.checkpoint() as usize;
                        prop_assert!(cp < at.len());
                        at.truncate(cp + 1);
                    }
                }
                let cp = model.checkpoint() as usize;
                prop_assert_eq!(&entries(&model), &at[cp]);
                let bytes: usize = at[cp].iter().map(|(k, v)| k.len() + v.len()).sum();
                prop_assert_eq!(model.size(), (at[cp].len(), bytes));
            }
        }
    }

    /// Keys over a tiny alphabet, up to twelve bytes: many share their first
    /// eight bytes, end in zeros, or are prefixes of others.
    fn tricky_key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0xff)], 0..12)
    }

    proptest! {
        /// Entries ordered and found by their heads first agree with a plain
        /// ordered map: lookups, removals, iteration and ranges.
        #[test]
        fn entries_behave_as_an_ordered_map(
            ops in proptest::collection::vec((tricky_key(), any::<Option<u8>>()), 1..200),
            bounds in proptest::collection::vec((tricky_key(), tricky_key()), 1..10),
        ) {
            let mut entries = Entries::default();
            let mut reference: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for (k, v) in ops {
                match v {
                    Some(v) => prop_assert_eq!(
                        entries.insert(&k, &[v]),
                        reference.insert(k.clone(), vec![v]).map(|o| o.len())
                    ),
                    None => prop_assert_eq!(
                        entries.remove(&k),
                        reference.remove(&k).map(|o| o.len())
                    ),
                }
                prop_assert_eq!(entries.get(&k), reference.get(&k).map(Vec::as_slice));
            }
            let all: Vec<(Vec<u8>, Vec<u8>)> =
                entries.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            let expected: Vec<(Vec<u8>, Vec<u8>)> = reference.clone().into_iter().collect();
            prop_assert_eq!(all, expected);
            for (a, b) in bounds {
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let got: Vec<Vec<u8>> = entries
                    .range(Bound::Included(&lo), Bound::Excluded(&hi))
                    .map(|(k, _)| k.to_vec())
                    .collect();
                let want: Vec<Vec<u8>> =
                    reference.range(lo.clone()..hi.clone()).map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(got, want);
                let got: Vec<Vec<u8>> = entries
                    .range(Bound::Excluded(&lo), Bound::Unbounded)
                    .map(|(k, _)| k.to_vec())
                    .collect();
                let want: Vec<Vec<u8>> = reference
                    .range((Bound::Excluded(lo.clone()), Bound::Unbounded))
                    .map(|(k, _)| k.clone())
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    fn temp_model() -> Model {
        let db = sled::Config::new().temporary(true).open().unwrap();
        Model::load(db.open_tree("m").unwrap()).unwrap()
    }

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
    fn a_whole_snapshot_waits_longer_than_a_delta() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        // Snapshots outgrown past 64 bytes of changes.
        let model = Model::load_with(db.open_tree("m").unwrap(), 64, 48).unwrap();
        let mut tx = ModelTx::new(&model);
        tx.put(b"a", vec![1; 8]).unwrap();
        tx.commit(1).unwrap();
        // A small delta: due as soon as its age is reached (none asked here).
        assert!(model.persist_due(usize::MAX, std::time::Duration::ZERO));
        model.persist().unwrap();
        // Changes that outgrew a snapshot (a model catching up): the next
        // write rewrites the whole model, and waits `SNAPSHOT_AFTER` for it.
        let mut tx = ModelTx::new(&model);
        tx.put(b"b", vec![2; 200]).unwrap();
        tx.commit(2).unwrap();
        // Well past thirty times the last (sub-millisecond) write, well short of 10 s.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!model.persist_due(usize::MAX, std::time::Duration::ZERO));
        // Written all the same when asked (a stop, the first catch-up).
        model.persist().unwrap();
        drop(model);
        let model = Model::load_with(db.open_tree("m").unwrap(), 64, 48).unwrap();
        assert_eq!((model.checkpoint(), model.size().0), (2, 2));
    }

    #[test]
    fn text_keys_are_their_text_however_long() {
        assert_eq!(&text_key(format_args!("c/{}", 42))[..], b"c/42");
        let long = "x".repeat(200);
        assert_eq!(
            &text_key(format_args!("n/{long}/y"))[..],
            format!("n/{long}/y").as_bytes()
        );
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

    #[test]
    fn appended_values_read_back_in_order() {
        let model = temp_model();
        let mut tx = ModelTx::new(&model);
        tx.append_typed(b"s", &(1u64, "one".to_string())).unwrap();
        tx.append_typed(b"s", &(2u64, "two".to_string())).unwrap();
        tx.commit(1).unwrap();
        // Onto a committed value, then onto a value removed in the same chunk.
        let mut tx = ModelTx::new(&model);
        tx.append_typed(b"s", &(3u64, "three".to_string())).unwrap();
        tx.remove(b"t").unwrap();
        tx.append_typed(b"t", &(7u64, "seven".to_string())).unwrap();
        tx.commit(2).unwrap();
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

    #[test]
    fn a_damaged_page_is_an_error_never_a_panic() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("m").unwrap();
        let model = Model::load_with(tree.clone(), 0, 16).unwrap();
        let writes: Vec<_> = (1u8..20).map(|k| (vec![k], vec![k; 10])).collect();
        model.apply(
            writes
                .iter()
                .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
            7,
        );
        model.persist().unwrap();
        drop(model);
        let (key, value) = tree.scan_prefix([PAGE]).next().unwrap().unwrap();
        for cut in 0..value.len() {
            tree.insert(&key, &value[..cut]).unwrap();
            assert!(Model::load(tree.clone()).is_err(), "a page cut at {cut}");
        }
        let mut flipped = value.to_vec();
        flipped[3] ^= 0x10;
        tree.insert(&key, flipped).unwrap();
        assert!(Model::load(tree.clone()).is_err());
        tree.insert(&key, value).unwrap();
        assert_eq!(Model::load(tree.clone()).unwrap().size().0, 19);
        // A missing page is noticed too, the last one included.
        let last = tree.scan_prefix([PAGE]).last().unwrap().unwrap().0;
        tree.remove(last).unwrap();
        assert!(Model::load(tree.clone()).is_err());
        tree.remove(page_key(1, 0)).unwrap();
        assert!(Model::load(tree).is_err());
    }

    /// A snapshot is written page by page beside the one in use: pages of
    /// another snapshot (a write interrupted before the switch, or old pages not
    /// yet removed after it) are not read, and are removed at load.
    #[test]
    fn pages_of_another_snapshot_are_left_out_and_removed() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("m").unwrap();
        let model = Model::load_with(tree.clone(), 0, 16).unwrap();
        let put = |model: &Model, value: u8, checkpoint: u64| {
            let writes: Vec<_> = (1u8..20).map(|k| (vec![k], vec![value; 10])).collect();
            // Three times over: changes that outweigh a snapshot, so one is written.
            for _ in 0..3 {
                model.apply(
                    writes
                        .iter()
                        .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
                    checkpoint,
                );
            }
            model.persist().unwrap();
        };
        put(&model, 1, 7);
        put(&model, 2, 8); // a second snapshot (the deltas outweigh the first)
        let in_use = |tree: &sled::Tree| {
            let mut snapshots: Vec<u64> = tree
                .scan_prefix([PAGE])
                .map(|i| u64::from_be_bytes(i.unwrap().0[1..9].try_into().unwrap()))
                .collect();
            snapshots.dedup();
            snapshots
        };
        assert_eq!(
            in_use(&tree),
            vec![2],
            "the first snapshot's pages were removed"
        );
        drop(model);
        // An interrupted write of snapshot 3, and a page of snapshot 1 left behind.
        tree.insert(page_key(3, 0), b"half a page".to_vec())
            .unwrap();
        tree.insert(page_key(1, 5), b"stale".to_vec()).unwrap();
        let model = Model::load(tree.clone()).unwrap();
        assert_eq!(model.checkpoint(), 8);
        assert_eq!(model.get(&[1]), Some(vec![2; 10]));
        assert_eq!(in_use(&tree), vec![2]);
        // The next snapshot is written over whatever snapshot 3 had left.
        tree.insert(page_key(3, 9), b"more of it".to_vec()).unwrap();
        put(&model, 3, 9);
        put(&model, 4, 10);
        drop(model);
        let model = Model::load(tree.clone()).unwrap();
        assert_eq!(
            (model.checkpoint(), model.get(&[19])),
            (10, Some(vec![4; 10]))
        );
        assert_eq!(in_use(&tree).len(), 1);
    }
}
