//! The head file holds sled to account: a log shorter than what was durable,
//! or different at the noted position, opens read-only and fails `verify`.

mod common;

use common::*;
use ecoute_store::*;

fn open(path: &std::path::Path) -> SledStore {
    SledStore::open(path, StoreConfig::default()).expect("open")
}

/// A store of `n` events, closed; returns its directory.
async fn store_of(n: u128) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = open(&path);
    for i in 0..n {
        store
            .append_to_stream(
                stream("case-1"),
                ExpectedVersion::Any,
                vec![event(i + 1, "x")],
            )
            .await
            .unwrap();
    }
    store.close().await.unwrap();
    drop(store);
    (dir, path)
}

/// Rewrites both slots of the head file with `count` and `hash`, valid CRCs.
fn forge_note(path: &std::path::Path, count: u64, hash: [u8; 32]) {
    let file = path.join(HEAD_FILE_NAME);
    let mut bytes = std::fs::read(&file).unwrap();
    for slot in bytes.chunks_mut(64) {
        if slot.len() >= 56 && &slot[..4] == b"ECHD" {
            slot[12..20].copy_from_slice(&count.to_le_bytes());
            slot[20..52].copy_from_slice(&hash);
            let crc = crc32fast::hash(&slot[..52]);
            slot[52..56].copy_from_slice(&crc.to_le_bytes());
        }
    }
    std::fs::write(&file, bytes).unwrap();
}

/// The reason a damaged store gives for refusing an append.
async fn refusal(store: &SledStore) -> String {
    let err = store
        .append_to_stream(
            stream("case-2"),
            ExpectedVersion::Any,
            vec![event(999, "y")],
        )
        .await
        .unwrap_err();
    match err {
        StoreError::Failed { reason, .. } => reason,
        e => panic!("expected a refusal, got {e}"),
    }
}

async fn assert_read_only(store: &SledStore, n: u64, why: &str) {
    let reason = refusal(store).await;
    assert!(reason.contains(why), "{reason}");
    // What is there still reads, and verify says what is wrong.
    assert_eq!(store.read_all(0, 100).await.unwrap().len() as u64, n);
    assert!(!store.verify().await.unwrap().is_ok());
}

#[tokio::test]
async fn a_healthy_store_notes_its_head_and_reopens_writable() {
    let (_dir, path) = store_of(5).await;
    let store = open(&path);
    assert!(store.failure().is_none());
    let report = store.verify().await.unwrap();
    assert!(report.is_ok() && report.records_checked == 5, "{report:?}");
    store
        .append_to_stream(
            stream("case-2"),
            ExpectedVersion::Any,
            vec![event(100, "y")],
        )
        .await
        .unwrap();
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_log_shorter_than_the_note_opens_read_only() {
    let (_dir, path) = store_of(5).await;
    forge_note(&path, 9, [7; 32]);
    let store = open(&path);
    assert_read_only(&store, 5, "its tail was lost").await;
}

#[tokio::test]
async fn a_log_that_differs_at_the_noted_position_opens_read_only() {
    let (_dir, path) = store_of(5).await;
    forge_note(&path, 3, [7; 32]);
    let store = open(&path);
    assert_read_only(&store, 5, "not the one the head file recorded").await;
}

#[tokio::test]
async fn a_damaged_head_file_opens_read_only_and_says_how_to_accept_it() {
    let (_dir, path) = store_of(5).await;
    std::fs::write(path.join(HEAD_FILE_NAME), [0xAB; 128]).unwrap();
    let store = open(&path);
    let reason = refusal(&store).await;
    assert!(reason.contains("remove the file"), "{reason}");
    // Reads work; removing the file (after checking the log) accepts the log again.
    assert_eq!(store.read_all(0, 100).await.unwrap().len(), 5);
    drop(store);
    std::fs::remove_file(path.join(HEAD_FILE_NAME)).unwrap();
    let store = open(&path);
    assert!(store.failure().is_none());
    assert!(store.verify().await.unwrap().is_ok());
}
