//! The write-ahead journal carries acknowledged commits across a power loss.
//!
//! A `kill -9` cannot show this (the kernel keeps a killed process's writes),
//! so the loss is staged: the store's sled files are copied at a durable
//! point, more commits are acknowledged, and the copy gets only what a power
//! cut would leave of the later work — the journal, which was `fdatasync`ed
//! before each acknowledgement, and the head file. Opened, the copy must hold
//! every acknowledged event and verify.

mod common;

use std::path::Path;

use common::*;
use ecoute_store::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

async fn append(store: &SledStore, from: u128, to: u128) {
    for i in from..to {
        store
            .append_to_stream(
                stream(&format!("case-{}", i % 7)),
                ExpectedVersion::Any,
                vec![event(i + 1, "x")],
            )
            .await
            .unwrap();
    }
}

/// Stages a power loss. A store holds events `0..durable` made durable in
/// sled's own files (a clean close), then acknowledges `durable..acked` more.
/// The directory returned holds what a power cut would leave: sled's files
/// from the durable point, the head file as the acknowledgements left it, and
/// the journal if `with_journal`.
async fn after_power_loss(
    durable: u128,
    acked: u128,
    with_journal: bool,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    let lost = tmp.path().join("after-power-loss");
    {
        let store = SledStore::open(&live, StoreConfig::default()).unwrap();
        append(&store, 0, durable).await;
        store.close().await.unwrap();
    }
    let store = SledStore::open(&live, StoreConfig::default()).unwrap();
    copy_dir(&live, &lost);
    std::fs::remove_dir_all(lost.join(WAL_DIR)).unwrap();
    append(&store, durable, acked).await;
    if with_journal {
        copy_dir(&live.join(WAL_DIR), &lost.join(WAL_DIR));
    }
    std::fs::copy(live.join(HEAD_FILE_NAME), lost.join(HEAD_FILE_NAME)).unwrap();
    drop(store);
    (tmp, lost)
}

#[tokio::test]
async fn acknowledged_commits_come_back_from_the_journal_alone() {
    let (_tmp, lost) = after_power_loss(50, 250, true).await;
    let store = SledStore::open(&lost, StoreConfig::default()).unwrap();
    assert_eq!(store.head().await.unwrap(), 250);
    let all = store.read_all(0, 1000).await.unwrap();
    assert_eq!(all.len(), 250);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.id, event(i as u128 + 1, "x").id, "at {i}");
    }
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_fault, None);
    assert_eq!(report.records_checked, 250);
    // It goes on from there, and a clean close leaves no journal to replay.
    append(&store, 250, 260).await;
    store.close().await.unwrap();
    drop(store);
    let left = std::fs::read_dir(lost.join(WAL_DIR)).unwrap().count();
    assert_eq!(left, 0, "a clean close leaves no journal segment");
    let store = SledStore::open(&lost, StoreConfig::default()).unwrap();
    assert_eq!(store.head().await.unwrap(), 260);
}

#[tokio::test]
async fn without_the_journal_the_head_file_reports_the_loss() {
    // The same staging with the journal left out: the store must not pretend.
    let (_tmp, lost) = after_power_loss(20, 40, false).await;
    let store = SledStore::open(&lost, StoreConfig::default()).unwrap();
    let report = store.verify().await.unwrap();
    assert!(report.first_fault.is_some(), "a lost tail went unnoticed");
}

#[tokio::test]
async fn small_segments_are_checkpointed_while_writing_and_reopen_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let config = StoreConfig {
        journal_segment_bytes: 4 << 10,
        ..StoreConfig::default()
    };
    let store = SledStore::open(&path, config.clone()).unwrap();
    append(&store, 0, 400).await;
    // Checkpoints run in the background: old segments go away while writing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_dir(path.join(WAL_DIR)).unwrap().count() > 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "segments were never checkpointed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    drop(store);
    let store = SledStore::open(&path, config).unwrap();
    assert_eq!(store.head().await.unwrap(), 400);
    assert_eq!(store.verify().await.unwrap().first_fault, None);
}

fn event_key(position: u64) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(&position.to_be_bytes());
    k
}

/// Cuts the log's last commit to a prefix, as a crash between its first
/// records reaching sled's files and its journal frame would; `note` says
/// whether the head file still notes it as durable.
async fn torn_last_commit(note: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    {
        let store = SledStore::open(&path, StoreConfig::default()).unwrap();
        append(&store, 0, 1).await;
        let three = (10..13).map(|i| event(i, "x")).collect();
        store
            .append_to_stream(stream("case-9"), ExpectedVersion::NoStream, three)
            .await
            .unwrap();
        store.close().await.unwrap();
    }
    if !note {
        std::fs::remove_file(path.join(HEAD_FILE_NAME)).unwrap();
    }
    let db = sled::open(&path).unwrap();
    db.open_tree(TREE_NAME)
        .unwrap()
        .remove(event_key(3))
        .unwrap();
    db.flush().unwrap();
    drop(db);
    (tmp, path)
}

#[tokio::test]
async fn an_unacknowledged_torn_last_commit_is_rolled_back_on_open() {
    let (_tmp, path) = torn_last_commit(false).await;
    let store = SledStore::open(&path, StoreConfig::default()).unwrap();
    assert_eq!(store.head().await.unwrap(), 1, "the torn commit is gone");
    assert_eq!(store.failure(), None);
    assert_eq!(
        store.stream_state(&stream("case-9")).await.unwrap(),
        StreamState::Absent
    );
    // Its positions are taken again, and the log verifies across a reopen.
    append(&store, 100, 102).await;
    store.close().await.unwrap();
    drop(store);
    let store = SledStore::open(&path, StoreConfig::default()).unwrap();
    assert_eq!(store.head().await.unwrap(), 3);
    let report = store.verify().await.unwrap();
    assert_eq!((report.first_fault, report.records_checked), (None, 3));
}

#[tokio::test]
async fn a_torn_commit_the_head_file_noted_durable_is_damage_not_rolled_back() {
    let (_tmp, path) = torn_last_commit(true).await;
    let store = SledStore::open(&path, StoreConfig::default()).unwrap();
    assert!(
        store.failure().is_some(),
        "acknowledged events went missing unnoticed"
    );
    assert!(store.verify().await.unwrap().first_fault.is_some());
}

/// The journal's segments in `dir`, oldest first.
fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut segments: Vec<_> = std::fs::read_dir(dir.join(WAL_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap() != "wal-spare")
        .collect();
    segments.sort();
    segments
}

/// The damaged journals kept aside in the store's directory.
fn kept_aside(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("wal-damaged-"))
        .collect()
}

/// Where a segment's frames end (the zero-filled rest follows).
fn data_end(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)
}

/// A store that lost power with acknowledged commits in its journal only,
/// whose head file is gone too (so that the journal alone must tell), and
/// whose journal `damage` then changed.
async fn damaged_journal(damage: impl FnOnce(&Path)) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, lost) = after_power_loss(10, 60, true).await;
    std::fs::remove_file(lost.join(HEAD_FILE_NAME)).unwrap();
    let segments = segment_files(&lost);
    assert_eq!(segments.len(), 1);
    damage(&segments[0]);
    (tmp, lost)
}

/// Checks that a store opens read-only for a damaged journal, keeps it
/// aside, stays read-only on the next open, and accepts the log once the
/// operator moves the journal out.
async fn assert_journal_damage_reported(lost: &Path, why: &str) {
    let store = SledStore::open(lost, StoreConfig::default()).unwrap();
    let reason = store.failure().expect("a damaged journal opened writable");
    assert!(
        reason.contains("damaged journal") && reason.contains(why),
        "{reason}"
    );
    // What came before the damage reads and verifies.
    let head = store.head().await.unwrap();
    assert!((10..60).contains(&head), "head {head}");
    assert!(store.verify().await.unwrap().is_ok());
    let kept = kept_aside(lost);
    assert_eq!(kept.len(), 1, "the damaged journal was not kept aside");
    assert!(
        std::fs::read_dir(lost.join(&kept[0])).unwrap().count() >= 1,
        "the journal kept aside lost its segments"
    );
    drop(store);
    let store = SledStore::open(lost, StoreConfig::default()).unwrap();
    assert!(store.failure().is_some(), "read-only only once");
    drop(store);
    std::fs::rename(lost.join(&kept[0]), lost.with_extension("kept")).unwrap();
    let store = SledStore::open(lost, StoreConfig::default()).unwrap();
    assert_eq!(store.failure(), None);
    assert_eq!(store.head().await.unwrap(), head);
    append(&store, 1000, 1001).await;
}

/// Defect 3 of issue 22: a damaged frame in the middle of the last segment
/// was taken for a torn tail; the segment was deleted with the intact,
/// acknowledged frames after it, and the store opened writable.
#[tokio::test]
async fn a_byte_flipped_mid_last_segment_is_damage_not_a_torn_tail() {
    let (_tmp, lost) = damaged_journal(|seg| {
        let mut bytes = std::fs::read(seg).unwrap();
        let mid = data_end(&bytes) / 2;
        bytes[mid] ^= 0x10;
        std::fs::write(seg, &bytes).unwrap();
    })
    .await;
    assert_journal_damage_reported(&lost, "another write").await;
}

#[tokio::test]
async fn a_segment_cut_short_is_damage() {
    let (_tmp, lost) = damaged_journal(|seg| {
        let bytes = std::fs::read(seg).unwrap();
        std::fs::write(seg, &bytes[..data_end(&bytes) / 2]).unwrap();
    })
    .await;
    assert_journal_damage_reported(&lost, "cut short").await;
}

/// Defect 3 of issue 22: damage in a segment that a later one follows kept
/// the journal aside but opened the store writable, unless the head file
/// happened to notice.
#[tokio::test]
async fn a_byte_flipped_in_an_earlier_segment_is_damage() {
    let (_tmp, lost) = damaged_journal(|seg| {
        // A later segment after it (a copy: its frames are intact).
        let name = seg.file_name().unwrap().to_str().unwrap();
        let seq: u64 = name.trim_start_matches("wal-").parse().unwrap();
        std::fs::copy(seg, seg.with_file_name(format!("wal-{:016}", seq + 1))).unwrap();
        let mut bytes = std::fs::read(seg).unwrap();
        let end = data_end(&bytes);
        bytes[end - 20] ^= 0x01;
        std::fs::write(seg, &bytes).unwrap();
    })
    .await;
    assert_journal_damage_reported(&lost, "a later one follows").await;
}

#[tokio::test]
async fn a_journal_damaged_before_its_last_segment_is_kept_aside_and_reported() {
    let (_tmp, lost) = after_power_loss(10, 60, true).await;
    // Damage in the middle of the first segment, and a later segment after it.
    let mut segments: Vec<_> = std::fs::read_dir(lost.join(WAL_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap() != "wal-spare")
        .collect();
    segments.sort();
    assert_eq!(segments.len(), 1);
    let first = segments[0].clone();
    let name = first.file_name().unwrap().to_str().unwrap();
    let seq: u64 = name.trim_start_matches("wal-").parse().unwrap();
    let later = lost.join(WAL_DIR).join(format!("wal-{:016}", seq + 1));
    std::fs::copy(&first, &later).unwrap();
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[300] ^= 0xff;
    std::fs::write(&first, &bytes).unwrap();

    let store = SledStore::open(&lost, StoreConfig::default()).unwrap();
    assert!(
        store.failure().is_some(),
        "acknowledged commits past the damage went missing unnoticed"
    );
    let kept: Vec<_> = std::fs::read_dir(&lost)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("wal-damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged journal was not kept aside");
    let aside = std::fs::read_dir(lost.join(&kept[0])).unwrap().count();
    assert!(aside >= 2, "the journal kept aside lost its segments");
}

/// The payloads of a format-2 segment's frames: a 32-byte segment header,
/// then frames of a 24-byte header (`len` first) and the payload.
fn format2_payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 32;
    while at + 24 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        out.push(bytes[at + 24..at + 24 + len].to_vec());
        at += 24 + len;
    }
    out
}

/// A frame of journal format 1, byte for byte as the version before format 2
/// wrote it (`git show 6442a98:crates/store/src/wal.rs`): `len` (u32 LE),
/// `crc32(payload)` (u32 LE), the payload. The payload is the same in both
/// formats.
fn format1_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    f.extend_from_slice(payload);
    f
}

/// A store that lost power under the version before journal format 2: sled
/// holds events `0..10`, the head file notes all `60` acknowledged, and the
/// journal holds events `10..60` in two segments of format 1 (no segment
/// header; frames from byte 0; the last segment zero-filled to its
/// preallocated size, after a torn write of `torn` bytes). `damage` may then
/// change the journal; it gets the two segments.
async fn format1_journal(
    torn: usize,
    damage: impl FnOnce(&Path, &Path),
) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, lost) = after_power_loss(10, 60, true).await;
    let segments = segment_files(&lost);
    assert_eq!(segments.len(), 1);
    let payloads = format2_payloads(&std::fs::read(&segments[0]).unwrap());
    assert!(payloads.len() >= 2, "{} frames", payloads.len());
    std::fs::remove_file(&segments[0]).unwrap();
    let (first, second) = payloads.split_at(payloads.len() / 2);
    // A full segment: the old journal switched once a segment was full.
    let one: Vec<u8> = first.iter().flat_map(|p| format1_frame(p)).collect();
    let mut two: Vec<u8> = second.iter().flat_map(|p| format1_frame(p)).collect();
    // A write that a crash cut (never acknowledged): a frame's first bytes.
    let unacked = format1_frame(&first[0]);
    two.extend_from_slice(&unacked[..torn.min(unacked.len() - 1)]);
    two.resize(two.len().max(256 << 10), 0);
    let (p1, p2) = (
        lost.join(WAL_DIR).join("wal-0000000000000007"),
        lost.join(WAL_DIR).join("wal-0000000000000008"),
    );
    std::fs::write(&p1, one).unwrap();
    std::fs::write(&p2, two).unwrap();
    damage(&p1, &p2);
    (tmp, lost)
}

/// Upgrade safety: a journal of format 1, left by a crash of the version
/// before format 2, was taken for damage and kept aside, and its
/// acknowledged commits — in no other place — were missing from a read-only
/// store. Its intact frames are replayed, and the store goes on in format 2.
#[tokio::test]
async fn a_format1_journal_left_by_the_previous_version_is_replayed() {
    for torn in [0, 5, 40] {
        let (_tmp, lost) = format1_journal(torn, |_, _| {}).await;
        let store = SledStore::open(&lost, StoreConfig::default()).unwrap();
        assert_eq!(store.failure(), None, "torn {torn}");
        assert!(kept_aside(&lost).is_empty(), "torn {torn}");
        assert_eq!(store.head().await.unwrap(), 60, "torn {torn}");
        let all = store.read_all(0, 1000).await.unwrap();
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.id, event(i as u128 + 1, "x").id, "at {i}");
        }
        let report = store.verify().await.unwrap();
        assert_eq!((report.first_fault, report.records_checked), (None, 60));
        // Writable, in format 2 from now on.
        append(&store, 60, 70).await;
        let segments = segment_files(&lost);
        assert_eq!(segments.len(), 1, "torn {torn}");
        assert_eq!(&std::fs::read(&segments[0]).unwrap()[..4], b"ECWL");
        drop(store);
        let store = SledStore::open(&lost, StoreConfig::default()).unwrap();
        assert_eq!(store.failure(), None);
        assert_eq!(store.head().await.unwrap(), 70);
    }
}

/// In format 1 a bad frame is a torn tail only in the last segment, as the
/// previous version read it; in an earlier segment it is damage.
#[tokio::test]
async fn a_format1_journal_damaged_before_its_last_segment_is_damage() {
    let (_tmp, lost) = format1_journal(0, |first, _| {
        let mut bytes = std::fs::read(first).unwrap();
        let at = bytes.len() - 20;
        bytes[at] ^= 0x01;
        std::fs::write(first, &bytes).unwrap();
    })
    .await;
    let store = SledStore::open(&lost, StoreConfig::default()).unwrap();
    let reason = store.failure().expect("a damaged journal opened writable");
    assert!(reason.contains("damaged journal"), "{reason}");
    assert_eq!(kept_aside(&lost).len(), 1);
    // The frames before the damage were replayed, none after it.
    let head = store.head().await.unwrap();
    assert!((10..60).contains(&head), "head {head}");
}
