//! A model's checkpoint is checked against the log it resumes on: a model
//! built on another log, or on a later state of this one (an older `log/`
//! restored beside newer `models/`), is rebuilt from zero, never resumed
//! past events it did not see.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ecoute_projections::*;
use ecoute_store::*;
use uuid::Uuid;

/// Keeps every event's id under its position: the model is right exactly
/// when it holds one entry per position of the log, with the log's id.
struct Positions {
    /// Events applied since the runtime started.
    applied: Arc<AtomicU64>,
}

impl Projection<()> for Positions {
    fn name(&self) -> &'static str {
        "positions"
    }
    fn version(&self) -> u32 {
        1
    }
    fn apply(
        &self,
        e: &RecordedEvent,
        _: &(),
        model: &mut ModelTx<'_>,
    ) -> ecoute_projections::Result<()> {
        self.applied.fetch_add(1, Ordering::SeqCst);
        model.put(&key(e.position), e.id.as_u128())
    }
}

/// A position's key in the model.
fn key(position: u64) -> Vec<u8> {
    let mut k = b"p".to_vec();
    k.extend_from_slice(&position.to_be_bytes());
    k
}

fn start(store: &Arc<SledStore>, models: &Path) -> (Runtime<()>, Arc<AtomicU64>) {
    let applied = Arc::new(AtomicU64::new(0));
    let projection: Arc<dyn Projection<()>> = Arc::new(Positions {
        applied: applied.clone(),
    });
    let store: Arc<dyn EventStore> = store.clone();
    let rt = Runtime::start(
        store,
        ModelDb::open(models).unwrap(),
        Arc::new(|_| Ok(Some(()))),
        vec![projection],
        RuntimeConfig {
            chunk: 16,
            ..RuntimeConfig::default()
        },
    )
    .unwrap();
    (rt, applied)
}

async fn append(store: &SledStore, n: usize) {
    for _ in 0..n {
        let stream = StreamId::new(format!("case-{}", Uuid::new_v4())).unwrap();
        let e = EventData::new(Uuid::new_v4(), "Happened", 1, b"x".to_vec());
        store
            .append_to_stream(stream, ExpectedVersion::NoStream, vec![e])
            .await
            .unwrap();
    }
}

fn open(log: &Path) -> Arc<SledStore> {
    Arc::new(SledStore::open(log, StoreConfig::default()).unwrap())
}

async fn close(store: Arc<SledStore>) {
    store.close().await.unwrap();
    drop(store);
}

/// Runs the model over the log at `log` until caught up, and checks it holds
/// exactly the log's events; returns how many events it applied.
async fn run_and_check(log: &Path, models: &Path) -> u64 {
    let store = open(log);
    let (rt, applied) = start(&store, models);
    let head = store.head().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), rt.wait_for(head))
        .await
        .expect("projections stalled")
        .unwrap();
    let log_ids: Vec<(Vec<u8>, u128)> = store
        .read_all(0, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| (key(e.position), e.id.as_u128()))
        .collect();
    let model: Vec<(Vec<u8>, u128)> = rt.reader("positions").unwrap().scan::<u128>(b"p").unwrap();
    assert_eq!(model.len(), log_ids.len(), "entries in the model");
    assert!(model == log_ids, "the model holds events of another log");
    assert_eq!(rt.status()[0].checkpoint, head);
    rt.stop().unwrap();
    drop(rt);
    close(store).await;
    applied.load(Ordering::SeqCst)
}

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

/// A log of 40 events backed up, then 30 more applied to the models: the
/// data directory, its backup of `log/` at 40 events, and `models/` at 70.
async fn models_ahead_of_a_backup() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (log, backup, models) = (
        tmp.path().join("log"),
        tmp.path().join("backup"),
        tmp.path().join("models"),
    );
    let store = open(&log);
    append(&store, 40).await;
    close(store).await;
    copy_dir(&log, &backup);
    let store = open(&log);
    append(&store, 30).await;
    close(store).await;
    assert_eq!(run_and_check(&log, &models).await, 70);
    (tmp, log, backup, models)
}

/// Defect 5 of issue 22: with the checkpoint a position only, models ahead
/// of a restored log (or built on another) resumed where they were and
/// silently kept events the log no longer has, and missed the new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_of_another_log_or_a_later_one_are_rebuilt() {
    // An older log restored, then fewer new events than the models hold
    // (their checkpoint is past its head), or more (a different event at
    // the checkpoint's position).
    for new in [10, 50] {
        let (_tmp, log, backup, models) = models_ahead_of_a_backup().await;
        std::fs::remove_dir_all(&log).unwrap();
        std::fs::rename(&backup, &log).unwrap();
        let store = open(&log);
        append(&store, new).await;
        close(store).await;
        let applied = run_and_check(&log, &models).await;
        assert_eq!(applied, 40 + new as u64, "rebuilt from zero");
    }
    // A different log altogether.
    let (tmp, _log, _backup, models) = models_ahead_of_a_backup().await;
    let other = tmp.path().join("other");
    let store = open(&other);
    append(&store, 90).await;
    close(store).await;
    assert_eq!(
        run_and_check(&other, &models).await,
        90,
        "rebuilt from zero"
    );
}

/// The check does not rebuild a model that is right: on the same log it
/// resumes at its checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_of_this_log_resume_at_their_checkpoint() {
    let (_tmp, log, _backup, models) = models_ahead_of_a_backup().await;
    let store = open(&log);
    append(&store, 5).await;
    close(store).await;
    assert_eq!(run_and_check(&log, &models).await, 5, "resumed at 70");
    assert_eq!(run_and_check(&log, &models).await, 0);
}
