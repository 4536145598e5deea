//! Durable append workloads: the ecoute store and the raw sled baseline.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use ecoute_store::{
    Durability, EventData, EventStore, ExpectedVersion, SledStore, StoreConfig, StreamId,
};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::stats::{drive, payload, BoxFut, Figures, Window, Writer};

/// One ecoute writer: its own stream, one event per commit, exact expected version.
struct EcouteWriter {
    store: Arc<SledStore>,
    stream: StreamId,
    payload: Vec<u8>,
}

impl Writer for EcouteWriter {
    fn write(&mut self, seq: u64) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            let expected = match seq {
                0 => ExpectedVersion::NoStream,
                n => ExpectedVersion::Exact(n - 1),
            };
            let event = EventData::new(Uuid::new_v4(), "BenchEvent", 1, self.payload.clone());
            let ack = self
                .store
                .append_to_stream(self.stream.clone(), expected, vec![event])
                .await
                .with_context(|| format!("append to {}", self.stream))?;
            if ack.duplicate || ack.streams.first().map(|s| s.last_version) != Some(seq) {
                bail!("unexpected acknowledgement {ack:?} for version {seq}");
            }
            Ok(())
        })
    }
}

/// The store with its default configuration (durable unless `durability`
/// says otherwise), `writers` concurrent writers.
pub async fn ecoute(
    dir: &Path,
    writers: usize,
    len: usize,
    window: Window,
    durability: Durability,
) -> Result<Figures> {
    let config = StoreConfig {
        durability,
        ..StoreConfig::default()
    };
    let store =
        Arc::new(SledStore::open(dir.join("ecoute"), config).context("opening the ecoute store")?);
    let ws = (0..writers)
        .map(|i| {
            Ok(EcouteWriter {
                store: store.clone(),
                stream: StreamId::new(format!("bench-w{i}"))?,
                payload: payload(i as u64, len),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let figures = drive(ws, window).await?;
    store.close().await.context("closing the ecoute store")?;
    Ok(figures)
}

type Ack = oneshot::Sender<std::result::Result<(), String>>;

/// One raw-sled producer: sends (key, value) to the committer and waits for its ack.
struct SledProducer {
    id: u32,
    tx: mpsc::Sender<(Vec<u8>, Vec<u8>, Ack)>,
    payload: Vec<u8>,
}

impl Writer for SledProducer {
    fn write(&mut self, seq: u64) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            let mut key = Vec::with_capacity(12);
            key.extend_from_slice(&self.id.to_be_bytes());
            key.extend_from_slice(&seq.to_be_bytes());
            let (ack, rx) = oneshot::channel();
            self.tx
                .send((key, self.payload.clone(), ack))
                .await
                .map_err(|_| anyhow!("raw sled committer is gone"))?;
            rx.await
                .map_err(|_| anyhow!("raw sled committer dropped an ack"))?
                .map_err(|e| anyhow!("raw sled commit failed: {e}"))
        })
    }
}

/// What the raw sled committer did, to compare batch sizes.
#[derive(Debug, Default)]
pub struct CommitterStats {
    pub batches: AtomicU64,
    pub items: AtomicU64,
}

/// Raw sled, the substrate's best: producers send over a channel to one
/// committer thread that drains the queue, applies one `sled::Batch` to one
/// tree, calls `db.flush()` once and then `fdatasync` on sled's log file (sled
/// 0.34 only calls `sync_file_range`, which does not make data durable across a
/// power loss; the store does the same), then acknowledges every producer.
///
/// Same queue depth, batch cap and cache size as the store's defaults.
pub async fn raw_sled(
    dir: &Path,
    writers: usize,
    len: usize,
    window: Window,
) -> Result<(Figures, f64)> {
    let defaults = StoreConfig::default();
    let db = sled::Config::new()
        .path(dir.join("raw-sled"))
        .cache_capacity(defaults.cache_capacity)
        .flush_every_ms(None)
        .open()
        .context("opening raw sled")?;
    let tree = db.open_tree("bench").context("opening the raw sled tree")?;
    let data_file = std::fs::File::open(dir.join("raw-sled").join("db"))
        .context("opening raw sled's log file")?;
    let (tx, mut rx) = mpsc::channel::<(Vec<u8>, Vec<u8>, Ack)>(defaults.queue_depth);
    let stats = Arc::new(CommitterStats::default());
    let max_batch = defaults.max_batch;
    let committer = {
        let stats = stats.clone();
        let db = db.clone();
        std::thread::Builder::new()
            .name("raw-sled-committer".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut items = vec![first];
                    while items.len() < max_batch {
                        match rx.try_recv() {
                            Ok(item) => items.push(item),
                            Err(_) => break,
                        }
                    }
                    let mut batch = sled::Batch::default();
                    let mut acks = Vec::with_capacity(items.len());
                    for (k, v, ack) in items {
                        batch.insert(k, v);
                        acks.push(ack);
                    }
                    let outcome = tree
                        .apply_batch(batch)
                        .and_then(|()| db.flush().map(|_| ()))
                        .map_err(|e| e.to_string())
                        .and_then(|()| data_file.sync_data().map_err(|e| e.to_string()));
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    stats.items.fetch_add(acks.len() as u64, Ordering::Relaxed);
                    for ack in acks {
                        let _ = ack.send(outcome.clone());
                    }
                }
            })
            .context("spawning the raw sled committer")?
    };
    let ws = (0..writers)
        .map(|i| SledProducer {
            id: i as u32,
            tx: tx.clone(),
            payload: payload(i as u64, len),
        })
        .collect::<Vec<_>>();
    drop(tx);
    let figures = drive(ws, window).await?;
    tokio::task::spawn_blocking(move || committer.join())
        .await
        .context("joining the raw sled committer")?
        .map_err(|_| anyhow!("raw sled committer panicked"))?;
    db.flush().context("final raw sled flush")?;
    let batches = stats.batches.load(Ordering::Relaxed).max(1);
    let mean_batch = stats.items.load(Ordering::Relaxed) as f64 / batches as f64;
    Ok((figures, mean_batch))
}
