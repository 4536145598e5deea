//! The conformance suite: every implementation of `EventStore` must pass it.

mod common;

use common::*;
use ecoute_store::*;

#[derive(Debug, Clone, Copy)]
enum Setup {
    Absent,
    Present,
    SoftDeleted,
    Tombstoned,
}

#[derive(Debug, Clone, Copy)]
enum Replay {
    /// A new commit.
    None,
    /// The commit that created the stream, sent again.
    Full,
    /// One stored id and one new one.
    Partial,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// Appended at this first version of the stream.
    Appended(u64),
    /// Returned the original result: first version 0, positions 0..=1.
    Duplicate,
    Conflict(ActualVersion),
    Deleted,
    Mismatch,
}

/// Puts the stream in the given state. Present, soft-deleted and tombstoned
/// streams hold events 1 and 2 (versions 0 and 1), appended as one commit.
async fn setup(store: &dyn EventStore, s: Setup) {
    let st = stream("case-1");
    if matches!(s, Setup::Absent) {
        return;
    }
    store
        .append_to_stream(
            st.clone(),
            ExpectedVersion::NoStream,
            vec![event(1, "a"), event(2, "b")],
        )
        .await
        .expect("setup append");
    let mode = match s {
        Setup::SoftDeleted => DeleteMode::Soft,
        Setup::Tombstoned => DeleteMode::Tombstone,
        _ => return,
    };
    store
        .delete_stream(st, ExpectedVersion::Any, mode)
        .await
        .expect("setup delete");
}

async fn check(
    imp: &str,
    make: fn() -> Harness,
    s: Setup,
    expected: ExpectedVersion,
    replay: Replay,
    want: Outcome,
) {
    let h = make();
    let store = h.store.as_ref();
    setup(store, s).await;
    let head_before = store.head().await.unwrap();
    let events = match replay {
        Replay::None => vec![event(10, "x"), event(11, "y")],
        Replay::Full => vec![event(1, "a"), event(2, "b")],
        Replay::Partial => vec![event(2, "b"), event(12, "z")],
    };
    let got = match store
        .append_to_stream(stream("case-1"), expected, events)
        .await
    {
        Ok(r) if r.duplicate => {
            assert_eq!(r.positions, CommitRange { first: 0, last: 1 }, "{imp}");
            assert_eq!(
                (r.streams[0].first_version, r.streams[0].last_version),
                (0, 1)
            );
            Outcome::Duplicate
        }
        Ok(r) => {
            assert_eq!(
                r.positions.first, head_before,
                "{imp}: positions continue the log"
            );
            assert_eq!(r.streams[0].last_version, r.streams[0].first_version + 1);
            Outcome::Appended(r.streams[0].first_version)
        }
        Err(StoreError::WrongExpectedVersion { actual, .. }) => Outcome::Conflict(actual),
        Err(StoreError::StreamDeleted(_)) => Outcome::Deleted,
        Err(StoreError::IdempotencyMismatch { .. }) => Outcome::Mismatch,
        Err(e) => panic!("{imp} {s:?} {expected:?} {replay:?}: unexpected error {e}"),
    };
    assert_eq!(
        got, want,
        "{imp}: setup {s:?}, expected {expected:?}, replay {replay:?}"
    );
    let appended = matches!(got, Outcome::Appended(_));
    let head_after = store.head().await.unwrap();
    assert_eq!(
        head_after,
        head_before + if appended { 2 } else { 0 },
        "{imp}: a refused or replayed commit appends nothing"
    );
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{imp}: {:?}", report.first_fault);
}

#[tokio::test]
async fn expected_version_times_state_times_replay() {
    expected_version_table().await;
}

/// The same table on worker threads, where a lone commit is made and flushed by
/// the appending task itself rather than through the committer's queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_version_times_state_times_replay_on_worker_threads() {
    expected_version_table().await;
}

async fn expected_version_table() {
    use ActualVersion as A;
    use ExpectedVersion::*;
    use Outcome::*;
    use Setup::*;
    let cases: Vec<(Setup, ExpectedVersion, Replay, Outcome)> = vec![
        // A new commit against each state.
        (Absent, Any, Replay::None, Appended(0)),
        (Absent, NoStream, Replay::None, Appended(0)),
        (Absent, StreamExists, Replay::None, Conflict(A::Absent)),
        (Absent, Exact(0), Replay::None, Conflict(A::Absent)),
        (Absent, Exact(5), Replay::None, Conflict(A::Absent)),
        (Present, Any, Replay::None, Appended(2)),
        (Present, NoStream, Replay::None, Conflict(A::Revision(1))),
        (Present, StreamExists, Replay::None, Appended(2)),
        (Present, Exact(0), Replay::None, Conflict(A::Revision(1))),
        (Present, Exact(1), Replay::None, Appended(2)),
        (Present, Exact(5), Replay::None, Conflict(A::Revision(1))),
        (SoftDeleted, Any, Replay::None, Appended(2)),
        (SoftDeleted, NoStream, Replay::None, Appended(2)),
        (
            SoftDeleted,
            StreamExists,
            Replay::None,
            Conflict(A::SoftDeleted(Some(1))),
        ),
        (
            SoftDeleted,
            Exact(0),
            Replay::None,
            Conflict(A::SoftDeleted(Some(1))),
        ),
        (SoftDeleted, Exact(1), Replay::None, Appended(2)),
        (
            SoftDeleted,
            Exact(5),
            Replay::None,
            Conflict(A::SoftDeleted(Some(1))),
        ),
        (Tombstoned, Any, Replay::None, Deleted),
        (Tombstoned, NoStream, Replay::None, Deleted),
        (Tombstoned, StreamExists, Replay::None, Deleted),
        (Tombstoned, Exact(1), Replay::None, Deleted),
        // The same commit again: the original result, whatever the expected version.
        (Present, Any, Replay::Full, Duplicate),
        (Present, NoStream, Replay::Full, Duplicate),
        (Present, StreamExists, Replay::Full, Duplicate),
        (Present, Exact(0), Replay::Full, Duplicate),
        (Present, Exact(1), Replay::Full, Duplicate),
        (Present, Exact(5), Replay::Full, Duplicate),
        (SoftDeleted, NoStream, Replay::Full, Duplicate),
        (SoftDeleted, Exact(5), Replay::Full, Duplicate),
        (Tombstoned, Any, Replay::Full, Duplicate),
        (Tombstoned, Exact(5), Replay::Full, Duplicate),
        // Part of a stored commit with a new event: its own error, nothing appended.
        (Present, Any, Replay::Partial, Mismatch),
        (Present, NoStream, Replay::Partial, Mismatch),
        (Present, Exact(1), Replay::Partial, Mismatch),
        (Present, Exact(5), Replay::Partial, Mismatch),
        (SoftDeleted, Any, Replay::Partial, Mismatch),
        (Tombstoned, Any, Replay::Partial, Mismatch),
    ];
    for (name, make) in implementations() {
        for (s, expected, replay, want) in &cases {
            let want = match want {
                Appended(v) => Appended(*v),
                Duplicate => Duplicate,
                Conflict(a) => Conflict(*a),
                Deleted => Deleted,
                Mismatch => Mismatch,
            };
            check(name, make, *s, *expected, *replay, want).await;
        }
    }
}

#[tokio::test]
async fn a_resent_commit_with_other_content_is_a_mismatch() {
    for (name, make) in implementations() {
        let h = make();
        let s = stream("case-1");
        h.store
            .append_to_stream(s.clone(), ExpectedVersion::Any, vec![event(1, "a")])
            .await
            .unwrap();
        let err = h
            .store
            .append_to_stream(s.clone(), ExpectedVersion::Any, vec![event(1, "changed")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::IdempotencyMismatch { .. }),
            "{name}: {err}"
        );
        // Same id sent to another stream.
        let err = h
            .store
            .append_to_stream(stream("case-2"), ExpectedVersion::Any, vec![event(1, "a")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::IdempotencyMismatch { .. }),
            "{name}: {err}"
        );
        // A sub-sequence of a stored commit is not that commit.
        h.store
            .append_to_stream(
                s.clone(),
                ExpectedVersion::Any,
                vec![event(2, "b"), event(3, "c")],
            )
            .await
            .unwrap();
        let err = h
            .store
            .append_to_stream(s, ExpectedVersion::Any, vec![event(2, "b")])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::IdempotencyMismatch { .. }),
            "{name}: {err}"
        );
        assert_eq!(h.store.head().await.unwrap(), 3);
    }
}

#[tokio::test]
async fn multi_stream_commits_are_all_or_nothing() {
    for (name, make) in implementations() {
        let h = make();
        let (a, b, c) = (stream("case-a"), stream("call-b"), stream("call-c"));
        let ok = h
            .store
            .append(
                Commit::single(a.clone(), ExpectedVersion::NoStream, vec![event(1, "a0")]).and(
                    b.clone(),
                    ExpectedVersion::NoStream,
                    vec![event(2, "b0"), event(3, "b1")],
                ),
            )
            .await
            .unwrap();
        assert_eq!(ok.positions, CommitRange { first: 0, last: 2 }, "{name}");
        assert_eq!(ok.streams[1].first_version, 0);
        assert_eq!(ok.streams[1].last_version, 1);
        // The second stream's expectation fails: nothing of the commit lands.
        let err = h
            .store
            .append(
                Commit::single(c.clone(), ExpectedVersion::NoStream, vec![event(4, "c0")]).and(
                    a.clone(),
                    ExpectedVersion::Exact(7),
                    vec![event(5, "a1")],
                ),
            )
            .await
            .unwrap_err();
        match err {
            StoreError::WrongExpectedVersion { stream, actual, .. } => {
                assert_eq!(stream, "case-a");
                assert_eq!(actual, ActualVersion::Revision(0));
            }
            e => panic!("{name}: {e}"),
        }
        assert_eq!(h.store.head().await.unwrap(), 3, "{name}");
        assert_eq!(h.store.stream_state(&c).await.unwrap(), StreamState::Absent);
        let all = h.store.read_all(0, 100).await.unwrap();
        assert!(all
            .iter()
            .all(|e| e.commit == CommitRange { first: 0, last: 2 }));
        // Resending the multi-stream commit is idempotent.
        let again = h
            .store
            .append(
                Commit::single(a.clone(), ExpectedVersion::Exact(9), vec![event(1, "a0")]).and(
                    b.clone(),
                    ExpectedVersion::Exact(9),
                    vec![event(2, "b0"), event(3, "b1")],
                ),
            )
            .await
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(again.positions, ok.positions);
        assert_eq!(again.streams, ok.streams);
    }
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    for (name, make) in implementations() {
        let h = make();
        let s = stream("case-1");
        let bad: Vec<Commit> = vec![
            Commit::default(),
            Commit::single(s.clone(), ExpectedVersion::Any, vec![]),
            Commit::single(
                s.clone(),
                ExpectedVersion::Any,
                vec![event(1, "a"), event(1, "a")],
            ),
            Commit::single(s.clone(), ExpectedVersion::Any, vec![event(1, "a")]).and(
                s.clone(),
                ExpectedVersion::Any,
                vec![event(2, "b")],
            ),
            Commit::single(
                StreamId::new("$$case-1").unwrap(),
                ExpectedVersion::Any,
                vec![event(1, "a")],
            ),
            Commit::single(
                s.clone(),
                ExpectedVersion::Any,
                vec![EventData::new(uuid::Uuid::from_u128(1), "", 1, vec![])],
            ),
            Commit::single(
                s.clone(),
                ExpectedVersion::Any,
                vec![EventData::new(
                    uuid::Uuid::from_u128(1),
                    "$deleted",
                    1,
                    vec![],
                )],
            ),
            Commit::single(
                s.clone(),
                ExpectedVersion::Any,
                vec![EventData::new(
                    uuid::Uuid::from_u128(1),
                    "big",
                    1,
                    vec![0; MAX_COMMIT_BYTES + 1],
                )],
            ),
        ];
        for c in bad {
            let err = h.store.append(c).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidRequest(_)),
                "{name}: {err}"
            );
        }
        assert_eq!(h.store.head().await.unwrap(), 0);
        let err = h
            .store
            .delete_stream(
                StreamId::new("$$case-1").unwrap(),
                ExpectedVersion::Any,
                DeleteMode::Soft,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidRequest(_)),
            "{name}: {err}"
        );
    }
}

#[test]
fn stream_ids_are_validated() {
    for ok in [
        "case-1",
        "call-0192f0c1-7e3a-7c2e-9a55-1b1f3c1d2e3f",
        "staff-a.b:c_d",
        "$$case-1",
        "A1_b-x",
    ] {
        assert!(StreamId::new(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "case",
        "case-",
        "-1",
        "1case-2",
        "ca se-1",
        "case-1 2",
        "case-é",
        "$case-1",
        "$$case",
        "case-\u{0}",
        &format!("case-{}", "x".repeat(300)),
    ] {
        assert!(
            matches!(StreamId::new(bad), Err(StoreError::InvalidStreamId { .. })),
            "{bad:?}"
        );
    }
    assert_eq!(stream("case-1-2").category(), "case");
    assert_eq!(StreamId::new("$$case-1").unwrap().category(), "$$case");
}

#[tokio::test]
async fn stream_reads_forward_and_backward() {
    for (name, make) in implementations() {
        let h = make();
        let s = stream("case-1");
        for i in 0..10u128 {
            h.store
                .append_to_stream(
                    s.clone(),
                    ExpectedVersion::Any,
                    vec![event(100 + i, &i.to_string())],
                )
                .await
                .unwrap();
        }
        let read = |from, dir, limit| {
            let store = h.store.clone();
            let s = s.clone();
            async move { payloads(&store.read_stream(&s, from, dir, limit).await.unwrap()) }
        };
        use Direction::*;
        use ReadFrom::*;
        let cases: Vec<(ReadFrom, Direction, usize, Vec<&str>)> = vec![
            (Edge, Forward, 3, vec!["0", "1", "2"]),
            (Version(8), Forward, 5, vec!["8", "9"]),
            (Version(10), Forward, 5, vec![]),
            (Edge, Backward, 3, vec!["9", "8", "7"]),
            (Version(1), Backward, 5, vec!["1", "0"]),
            (Version(50), Backward, 2, vec!["9", "8"]),
            (Edge, Forward, 0, vec![]),
        ];
        for (from, dir, limit, want) in cases {
            assert_eq!(
                read(from, dir, limit).await,
                want,
                "{name}: {from:?} {dir:?} {limit}"
            );
        }
        let err = h
            .store
            .read_stream(&stream("case-2"), Edge, Forward, 10)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::StreamNotFound(_)),
            "{name}: {err}"
        );
    }
}

#[tokio::test]
async fn soft_delete_hides_and_numbering_continues() {
    for (name, make) in implementations() {
        let h = make();
        let s = stream("case-1");
        h.store
            .append_to_stream(
                s.clone(),
                ExpectedVersion::NoStream,
                vec![event(1, "a"), event(2, "b")],
            )
            .await
            .unwrap();
        let del = h
            .store
            .delete_stream(s.clone(), ExpectedVersion::Exact(1), DeleteMode::Soft)
            .await
            .unwrap();
        assert_eq!(del.position, Some(2), "{name}");
        assert_eq!(
            h.store.stream_state(&s).await.unwrap(),
            StreamState::SoftDeleted {
                last_version: Some(1)
            }
        );
        let err = h
            .store
            .read_stream(&s, ReadFrom::Edge, Direction::Forward, 10)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::StreamNotFound(_)), "{name}");
        // Deleting again writes nothing.
        let again = h
            .store
            .delete_stream(s.clone(), ExpectedVersion::Any, DeleteMode::Soft)
            .await
            .unwrap();
        assert_eq!(again.position, None);
        let ack = h
            .store
            .append_to_stream(s.clone(), ExpectedVersion::NoStream, vec![event(3, "c")])
            .await
            .unwrap();
        assert_eq!(
            ack.streams[0].first_version, 2,
            "{name}: numbering continues"
        );
        let evs = h
            .store
            .read_stream(&s, ReadFrom::Edge, Direction::Forward, 10)
            .await
            .unwrap();
        assert_eq!(
            payloads(&evs),
            vec!["c"],
            "{name}: older events stay hidden"
        );
        let back = h
            .store
            .read_stream(&s, ReadFrom::Edge, Direction::Backward, 10)
            .await
            .unwrap();
        assert_eq!(payloads(&back), vec!["c"]);
        // $all still holds everything, including the deletion record.
        let all = h.store.read_all(0, 10).await.unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[2].event_type, DELETED_EVENT_TYPE);
        assert_eq!(all[2].stream_id.as_str(), "$$case-1");
        // Soft-deleting an absent stream is "not found".
        let err = h
            .store
            .delete_stream(stream("case-9"), ExpectedVersion::Any, DeleteMode::Soft)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::StreamNotFound(_)));
    }
}

#[tokio::test]
async fn tombstones_are_permanent() {
    for (name, make) in implementations() {
        let h = make();
        let s = stream("case-1");
        h.store
            .append_to_stream(s.clone(), ExpectedVersion::NoStream, vec![event(1, "a")])
            .await
            .unwrap();
        h.store
            .delete_stream(
                s.clone(),
                ExpectedVersion::StreamExists,
                DeleteMode::Tombstone,
            )
            .await
            .unwrap();
        assert_eq!(
            h.store.stream_state(&s).await.unwrap(),
            StreamState::Tombstoned
        );
        let err = h
            .store
            .read_stream(&s, ReadFrom::Edge, Direction::Forward, 10)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::StreamDeleted(_)), "{name}");
        for d in [DeleteMode::Soft, DeleteMode::Tombstone] {
            let err = h
                .store
                .delete_stream(s.clone(), ExpectedVersion::Any, d)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::StreamDeleted(_)), "{name}");
        }
        let err = h
            .store
            .append_to_stream(s.clone(), ExpectedVersion::Any, vec![event(2, "b")])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::StreamDeleted(_)), "{name}");
        // A stream that never existed can be tombstoned to keep its name from use.
        h.store
            .delete_stream(
                stream("case-2"),
                ExpectedVersion::NoStream,
                DeleteMode::Tombstone,
            )
            .await
            .unwrap();
        let err = h
            .store
            .append_to_stream(stream("case-2"), ExpectedVersion::Any, vec![event(3, "c")])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::StreamDeleted(_)), "{name}");
    }
}

#[tokio::test]
async fn all_and_category_reads_follow_global_order() {
    for (name, make) in implementations() {
        let h = make();
        let mut n = 0u128;
        for i in 0..6 {
            let s = if i % 2 == 0 {
                format!("case-{i}")
            } else {
                format!("call-{i}")
            };
            n += 1;
            h.store
                .append_to_stream(stream(&s), ExpectedVersion::Any, vec![event(n, &s)])
                .await
                .unwrap();
        }
        let all = h.store.read_all(0, 100).await.unwrap();
        assert_eq!(
            all.iter().map(|e| e.position).collect::<Vec<_>>(),
            (0..6).collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(
            payloads(&h.store.read_all(4, 100).await.unwrap()),
            vec!["case-4", "call-5"]
        );
        assert_eq!(h.store.read_all(2, 2).await.unwrap().len(), 2);
        assert!(h.store.read_all(6, 10).await.unwrap().is_empty());
        // Each event carries the log's chain hash after it: the last one's is the chain head.
        let report = h.store.verify().await.unwrap();
        assert_eq!(all[5].chain_hash, report.chain_head, "{name}");
        assert_ne!(all[4].chain_hash, all[5].chain_hash, "{name}");
        let cases = h.store.read_category("case", 0, 100).await.unwrap();
        assert_eq!(
            payloads(&cases),
            vec!["case-0", "case-2", "case-4"],
            "{name}"
        );
        let from3 = h.store.read_category("case", 3, 1).await.unwrap();
        assert_eq!(payloads(&from3), vec!["case-4"]);
        assert!(h
            .store
            .read_category("cas", 0, 100)
            .await
            .unwrap()
            .is_empty());
        assert!(matches!(
            h.store.read_category("bad-cat", 0, 1).await,
            Err(StoreError::InvalidStreamId { .. })
        ));
    }
}

#[tokio::test]
async fn metadata_and_recorded_at_come_back_as_given() {
    let clock = std::sync::Arc::new(ManualClock::new("2026-03-01T10:00:00Z".parse().unwrap()));
    let config = StoreConfig {
        clock: clock.clone(),
        ..StoreConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<std::sync::Arc<dyn EventStore>> = vec![
        std::sync::Arc::new(MemoryStore::in_memory(config.clone())),
        std::sync::Arc::new(SledStore::open(dir.path().join("db"), config).unwrap()),
    ];
    for store in stores {
        clock.set("2026-03-01T10:00:00Z".parse().unwrap());
        let md = Metadata {
            correlation_id: Some(uuid::Uuid::from_u128(5)),
            causation_id: Some(uuid::Uuid::from_u128(6)),
            actor: Some("staff-7".into()),
            extra: [("purpose".to_string(), "test".to_string())]
                .into_iter()
                .collect(),
        };
        store
            .append_to_stream(
                stream("case-1"),
                ExpectedVersion::Any,
                vec![event(1, "a").with_metadata(md.clone())],
            )
            .await
            .unwrap();
        // The clock goes back: recorded-at never does.
        clock.advance(chrono::Duration::hours(-1));
        store
            .append_to_stream(stream("case-1"), ExpectedVersion::Any, vec![event(2, "b")])
            .await
            .unwrap();
        let evs = store.read_all(0, 10).await.unwrap();
        assert_eq!(evs[0].metadata, md);
        assert_eq!(evs[0].recorded_at.to_rfc3339(), "2026-03-01T10:00:00+00:00");
        assert_eq!(evs[1].recorded_at, evs[0].recorded_at);
        assert_eq!(evs[0].schema_version, 1);
        assert_eq!(evs[0].id, uuid::Uuid::from_u128(1));
    }
}

#[tokio::test]
async fn concurrent_writers_get_gapless_positions_and_one_winner_per_version() {
    concurrent_writers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_worker_threads() {
    concurrent_writers().await;
}

/// A writer mostly alone (committing on its own thread) while another comes and
/// goes: every commit is answered once, in one gapless order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_writer_and_an_occasional_one_interleave_gaplessly() {
    for (name, make) in implementations() {
        let h = make();
        let steady = {
            let store = h.store.clone();
            tokio::spawn(async move {
                for i in 0..300u128 {
                    store
                        .append_to_stream(
                            stream("case-steady"),
                            ExpectedVersion::Any,
                            vec![event(i + 1, "s")],
                        )
                        .await
                        .unwrap();
                }
            })
        };
        let occasional = {
            let store = h.store.clone();
            tokio::spawn(async move {
                for i in 0..30u128 {
                    store
                        .append_to_stream(
                            stream("case-other"),
                            ExpectedVersion::Any,
                            vec![event(10_000 + i, "o")],
                        )
                        .await
                        .unwrap();
                    tokio::time::sleep(std::time::Duration::from_micros(300)).await;
                }
            })
        };
        steady.await.unwrap();
        occasional.await.unwrap();
        assert_eq!(h.store.head().await.unwrap(), 330, "{name}");
        let all = h.store.read_all(0, 1000).await.unwrap();
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.position, i as u64, "{name}");
        }
        assert!(h.store.verify().await.unwrap().is_ok(), "{name}");
    }
}

async fn concurrent_writers() {
    for (name, make) in implementations() {
        let h = make();
        let mut tasks = Vec::new();
        for w in 0..16u128 {
            let store = h.store.clone();
            tasks.push(tokio::spawn(async move {
                let mut won = 0;
                for i in 0..20u128 {
                    // Everyone races for the same next version of one stream…
                    let shared = stream("case-shared");
                    let cur = match store.stream_state(&shared).await.unwrap() {
                        StreamState::Active { last_version } => {
                            ExpectedVersion::Exact(last_version)
                        }
                        _ => ExpectedVersion::NoStream,
                    };
                    match store
                        .append_to_stream(shared, cur, vec![event(w * 1000 + i, "s")])
                        .await
                    {
                        Ok(_) => won += 1,
                        Err(e) => assert!(e.is_conflict(), "{e}"),
                    }
                    // …and appends to its own stream without conflict.
                    store
                        .append_to_stream(
                            stream(&format!("call-{w}")),
                            ExpectedVersion::Any,
                            vec![event(w * 1000 + 500 + i, "o")],
                        )
                        .await
                        .unwrap();
                }
                won
            }));
        }
        let mut won = 0;
        for t in tasks {
            won += t.await.unwrap();
        }
        let head = h.store.head().await.unwrap();
        assert_eq!(head, 16 * 20 + won, "{name}");
        let all = h.store.read_all(0, 10_000).await.unwrap();
        assert_eq!(all.len() as u64, head);
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.position, i as u64);
        }
        let shared = h
            .store
            .read_stream(
                &stream("case-shared"),
                ReadFrom::Edge,
                Direction::Forward,
                10_000,
            )
            .await
            .unwrap();
        assert_eq!(shared.len() as u64, won);
        assert!(shared
            .iter()
            .enumerate()
            .all(|(i, e)| e.version == i as u64));
        assert!(h.store.verify().await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn the_same_commit_sent_concurrently_lands_once() {
    for (name, make) in implementations() {
        let h = make();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = h.store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .append_to_stream(
                        stream("case-1"),
                        ExpectedVersion::NoStream,
                        vec![event(1, "a"), event(2, "b")],
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut originals = 0;
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.positions, CommitRange { first: 0, last: 1 }, "{name}");
            if !r.duplicate {
                originals += 1;
            }
        }
        assert_eq!(originals, 1, "{name}");
        assert_eq!(h.store.head().await.unwrap(), 2);
    }
}

#[tokio::test]
async fn events_are_found_by_their_id() {
    for (name, make) in implementations() {
        let h = make();
        let store = &h.store;
        store
            .append(
                Commit::single(
                    stream("case-1"),
                    ExpectedVersion::NoStream,
                    vec![event(1, "a")],
                )
                .and(
                    stream("call-1"),
                    ExpectedVersion::NoStream,
                    vec![event(2, "b")],
                ),
            )
            .await
            .unwrap();
        let found = store
            .event_by_id(uuid::Uuid::from_u128(2))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: event 2 not found"));
        assert_eq!(found.position, 1, "{name}");
        assert_eq!(found.stream_id.as_str(), "call-1", "{name}");
        assert_eq!((found.commit.first, found.commit.last), (0, 1), "{name}");
        assert!(
            store
                .event_by_id(uuid::Uuid::from_u128(3))
                .await
                .unwrap()
                .is_none(),
            "{name}: an unknown id is None"
        );
    }
}

#[tokio::test]
async fn events_are_found_by_their_id_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path().join("db"), StoreConfig::default()).unwrap();
        store
            .append_to_stream(
                stream("case-1"),
                ExpectedVersion::Any,
                vec![event(1, "a"), event(2, "b")],
            )
            .await
            .unwrap();
        store.close().await.unwrap();
    }
    let store = SledStore::open(dir.path().join("db"), StoreConfig::default()).unwrap();
    let found = store
        .event_by_id(uuid::Uuid::from_u128(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.position, found.version), (1, 1));
}

#[tokio::test]
async fn a_backup_taken_while_writing_opens_and_verifies_as_a_store_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        SledStore::open(dir.path().join("db"), StoreConfig::default()).unwrap(),
    );
    for n in 0..50u128 {
        store
            .append_to_stream(stream("case-1"), ExpectedVersion::Any, vec![event(n, "x")])
            .await
            .unwrap();
    }
    // Writers keep going while the backup runs.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 1000..1100u128 {
                store
                    .append_to_stream(stream("call-2"), ExpectedVersion::Any, vec![event(n, "y")])
                    .await
                    .unwrap();
            }
        })
    };
    let (s, dest) = (store.clone(), dir.path().join("backup"));
    let report = tokio::task::spawn_blocking(move || s.backup(&dest))
        .await
        .unwrap()
        .unwrap();
    writer.await.unwrap();
    assert!(report.records >= 50);
    let copy = SledStore::open(dir.path().join("backup"), StoreConfig::default()).unwrap();
    assert_eq!(copy.head().await.unwrap(), report.records);
    let verified = copy.verify().await.unwrap();
    assert!(verified.first_fault.is_none(), "{verified:?}");
    assert_eq!(verified.chain_head_hex(), report.chain_head);
    // Byte for byte: the same events at the same positions.
    let original = store.read_all(0, report.records as usize).await.unwrap();
    assert_eq!(copy.read_all(0, usize::MAX).await.unwrap(), original);
    // A non-empty destination is refused.
    assert!(store.backup(&dir.path().join("backup")).is_err());
}
