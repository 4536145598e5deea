//! The child of the projection crash test: appends events to a durable store
//! while a projection runtime counts them, until it is killed.
//!
//! Usage: `projection_worker DIR`. Prints `ready` once the runtime runs and
//! events flow.

use std::sync::Arc;

use anyhow::Context;
use ecoute_projections::{ModelDb, Runtime, RuntimeConfig};
use ecoute_store::{EventData, EventStore, ExpectedVersion, StreamId};
use ecoute_tests::{open_store, unit_decoder, Counter};
use uuid::Uuid;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .context("usage: projection_worker DIR")?;
    let dir = std::path::Path::new(&dir);
    let store: Arc<dyn EventStore> = Arc::new(open_store(&dir.join("store"))?);
    let models = ModelDb::open(dir.join("models"))?;
    let _runtime = Runtime::start(
        store.clone(),
        models,
        unit_decoder(),
        vec![Arc::new(Counter)],
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
