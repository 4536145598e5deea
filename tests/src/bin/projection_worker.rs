//! The child of the projection crash test: appends events to a durable store
//! while a projection runtime counts them, until it is killed.
//!
//! Usage: `projection_worker DIR`. Prints `ready` once the runtime runs and
//! events flow.
//!
//! `projection_worker DIR catch-up`: appends 3,000 events, then starts the
//! runtime with writes by age or size out of reach, waits for it to catch up,
//! prints `caught up HEAD` and waits to be killed.

use std::sync::Arc;

use anyhow::Context;
use ecoute_projections::RuntimeConfig;
use ecoute_store::{EventData, EventStore, ExpectedVersion, StreamId};
use ecoute_tests::{open_store, start_counter};
use uuid::Uuid;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .context("usage: projection_worker DIR")?;
    let dir = std::path::Path::new(&dir);
    let store: Arc<dyn EventStore> = Arc::new(open_store(&dir.join("store"))?);
    let models = dir.join("models");
    if std::env::args().nth(2).as_deref() == Some("catch-up") {
        return catch_up(store, &models).await;
    }
    let _runtime = start_counter(
        store.clone(),
        &models,
        RuntimeConfig {
            chunk: 37,
            // Persist all the time, so that the kill lands among the model's writes.
            persist_after: std::time::Duration::from_millis(1),
            persist_bytes: 4 << 10,
        },
    )?;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let category = if w % 2 == 0 { "case" } else { "call" };
                let stream = StreamId::new(format!("{category}-{}", Uuid::new_v4()))?;
                let e = EventData::new(Uuid::new_v4(), "Counted", 1, vec![w; 64]);
                store
                    .append_to_stream(stream, ExpectedVersion::NoStream, vec![e])
                    .await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), anyhow::Error>(())
        }));
    }
    println!("ready");
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Appends a history, catches up on it with no write due by age or size, says
/// so, and waits to be killed: what is persisted then is what the first
/// catch-up wrote.
async fn catch_up(store: Arc<dyn EventStore>, models: &std::path::Path) -> anyhow::Result<()> {
    for s in 0..100 {
        let category = if s % 2 == 0 { "case" } else { "call" };
        let stream = StreamId::new(format!("{category}-{}", Uuid::new_v4()))?;
        let events = (0..30)
            .map(|_| EventData::new(Uuid::new_v4(), "Counted", 1, vec![1; 64]))
            .collect();
        store
            .append_to_stream(stream, ExpectedVersion::NoStream, events)
            .await?;
    }
    let runtime = start_counter(
        store.clone(),
        models,
        RuntimeConfig {
            chunk: 64,
            persist_after: std::time::Duration::from_secs(3600),
            persist_bytes: usize::MAX,
        },
    )?;
    let head = store.head().await?;
    runtime.wait_for(head).await?;
    println!("caught up {head}");
    std::future::pending::<()>().await;
    Ok(())
}
