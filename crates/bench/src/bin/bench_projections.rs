//! `bench-projections`: how fast the helpline's read models rebuild from zero,
//! against a plain scan of `$all` over the same log, measured in one run.
//!
//! The log is a generated helpline history (`ecoute-sim`: about 60,000 calls and
//! 13,000 cases a year, through the domain's commands) of at least 1,000,000
//! events by default, loaded with `Durability::UnsafeNoFlush` to save time (the
//! load is not what is measured). Then, in each of three rounds (`--rounds`),
//! a scan, a scan through the blocking read, and a rebuild of every read model
//! from zero; each is reported best of its rounds, with the median of the
//! rounds' own ratios beside. Human-readable lines, then one JSON line.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use ecoute_domain::Event;
use ecoute_projections::helpline::{decoder, projections};
use ecoute_projections::{ModelDb, Projection, Runtime, RuntimeConfig};
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
    /// Keep the generated log in this directory and reuse it in later runs
    /// with the same `--events` (to compare builds on one log without loading
    /// it each time); the read models are still rebuilt in a fresh directory.
    #[arg(long)]
    log: Option<std::path::PathBuf>,
    /// Rounds of (scan, blocking scan, rebuild); each figure is the best of its rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    // The allocator as the server runs it (glibc tuned as the server tunes it).
    ecoute_server::allocator::tune();
    let args = Args::parse();
    let events = if args.quick { 100_000 } else { args.events };
    let base = args.dir.unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-tmp")
    });
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::Builder::new()
        .prefix("projections-")
        .tempdir_in(&base)?;

    let store_dir = match &args.log {
        Some(log) => log.join(format!("events-{events}")),
        None => dir.path().join("store"),
    };
    if store_dir.exists() {
        println!("generated history: reused from {}", store_dir.display());
    } else {
        let config = StoreConfig {
            durability: Durability::UnsafeNoFlush,
            ..StoreConfig::default()
        };
        let store = Arc::new(SledStore::open(&store_dir, config)?);
        let started = Instant::now();
        // A year is about 450,000 events: enough days for the events asked.
        let days = u32::try_from(events / 450_000 + 1)
            .unwrap_or(u32::MAX)
            .saturating_mul(366);
        let sim = SimConfig::with_seed_and_days(3977, days);
        let report = load_batched(store.as_ref(), sim, Some(events), 64)
            .await
            .context("loading the generated history")?;
        println!(
            "generated history: {} events ({} calls, {} cases, {} refused) loaded in {:.1} s",
            store.head().await?,
            report.calls,
            report.cases,
            report.refused,
            started.elapsed().as_secs_f64()
        );
        store.close().await?;
    }

    // Reopen: the store scans every record to rebuild its in-memory indexes.
    let rss_before = resident_mb();
    let t = Instant::now();
    let store = Arc::new(SledStore::open(&store_dir, StoreConfig::default())?);
    let open_secs = t.elapsed().as_secs_f64();
    let head = store.head().await?;
    let index_mb = resident_mb() - rss_before;
    println!(
        "reopen (index rebuilt from {head} records): {open_secs:.2} s, +{index_mb:.0} MB resident (sled's cache included)"
    );

    let mut all = projections();
    all.push(Arc::new(Noop));
    let chosen: Vec<Arc<dyn Projection<Event>>> = all
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

    // Rounds of the three measurements, one after the other, so that the
    // machine's changing load falls on each alike; each is reported best of
    // its rounds (the run least disturbed), and every round is printed.
    COUNTING.store(args.count_allocs, Ordering::Relaxed);
    let mut rounds = Vec::new();
    for n in 1..=args.rounds.max(1) {
        let scan = measure(head, || async {
            let mut next = 0;
            while next < head {
                let chunk = store.read_all(next, args.chunk).await?;
                next = chunk.last().map_or(head, |e| e.position + 1);
            }
            Ok(())
        })
        .await?;
        // The same scan on a thread of its own through the blocking read the
        // runtime's readers use: the other baseline, for a fair comparison.
        let blocking = measure(head, || async {
            let store = store.clone();
            let (chunk, rt) = (args.chunk, tokio::runtime::Handle::current());
            tokio::task::spawn_blocking(move || -> Result<()> {
                let mut next = 0;
                while next < head {
                    let events = store.read_all_blocking(&rt, next, chunk)?;
                    next = events.last().map_or(head, |e| e.position + 1);
                }
                Ok(())
            })
            .await?
        })
        .await?;
        // Every chosen read model rebuilt from zero into a fresh database.
        let models_dir = dir.path().join(format!("models-{n}"));
        let rss_pre_rebuild = resident_mb();
        let mut runtime = None;
        let rebuild = measure(head, || async {
            let store_dyn: Arc<dyn EventStore> = store.clone();
            let models = ModelDb::open(&models_dir)?;
            let rt = Runtime::start(store_dyn, models, decoder(), chosen.clone(), config.clone())?;
            rt.wait_for(head).await?;
            runtime = Some(rt);
            Ok(())
        })
        .await?;
        let runtime = runtime.context("the rebuild did not start")?;
        if n == 1 {
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
            let rss_built = resident_mb();
            runtime.stop()?;
            println!(
                "resident: {rss_pre_rebuild:.0} MiB before the rebuild (the store open and scanned), {rss_built:.0} MiB with the models built (+{:.0}), {:.0} MiB once persisted and stopped",
                rss_built - rss_pre_rebuild,
                resident_mb()
            );
            println!(
                "models: {:.1} MiB of keys and values in memory",
                model_bytes as f64 / (1 << 20) as f64
            );
        } else {
            runtime.stop()?;
        }
        drop(runtime);
        let _ = std::fs::remove_dir_all(&models_dir);
        let round = Round {
            scan,
            blocking,
            rebuild,
        };
        println!(
            "round {n}: scan {:>7.0} events/s ({:.1} µs CPU), blocking scan {:>7.0}, rebuild of {count} models {:>7.0} events/s ({:.1} µs CPU): {:.2}x",
            round.scan.rate,
            round.scan.cpu_us,
            round.blocking.rate,
            round.rebuild.rate,
            round.rebuild.cpu_us,
            round.rebuild.rate / round.scan.rate,
        );
        if args.count_allocs {
            println!(
                "  allocations per event: scan {:.1}, rebuild {:.1}",
                round.scan.allocs, round.rebuild.allocs
            );
        }
        rounds.push(round);
    }

    let best = |f: fn(&Round) -> &Phase| {
        rounds
            .iter()
            .map(f)
            .max_by(|a, b| a.rate.total_cmp(&b.rate))
            .copied()
            .unwrap_or_default()
    };
    let (scan, blocking, rebuild) = (
        best(|r| &r.scan),
        best(|r| &r.blocking),
        best(|r| &r.rebuild),
    );
    let mut per_round: Vec<f64> = rounds
        .iter()
        .map(|r| r.rebuild.rate / r.scan.rate)
        .collect();
    per_round.sort_by(f64::total_cmp);
    let median = per_round[per_round.len() / 2];
    let ratio = rebuild.rate / scan.rate;
    println!("best of {} rounds:", rounds.len());
    println!(
        "scan of $all:             {:>10.0} events/s ({:.1} µs of CPU per event)",
        scan.rate, scan.cpu_us
    );
    println!(
        "scan, blocking read:      {:>10.0} events/s (one thread, no hand-off)",
        blocking.rate
    );
    println!(
        "rebuild of {count} read models: {:>10.0} events/s ({:.1} s, {:.1} µs of CPU per event)",
        rebuild.rate, rebuild.secs, rebuild.cpu_us
    );
    println!("rebuild / scan:           {ratio:>10.2}x   (target >= 0.5; median of the rounds' own ratios {median:.2}x)");
    println!(
        "rebuild / blocking scan:  {:>10.2}x",
        rebuild.rate / blocking.rate
    );
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    println!(
        "{}",
        json!({
            "events": head,
            "read_models": count,
            "rounds": rounds.iter().map(|r| json!({
                "scan_events_per_sec": r.scan.rate.round(),
                "blocking_scan_events_per_sec": r.blocking.rate.round(),
                "rebuild_events_per_sec": r.rebuild.rate.round(),
                "scan_cpu_us_per_event": round3(r.scan.cpu_us),
                "rebuild_cpu_us_per_event": round3(r.rebuild.cpu_us),
                "ratio_rebuild_over_scan": round3(r.rebuild.rate / r.scan.rate),
            })).collect::<Vec<_>>(),
            "scan_events_per_sec": scan.rate.round(),
            "blocking_scan_events_per_sec": blocking.rate.round(),
            "ratio_rebuild_over_blocking_scan": round3(rebuild.rate / blocking.rate),
            "rebuild_events_per_sec": rebuild.rate.round(),
            "rebuild_seconds": (rebuild.secs * 100.0).round() / 100.0,
            "scan_cpu_us_per_event": round3(scan.cpu_us),
            "rebuild_cpu_us_per_event": round3(rebuild.cpu_us),
            "reopen_seconds": (open_secs * 100.0).round() / 100.0,
            "reopen_resident_mb": index_mb.round(),
            "allocations_per_event": args.count_allocs.then(|| json!({
                "scan": (scan.allocs * 10.0).round() / 10.0,
                "rebuild": (rebuild.allocs * 10.0).round() / 10.0,
            })),
            "ratio_rebuild_over_scan": round3(ratio),
            "median_round_ratio": round3(median),
            "target": { "ratio_rebuild_over_scan": 0.5, "met": ratio >= 0.5 },
        })
    );
    Ok(())
}

/// One measured pass over the log.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    /// Events per second of wall time.
    rate: f64,
    secs: f64,
    /// The process's CPU time (user + system) per event: steadier than wall
    /// time on a shared machine.
    cpu_us: f64,
    /// Allocations per event (with `--count-allocs`).
    allocs: f64,
}

/// The three measurements of one round.
struct Round {
    scan: Phase,
    blocking: Phase,
    rebuild: Phase,
}

/// Times one pass over `events` events.
async fn measure<F, Fut>(events: u64, pass: F) -> Result<Phase>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let allocs = ALLOCATIONS.load(Ordering::Relaxed);
    let cpu = ecoute_bench::server::own_usage().0;
    let t = Instant::now();
    pass().await?;
    let secs = t.elapsed().as_secs_f64();
    let per_event = |x: f64| x / events.max(1) as f64;
    Ok(Phase {
        rate: events as f64 / secs,
        secs,
        cpu_us: per_event((ecoute_bench::server::own_usage().0 - cpu) * 1e6),
        allocs: per_event((ALLOCATIONS.load(Ordering::Relaxed) - allocs) as f64),
    })
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
