//! Injected I/O failures under the journal and the head file: the defects of
//! issue 22 that a failed write exposed.

mod common;

use std::sync::Arc;

use common::ledger::Ledger;
use common::*;
use ecoute_store::testing::{open_sled_store, Fault, FaultyIo, Step};
use ecoute_store::*;

/// Defect 2 of issue 22: a commit answered `DiskFull` or `Io` could land all
/// the same (its records stay in sled's buffers, which a close flushes, and
/// its frame may be in the journal). It is now answered "outcome unknown".
#[tokio::test]
async fn a_commit_whose_write_failed_lands_only_if_answered_unknown() {
    for (step, fault) in [(Step::Write, Fault::NoSpace), (Step::Sync, Fault::Eio)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let io = FaultyIo::new();
        let store = open_sled_store(&path, StoreConfig::default(), io.clone(), None).unwrap();
        store
            .append_to_stream(stream("case-1"), ExpectedVersion::Any, vec![event(1, "a")])
            .await
            .unwrap();
        io.arm(step, 1, fault);
        let answer = store
            .append_to_stream(stream("case-1"), ExpectedVersion::Any, vec![event(2, "b")])
            .await;
        let err = answer.expect_err("the write failed");
        drop(store);
        let store = SledStore::open(&path, StoreConfig::default()).unwrap();
        let landed = store.event_by_id(event(2, "b").id).await.unwrap().is_some();
        assert!(
            !landed || err.is_outcome_unknown(),
            "{step:?}: the commit landed though it was answered `{err}`"
        );
        let mut ledger = Ledger::default();
        ledger
            .acked
            .push((vec![event(1, "a").id], CommitRange { first: 0, last: 0 }));
        ledger.record(vec![event(2, "b").id], Err(err));
        ledger.check(&store, &format!("{step:?}")).await;
    }
}

/// Defect 7 of issue 22: a group of valid commits larger than a journal
/// frame made the whole store fail. Groups are now capped in bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_too_large_for_one_frame_is_split_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let max_frame = 64 << 10;
    let store = open_sled_store(
        &path,
        StoreConfig::default(),
        Arc::new(ecoute_store::testing::RealIo),
        Some(max_frame),
    )
    .unwrap();
    // Sixteen commits of 12 KiB submitted together: one group of 192 KiB.
    let commits = (0..16u128)
        .map(|i| {
            let e = EventData::new(uuid::Uuid::from_u128(i + 1), "Big", 1, vec![7; 12 << 10]);
            Commit::single(
                stream(&format!("case-{i}")),
                ExpectedVersion::NoStream,
                vec![e],
            )
        })
        .collect();
    let answers = store.append_many(commits).await;
    for a in &answers {
        assert!(a.is_ok(), "{a:?}");
    }
    assert_eq!(store.failure(), None);
    // A commit larger than a frame on its own is refused, and the store goes on.
    let huge = EventData::new(uuid::Uuid::from_u128(99), "Big", 1, vec![7; 80 << 10]);
    let err = store
        .append_to_stream(stream("case-huge"), ExpectedVersion::Any, vec![huge])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidRequest(_)), "{err}");
    assert_eq!(store.failure(), None);
    store
        .append_to_stream(
            stream("case-after"),
            ExpectedVersion::Any,
            vec![event(200, "x")],
        )
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(store);
    let store = SledStore::open(&path, StoreConfig::default()).unwrap();
    assert_eq!(store.head().await.unwrap(), 17);
    assert!(store.verify().await.unwrap().is_ok());
}
