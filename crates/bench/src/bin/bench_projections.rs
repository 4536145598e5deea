//! `bench-projections`: how fast the helpline's read models rebuild from zero,
//! against a plain scan of `$all` over the same log, measured in one run.
//!
//! The log is a generated helpline history (`ecoute-sim`: about 60,000 calls and
//! 13,000 cases a year, through the domain's commands) of at least 1,000,000
//! events by default, loaded with `Durability::UnsafeNoFlush` to save time (the
//! load is not what is measured). Human-readable lines, then one JSON line.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use ecoute_projections::helpline::{decoder, projections};
use ecoute_projections::{ModelDb, Runtime, RuntimeConfig};
use ecoute_sim::{load_batched, SimConfig};
use ecoute_store::{Durability, EventStore, SledStore, StoreConfig};
use serde_json::json;

/// The system allocator (glibc's, as the server runs it), counting allocations
/// when asked (`--count-allocs`): a figure that does not move with the
/// machine's load, unlike times.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call goes to the system allocator unchanged; the counter has no
// effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Parser, Debug)]
#[command(name = "bench-projections", version)]
struct Args {
    /// Events in the generated log (at least; the last commit may go over).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// A short run: 100,000 events.
    #[arg(long)]
    quick: bool,
    /// Where the temporary store and models go (default: target/bench-tmp).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Events per chunk of the projection runtime.
    /// Seconds after which the runtime persists a model's changes (its default if not given).
    #[arg(long)]
    persist_after_secs: Option<f64>,
    #[arg(long, default_value_t = RuntimeConfig::default().chunk)]
    chunk: usize,
    /// Rebuild only these read models (default: all), to see what each costs;
    /// `noop` is a projection that writes nothing: the runtime's own cost
    /// (reading, decoding, checkpointing).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Count allocations (and reallocations) per event in the scan and the
    /// rebuild: steady from run to run, where times are not (it costs a
    /// shared counter per allocation, so the times of such a run are a little slower).
    #[arg(long)]
    count_allocs: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    // The allocator as the server runs it (glibc's arenas bounded).
    ecoute_server::allocator::limit_arenas();
    let args = Args::parse();
    let events = if args.quick { 100_000 } else { args.events };
    let base = args.dir.unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-tmp")
    });
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::Builder::new()
        .prefix("projections-")
        .tempdir_in(&base)?;

    let config = StoreConfig {
        durability: Durability::UnsafeNoFlush,
        ..StoreConfig::default()
    };
    let store = Arc::new(SledStore::open(dir.path().join("store"), config)?);
    let started = Instant::now();
    // A year is about 450,000 events: enough days for the events asked.
    let days = u32::try_from(events / 450_000 + 1)
        .unwrap_or(u32::MAX)
        .saturating_mul(366);
    let sim = SimConfig::with_seed_and_days(3977, days);
    let report = load_batched(store.as_ref(), sim, Some(events), 64)
        .await
        .context("loading the generated history")?;
    let head = store.head().await?;
    println!(
        "generated history: {head} events ({} calls, {} cases, {} refused) loaded in {:.1} s",
        report.calls,
        report.cases,
        report.refused,
        started.elapsed().as_secs_f64()
    );

    // Reopen: the store scans every record to rebuild its in-memory indexes.
    store.close().await?;
    drop(store);
    let rss_before = resident_mb();
    let t = Instant::now();
    let store = Arc::new(SledStore::open(
        dir.path().join("store"),
        StoreConfig::default(),
    )?);
    let open_secs = t.elapsed().as_secs_f64();
    let index_mb = resident_mb() - rss_before;
    println!(
        "reopen (index rebuilt from {head} records): {open_secs:.2} s, +{index_mb:.0} MB resident (sled's cache included)"
    );

    // A plain scan of $all, in the chunks the runtime reads: best of two passes.
    let mut scan_rate: f64 = 0.0;
    COUNTING.store(args.count_allocs, Ordering::Relaxed);
    let scan_allocs_start = ALLOCATIONS.load(Ordering::Relaxed);
    let scan_cpu_start = ecoute_bench::server::own_usage().0;
    for _ in 0..2 {
        let t = Instant::now();
        let mut next = 0;
        while next < head {
            let chunk = store.read_all(next, args.chunk).await?;
            next = chunk.last().map_or(head, |e| e.position + 1);
        }
        scan_rate = scan_rate.max(head as f64 / t.elapsed().as_secs_f64());
    }
    // CPU time per event: steadier than wall time on a shared machine.
    let scan_cpu_us =
        (ecoute_bench::server::own_usage().0 - scan_cpu_start) * 1e6 / (2 * head) as f64;
    println!("scan of $all:             {scan_rate:>10.0} events/s ({scan_cpu_us:.1} µs of CPU per event)");
    let scan_allocs =
        (ALLOCATIONS.load(Ordering::Relaxed) - scan_allocs_start) as f64 / (2 * head) as f64;
    if args.count_allocs {
        println!("  {scan_allocs:.1} allocations per event");
    }

    // The same scan on a thread of its own through the blocking read the
    // runtime's readers use: the other baseline, for a fair comparison.
    let blocking_rate = {
        let store = store.clone();
        let (chunk, rt) = (args.chunk, tokio::runtime::Handle::current());
        tokio::task::spawn_blocking(move || -> Result<f64> {
            let mut best: f64 = 0.0;
            for _ in 0..2 {
                let t = Instant::now();
                let mut next = 0;
                while next < head {
                    let events = store.read_all_blocking(&rt, next, chunk)?;
                    next = events.last().map_or(head, |e| e.position + 1);
                }
                best = best.max(head as f64 / t.elapsed().as_secs_f64());
            }
            Ok(best)
        })
        .await??
    };
    println!("scan, blocking read:      {blocking_rate:>10.0} events/s (one thread, no hand-off)");

    // Rebuild every helpline read model from zero into a fresh database.
    let models = ModelDb::open(dir.path().join("models"))?;
    let rss_pre_rebuild = resident_mb();
    let rebuild_allocs_start = ALLOCATIONS.load(Ordering::Relaxed);
    let rebuild_cpu_start = ecoute_bench::server::own_usage().0;
    let t = Instant::now();
    let store_dyn: Arc<dyn EventStore> = store.clone();
    let mut all = projections();
    all.push(Arc::new(Noop));
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|p| {
            if args.only.is_empty() {
                p.name() != "noop"
            } else {
                args.only.iter().any(|o| o == p.name())
            }
        })
        .collect();
    let count = chosen.len();
    let mut config = RuntimeConfig {
        chunk: args.chunk,
        ..RuntimeConfig::default()
    };
    if let Some(secs) = args.persist_after_secs {
        config.persist_after = std::time::Duration::from_secs_f64(secs);
    }
    let runtime = Runtime::start(store_dyn, models, decoder(), chosen, config)?;
    runtime.wait_for(head).await?;
    let rebuild_secs = t.elapsed().as_secs_f64();
    let rebuild_allocs =
        (ALLOCATIONS.load(Ordering::Relaxed) - rebuild_allocs_start) as f64 / head as f64;
    let rebuild_cpu_us =
        (ecoute_bench::server::own_usage().0 - rebuild_cpu_start) * 1e6 / head as f64;
    let mut model_bytes = 0;
    for status in runtime.status() {
        let (entries, bytes) = runtime.reader(status.name)?.size();
        model_bytes += bytes;
        println!(
            "  model {:<11} {entries:>9} entries, {:>7.1} MiB of keys and values in memory",
            status.name,
            bytes as f64 / (1 << 20) as f64
        );
    }
    let rebuild_rate = head as f64 / rebuild_secs;
    let rss_built = resident_mb();
    runtime.stop()?;
    let rss_stopped = resident_mb();
    drop(runtime);
    println!(
        "resident: {rss_pre_rebuild:.0} MiB before the rebuild (the store open and scanned), {rss_built:.0} MiB with the models built (+{:.0}), {rss_stopped:.0} MiB once persisted and stopped",
        rss_built - rss_pre_rebuild
    );
    println!("rebuild of {count} read models: {rebuild_rate:>10.0} events/s ({rebuild_secs:.1} s, {rebuild_cpu_us:.1} µs of CPU per event)");
    if args.count_allocs {
        println!("  {rebuild_allocs:.1} allocations per event");
    }
    let ratio = rebuild_rate / scan_rate;
    println!("rebuild / scan:           {ratio:>10.2}x   (target >= 0.5)");
    println!(
        "rebuild / blocking scan:  {:>10.2}x",
        rebuild_rate / blocking_rate
    );
    println!(
        "{}",
        json!({
            "events": head,
            "read_models": count,
            "scan_events_per_sec": scan_rate.round(),
            "blocking_scan_events_per_sec": blocking_rate.round(),
            "ratio_rebuild_over_blocking_scan": (rebuild_rate / blocking_rate * 1000.0).round() / 1000.0,
            "rebuild_events_per_sec": rebuild_rate.round(),
            "rebuild_seconds": (rebuild_secs * 100.0).round() / 100.0,
            "scan_cpu_us_per_event": (scan_cpu_us * 100.0).round() / 100.0,
            "rebuild_cpu_us_per_event": (rebuild_cpu_us * 100.0).round() / 100.0,
            "reopen_seconds": (open_secs * 100.0).round() / 100.0,
            "reopen_resident_mb": index_mb.round(),
            "allocations_per_event": args.count_allocs.then(|| json!({
                "scan": (scan_allocs * 10.0).round() / 10.0,
                "rebuild": (rebuild_allocs * 10.0).round() / 10.0,
            })),
            "models_mib": (model_bytes as f64 / (1 << 20) as f64 * 10.0).round() / 10.0,
            "ratio_rebuild_over_scan": (ratio * 1000.0).round() / 1000.0,
            "target": { "ratio_rebuild_over_scan": 0.5, "met": ratio >= 0.5 },
        })
    );
    Ok(())
}

/// The process's resident memory in MiB, from /proc (0 where it cannot be read).
fn resident_mb() -> f64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// A projection that decodes every event and writes nothing.
struct Noop;

impl ecoute_projections::Projection<ecoute_domain::Event> for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn version(&self) -> u32 {
        1
    }

    fn apply(
        &self,
        _: &ecoute_store::RecordedEvent,
        _: &ecoute_domain::Event,
        _: &mut ecoute_projections::ModelTx<'_>,
    ) -> ecoute_projections::Result<()> {
        Ok(())
    }
}
