//! A rebuild from zero equals live processing, on a generated history of
//! realistic mix (every helpline read model, byte for byte).

use std::sync::Arc;
use std::time::Duration;

use ecoute_domain::Event;
use ecoute_projections::helpline::{decoder, projections};
use ecoute_projections::{ModelDb, ProjectionState, Runtime, RuntimeConfig};
use ecoute_sim::{load_batched, SimConfig};
use ecoute_store::{EventStore, MemoryStore, StoreConfig};

const NAMES: [&str; 3] = ["cases", "statistics", "subjects"];

fn start(store: &Arc<dyn EventStore>, chunk: usize) -> Runtime<Event> {
    Runtime::start(
        store.clone(),
        ModelDb::temporary().unwrap(),
        decoder(),
        projections(),
        RuntimeConfig {
            chunk,
            ..RuntimeConfig::default()
        },
    )
    .unwrap()
}

async fn settle(rt: &Runtime<Event>, store: &Arc<dyn EventStore>) {
    let head = store.head().await.unwrap();
    tokio::time::timeout(Duration::from_secs(300), rt.wait_for(head))
        .await
        .expect("projections stalled")
        .unwrap();
    assert!(
        rt.status().iter().all(|s| s.state == ProjectionState::Live),
        "{:?}",
        rt.status()
    );
}

fn dumps(rt: &Runtime<Event>) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
    NAMES
        .iter()
        .map(|n| rt.reader(n).unwrap().dump().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_from_zero_equals_live_processing() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    // Live: the projections follow the log while a month of helpline activity is appended.
    let live = start(&store, 64);
    let report = load_batched(
        store.as_ref(),
        SimConfig::with_seed_and_days(7, 30),
        None,
        32,
    )
    .await
    .unwrap();
    assert_eq!(report.refused, 0);
    assert!(
        report.events > 30_000,
        "a large history: {} events",
        report.events
    );
    settle(&live, &store).await;
    let live_models = dumps(&live);
    for (name, m) in NAMES.iter().zip(&live_models) {
        assert!(!m.is_empty(), "model {name} is empty");
    }

    // From zero, in bigger chunks, on a fresh database.
    let fresh = start(&store, 1024);
    settle(&fresh, &store).await;
    for ((name, a), b) in NAMES.iter().zip(&live_models).zip(dumps(&fresh)) {
        assert!(
            *a == b,
            "model {name}: rebuild differs from live ({} vs {} entries)",
            a.len(),
            b.len()
        );
    }

    // And a blue/green rebuild of the live runtime swaps in the same models.
    for n in NAMES {
        live.rebuild(n).unwrap();
    }
    tokio::time::timeout(Duration::from_secs(300), async {
        while live
            .status()
            .iter()
            .any(|s| s.state != ProjectionState::Live)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert!(
        dumps(&live) == live_models,
        "a blue/green rebuild changed a model"
    );
    live.stop().unwrap();
    fresh.stop().unwrap();
}
