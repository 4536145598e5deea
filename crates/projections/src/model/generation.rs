//! One generation of a read model: its entries in memory, persisted as snapshot pages and deltas.

use std::sync::RwLock;
use std::time::Instant;

use super::db::Tree;
use super::entries::Entries;
use super::pages::{
    damaged, delta_key, for_each_change, page_key, page_prefix, push_change, seal, Cursor,
    CHECKPOINT_KEY, DELTA, PAGE,
};
use super::read;
use super::tx::Scratch;
use crate::error::Result;

/// A model's table, as read.
type Table = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

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

/// What readers see of a model: its entries and how far they are built.
pub(super) struct View {
    pub(super) entries: Entries,
    /// The next position to apply.
    pub(super) checkpoint: u64,
    /// The log's chain hash after the event at `checkpoint - 1` (zeros at 0):
    /// which log the model was built on.
    pub(super) chain: [u8; 32],
    /// Bytes of keys and values.
    pub(super) bytes: usize,
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
/// own redb table as snapshot pages plus deltas.
///
/// Each persisted write (a delta, or a whole new snapshot that replaces the
/// pages and deltas before it) is one atomic write transaction that also
/// carries the checkpoint, so the persisted state always equals the model at
/// that checkpoint: after a crash the runtime loads it and applies the log from
/// there, neither skipping nor doubling an event.
pub(crate) struct Model {
    tree: Tree,
    /// Deltas are folded into a new snapshot once they outweigh it and this.
    min_compact: usize,
    /// Bytes of entries per snapshot page.
    page_size: usize,
    pub(super) view: RwLock<View>,
    persisted: std::sync::Mutex<Persisted>,
    /// A chunk's buffers, kept for the next chunk (see [`Scratch`]).
    pub(super) scratch: std::sync::Mutex<Scratch>,
}

impl Model {
    /// Loads the model persisted in `tree` (empty at checkpoint 0 if none).
    /// A damaged tree is an error: the caller rebuilds the model.
    pub(crate) fn load(tree: Tree) -> Result<Model> {
        Self::load_with(tree, MIN_COMPACT_BYTES, PAGE_BYTES)
    }

    fn load_with(tree: Tree, min_compact: usize, page_size: usize) -> Result<Model> {
        let mut entries = Entries::default();
        let loaded = tree.read(|t| {
            let Some(t) = t else {
                return Ok(Loaded::default());
            };
            load_table(t, &mut entries)
        })?;
        let Loaded {
            checkpoint,
            chain,
            snapshot,
            pages,
            page_bytes,
            first_delta,
            next_delta,
            delta_bytes,
            left_over,
        } = loaded;
        if checkpoint == 0 && !entries.is_empty() {
            return Err(damaged("entries without a checkpoint"));
        }
        if !left_over.is_empty() {
            tree.write(|t| {
                for k in &left_over {
                    t.remove(&k[..])?;
                }
                Ok(())
            })?;
        }
        let bytes = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
        Ok(Model {
            tree,
            min_compact,
            page_size,
            view: RwLock::new(View {
                entries,
                checkpoint,
                chain,
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
    pub(crate) fn fresh(tree: Tree) -> Result<Model> {
        tree.clear()?;
        Model::load(tree)
    }

    pub(crate) fn checkpoint(&self) -> u64 {
        read(&self.view).checkpoint
    }

    /// The checkpoint and the log's chain hash after the event before it
    /// (zeros at checkpoint 0): the runtime checks them against the log.
    pub(crate) fn checkpoint_and_chain(&self) -> (u64, [u8; 32]) {
        let v = read(&self.view);
        (v.checkpoint, v.chain)
    }

    /// Entries and bytes of keys and values held in memory.
    pub(crate) fn size(&self) -> (usize, usize) {
        let v = read(&self.view);
        (v.entries.len(), v.bytes)
    }

    /// A value's bytes, for the tests.
    #[cfg(test)]
    pub(super) fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        read(&self.view).entries.get(key).map(<[u8]>::to_vec)
    }

    /// Applies a chunk's changes and its new checkpoint (with the log's chain
    /// hash there) in memory, at once for readers.
    pub(super) fn apply<'v>(
        &self,
        writes: impl IntoIterator<Item = (&'v [u8], Option<&'v [u8]>)>,
        checkpoint: u64,
        chain: [u8; 32],
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
        v.chain = chain;
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
    /// checkpoint, in one write transaction: a delta and the checkpoint record;
    /// or, once the deltas outweigh the last snapshot, a new snapshot, its
    /// pages written one by one under a number of their own (redb spills a
    /// large transaction to the file: never the whole model twice in memory),
    /// the checkpoint record that switches to it, and the removal of the pages
    /// and deltas it replaces. Nothing to do if nothing changed.
    pub(crate) fn persist(&self) -> Result<()> {
        let started = Instant::now();
        let mut p = self.persisted.lock().unwrap_or_else(|p| p.into_inner());
        let view = read(&self.view);
        if p.checkpoint == view.checkpoint && p.changes.is_empty() && !p.overflowed {
            return Ok(());
        }
        let compact =
            p.overflowed || p.delta_bytes + p.changes.len() > p.page_bytes.max(self.min_compact);
        let (snapshot, pages, page_bytes, delta_bytes, first_delta, next_delta) = if compact {
            (p.snapshot + 1, 0, 0, 0, p.next_delta, p.next_delta)
        } else {
            let len = p.changes.len();
            (
                p.snapshot,
                p.pages,
                p.page_bytes,
                p.delta_bytes + len,
                p.first_delta,
                p.next_delta + 1,
            )
        };
        let (old_snapshot, old_pages) = (p.snapshot, p.pages);
        // One write transaction: the new pages or delta, the checkpoint record
        // that names them and, for a snapshot, the removal of the deltas and
        // pages it replaces — all or nothing.
        let (pages, page_bytes) = self.tree.write(|t| {
            if !compact {
                t.insert(&delta_key(p.next_delta)[..], &seal(&p.changes)[..])?;
            } else {
                // Pages of an earlier attempt at this snapshot would pass for its own.
                t.retain_in(
                    page_prefix(snapshot).as_slice()..page_prefix(snapshot + 1).as_slice(),
                    |_, _| false,
                )?;
            }
            let (mut n, mut written) = (pages, page_bytes);
            if compact {
                let mut page = Vec::with_capacity(self.page_size);
                let mut entries = view.entries.iter().peekable();
                while let Some((k, v)) = entries.next() {
                    push_change(&mut page, k, Some(v));
                    if page.len() >= self.page_size || entries.peek().is_none() {
                        written += page.len();
                        t.insert(&page_key(snapshot, n)[..], &seal(&page)[..])?;
                        page.clear();
                        n += 1;
                    }
                }
                for seq in p.first_delta..p.next_delta {
                    t.remove(&delta_key(seq)[..])?;
                }
                for old in 0..old_pages {
                    t.remove(&page_key(old_snapshot, old)[..])?;
                }
            }
            let mut record = Vec::with_capacity(68);
            record.extend_from_slice(&view.checkpoint.to_be_bytes());
            record.extend_from_slice(&snapshot.to_be_bytes());
            record.extend_from_slice(&n.to_be_bytes());
            record.extend_from_slice(&first_delta.to_be_bytes());
            record.extend_from_slice(&next_delta.to_be_bytes());
            record.extend_from_slice(&view.chain);
            t.insert(CHECKPOINT_KEY, &record[..])?;
            Ok((n, written))
        })?;
        let checkpoint = view.checkpoint;
        drop(view);
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
        Ok(())
    }
}

/// What a model's table holds besides its entries.
#[derive(Default)]
struct Loaded {
    checkpoint: u64,
    chain: [u8; 32],
    snapshot: u64,
    pages: u32,
    page_bytes: usize,
    first_delta: u64,
    next_delta: u64,
    delta_bytes: usize,
    /// Pages of another snapshot than the one in use, to remove.
    left_over: Vec<Vec<u8>>,
}

/// Reads a model's table into `entries`: the snapshot in use, then the deltas in order.
fn load_table(t: &Table, entries: &mut Entries) -> Result<Loaded> {
    let mut l = Loaded::default();
    let mut expect_pages = 0;
    if let Some(v) = t.get(CHECKPOINT_KEY)? {
        let mut c = Cursor(v.value());
        (l.checkpoint, l.snapshot) = (c.u64()?, c.u64()?);
        expect_pages = c.u32_be()?;
        (l.first_delta, l.next_delta) = (c.u64()?, c.u64()?);
        l.chain = c.array()?;
        if !c.0.is_empty() {
            return Err(damaged("a malformed checkpoint"));
        }
    }
    for item in t.range([PAGE].as_slice()..[PAGE + 1].as_slice())? {
        let (k, v) = item?;
        let (k, v) = (k.value(), v.value());
        if k.len() != 13 {
            return Err(damaged("a malformed page key"));
        }
        if k[1..9] != l.snapshot.to_be_bytes() {
            l.left_over.push(k.to_vec());
            continue;
        }
        if k[9..] != l.pages.to_be_bytes() {
            return Err(damaged("a snapshot page is missing"));
        }
        for_each_change(v, |key, value| {
            if let Some(value) = value {
                entries.insert(key, value);
            }
        })?;
        l.pages += 1;
        l.page_bytes += v.len();
    }
    let mut expect_seq = l.first_delta;
    for item in t.range([DELTA].as_slice()..[DELTA + 1].as_slice())? {
        let (k, v) = item?;
        let (k, v) = (k.value(), v.value());
        if k != delta_key(expect_seq) || expect_seq >= l.next_delta {
            return Err(damaged("deltas are missing or left over"));
        }
        expect_seq += 1;
        for_each_change(v, |key, value| match value {
            Some(value) => {
                entries.insert(key, value);
            }
            None => {
                entries.remove(key);
            }
        })?;
        l.delta_bytes += v.len();
    }
    if l.pages != expect_pages {
        return Err(damaged("snapshot pages are missing"));
    }
    if expect_seq != l.next_delta {
        return Err(damaged("deltas are missing"));
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tx::ModelTx;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::ops::Bound;

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
            let tree = Tree::temporary();
            // Tiny pages and thresholds: many pages, deltas and compactions.
            let load = |t: &Tree| Model::load_with(t.clone(), 64, 48).unwrap();
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
                        // A chain hash of its own per checkpoint, to check it is persisted with it.
                        let chain = [at.len() as u8; 32];
                        model.apply(pending.iter().map(|(k, v)| (k.as_slice(), v.as_deref())), at.len() as u64, chain);
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
                let chain = if cp == 0 { [0; 32] } else { [cp as u8; 32] };
                prop_assert_eq!(model.checkpoint_and_chain(), (cp as u64, chain));
                prop_assert_eq!(&entries(&model), &at[cp]);
                let bytes: usize = at[cp].iter().map(|(k, v)| k.len() + v.len()).sum();
                prop_assert_eq!(model.size(), (at[cp].len(), bytes));
            }
        }
    }

    #[test]
    fn a_whole_snapshot_waits_longer_than_a_delta() {
        let tree = Tree::temporary();
        // Snapshots outgrown past 64 bytes of changes.
        let model = Model::load_with(tree.clone(), 64, 48).unwrap();
        let mut tx = ModelTx::new(&model);
        tx.put(b"a", vec![1u8; 8]).unwrap();
        tx.commit(1, [0; 32]).unwrap();
        // A small delta: due as soon as its age is reached (none asked here).
        assert!(model.persist_due(usize::MAX, std::time::Duration::ZERO));
        model.persist().unwrap();
        // Changes that outgrew a snapshot (a model catching up): the next
        // write rewrites the whole model, and waits `SNAPSHOT_AFTER` for it.
        let mut tx = ModelTx::new(&model);
        tx.put(b"b", vec![2u8; 200]).unwrap();
        tx.commit(2, [0; 32]).unwrap();
        // Well past thirty times the last (sub-millisecond) write, well short of 10 s.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!model.persist_due(usize::MAX, std::time::Duration::ZERO));
        // Written all the same when asked (a stop, the first catch-up).
        model.persist().unwrap();
        drop(model);
        let model = Model::load_with(tree, 64, 48).unwrap();
        assert_eq!((model.checkpoint(), model.size().0), (2, 2));
    }

    #[test]
    fn a_damaged_page_is_an_error_never_a_panic() {
        let tree = Tree::temporary();
        let model = Model::load_with(tree.clone(), 0, 16).unwrap();
        let writes: Vec<_> = (1u8..20).map(|k| (vec![k], vec![k; 10])).collect();
        model.apply(
            writes
                .iter()
                .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
            7,
            [7; 32],
        );
        model.persist().unwrap();
        drop(model);
        let (key, value) = tree.scan_prefix(PAGE).swap_remove(0);
        for cut in 0..value.len() {
            tree.insert(&key, &value[..cut]);
            assert!(Model::load(tree.clone()).is_err(), "a page cut at {cut}");
        }
        let mut flipped = value.to_vec();
        flipped[3] ^= 0x10;
        tree.insert(&key, &flipped);
        assert!(Model::load(tree.clone()).is_err());
        tree.insert(&key, &value);
        assert_eq!(Model::load(tree.clone()).unwrap().size().0, 19);
        // A missing page is noticed too, the last one included.
        let last = tree.scan_prefix(PAGE).pop().unwrap().0;
        tree.remove(&last);
        assert!(Model::load(tree.clone()).is_err());
        tree.remove(&page_key(1, 0));
        assert!(Model::load(tree).is_err());
    }

    /// A snapshot is written page by page beside the one in use: pages of
    /// another snapshot (a write interrupted before the switch, or old pages not
    /// yet removed after it) are not read, and are removed at load.
    #[test]
    fn pages_of_another_snapshot_are_left_out_and_removed() {
        let tree = Tree::temporary();
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
                    [1; 32],
                );
            }
            model.persist().unwrap();
        };
        put(&model, 1, 7);
        put(&model, 2, 8); // a second snapshot (the deltas outweigh the first)
        let in_use = |tree: &Tree| {
            let mut snapshots: Vec<u64> = tree
                .scan_prefix(PAGE)
                .into_iter()
                .map(|(k, _)| u64::from_be_bytes(k[1..9].try_into().unwrap()))
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
        tree.insert(&page_key(3, 0), b"half a page");
        tree.insert(&page_key(1, 5), b"stale");
        let model = Model::load(tree.clone()).unwrap();
        assert_eq!(model.checkpoint(), 8);
        assert_eq!(model.get(&[1]), Some(vec![2; 10]));
        assert_eq!(in_use(&tree), vec![2]);
        // The next snapshot is written over whatever snapshot 3 had left.
        tree.insert(&page_key(3, 9), b"more of it");
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
