//! Corruption injection: damage a copy of a database and check that the store
//! reports the damage with its position, never panics, never returns wrong
//! data, and still reads the rest.
//!
//! A pristine store is built and closed, its directory copied, and the copy's
//! tree opened with sled directly to change one key or value (the layout is in
//! `docs/storage-format.md`). The last test damages sled's own files, in a
//! child process, since sled itself may panic on them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context};
use ecoute_store::{
    Commit, Direction, EventData, EventStore, ExpectedVersion, ReadFrom, RecordedEvent, StoreError,
    StreamId, TREE_NAME,
};
use ecoute_tests::open_store;
use uuid::Uuid;

/// The pristine store's commits: per commit, (stream, number of events) in order.
const COMMITS: &[&[(&str, u64)]] = &[
    &[("case-a", 2)],                // 0..=1
    &[("case-b", 1)],                // 2
    &[("case-a", 1), ("call-c", 2)], // 3..=5
    &[("case-b", 3)],                // 6..=8
    &[("call-c", 1)],                // 9
    &[("case-a", 1), ("case-b", 1)], // 10..=11
    &[("call-c", 2)],                // 12..=13
];
const HEAD: u64 = 14;
const STREAMS: [&str; 3] = ["case-a", "case-b", "call-c"];
/// Positions damaged in the tables: the first, inside a multi-stream commit,
/// the first and the middle of a commit. Never the last: see
/// `a_damaged_last_record_still_lets_the_rest_read`.
const POSITIONS: [u64; 4] = [0, 4, 6, 7];

fn event_id(position: u64) -> Uuid {
    Uuid::from_u128(0xec00_7e00_0000 + u128::from(position))
}

/// A pristine, closed store with the commits above, in `dir/db`.
struct Pristine {
    _dir: tempfile::TempDir,
    db: PathBuf,
    events: Vec<RecordedEvent>,
}

async fn pristine() -> anyhow::Result<Pristine> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("db");
    let store = open_store(&db)?;
    let mut position = 0u64;
    for commit in COMMITS {
        let mut c = Commit::default();
        for (stream, n) in *commit {
            let events = (0..*n)
                .map(|i| {
                    let id = event_id(position + i);
                    let payload = format!("payload of event {} {}", position + i, "x".repeat(40));
                    EventData::new(id, "Happened", 1, payload.into_bytes())
                })
                .collect();
            position += n;
            c = c.and(StreamId::new(*stream)?, ExpectedVersion::Any, events);
        }
        store.append(c).await?;
    }
    let events = store.read_all(0, usize::MAX).await?;
    ensure!(
        events.len() == usize::try_from(HEAD)?,
        "pristine store has {} events",
        events.len()
    );
    store.close().await?;
    drop(store);
    Ok(Pristine {
        _dir: dir,
        db,
        events,
    })
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A copy of the pristine database, its tree changed by `damage` through sled directly.
fn damaged_copy(
    p: &Pristine,
    damage: impl FnOnce(&sled::Tree) -> anyhow::Result<()>,
) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("db");
    copy_dir(&p.db, &db)?;
    let sled_db = sled::open(&db)?;
    let tree = sled_db.open_tree(TREE_NAME)?;
    damage(&tree)?;
    sled_db.flush()?;
    drop(tree);
    drop(sled_db);
    Ok((dir, db))
}

fn event_key(position: u64) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(&position.to_be_bytes());
    k
}

fn stored(tree: &sled::Tree, key: &[u8]) -> anyhow::Result<Vec<u8>> {
    Ok(tree
        .get(key)?
        .context("key missing in the pristine copy")?
        .to_vec())
}

fn corrupt_at(r: &Result<impl std::fmt::Debug, StoreError>) -> Option<u64> {
    match r {
        Err(StoreError::Corrupt { position, .. }) => Some(*position),
        _ => None,
    }
}

/// Reopens a copy whose record at `n` is damaged, and checks that reads over
/// it and `verify` say so at `n` while everything else still reads.
async fn check_corrupt_at(p: &Pristine, db: &Path, n: u64) -> anyhow::Result<()> {
    let store = open_store(db)?;
    ensure!(store.head().await? == HEAD, "head moved");
    let over = store.read_all(0, usize::MAX).await;
    ensure!(corrupt_at(&over) == Some(n), "read_all over {n}: {over:?}");
    let at = store.read_all(n, 1).await;
    ensure!(corrupt_at(&at) == Some(n), "read_all at {n}: {at:?}");

    let n_usize = usize::try_from(n)?;
    let before = store.read_all(0, n_usize).await?;
    ensure!(before == p.events[..n_usize], "events before {n} changed");
    let after = store.read_all(n + 1, usize::MAX).await?;
    ensure!(after == p.events[n_usize + 1..], "events after {n} changed");

    let victim = &p.events[n_usize].stream_id;
    for s in STREAMS {
        let stream = StreamId::new(s)?;
        let read = store
            .read_stream(&stream, ReadFrom::Edge, Direction::Forward, usize::MAX)
            .await;
        if stream == *victim {
            ensure!(corrupt_at(&read) == Some(n), "read_stream {s}: {read:?}");
        } else {
            let want: Vec<_> = p
                .events
                .iter()
                .filter(|e| e.stream_id == stream)
                .cloned()
                .collect();
            ensure!(read? == want, "read_stream {s} changed");
        }
    }
    let report = store.verify().await?;
    ensure!(
        report.first_fault.as_ref().map(|f| f.0) == Some(n) && report.records_checked == n,
        "verify: {report:?}"
    );
    store.close().await?;
    Ok(())
}

/// Where in a record's value a byte is flipped.
#[derive(Debug, Clone, Copy)]
enum Offset {
    FromStart(usize),
    Middle,
    FromEnd(usize),
}

impl Offset {
    fn index(self, len: usize) -> usize {
        match self {
            Offset::FromStart(i) => i,
            Offset::Middle => len / 2,
            Offset::FromEnd(i) => len - 1 - i,
        }
    }
}

#[tokio::test]
async fn a_flipped_byte_in_a_record_is_reported_at_its_position() -> anyhow::Result<()> {
    let p = pristine().await?;
    // The envelope is: format byte, bincode body, 32-byte chain hash, CRC-32.
    let offsets = [
        ("format byte", Offset::FromStart(0)),
        ("position in the body", Offset::FromStart(1)),
        ("commit range in the body", Offset::FromStart(3)),
        ("middle of the body", Offset::Middle),
        ("payload", Offset::FromEnd(40)),
        ("first byte of the hash", Offset::FromEnd(35)),
        ("last byte of the hash", Offset::FromEnd(4)),
        ("first byte of the crc", Offset::FromEnd(3)),
        ("last byte of the crc", Offset::FromEnd(0)),
    ];
    for n in POSITIONS {
        for (what, offset) in offsets {
            for mask in [0x01u8, 0x80, 0xff] {
                let (_guard, db) = damaged_copy(&p, |tree| {
                    let mut value = stored(tree, &event_key(n))?;
                    let i = offset.index(value.len());
                    value[i] ^= mask;
                    tree.insert(event_key(n), value)?;
                    Ok(())
                })?;
                check_corrupt_at(&p, &db, n)
                    .await
                    .with_context(|| format!("position {n}, {what}, mask {mask:#04x}"))?;
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_missing_record_is_reported_at_its_position() -> anyhow::Result<()> {
    let p = pristine().await?;
    for n in POSITIONS {
        let (_guard, db) = damaged_copy(&p, |tree| {
            tree.remove(event_key(n))?;
            Ok(())
        })?;
        check_corrupt_at(&p, &db, n)
            .await
            .with_context(|| format!("record {n} removed"))?;
    }
    Ok(())
}

/// How a record's value is rewritten.
type Rewrite = fn(&sled::Tree, u64, Vec<u8>) -> anyhow::Result<Vec<u8>>;

#[tokio::test]
async fn a_truncated_duplicated_or_misplaced_record_is_reported_at_its_position(
) -> anyhow::Result<()> {
    let p = pristine().await?;
    let rewrites: &[(&str, Rewrite)] = &[
        ("empty", |_, _, _| Ok(Vec::new())),
        ("one byte", |_, _, v| Ok(v[..1].to_vec())),
        ("cut in half", |_, _, v| Ok(v[..v.len() / 2].to_vec())),
        ("last byte cut", |_, _, v| Ok(v[..v.len() - 1].to_vec())),
        ("doubled", |_, _, v| {
            Ok([v.as_slice(), v.as_slice()].concat())
        }),
        ("a byte duplicated in the middle", |_, _, mut v| {
            let m = v.len() / 2;
            v.insert(m, v[m]);
            Ok(v)
        }),
        ("last byte duplicated", |_, _, mut v| {
            v.push(v[v.len() - 1]);
            Ok(v)
        }),
        ("the next record's bytes", |tree, n, _| {
            stored(tree, &event_key(n + 1))
        }),
        ("the previous record's bytes", |tree, n, v| {
            if n == 0 {
                Ok(v[1..].to_vec())
            } else {
                stored(tree, &event_key(n - 1))
            }
        }),
    ];
    for n in POSITIONS {
        for (what, rewrite) in rewrites {
            let (_guard, db) = damaged_copy(&p, |tree| {
                let value = stored(tree, &event_key(n))?;
                tree.insert(event_key(n), rewrite(tree, n, value)?)?;
                Ok(())
            })?;
            check_corrupt_at(&p, &db, n)
                .await
                .with_context(|| format!("position {n}, {what}"))?;
        }
    }
    Ok(())
}

/// The pristine events of one stream.
fn stream_events(p: &Pristine, stream: &StreamId) -> Vec<RecordedEvent> {
    p.events
        .iter()
        .filter(|e| e.stream_id == *stream)
        .cloned()
        .collect()
}

/// The last record is damaged: the store must still open, read every
/// earlier commit, and report the damage from `verify`, as for any other record.
#[tokio::test]
async fn a_damaged_last_record_still_lets_the_rest_read() -> anyhow::Result<()> {
    let p = pristine().await?;
    let last_commit = p.events[usize::try_from(HEAD - 1)?].commit;
    let (_guard, db) = damaged_copy(&p, |tree| {
        let mut value = stored(tree, &event_key(HEAD - 1))?;
        let m = value.len() / 2;
        value[m] ^= 0x01;
        tree.insert(event_key(HEAD - 1), value)?;
        Ok(())
    })?;
    let store = open_store(&db).context("a store whose last record is damaged must still open")?;
    let good = usize::try_from(last_commit.first)?;
    ensure!(
        store.read_all(0, good).await? == p.events[..good],
        "the commits before the damaged one must read"
    );
    let report = store.verify().await?;
    let fault = report.first_fault.as_ref().map(|f| f.0);
    ensure!(
        fault.is_some_and(|f| last_commit.first <= f && f <= last_commit.last),
        "verify must report the damaged last commit {last_commit:?}: {report:?}"
    );
    store.close().await?;
    Ok(())
}

/// The indexes (event ids, streams, categories, stream states) are not stored:
/// they are rebuilt from the records when the store opens. So a copy holding
/// nothing but the records and the layout marker reads exactly as the original,
/// and `verify` finds the indexes in agreement with the log.
#[tokio::test]
async fn the_indexes_are_rebuilt_from_the_records_alone() -> anyhow::Result<()> {
    let p = pristine().await?;
    let (_guard, db) = damaged_copy(&p, |tree| {
        let others: Vec<_> = tree
            .iter()
            .keys()
            .filter_map(|k| k.ok())
            .filter(|k| k.first() != Some(&b'e') && k.as_ref() != b"mformat")
            .collect();
        for k in others {
            tree.remove(k)?;
        }
        Ok(())
    })?;
    let store = open_store(&db)?;
    ensure!(
        store.read_all(0, usize::MAX).await? == p.events,
        "$all changed"
    );
    for s in STREAMS {
        let stream = StreamId::new(s)?;
        let read = store
            .read_stream(&stream, ReadFrom::Edge, Direction::Forward, usize::MAX)
            .await?;
        ensure!(
            read == stream_events(&p, &stream),
            "read_stream {s} changed"
        );
        let category = store
            .read_category(stream.category(), 0, usize::MAX)
            .await?;
        let want: Vec<_> = p
            .events
            .iter()
            .filter(|e| e.stream_id.category() == stream.category())
            .cloned()
            .collect();
        ensure!(
            category == want,
            "read_category {} changed",
            stream.category()
        );
    }
    let report = store.verify().await?;
    ensure!(
        report.is_ok() && report.records_checked == HEAD,
        "verify: {report:?}"
    );
    store.close().await?;
    Ok(())
}

/// The whole last commit vanished but the indexes and stream records that
/// name it remain: reads of its streams must answer, not wait for a position
/// that will never come, and `verify` must report the dangling entries.
#[tokio::test]
async fn a_vanished_last_commit_is_reported_not_waited_for() -> anyhow::Result<()> {
    let p = pristine().await?;
    let last_commit = p.events[usize::try_from(HEAD - 1)?].commit;
    let (_guard, db) = damaged_copy(&p, |tree| {
        for n in last_commit.first..=last_commit.last {
            tree.remove(event_key(n))?;
        }
        Ok(())
    })?;
    // Refusing to open is a fine answer too.
    let Ok(store) = open_store(&db) else {
        return Ok(());
    };
    // Generous: only a reader that waits forever trips it.
    let bound = std::time::Duration::from_secs(5);
    let stream = p.events[usize::try_from(HEAD - 1)?].stream_id.clone();
    let state = tokio::time::timeout(bound, store.stream_state(&stream)).await;
    ensure!(state.is_ok(), "stream_state({stream}) never answered");
    let read = tokio::time::timeout(
        bound,
        store.read_stream(&stream, ReadFrom::Edge, Direction::Forward, usize::MAX),
    )
    .await;
    ensure!(read.is_ok(), "read_stream({stream}) never answered");
    let report = store.verify().await?;
    ensure!(
        !report.is_ok(),
        "verify says the log is sound, yet indexes name positions {last_commit:?} beyond the head"
    );
    store.close().await?;
    Ok(())
}

/// How sled's files in a copy are damaged, before a child process opens it.
type FileDamage = fn(&Path) -> anyhow::Result<()>;

/// Every file under `dir`, largest first.
fn files_by_size(dir: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            out.extend(files_by_size(&entry.path())?);
        } else {
            out.push((entry.metadata()?.len(), entry.path()));
        }
    }
    out.sort_by(|a, b| b.cmp(a));
    Ok(out)
}

fn largest_file(dir: &Path) -> anyhow::Result<PathBuf> {
    files_by_size(dir)?
        .into_iter()
        .next()
        .map(|(_, p)| p)
        .context("no file in the database directory")
}

/// Flips `len` bytes of the largest file, from `percent`% of its length.
fn flip_in_largest(dir: &Path, percent: usize, len: usize) -> anyhow::Result<()> {
    let path = largest_file(dir)?;
    let mut bytes = std::fs::read(&path)?;
    let start = bytes.len() * percent / 100;
    for b in bytes.iter_mut().skip(start).take(len) {
        *b ^= 0xff;
    }
    std::fs::write(&path, bytes)?;
    Ok(())
}

/// What the child process saw in a copy whose sled files were damaged.
struct FileOutcome {
    damage: &'static str,
    status: std::process::ExitStatus,
    /// The child's report, one line per step.
    report: String,
    /// `(head, verify passed)` if the store opened and `verify` answered.
    opened: Option<(u64, bool)>,
}

/// Damages sled's own files in copies of a pristine store, and opens each in
/// a child process (`open_damaged`), since sled itself may panic on them.
fn open_damaged_files() -> anyhow::Result<Vec<FileOutcome>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let p = rt.block_on(pristine())?;
    let damages: &[(&'static str, FileDamage)] = &[
        ("one byte in the middle of the largest file", |d| {
            flip_in_largest(d, 50, 1)
        }),
        ("64 bytes in the middle of the largest file", |d| {
            flip_in_largest(d, 50, 64)
        }),
        ("one byte near the start of the largest file", |d| {
            flip_in_largest(d, 1, 1)
        }),
        ("one byte near the end of the largest file", |d| {
            flip_in_largest(d, 99, 1)
        }),
        ("the largest file cut in half", |d| {
            let path = largest_file(d)?;
            let len = std::fs::metadata(&path)?.len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(len / 2)?;
            Ok(())
        }),
        ("the largest file's second half zeroed", |d| {
            let path = largest_file(d)?;
            let mut bytes = std::fs::read(&path)?;
            let half = bytes.len() / 2;
            bytes[half..].fill(0);
            std::fs::write(&path, bytes)?;
            Ok(())
        }),
        ("one byte flipped in every file", |d| {
            for (len, path) in files_by_size(d)? {
                if len > 0 {
                    let mut bytes = std::fs::read(&path)?;
                    let m = bytes.len() / 2;
                    bytes[m] ^= 0x01;
                    std::fs::write(&path, bytes)?;
                }
            }
            Ok(())
        }),
    ];
    let mut outcomes = Vec::new();
    for (damage, apply) in damages {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("db");
        copy_dir(&p.db, &db)?;
        apply(&db)?;
        let out = Command::new(env!("CARGO_BIN_EXE_open_damaged"))
            .arg(&db)
            .args(STREAMS)
            .output()?;
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = report.lines().find_map(|l| l.strip_prefix("summary: "));
        let opened = match summary.map(|s| s.split(' ').collect::<Vec<_>>()).as_deref() {
            Some(["head", head, "verified", ok]) => Some((head.parse()?, *ok == "true")),
            _ => None,
        };
        outcomes.push(FileOutcome {
            damage,
            status: out.status,
            report,
            opened,
        });
    }
    Ok(outcomes)
}

/// The store may fail to open a copy with damaged files, or answer errors,
/// but the process must never panic or abort.
#[test]
fn damaged_files_give_errors_not_panics() -> anyhow::Result<()> {
    let failed: Vec<_> = open_damaged_files()?
        .into_iter()
        .filter(|o| !o.status.success())
        .map(|o| format!("{} ({}):\n{}", o.damage, o.status, o.report))
        .collect();
    if !failed.is_empty() {
        bail!(
            "opening damaged files panicked or aborted:\n{}",
            failed.join("\n")
        );
    }
    Ok(())
}

/// If a copy with damaged files opens and `verify` passes, it must hold every
/// event: losing the tail of the log silently (and reusing its positions on
/// the next append) is the one answer that is never fine.
#[test]
fn damaged_files_never_lose_events_silently() -> anyhow::Result<()> {
    let lost: Vec<_> = open_damaged_files()?
        .into_iter()
        .filter(|o| matches!(o.opened, Some((head, true)) if head != HEAD))
        .map(|o| format!("{}: {HEAD} events stored;\n{}", o.damage, o.report))
        .collect();
    if !lost.is_empty() {
        bail!(
            "damaged files opened as a shorter log that verifies:\n{}",
            lost.join("\n")
        );
    }
    Ok(())
}
