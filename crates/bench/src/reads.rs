//! Reads: one 100-event stream at a time, and a scan of `$all`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ecoute_store::{
    Direction, Durability, EventData, EventStore, ExpectedVersion, ReadFrom, SledStore,
    StoreConfig, StreamId,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::stats::{new_hist, payload, record, round3, Figures};

/// Events per stream, and per commit while prefilling.
pub const STREAM_LEN: u64 = 100;
const PREFILL_COMMIT: u64 = 10;
const PREFILL_TASKS: usize = 16;
/// Events per `read_all` page when scanning `$all`.
pub const SCAN_PAGE: usize = 1000;

pub struct ReadResults {
    pub prefill_events: u64,
    pub prefill: Duration,
    pub stream_1: Figures,
    pub stream_4: Figures,
    pub scan_passes: Vec<f64>,
}

impl ReadResults {
    /// The median of the `$all` scan passes, in events per second.
    pub fn scan_median(&self) -> f64 {
        let mut v = self.scan_passes.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }

    pub fn json(&self) -> Value {
        json!({
            "prefill_events": self.prefill_events,
            "prefill_seconds": round3(self.prefill.as_secs_f64()),
            "prefill_durability": "UnsafeNoFlush",
            "stream_len": STREAM_LEN,
            "read_stream_1_reader": {
                "events_per_sec": (self.stream_1.per_sec() * STREAM_LEN as f64).round(),
                "reads": self.stream_1.json(),
            },
            "read_stream_4_readers": {
                "events_per_sec": (self.stream_4.per_sec() * STREAM_LEN as f64).round(),
                "reads": self.stream_4.json(),
            },
            "scan_all_page": SCAN_PAGE,
            "scan_all_passes_events_per_sec": self.scan_passes.iter().map(|x| x.round()).collect::<Vec<_>>(),
            "scan_all_events_per_sec": self.scan_median().round(),
        })
    }
}

fn stream_name(i: u64) -> Result<StreamId> {
    Ok(StreamId::new(format!("read-{i}"))?)
}

/// Fills a store with `events` events in streams of 100, in commits of 10
/// interleaved across streams, with the explicitly unsafe unflushed mode (to
/// save time: the reads do not depend on how the data got there), then closes
/// it. Returns the number of streams.
async fn prefill(path: &Path, events: u64) -> Result<(u64, Duration)> {
    let streams = (events / STREAM_LEN).max(1);
    let config = StoreConfig {
        durability: Durability::UnsafeNoFlush,
        ..StoreConfig::default()
    };
    let store = Arc::new(SledStore::open(path, config).context("opening the prefill store")?);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..PREFILL_TASKS as u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mine: Vec<u64> = (0..streams)
                .filter(|s| s % PREFILL_TASKS as u64 == t)
                .collect();
            let body = payload(t, 256);
            for round in 0..STREAM_LEN / PREFILL_COMMIT {
                for &s in &mine {
                    let expected = match round {
                        0 => ExpectedVersion::NoStream,
                        r => ExpectedVersion::Exact(r * PREFILL_COMMIT - 1),
                    };
                    let events = (0..PREFILL_COMMIT)
                        .map(|_| EventData::new(Uuid::new_v4(), "BenchEvent", 1, body.clone()))
                        .collect();
                    store
                        .append_to_stream(stream_name(s)?, expected, events)
                        .await
                        .context("prefill append")?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("prefill task panicked")??;
    }
    let took = t0.elapsed();
    store.close().await.context("closing the prefill store")?;
    Ok((streams, took))
}

/// Reads random whole streams (100 events each) for `measure`, with `readers`
/// concurrent readers.
async fn read_streams(
    store: Arc<SledStore>,
    streams: u64,
    readers: usize,
    measure: Duration,
) -> Result<Figures> {
    let until = Instant::now() + measure;
    let mut tasks = Vec::new();
    for r in 0..readers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = new_hist();
            let mut reads = 0u64;
            let mut x = 0x2545_F491_4F6C_DD1Du64 ^ (r as u64 + 1);
            while Instant::now() < until {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let stream = stream_name(x % streams)?;
                let t0 = Instant::now();
                let events = store
                    .read_stream(&stream, ReadFrom::Edge, Direction::Forward, 1000)
                    .await
                    .with_context(|| format!("reading {stream}"))?;
                record(&mut hist, t0.elapsed());
                if events.len() as u64 != STREAM_LEN {
                    bail!("{stream} has {} events, not {STREAM_LEN}", events.len());
                }
                reads += 1;
            }
            anyhow::Ok((hist, reads))
        }));
    }
    let mut hist = new_hist();
    let mut reads = 0;
    for t in tasks {
        let (h, n) = t.await.context("reader task panicked")??;
        hist.add(&h).context("merging histograms")?;
        reads += n;
    }
    Ok(Figures::from_hist(reads, measure, &hist))
}

/// Scans the whole of `$all` in pages; returns events per second.
async fn scan_all(store: &SledStore, expect: u64) -> Result<f64> {
    let t0 = Instant::now();
    let mut from = 0u64;
    loop {
        let page = store
            .read_all(from, SCAN_PAGE)
            .await
            .with_context(|| format!("read_all from {from}"))?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
    }
    let took = t0.elapsed();
    if from != expect {
        bail!("$all scan saw {from} events, expected {expect}");
    }
    Ok(from as f64 / took.as_secs_f64().max(1e-9))
}

/// Prefills, reopens with the default (durable) configuration, then measures.
pub async fn run(dir: &Path, events: u64, measure: Duration, passes: usize) -> Result<ReadResults> {
    let path = dir.join("reads");
    let (streams, prefill_took) = prefill(&path, events).await?;
    let store = Arc::new(
        SledStore::open(&path, StoreConfig::default()).context("reopening the read store")?,
    );
    let total = store.head().await?;
    if total != streams * STREAM_LEN {
        bail!(
            "prefilled {total} events, expected {}",
            streams * STREAM_LEN
        );
    }
    // One unmeasured pass warms sled's page cache, as a running server's would be.
    scan_all(&store, total).await?;
    let stream_1 = read_streams(store.clone(), streams, 1, measure).await?;
    let stream_4 = read_streams(store.clone(), streams, 4, measure).await?;
    let mut scan_passes = Vec::new();
    for _ in 0..passes.max(1) {
        scan_passes.push(scan_all(&store, total).await?);
    }
    store.close().await.context("closing the read store")?;
    Ok(ReadResults {
        prefill_events: total,
        prefill: prefill_took,
        stream_1,
        stream_4,
        scan_passes,
    })
}
