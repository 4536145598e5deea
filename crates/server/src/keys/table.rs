//! The key table of one epoch in memory: where each subject's entry is, the
//! changes appended since the snapshot, and the steps that make a new epoch.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ecoute_domain::SubjectId;
use uuid::Uuid;

use super::disk::{self, damaged, io, step, Change, Entry, HEADER, RECORD, WRAPPED};
use super::{aad, kek_aad, random, unwrap, wrap, KeyStoreError, MasterKey, Secret};

/// Appended changes after which a new epoch folds them into the snapshot, erasure
/// or not: the table's changes stay few, and so does their index in memory.
const TAIL_MAX: usize = 8_192;
/// Snapshot records read at a time when a new epoch copies them.
const CHUNK: usize = 1_024;

/// The open table of the current epoch.
pub(super) struct Table {
    dir: PathBuf,
    master: MasterKey,
    kek_file: File,
    pub(super) epoch: u64,
    pub(super) kek: Secret,
    /// The table file, shared with a sync running outside the lock.
    pub(super) file: Arc<File>,
    count: u64,
    end: u64,
    /// The entries appended since the snapshot (they override it).
    tail: HashMap<SubjectId, Entry>,
    pub(super) intents: BTreeMap<Uuid, Vec<SubjectId>>,
    erasures: usize,
    changes: usize,
    /// Why writes are refused, after a write or a sync failed.
    failed: Option<String>,
}

impl Table {
    /// Writes a new store of epoch 1 into `dir` (which holds no table yet): the KEK
    /// file, then the table under a temporary name, renamed into place.
    pub(super) fn create(
        dir: &Path,
        master: &MasterKey,
        entries: &[(SubjectId, Option<Secret>)],
        intents: &[(Uuid, Vec<SubjectId>)],
    ) -> Result<(), KeyStoreError> {
        let epoch = 1;
        let kek = Secret(random()?);
        let kek_path = disk::path(dir, disk::KEK);
        let wrapped = wrap(&master.0, &kek_aad(epoch), &kek.0)?;
        step("writing the KEK file")?;
        disk::write_kek_file(&kek_path, epoch, &wrapped).map_err(io("writing", &kek_path))?;
        step("writing the table")?;
        let new = disk::path(dir, disk::TABLE_NEW);
        let file = disk::create(&new).map_err(io("writing", &new))?;
        let mut out = std::io::BufWriter::new(&file);
        out.write_all(&[0u8; HEADER as usize])
            .map_err(io("writing", &new))?;
        let mut count = 0u64;
        for (subject, key) in entries {
            let entry = match key {
                Some(k) => Entry::Key(wrap(&kek.0, &aad(b"key", *subject), &k.0)?),
                None => Entry::Erased,
            };
            out.write_all(&disk::encode_record(*subject, &entry))
                .map_err(io("writing", &new))?;
            count += 1;
        }
        for (commit, subjects) in intents {
            out.write_all(&disk::encode_change(&Change::Intent(
                *commit,
                subjects.clone(),
            )))
            .map_err(io("writing", &new))?;
        }
        out.flush().map_err(io("writing", &new))?;
        drop(out);
        file.write_all_at(&disk::encode_header(epoch, count), 0)
            .map_err(io("writing", &new))?;
        file.sync_all().map_err(io("syncing", &new))?;
        step("renaming the table into place")?;
        let table = disk::path(dir, disk::TABLE);
        std::fs::rename(&new, &table).map_err(io("renaming", &new))?;
        disk::sync_dir(dir).map_err(io("syncing", dir))
    }

    /// Opens the table in `dir` with its epoch's KEK, unwrapped by the master key;
    /// finishes what a stop in the middle of a new epoch left: a KEK of another
    /// epoch is scrubbed, a table not renamed into place removed, a torn last change
    /// cut off.
    pub(super) fn load(dir: &Path, master: &MasterKey) -> Result<Table, KeyStoreError> {
        let kek_path = disk::path(dir, disk::KEK);
        let table_path = disk::path(dir, disk::TABLE);
        let kek_file = disk::open_rw(&kek_path).map_err(io("opening", &kek_path))?;
        let file = disk::open_rw(&table_path).map_err(io("opening", &table_path))?;
        let mut header = [0u8; HEADER as usize];
        file.read_exact_at(&mut header, 0)
            .map_err(|_| damaged(&table_path, 0, "its header is cut short"))?;
        let (epoch, count) = disk::decode_header(&header)
            .ok_or_else(|| damaged(&table_path, 0, "its header is damaged"))?;
        let slots = disk::read_slots(&kek_file).map_err(io("reading", &kek_path))?;
        let index = usize::from(epoch % 2 == 1);
        let wrapped = match slots.slots[index] {
            Some((e, w)) if e == epoch => w,
            _ => {
                return Err(damaged(
                    &kek_path,
                    0,
                    "it holds no key-encryption key for the table's epoch",
                ))
            }
        };
        let kek =
            unwrap(&master.0, &kek_aad(epoch), &wrapped).ok_or(KeyStoreError::WrongMasterKey)?;
        // The master key opens the epoch's KEK: only now is anything changed.
        if slots.used[1 - index] {
            step("scrubbing a KEK of another epoch")?;
            disk::scrub_slot(&kek_file, (1 - index) as u64).map_err(io("scrubbing", &kek_path))?;
        }
        let new = disk::path(dir, disk::TABLE_NEW);
        if new.exists() {
            std::fs::remove_file(&new).map_err(io("removing", &new))?;
        }
        let len = file.metadata().map_err(io("reading", &table_path))?.len();
        let snapshot_end = count
            .checked_mul(RECORD as u64)
            .and_then(|n| n.checked_add(HEADER))
            .filter(|&n| n <= len)
            .ok_or_else(|| damaged(&table_path, 0, "it is shorter than its header says"))?;
        let mut table = Table {
            dir: dir.to_path_buf(),
            master: master.clone(),
            kek_file,
            epoch,
            kek,
            file: Arc::new(file),
            count,
            end: snapshot_end,
            tail: HashMap::new(),
            intents: BTreeMap::new(),
            erasures: 0,
            changes: 0,
            failed: None,
        };
        table.check_snapshot()?;
        table.read_tail(len)?;
        Ok(table)
    }

    /// Checks every snapshot record and their order (the lookups' binary search
    /// rests on it).
    fn check_snapshot(&self) -> Result<(), KeyStoreError> {
        let path = self.path();
        let mut previous: Option<[u8; 16]> = None;
        let mut i = 0u64;
        let mut buf = vec![0u8; CHUNK * RECORD];
        while i < self.count {
            let n = usize::try_from((self.count - i).min(CHUNK as u64)).unwrap_or(CHUNK);
            let at = HEADER + i * RECORD as u64;
            self.file
                .read_exact_at(&mut buf[..n * RECORD], at)
                .map_err(io("reading", &path))?;
            for (j, rec) in buf[..n * RECORD].chunks_exact(RECORD).enumerate() {
                let offset = at + (j * RECORD) as u64;
                let (id, _) = disk::decode_record(rec)
                    .ok_or_else(|| damaged(&path, offset, "a key record is damaged"))?;
                if previous.is_some_and(|p| p >= id) {
                    return Err(damaged(&path, offset, "the key records are out of order"));
                }
                previous = Some(id);
            }
            i += n as u64;
        }
        Ok(())
    }

    /// Folds the changes appended after the snapshot. A damaged change with no
    /// whole change after it is a write a stop cut short (never acknowledged: each
    /// is synced before its caller goes on) and is cut off; one with whole changes
    /// after it is damage.
    fn read_tail(&mut self, len: u64) -> Result<(), KeyStoreError> {
        let path = self.path();
        let start = self.end;
        let size = usize::try_from(len - start)
            .map_err(|_| damaged(&path, start, "its changes are too long"))?;
        let mut tail = vec![0u8; size];
        self.file
            .read_exact_at(&mut tail, start)
            .map_err(io("reading", &path))?;
        let mut at = 0usize;
        while at < tail.len() {
            match disk::decode_change(&tail[at..]) {
                Some((change, n)) => {
                    self.apply(change);
                    at += n;
                }
                None => {
                    if (at + 1..tail.len()).any(|p| disk::decode_change(&tail[p..]).is_some()) {
                        return Err(damaged(&path, start + at as u64, "a key change is damaged"));
                    }
                    self.file
                        .set_len(start + at as u64)
                        .and_then(|()| self.file.sync_all())
                        .map_err(io("cutting a torn change off", &path))?;
                    break;
                }
            }
        }
        self.end = start + at as u64;
        Ok(())
    }

    fn path(&self) -> PathBuf {
        disk::path(&self.dir, disk::TABLE)
    }

    fn apply(&mut self, change: Change) {
        self.changes += 1;
        match change {
            Change::Key(s, w) => {
                self.tail.insert(s, Entry::Key(w));
            }
            Change::Erased(s) => {
                self.tail.insert(s, Entry::Erased);
                self.erasures += 1;
            }
            Change::Intent(c, subjects) => {
                self.intents.insert(c, subjects);
            }
            Change::Forget(c) => {
                self.intents.remove(&c);
            }
        }
    }

    /// The subject's entry: an appended change, or the snapshot's record.
    pub(super) fn find(&self, subject: SubjectId) -> Result<Option<Entry>, KeyStoreError> {
        if let Some(e) = self.tail.get(&subject) {
            return Ok(Some(*e));
        }
        let want = subject.as_uuid().as_bytes();
        let (mut lo, mut hi) = (0u64, self.count);
        let mut rec = [0u8; RECORD];
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = HEADER + mid * RECORD as u64;
            self.file
                .read_exact_at(&mut rec, at)
                .map_err(io("reading", &self.path()))?;
            let (id, entry) = disk::decode_record(&rec)
                .ok_or_else(|| damaged(&self.path(), at, "a key record is damaged"))?;
            match id.cmp(want) {
                std::cmp::Ordering::Equal => return Ok(Some(entry)),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }

    /// Appends a change (not synced: the caller syncs); after a failed write, every
    /// later write is refused.
    pub(super) fn append(&mut self, change: Change) -> Result<(), KeyStoreError> {
        if let Some(reason) = &self.failed {
            return Err(KeyStoreError::Failed(reason.clone()));
        }
        let bytes = disk::encode_change(&change);
        if let Err(e) = self.file.write_all_at(&bytes, self.end) {
            let e = io("writing", &self.path())(e);
            self.failed = Some(e.to_string());
            return Err(e);
        }
        self.end += bytes.len() as u64;
        self.apply(change);
        Ok(())
    }

    /// Refuses when a write or a sync failed earlier: a key then may be in memory
    /// and not on disk, and must seal nothing.
    pub(super) fn check(&self) -> Result<(), KeyStoreError> {
        match &self.failed {
            Some(reason) => Err(KeyStoreError::Failed(reason.clone())),
            None => Ok(()),
        }
    }

    /// Refuses every later write, after a sync failed.
    pub(super) fn fail(&mut self, reason: String) {
        self.failed.get_or_insert(reason);
    }

    /// Whether a new epoch is due: a key was destroyed since the last one, or the
    /// appended changes grew long.
    pub(super) fn due(&self) -> bool {
        self.erasures > 0 || self.changes > TAIL_MAX
    }

    /// The first phase of a new epoch, taken under the table's lock: what the
    /// snapshot of the new epoch is made from, outside it.
    pub(super) fn freeze(&self) -> Result<Frozen, KeyStoreError> {
        if let Some(reason) = &self.failed {
            return Err(KeyStoreError::Failed(reason.clone()));
        }
        let epoch = self
            .epoch
            .checked_add(1)
            .ok_or_else(|| damaged(&self.path(), 0, "its epoch cannot advance"))?;
        let mut tail: Vec<(SubjectId, Entry)> = self.tail.iter().map(|(s, e)| (*s, *e)).collect();
        tail.sort_by(|a, b| a.0.as_uuid().as_bytes().cmp(b.0.as_uuid().as_bytes()));
        Ok(Frozen {
            dir: self.dir.clone(),
            file: self.file.clone(),
            count: self.count,
            old_kek: Secret(self.kek.0),
            epoch,
            kek: Secret(random()?),
            tail,
        })
    }

    /// The last phase of a new epoch, under the table's lock: the changes appended
    /// since [`Table::freeze`] and the intents are added to the new table, then
    /// each step is made durable before the next — the new table synced; the new
    /// KEK, wrapped by `master` (a new master key) or the current one, in the other
    /// slot; the rename of the table (the commit point); the old slot overwritten
    /// with zeros. A stop before the rename leaves the old epoch whole (its
    /// leftovers are removed at open); after it, the new one.
    pub(super) fn commit_epoch(
        &mut self,
        frozen: Frozen,
        new: NewTable,
        master: Option<&MasterKey>,
    ) -> Result<(), KeyStoreError> {
        let path = disk::path(&self.dir, disk::TABLE_NEW);
        let result = self.finish_table(&frozen, &new, &path);
        if result.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        let (delta, end) = result?;
        // Before the rename nothing the old epoch needs is touched: a failure leaves
        // it whole, and the next attempt overwrites the leftovers.
        let master = master.unwrap_or(&self.master).clone();
        let kek_path = disk::path(&self.dir, disk::KEK);
        let wrapped = wrap(&master.0, &kek_aad(frozen.epoch), &frozen.kek.0)?;
        step("writing the new KEK")?;
        disk::write_slot(
            &self.kek_file,
            frozen.epoch % 2,
            &disk::encode_slot(frozen.epoch, &wrapped),
        )
        .map_err(io("writing", &kek_path))?;
        step("renaming the new table into place")?;
        std::fs::rename(&path, self.path()).map_err(io("renaming", &path))?;
        let old = self.epoch % 2;
        self.epoch = frozen.epoch;
        self.kek = Secret(frozen.kek.0);
        self.master = master;
        self.file = Arc::new(new.file);
        self.count = new.count;
        self.end = end;
        self.erasures = delta.iter().filter(|(_, e)| *e == Entry::Erased).count();
        self.changes = delta.len() + self.intents.len();
        self.tail = delta.into_iter().collect();
        let finish = disk::sync_dir(&self.dir)
            .map_err(io("syncing", &self.dir))
            .and_then(|()| step("scrubbing the old KEK"))
            .and_then(|()| {
                disk::scrub_slot(&self.kek_file, old).map_err(io("scrubbing", &kek_path))
            });
        if let Err(e) = &finish {
            self.fail(e.to_string());
        }
        finish
    }

    /// Appends to the new table what changed since it was frozen, and the intents;
    /// writes its header and syncs it. Returns the changes appended and its length.
    fn finish_table(
        &mut self,
        frozen: &Frozen,
        new: &NewTable,
        path: &Path,
    ) -> Result<(Vec<(SubjectId, Entry)>, u64), KeyStoreError> {
        if let Some(reason) = &self.failed {
            return Err(KeyStoreError::Failed(reason.clone()));
        }
        // (The old table needs no sync here: a change appended to it is acknowledged
        // only after a sync of the old table, which makes it durable there, or of
        // this one, which holds it too and is synced and renamed, directory
        // included, before the lock is released.)
        let mut delta = Vec::new();
        let mut bytes = Vec::new();
        for (subject, entry) in &self.tail {
            let was = frozen
                .tail
                .binary_search_by(|(s, _)| s.as_uuid().as_bytes().cmp(subject.as_uuid().as_bytes()))
                .ok()
                .map(|i| frozen.tail[i].1);
            if was == Some(*entry) {
                continue;
            }
            let entry = match entry {
                Entry::Erased => Entry::Erased,
                Entry::Key(old) => Entry::Key(frozen.rewrap_key(*subject, old)?),
            };
            bytes.extend(disk::encode_change(&match entry {
                Entry::Erased => Change::Erased(*subject),
                Entry::Key(w) => Change::Key(*subject, w),
            }));
            delta.push((*subject, entry));
        }
        for (commit, subjects) in &self.intents {
            bytes.extend(disk::encode_change(&Change::Intent(
                *commit,
                subjects.clone(),
            )));
        }
        new.file
            .write_all_at(&bytes, new.end)
            .and_then(|()| {
                new.file
                    .write_all_at(&disk::encode_header(frozen.epoch, new.count), 0)
            })
            .and_then(|()| new.file.sync_data())
            .map_err(io("writing", path))?;
        Ok((delta, new.end + bytes.len() as u64))
    }

    /// Tests only: the store's directory.
    #[cfg(test)]
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Tests only: the wrapped form of a subject's key, as the table holds it.
    #[cfg(test)]
    pub(super) fn wrapped(&self, subject: SubjectId) -> Option<[u8; WRAPPED]> {
        match self.find(subject).ok().flatten() {
            Some(Entry::Key(w)) => Some(w),
            _ => None,
        }
    }
}

/// What a new epoch is made from, taken from the table under its lock and used
/// outside it: the old epoch's snapshot (never written again while it is the
/// current one), its KEK, and the changes appended so far.
pub(super) struct Frozen {
    dir: PathBuf,
    file: Arc<File>,
    count: u64,
    old_kek: Secret,
    epoch: u64,
    kek: Secret,
    tail: Vec<(SubjectId, Entry)>,
}

/// The new epoch's table, its snapshot written and synced, not yet in place.
pub(super) struct NewTable {
    file: File,
    count: u64,
    end: u64,
}

impl Frozen {
    fn old_path(&self) -> PathBuf {
        disk::path(&self.dir, disk::TABLE)
    }

    /// Writes the new epoch's snapshot under a temporary name: the old snapshot
    /// merged with the changes frozen, live keys re-wrapped under the new KEK;
    /// synced. The long part of a new epoch, done without the table's lock.
    pub(super) fn write_snapshot(&self) -> Result<NewTable, KeyStoreError> {
        let path = disk::path(&self.dir, disk::TABLE_NEW);
        let written = self.write_snapshot_to(&path);
        if written.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        written
    }

    fn write_snapshot_to(&self, path: &Path) -> Result<NewTable, KeyStoreError> {
        let file = disk::create(path).map_err(io("writing", path))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, &file);
        let w = |out: &mut std::io::BufWriter<&File>, b: &[u8]| {
            out.write_all(b).map_err(io("writing", path))
        };
        w(&mut out, &[0u8; HEADER as usize])?;
        let mut count = 0u64;
        let mut emit = |out: &mut std::io::BufWriter<&File>,
                        subject: SubjectId,
                        entry: Entry|
         -> Result<(), KeyStoreError> {
            let entry = match entry {
                Entry::Erased => Entry::Erased,
                Entry::Key(old) => Entry::Key(self.rewrap_key(subject, &old)?),
            };
            count += 1;
            w(out, &disk::encode_record(subject, &entry))
        };
        let mut pending = self.tail.iter().copied().peekable();
        let mut buf = vec![0u8; CHUNK * RECORD];
        let mut i = 0u64;
        while i < self.count {
            let n = usize::try_from((self.count - i).min(CHUNK as u64)).unwrap_or(CHUNK);
            let at = HEADER + i * RECORD as u64;
            self.file
                .read_exact_at(&mut buf[..n * RECORD], at)
                .map_err(io("reading", &self.old_path()))?;
            for (j, rec) in buf[..n * RECORD].chunks_exact(RECORD).enumerate() {
                let (id, entry) = disk::decode_record(rec).ok_or_else(|| {
                    damaged(
                        &self.old_path(),
                        at + (j * RECORD) as u64,
                        "a key record is damaged",
                    )
                })?;
                while let Some((s, e)) = pending.next_if(|(s, _)| s.as_uuid().as_bytes() < &id) {
                    emit(&mut out, s, e)?;
                }
                match pending.next_if(|(s, _)| s.as_uuid().as_bytes() == &id) {
                    Some((s, e)) => emit(&mut out, s, e)?,
                    None => emit(&mut out, disk::subject(id), entry)?,
                }
            }
            i += n as u64;
        }
        for (s, e) in pending {
            emit(&mut out, s, e)?;
        }
        out.flush().map_err(io("writing", path))?;
        drop(out);
        file.sync_data().map_err(io("syncing", path))?;
        let end = HEADER + count * RECORD as u64;
        Ok(NewTable { file, count, end })
    }

    /// A subject's key, unwrapped by the old KEK and wrapped by the new one.
    fn rewrap_key(
        &self,
        subject: SubjectId,
        old: &[u8; WRAPPED],
    ) -> Result<[u8; WRAPPED], KeyStoreError> {
        let a = aad(b"key", subject);
        let key = unwrap(&self.old_kek.0, &a, old)
            .ok_or_else(|| damaged(&self.old_path(), 0, "a subject's key does not unwrap"))?;
        wrap(&self.kek.0, &a, &key.0)
    }
}
