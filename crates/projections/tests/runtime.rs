//! The projection runtime, with small projections that know no helpline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait_free::CountingStore;
use ecoute_projections::*;
use ecoute_store::*;
use uuid::Uuid;

/// A store wrapper that counts `$all` reads, to check that projections share them.
mod async_trait_free {
    use super::*;
    use tokio::sync::watch;

    pub struct CountingStore {
        pub inner: MemoryStore,
        pub reads: AtomicUsize,
    }

    #[ecoute_store::async_trait]
    impl EventStore for CountingStore {
        async fn append(&self, commit: Commit) -> ecoute_store::Result<CommitResult> {
            self.inner.append(commit).await
        }
        async fn delete_stream(
            &self,
            s: StreamId,
            e: ExpectedVersion,
            m: DeleteMode,
        ) -> ecoute_store::Result<DeleteResult> {
            self.inner.delete_stream(s, e, m).await
        }
        async fn stream_state(&self, s: &StreamId) -> ecoute_store::Result<StreamState> {
            self.inner.stream_state(s).await
        }
        async fn read_stream(
            &self,
            s: &StreamId,
            f: ReadFrom,
            d: Direction,
            l: usize,
        ) -> ecoute_store::Result<Vec<RecordedEvent>> {
            self.inner.read_stream(s, f, d, l).await
        }
        async fn read_all(
            &self,
            from: u64,
            limit: usize,
        ) -> ecoute_store::Result<Vec<RecordedEvent>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.read_all(from, limit).await
        }
        async fn read_category(
            &self,
            c: &str,
            from: u64,
            limit: usize,
        ) -> ecoute_store::Result<Vec<RecordedEvent>> {
            self.inner.read_category(c, from, limit).await
        }
        async fn event_by_id(&self, id: uuid::Uuid) -> ecoute_store::Result<Option<RecordedEvent>> {
            self.inner.event_by_id(id).await
        }
        async fn head(&self) -> ecoute_store::Result<u64> {
            self.inner.head().await
        }
        fn watch_head(&self) -> watch::Receiver<u64> {
            self.inner.watch_head()
        }
        async fn verify(&self) -> ecoute_store::Result<VerifyReport> {
            self.inner.verify().await
        }
    }
}

/// Counts events per category; version 2 counts each event twice (a "code change").
struct Counter {
    name: &'static str,
    version: u32,
    /// Fails on events whose payload is this.
    poison: Option<&'static str>,
    /// Fails by panicking (a bug) rather than with an error.
    panics: bool,
}

impl Projection<String> for Counter {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> u32 {
        self.version
    }
    fn accepts(&self, e: &RecordedEvent) -> bool {
        !e.event_type.starts_with('$')
    }
    fn apply(
        &self,
        e: &RecordedEvent,
        payload: &String,
        model: &mut ModelTx<'_>,
    ) -> ecoute_projections::Result<()> {
        if Some(payload.as_str()) == self.poison {
            assert!(!self.panics, "cannot apply {payload}");
            return Err(ProjectionError::Model(format!("cannot apply {payload}")));
        }
        let key = format!("count/{}", e.stream_id.category()).into_bytes();
        let add = u64::from(self.version);
        model.update(&key, |n: &mut Option<u64>| *n.get_or_insert(0) += add)
    }
}

fn decoder() -> Decoder<String> {
    Arc::new(|e: &RecordedEvent| {
        if e.event_type.starts_with('$') {
            return Ok(None);
        }
        String::from_utf8(e.payload.clone())
            .map(Some)
            .map_err(|e| e.to_string())
    })
}

fn counter(name: &'static str, version: u32) -> Arc<dyn Projection<String>> {
    Arc::new(Counter {
        name,
        version,
        poison: None,
        panics: false,
    })
}

async fn append(store: &dyn EventStore, category: &str, n: usize, payload: &str) {
    for _ in 0..n {
        let stream = StreamId::new(format!("{category}-{}", Uuid::new_v4())).unwrap();
        let e = EventData::new(Uuid::new_v4(), "Happened", 1, payload.as_bytes().to_vec());
        store
            .append_to_stream(stream, ExpectedVersion::NoStream, vec![e])
            .await
            .unwrap();
    }
}

fn count(rt: &Runtime<String>, name: &str, category: &str) -> u64 {
    rt.reader(name)
        .unwrap()
        .get(format!("count/{category}").as_bytes())
        .unwrap()
        .unwrap_or(0)
}

async fn settle(rt: &Runtime<String>, store: &dyn EventStore) {
    let head = store.head().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), rt.wait_for(head))
        .await
        .expect("projections stalled")
        .unwrap();
}

/// Builds counter `a` (version 1) in the model database at `dir`, then stops.
async fn build_and_stop(store: &Arc<dyn EventStore>, dir: &std::path::Path) {
    let rt = start(
        store.clone(),
        ModelDb::open(dir).unwrap(),
        vec![counter("a", 1)],
    );
    settle(&rt, store.as_ref()).await;
    rt.stop().unwrap();
}

/// A runtime of `projections` over `store`, its models in `db`.
fn start(
    store: Arc<dyn EventStore>,
    db: ModelDb,
    projections: Vec<Arc<dyn Projection<String>>>,
) -> Runtime<String> {
    Runtime::start(store, db, decoder(), projections, config()).unwrap()
}

fn config() -> RuntimeConfig {
    RuntimeConfig {
        chunk: 64,
        ..RuntimeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_catch_up_follow_and_share_reads() {
    let store = Arc::new(CountingStore {
        inner: MemoryStore::in_memory(StoreConfig::default()),
        reads: AtomicUsize::new(0),
    });
    append(store.as_ref(), "case", 300, "x").await;
    append(store.as_ref(), "call", 200, "x").await;
    let rt = start(
        store.clone(),
        ModelDb::temporary().unwrap(),
        vec![counter("a", 1), counter("b", 1), counter("c", 1)],
    );
    settle(&rt, store.as_ref()).await;
    for name in ["a", "b", "c"] {
        assert_eq!(count(&rt, name, "case"), 300);
        assert_eq!(count(&rt, name, "call"), 200);
    }
    // 500 events in chunks of 64: 8 reads for all three projections, not 24.
    let reads = store.reads.load(Ordering::SeqCst);
    assert!(
        reads <= 10,
        "{reads} reads of $all for 500 events in chunks of 64"
    );
    // Live events follow.
    append(store.as_ref(), "case", 5, "x").await;
    settle(&rt, store.as_ref()).await;
    assert_eq!(count(&rt, "b", "case"), 305);
    let status = rt.status();
    assert!(
        status
            .iter()
            .all(|s| s.state == ProjectionState::Live && s.lag == 0 && s.checkpoint == 505),
        "{status:?}"
    );
    rt.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_checkpoint_without_double_counting() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    append(store.as_ref(), "case", 100, "x").await;
    build_and_stop(&store, dir.path()).await;
    append(store.as_ref(), "case", 50, "x").await;
    let rt = start(
        store.clone(),
        ModelDb::open(dir.path()).unwrap(),
        vec![counter("a", 1)],
    );
    // Resumed at its checkpoint (100), not from 0: the 50 new events are counted once.
    assert!(rt.reader("a").unwrap().checkpoint().unwrap() >= 100);
    settle(&rt, store.as_ref()).await;
    assert_eq!(count(&rt, "a", "case"), 150);
    rt.stop().unwrap();
}

/// An error or a panic (a bug) in one projection, in chunks applied on the
/// runtime's thread (under 128 events) or on the projections' own threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_projection_stops_alone_with_its_position() {
    for (panics, chunk) in [(false, 64), (true, 64), (false, 512), (true, 512)] {
        a_projection_fails(panics, chunk).await;
    }
}

async fn a_projection_fails(panics: bool, chunk: usize) {
    let case = format!("panics: {panics}, chunks of {chunk}");
    let before = 300;
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    append(store.as_ref(), "case", before, "x").await;
    append(store.as_ref(), "case", 1, "poison").await;
    append(store.as_ref(), "case", 20, "x").await;
    let bad: Arc<dyn Projection<String>> = Arc::new(Counter {
        name: "bad",
        version: 1,
        poison: Some("poison"),
        panics,
    });
    let rt = Runtime::start(
        store.clone(),
        ModelDb::temporary().unwrap(),
        decoder(),
        vec![counter("good", 1), bad, counter("other", 1)],
        RuntimeConfig {
            chunk,
            ..RuntimeConfig::default()
        },
    )
    .unwrap();
    let head = store.head().await.unwrap();
    // The good projections keep up; wait for them by polling the status.
    tokio::time::timeout(Duration::from_secs(30), async {
        while rt.status()[0].checkpoint < head
            || rt.status()[2].checkpoint < head
            || !matches!(rt.status()[1].state, ProjectionState::Failed { .. })
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    let total = before as u64 + 21;
    assert_eq!(count(&rt, "good", "case"), total, "{case}");
    assert_eq!(count(&rt, "other", "case"), total, "{case}");
    let status = rt.status();
    match &status[1].state {
        ProjectionState::Failed { position, error } => {
            assert_eq!(*position, before as u64, "{case}");
            let expected = if panics {
                "the projection panicked: cannot apply poison"
            } else {
                "cannot apply poison"
            };
            assert!(error.contains(expected), "{case}: {error}");
        }
        other => panic!("{case}: {other:?}"),
    }
    // Its model is whole as of its checkpoint: the chunk holding the bad event was not written.
    let bad_checkpoint = rt.reader("bad").unwrap().checkpoint().unwrap();
    assert!(bad_checkpoint <= before as u64, "{case}");
    assert_eq!(count(&rt, "bad", "case"), bad_checkpoint, "{case}");
    // The good ones follow live events still.
    append(store.as_ref(), "case", 1, "x").await;
    tokio::time::timeout(Duration::from_secs(30), async {
        while count(&rt, "good", "case") < total + 1 || count(&rt, "other", "case") < total + 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    rt.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_is_rebuilt_beside_the_old_and_swapped_in() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    append(store.as_ref(), "case", 200, "x").await;
    build_and_stop(&store, dir.path()).await;
    // Version 2 counts double: after the rebuild the model says 400, never a mix.
    let rt = start(
        store.clone(),
        ModelDb::open(dir.path()).unwrap(),
        vec![counter("a", 2)],
    );
    let reader = rt.reader("a").unwrap();
    let first = count(&rt, "a", "case");
    assert!(
        first == 200 || first == 400,
        "reads are served during the rebuild: {first}"
    );
    tokio::time::timeout(Duration::from_secs(30), async {
        while rt.status()[0].version != 2 || rt.status()[0].state != ProjectionState::Live {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        reader.get::<u64>(b"count/case").unwrap(),
        Some(400),
        "the reader follows the swap"
    );
    append(store.as_ref(), "case", 10, "x").await;
    settle(&rt, store.as_ref()).await;
    assert_eq!(count(&rt, "a", "case"), 420);
    rt.stop().unwrap();
    drop(rt);
    drop(reader);
    // Only the new model's table is left.
    let trees: Vec<String> = table_names(dir.path())
        .into_iter()
        .filter(|t| t.starts_with("model/"))
        .collect();
    assert_eq!(trees, vec!["model/a/v2/g1".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asked_rebuild_equals_live_processing() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    append(store.as_ref(), "case", 150, "x").await;
    let rt = start(
        store.clone(),
        ModelDb::temporary().unwrap(),
        vec![counter("a", 1)],
    );
    settle(&rt, store.as_ref()).await;
    rt.rebuild("a").unwrap();
    // Appends go on during the rebuild.
    append(store.as_ref(), "call", 80, "x").await;
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let s = &rt.status()[0];
            if s.state == ProjectionState::Live && s.checkpoint == 230 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        (count(&rt, "a", "case"), count(&rt, "a", "call")),
        (150, 80)
    );
    assert!(matches!(
        rt.rebuild("nope"),
        Err(ProjectionError::UnknownProjection(_))
    ));
    rt.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_on_worker_threads_stay_exact_through_a_rebuild_asked_mid_stream() {
    // Chunks large enough for each model to be applied on a thread of its own,
    // with the next chunk handed out before the slower models finish the last:
    // a rebuild asked meanwhile must neither skip nor repeat an event.
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    append(store.as_ref(), "case", 1_500, "x").await;
    append(store.as_ref(), "call", 700, "x").await;
    let config = RuntimeConfig {
        chunk: 128,
        ..RuntimeConfig::default()
    };
    let rt = Runtime::start(
        store.clone(),
        ModelDb::temporary().unwrap(),
        decoder(),
        vec![counter("a", 1), counter("b", 1), counter("c", 1)],
        config,
    )
    .unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            append(store.as_ref(), "case", 600, "x").await;
            append(store.as_ref(), "call", 400, "x").await;
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    rt.rebuild("b").unwrap();
    writer.await.unwrap();
    let head = store.head().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if rt
                .status()
                .iter()
                .all(|s| s.state == ProjectionState::Live && s.checkpoint == head)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the models caught up");
    for name in ["a", "b", "c"] {
        assert_eq!(
            (count(&rt, name, "case"), count(&rt, name, "call")),
            (2_100, 1_100),
            "model {name}"
        );
    }
    rt.stop().unwrap();
}

/// A table of the model database's file: byte keys, byte values.
type Table = redb::TableDefinition<'static, &'static [u8], &'static [u8]>;

/// The model database's file in the models' directory `dir`.
fn db_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("models.redb")
}

/// The names of the tables in the model database at `dir`.
fn table_names(dir: &std::path::Path) -> Vec<String> {
    use redb::TableHandle;
    let db = redb::Database::create(db_file(dir)).unwrap();
    let tx = db.begin_read().unwrap();
    let names = tx.list_tables().unwrap().map(|t| t.name().to_owned());
    names.collect()
}

/// Damages the stored pages of model `a` (version 1, generation 0) in the model
/// database at `dir`: every value of its table but the checkpoint gets a byte flipped.
fn damage_model(dir: &std::path::Path) {
    use redb::ReadableTable;
    let db = redb::Database::create(db_file(dir)).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut table = tx.open_table(Table::new("model/a/v1/g0")).unwrap();
        let all: Vec<(Vec<u8>, Vec<u8>)> = table
            .iter()
            .unwrap()
            .map(|i| {
                let (k, v) = i.unwrap();
                (k.value().to_vec(), v.value().to_vec())
            })
            .filter(|(k, _)| k.first() != Some(&0))
            .collect();
        assert!(!all.is_empty(), "the model was persisted");
        for (k, mut v) in all {
            v[0] ^= 0x40;
            table.insert(&k[..], &v[..]).unwrap();
        }
    }
    tx.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_model_is_rebuilt_from_the_log_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    append(store.as_ref(), "case", 120, "x").await;
    append(store.as_ref(), "call", 30, "x").await;
    build_and_stop(&store, dir.path()).await;
    damage_model(dir.path());
    let rt = start(
        store.clone(),
        ModelDb::open(dir.path()).unwrap(),
        vec![counter("a", 1)],
    );
    // Not read as garbage, not trusted: built again from position 0.
    settle(&rt, store.as_ref()).await;
    assert_eq!(count(&rt, "a", "case"), 120);
    assert_eq!(count(&rt, "a", "call"), 30);
    assert_eq!(rt.status()[0].state, ProjectionState::Live);
    rt.stop().unwrap();
    drop(rt);
    // And what it persisted then loads whole.
    let rt = start(
        store.clone(),
        ModelDb::open(dir.path()).unwrap(),
        vec![counter("a", 1)],
    );
    assert_eq!(rt.reader("a").unwrap().checkpoint().unwrap(), 150);
    assert_eq!(count(&rt, "a", "case"), 120);
    rt.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_of_the_older_layout_are_dropped_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    append(store.as_ref(), "case", 40, "x").await;
    // Before redb: a sled database of models in the directory, whatever it holds.
    {
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree("ecoute-projections-meta").unwrap();
        meta.insert("a", encode_value(&(1u32, 0u64)).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    // Layout 1: no layout mark, one key per entry, the checkpoint beside them.
    {
        let db = redb::Database::create(db_file(dir.path())).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut meta = tx
                .open_table(Table::new("ecoute-projections-meta"))
                .unwrap();
            let active = encode_value(&(1u32, 0u64)).unwrap();
            meta.insert(&b"a"[..], &active[..]).unwrap();
            let mut tree = tx.open_table(Table::new("model/a/v1/g0")).unwrap();
            let count = encode_value(&999u64).unwrap();
            tree.insert(&b"count/case"[..], &count[..]).unwrap();
            tree.insert(&b"\x00checkpoint"[..], &40u64.to_be_bytes()[..])
                .unwrap();
            // A model no projection builds any more: only the layout change drops it.
            let mut gone = tx.open_table(Table::new("model/gone/v1/g0")).unwrap();
            let one = encode_value(&1u64).unwrap();
            gone.insert(&b"count/case"[..], &one[..]).unwrap();
        }
        tx.commit().unwrap();
    }
    let rt = start(
        store.clone(),
        ModelDb::open(dir.path()).unwrap(),
        vec![counter("a", 1)],
    );
    settle(&rt, store.as_ref()).await;
    // Rebuilt from the log, not read in the old layout.
    assert_eq!(count(&rt, "a", "case"), 40);
    rt.stop().unwrap();
    drop(rt);
    let names = table_names(dir.path());
    assert!(
        !names.contains(&"model/gone/v1/g0".to_string()),
        "old tables are dropped"
    );
    for sled_file in ["conf", "db", "blobs"] {
        assert!(
            !dir.path().join(sled_file).exists(),
            "the sled database's {sled_file} is removed"
        );
    }
}

/// The kept-aside model directories beside `models`.
fn kept_aside(models: &std::path::Path) -> Vec<std::path::PathBuf> {
    let parent = models.parent().unwrap();
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("models-damaged-")
        })
        .collect()
}

/// Defect 6 of issue 22: a damaged `models/` stopped the server, though it is
/// derived data. The database is moved aside, whole, and the models rebuilt
/// from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_models_file_is_moved_aside_and_rebuilt() {
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, Damage); 3] = [
        ("garbage header", |b| b[..512].fill(0xa5)),
        ("cut short", |b| b.truncate(b.len() / 3)),
        ("every page flipped", |b| {
            for at in (4096..b.len()).step_by(4096) {
                b[at + 100] ^= 0x5a;
            }
        }),
    ];
    for (what, damage) in damages {
        let tmp = tempfile::tempdir().unwrap();
        let models = tmp.path().join("models");
        let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
        append(store.as_ref(), "case", 120, "x").await;
        append(store.as_ref(), "call", 30, "x").await;
        build_and_stop(&store, &models).await;
        let mut bytes = std::fs::read(db_file(&models)).unwrap();
        damage(&mut bytes);
        std::fs::write(db_file(&models), &bytes).unwrap();

        let db = ModelDb::open(&models).unwrap_or_else(|e| panic!("{what}: {e}"));
        let aside = kept_aside(&models);
        assert_eq!(aside.len(), 1, "{what}: the damaged models kept aside");
        assert_eq!(
            std::fs::read(db_file(&aside[0])).unwrap(),
            bytes,
            "{what}: kept whole"
        );
        let rt = start(store.clone(), db, vec![counter("a", 1)]);
        settle(&rt, store.as_ref()).await;
        assert_eq!(count(&rt, "a", "case"), 120, "{what}");
        assert_eq!(count(&rt, "a", "call"), 30, "{what}");
        rt.stop().unwrap();
        drop(rt);
        // The new database opens as it is: nothing more moved aside.
        let rt = start(
            store.clone(),
            ModelDb::open(&models).unwrap(),
            vec![counter("a", 1)],
        );
        assert_eq!(rt.reader("a").unwrap().checkpoint().unwrap(), 150);
        assert_eq!(kept_aside(&models).len(), 1, "{what}");
        rt.stop().unwrap();
    }
}
