//! Model-based property test: random appends, resends, deletes, reads and
//! reopens against the sled store behave like a simple in-memory model.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::*;
use ecoute_store::*;
use proptest::prelude::*;
use uuid::Uuid;

const STREAMS: [&str; 4] = ["case-a", "case-b", "call-c", "call-d"];

#[derive(Debug, Clone, Copy)]
enum Exp {
    Any,
    NoStream,
    StreamExists,
    ExactCurrent,
    ExactWrong,
}

#[derive(Debug, Clone)]
enum Op {
    /// Streams (indexes, distinct), expected kind and number of events each.
    Append(Vec<(usize, Exp, usize)>),
    /// Send again the n-th commit attempted so far (modulo their number).
    Resend(usize),
    Delete(usize, bool),
    Reopen,
}

fn exp() -> impl Strategy<Value = Exp> {
    prop_oneof![
        3 => Just(Exp::Any),
        1 => Just(Exp::NoStream),
        1 => Just(Exp::StreamExists),
        3 => Just(Exp::ExactCurrent),
        1 => Just(Exp::ExactWrong),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((0..STREAMS.len(), exp(), 1..4usize), 1..3).prop_map(|mut v| {
            v.sort_by_key(|x| x.0);
            v.dedup_by_key(|x| x.0);
            Op::Append(v)
        }),
        2 => any::<usize>().prop_map(Op::Resend),
        1 => (0..STREAMS.len(), any::<bool>()).prop_map(|(s, t)| Op::Delete(s, t)),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Clone, Copy, Default)]
struct MStream {
    last: Option<u64>,
    truncate: u64,
    deleted: u8, // 0 live, 1 soft, 2 tombstone
}

#[derive(Default)]
struct Model {
    /// (stream, version, id, payload) in global order; deletions are `$$` events.
    log: Vec<(String, u64, Uuid, Vec<u8>)>,
    streams: HashMap<String, MStream>,
    /// Original results of landed commits, by first event id.
    landed: HashMap<Uuid, CommitResult>,
}

#[derive(Debug, PartialEq)]
enum Out {
    Ok(CommitResult),
    Conflict,
    Deleted,
    NotFound,
    Deletion(Option<u64>),
}

impl Model {
    fn expected_of(&self, s: &str, e: Exp) -> ExpectedVersion {
        let cur = self.streams.get(s).copied().unwrap_or_default();
        match e {
            Exp::Any => ExpectedVersion::Any,
            Exp::NoStream => ExpectedVersion::NoStream,
            Exp::StreamExists => ExpectedVersion::StreamExists,
            Exp::ExactCurrent => ExpectedVersion::Exact(cur.last.unwrap_or(0)),
            Exp::ExactWrong => ExpectedVersion::Exact(cur.last.map_or(3, |v| v + 5)),
        }
    }

    fn accepts(&self, s: &str, e: ExpectedVersion) -> Result<(), Out> {
        let Some(st) = self.streams.get(s) else {
            return match e {
                ExpectedVersion::Any | ExpectedVersion::NoStream => Ok(()),
                _ => Err(Out::Conflict),
            };
        };
        let ok = match (st.deleted, e) {
            (2, _) => return Err(Out::Deleted),
            (_, ExpectedVersion::Any) => true,
            (1, ExpectedVersion::NoStream) => true,
            (0, ExpectedVersion::NoStream) => st.last.is_none(),
            (1, ExpectedVersion::StreamExists) => false,
            (_, ExpectedVersion::StreamExists) => st.last.is_some(),
            (_, ExpectedVersion::Exact(n)) => st.last == Some(n),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Out::Conflict)
        }
    }

    fn append(&mut self, c: &Commit) -> Out {
        let first_id = c.appends[0].events[0].id;
        if let Some(r) = self.landed.get(&first_id) {
            let mut r = r.clone();
            r.duplicate = true;
            return Out::Ok(r);
        }
        for a in &c.appends {
            if let Err(o) = self.accepts(a.stream.as_str(), a.expected) {
                return o;
            }
        }
        let first = self.log.len() as u64;
        let mut written = Vec::new();
        for a in &c.appends {
            let st = self.streams.entry(a.stream.to_string()).or_default();
            let v0 = st.last.map_or(0, |v| v + 1);
            for (i, e) in a.events.iter().enumerate() {
                self.log
                    .push((a.stream.to_string(), v0 + i as u64, e.id, e.payload.clone()));
            }
            st.last = Some(v0 + a.events.len() as u64 - 1);
            st.deleted = 0;
            written.push(StreamWritten {
                stream: a.stream.clone(),
                first_version: v0,
                last_version: st.last.unwrap_or(0),
            });
        }
        let r = CommitResult {
            positions: CommitRange {
                first,
                last: self.log.len() as u64 - 1,
            },
            streams: written,
            duplicate: false,
        };
        self.landed.insert(first_id, r.clone());
        Out::Ok(r)
    }

    fn delete(&mut self, s: &str, tomb: bool) -> Out {
        let st = self.streams.get(s).copied();
        match (st, tomb) {
            (Some(MStream { deleted: 2, .. }), _) => return Out::Deleted,
            (None, false) => return Out::NotFound,
            (Some(MStream { deleted: 1, .. }), false) => return Out::Deletion(None),
            _ => {}
        }
        let st = st.unwrap_or_default();
        let meta = format!("$${s}");
        let mv = self.log.iter().filter(|e| e.0 == meta).count() as u64;
        self.log.push((meta, mv, Uuid::nil(), Vec::new()));
        self.streams.insert(
            s.to_owned(),
            MStream {
                last: st.last,
                truncate: st.last.map_or(0, |v| v + 1),
                deleted: if tomb { 2 } else { 1 },
            },
        );
        Out::Deletion(Some(self.log.len() as u64 - 1))
    }

    fn read(&self, s: &str) -> Result<Vec<Vec<u8>>, Out> {
        match self.streams.get(s) {
            None => Err(Out::NotFound),
            Some(st) if st.deleted == 2 => Err(Out::Deleted),
            Some(st) if st.deleted == 1 || st.last.is_none() => Err(Out::NotFound),
            Some(st) => Ok(self
                .log
                .iter()
                .filter(|e| e.0 == s && e.1 >= st.truncate)
                .map(|e| e.3.clone())
                .collect()),
        }
    }
}

fn outcome(r: Result<CommitResult, StoreError>) -> Out {
    match r {
        Ok(r) => Out::Ok(r),
        Err(StoreError::WrongExpectedVersion { .. }) => Out::Conflict,
        Err(StoreError::StreamDeleted(_)) => Out::Deleted,
        Err(StoreError::StreamNotFound(_)) => Out::NotFound,
        Err(e) => panic!("unexpected error {e}"),
    }
}

async fn compare(store: &dyn EventStore, model: &Model) {
    assert_eq!(store.head().await.unwrap(), model.log.len() as u64);
    let all = store.read_all(0, 100_000).await.unwrap();
    assert_eq!(all.len(), model.log.len());
    // The blocking read, on a thread of its own, reads the same, whole and in windows.
    let rt = tokio::runtime::Handle::current();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                assert_eq!(store.read_all_blocking(&rt, 0, 100_000).unwrap(), all);
                let from = all.len() as u64 / 3;
                let window = store.read_all_blocking(&rt, from, 2).unwrap();
                assert_eq!(
                    window[..],
                    all[all.len().min(from as usize)..all.len().min(from as usize + 2)]
                );
            })
            .join()
    })
    .unwrap();
    for (i, (e, m)) in all.iter().zip(&model.log).enumerate() {
        assert_eq!(e.position, i as u64);
        assert_eq!((e.stream_id.as_str(), e.version), (m.0.as_str(), m.1));
        if !m.0.starts_with('$') {
            assert_eq!((e.id, &e.payload), (m.2, &m.3));
        }
    }
    for s in STREAMS {
        let got = store
            .read_stream(&stream(s), ReadFrom::Edge, Direction::Forward, 100_000)
            .await
            .map(|evs| evs.into_iter().map(|e| e.payload).collect::<Vec<_>>())
            .map_err(|e| match e {
                StoreError::StreamNotFound(_) => Out::NotFound,
                StoreError::StreamDeleted(_) => Out::Deleted,
                e => panic!("{e}"),
            });
        assert_eq!(got, model.read(s), "stream {s}");
    }
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{:?}", report.first_fault);
}

fn run(ops: Vec<Op>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let open = || Arc::new(SledStore::open(&path, StoreConfig::default()).unwrap());
        let mut store = open();
        let mut model = Model::default();
        let mut attempted: Vec<Commit> = Vec::new();
        let mut next_id = 1u128;
        for op in ops {
            match op {
                Op::Append(spec) => {
                    let mut commit = Commit::default();
                    for (s, e, n) in spec {
                        let events = (0..n)
                            .map(|_| {
                                next_id += 1;
                                event(next_id, &format!("p{next_id}"))
                            })
                            .collect();
                        let expected = model.expected_of(STREAMS[s], e);
                        commit = commit.and(stream(STREAMS[s]), expected, events);
                    }
                    let got = outcome(store.append(commit.clone()).await);
                    assert_eq!(got, model.append(&commit));
                    attempted.push(commit);
                }
                Op::Resend(i) if !attempted.is_empty() => {
                    let commit = attempted[i % attempted.len()].clone();
                    let got = outcome(store.append(commit.clone()).await);
                    assert_eq!(got, model.append(&commit));
                }
                Op::Resend(_) => {}
                Op::Delete(s, tomb) => {
                    let mode = if tomb {
                        DeleteMode::Tombstone
                    } else {
                        DeleteMode::Soft
                    };
                    let got = match store
                        .delete_stream(stream(STREAMS[s]), ExpectedVersion::Any, mode)
                        .await
                    {
                        Ok(r) => Out::Deletion(r.position),
                        Err(e) => outcome(Err(e)),
                    };
                    assert_eq!(got, model.delete(STREAMS[s], tomb));
                }
                Op::Reopen => {
                    store.close().await.unwrap();
                    drop(store);
                    store = open();
                }
            }
            compare(store.as_ref(), &model).await;
        }
        store.close().await.unwrap();
        drop(store);
        let store = open();
        compare(store.as_ref(), &model).await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn the_store_behaves_like_the_model_across_reopens(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
