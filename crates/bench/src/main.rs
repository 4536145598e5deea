//! `ecoute-bench`: durable append throughput and latency of the ecoute store,
//! side by side with the `fdatasync` floor, raw sled with group commit and
//! (when asked) PostgreSQL, plus stream reads and `$all` scans.
//!
//! Human-readable figures go to stdout as they come; the last line is one JSON
//! object with every figure and the ratios against the targets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use ecoute_store::Durability;
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use ecoute_bench::stats::{fmt_us, round3, Figures, Window};
use ecoute_bench::{fsync, pg, reads, writes};

/// Benchmarks the ecoute store against the fsync floor, raw sled and PostgreSQL.
#[derive(Parser, Debug)]
#[command(name = "ecoute-bench", version)]
struct Args {
    /// A short run: about a second per measurement and a smaller prefill.
    #[arg(long)]
    quick: bool,

    /// Concurrent writer counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    writers: Vec<usize>,

    /// Also measure PostgreSQL at this connection string (URL or key=value form).
    /// Its `fsync` and `synchronous_commit` must be on.
    #[arg(long, env = "ECOUTE_BENCH_POSTGRES")]
    postgres: Option<String>,

    /// Measured seconds per write level (default 4; 1 with --quick).
    #[arg(long)]
    seconds: Option<f64>,

    /// Events prefilled for the read measurements (default 200000; 50000 with --quick).
    #[arg(long)]
    prefill: Option<u64>,

    /// Payload bytes per event.
    #[arg(long, default_value_t = 256)]
    event_size: usize,

    /// Where the temporary stores go (each measurement gets a fresh directory
    /// inside, removed afterwards). Default: the workspace's target/bench-tmp.
    #[arg(long)]
    dir: Option<PathBuf>,

    /// Which parts to run, comma-separated: fsync, ecoute, sled, postgres, reads,
    /// and the diagnostic ecoute-unflushed (not by default: the store with
    /// Durability::UnsafeNoFlush, the committer's CPU ceiling). PostgreSQL runs
    /// only when a connection string is given.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fsync,ecoute,sled,postgres,reads"
    )]
    parts: Vec<String>,
}

impl Args {
    fn runs(&self, part: &str) -> bool {
        self.parts.iter().any(|p| p == part)
    }
}

fn default_dir() -> PathBuf {
    // crates/bench -> the workspace root; target/ is on the same disk as the work tree.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-tmp")
}

fn fresh(base: &Path, name: &str) -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(base)
        .with_context(|| format!("creating a temporary directory in {}", base.display()))
}

fn level_json(results: &BTreeMap<usize, Figures>) -> Value {
    Value::Object(
        results
            .iter()
            .map(|(w, f)| (w.to_string(), f.json()))
            .collect::<Map<_, _>>(),
    )
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| (a / b * 1000.0).round() / 1000.0)
}

fn target(measured: Option<f64>, want: f64, higher_is_better: bool) -> Value {
    let met = measured.map(|m| {
        if higher_is_better {
            m >= want
        } else {
            m <= want
        }
    });
    json!({ "target": want, "measured": measured, "met": met })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let seconds = args.seconds.unwrap_or(if args.quick { 1.0 } else { 4.0 });
    let measure = Duration::from_secs_f64(seconds);
    let window = Window {
        warmup: Duration::from_secs_f64((seconds / 8.0).clamp(0.1, 0.5)),
        measure,
    };
    let prefill = args
        .prefill
        .unwrap_or(if args.quick { 50_000 } else { 200_000 });
    let base = args.dir.clone().unwrap_or_else(default_dir);
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let base = base
        .canonicalize()
        .context("resolving the bench directory")?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut writers = args.writers.clone();
    writers.sort_unstable();
    writers.dedup();
    writers.retain(|&w| w > 0);
    let started = Instant::now();

    println!(
        "ecoute-bench: {cores} cores; stores under {}",
        base.display()
    );
    println!(
        "each write level: {:.1} s warm-up, {:.1} s measured; {} B per event, one event per commit; writers {:?}",
        window.warmup.as_secs_f64(),
        measure.as_secs_f64(),
        args.event_size,
        writers
    );
    println!();

    // 1. The physical floor, and what sled's flush actually calls on Linux.
    let mut floor = None;
    let mut floor_sfr = None;
    if args.runs("fsync") {
        for kind in [fsync::SyncKind::Fdatasync, fsync::SyncKind::SyncFileRange] {
            let dir = fresh(&base, "fsync")?;
            let f = tokio::task::spawn_blocking({
                let path = dir.path().to_owned();
                let size = args.event_size;
                move || fsync::floor(&path, size, window, kind)
            })
            .await
            .context("fsync floor task panicked")??;
            match kind {
                fsync::SyncKind::Fdatasync => {
                    println!("{}", f.line("fsync floor (write + fdatasync)", "ops"));
                    floor = Some(f);
                }
                fsync::SyncKind::SyncFileRange => {
                    println!("{}", f.line("write + sync_file_range (sled's)", "ops"));
                    floor_sfr = Some(f);
                }
            }
        }
    }

    // 2. The ecoute store, durable default configuration.
    let mut ecoute = BTreeMap::new();
    if args.runs("ecoute") {
        for &w in &writers {
            let dir = fresh(&base, "ecoute")?;
            let f =
                writes::ecoute(dir.path(), w, args.event_size, window, Durability::Flush).await?;
            println!(
                "{}",
                f.line(&format!("ecoute, {w} writer{}", plural(w)), "events")
            );
            ecoute.insert(w, f);
        }
    }

    // 2b. Diagnostic, only when asked: the same without flushing, which shows
    // what the committer's CPU work alone allows.
    let mut unflushed = BTreeMap::new();
    if args.runs("ecoute-unflushed") {
        for &w in &writers {
            let dir = fresh(&base, "ecoute-unflushed")?;
            let f = writes::ecoute(
                dir.path(),
                w,
                args.event_size,
                window,
                Durability::UnsafeNoFlush,
            )
            .await?;
            println!(
                "{}",
                f.line(
                    &format!("ecoute UNFLUSHED, {w} writer{}", plural(w)),
                    "events"
                )
            );
            unflushed.insert(w, f);
        }
    }

    // 3. Raw sled with one committer thread and one flush per batch.
    let mut sled = BTreeMap::new();
    let mut sled_batches = BTreeMap::new();
    if args.runs("sled") {
        for &w in &writers {
            let dir = fresh(&base, "sled")?;
            let (f, mean_batch) = writes::raw_sled(dir.path(), w, args.event_size, window).await?;
            println!(
                "{}   mean batch {mean_batch:.1}",
                f.line(
                    &format!("raw sled group commit, {w} producer{}", plural(w)),
                    "events"
                )
            );
            sled.insert(w, f);
            sled_batches.insert(w.to_string(), json!(round3(mean_batch)));
        }
    }

    // 4. PostgreSQL, only when asked.
    let mut postgres = BTreeMap::new();
    let mut pg_settings = Value::Null;
    if let (Some(url), true) = (&args.postgres, args.runs("postgres")) {
        pg_settings = pg::settings(url).await?;
        println!("postgres settings: {pg_settings}");
        for &w in &writers {
            let f = pg::run(url, w, args.event_size, window).await?;
            println!(
                "{}",
                f.line(&format!("postgres, {w} client{}", plural(w)), "events")
            );
            postgres.insert(w, f);
        }
    }

    // 5. Reads.
    let reads = if args.runs("reads") {
        println!();
        let dir = fresh(&base, "reads")?;
        let passes = if args.quick { 2 } else { 3 };
        let r = reads::run(dir.path(), prefill, measure, passes).await?;
        println!(
            "prefill: {} events in {:.1} s ({:.0} events/s, Durability::UnsafeNoFlush, commits of 10), then reopened with the default config",
            r.prefill_events,
            r.prefill.as_secs_f64(),
            r.prefill_events as f64 / r.prefill.as_secs_f64().max(1e-9)
        );
        for (n, f) in [(1, &r.stream_1), (4, &r.stream_4)] {
            println!(
                "read a 100-event stream, {n} reader{}: {:>10.0} events/s ({:.0} reads/s, p50 {}, p99 {})",
                if n == 1 { " " } else { "s" },
                f.per_sec() * reads::STREAM_LEN as f64,
                f.per_sec(),
                fmt_us(f.p50_us),
                fmt_us(f.p99_us)
            );
        }
        println!(
            "scan $all ({} events, pages of {}):  {:>10.0} events/s (median of {:?})",
            r.prefill_events,
            reads::SCAN_PAGE,
            r.scan_median(),
            r.scan_passes
                .iter()
                .map(|x| x.round() as u64)
                .collect::<Vec<_>>()
        );
        Some(r)
    } else {
        None
    };

    // Ratios and targets.
    let top = writers.last().copied();
    let per_sec = |m: &BTreeMap<usize, Figures>, w: Option<usize>| {
        w.and_then(|w| m.get(&w)).map(Figures::per_sec)
    };
    let vs_sled = ratio_at(&ecoute, &sled);
    let vs_pg = ratio_at(&ecoute, &postgres);
    let top_vs_sled = per_sec(&ecoute, top)
        .zip(per_sec(&sled, top))
        .and_then(|(a, b)| ratio(a, b));
    let top_vs_pg = per_sec(&ecoute, top)
        .zip(per_sec(&postgres, top))
        .and_then(|(a, b)| ratio(a, b));
    let one_p50 = ecoute
        .get(&1)
        .zip(floor.as_ref())
        .and_then(|(e, f)| ratio(e.p50_us as f64, f.p50_us as f64));
    let one_tput = ecoute
        .get(&1)
        .zip(floor.as_ref())
        .and_then(|(e, f)| ratio(f.per_sec(), e.per_sec()));

    println!();
    println!("ratios:");
    if let Some(t) = top {
        if let Some(r) = top_vs_sled {
            println!(
                "  ecoute / raw sled at {t} writers:      {r:.2}x   (information, not a target)"
            );
        }
        if let Some(r) = top_vs_pg {
            println!("  ecoute / PostgreSQL at {t} writers:    {r:.2}x   (target >= 2.0)");
        }
    }
    if let Some(r) = one_p50 {
        println!("  1-writer p50 latency / fsync p50:     {r:.2}x   (target <= 2.0)");
    }
    if let Some(r) = one_tput {
        println!("  fsync ops/s / 1-writer events/s:      {r:.2}x");
    }
    println!("total time {:.1} s", started.elapsed().as_secs_f64());

    let top_key = top.map(|t| t.to_string());
    let report = json!({
        "bench": "ecoute-bench",
        "cores": cores,
        "quick": args.quick,
        "event_size": args.event_size,
        "warmup_seconds": round3(window.warmup.as_secs_f64()),
        "measure_seconds": round3(measure.as_secs_f64()),
        "writers": writers,
        "dir": base.display().to_string(),
        "fsync_floor": floor.as_ref().map(Figures::json),
        "sync_file_range_floor": floor_sfr.as_ref().map(Figures::json),
        "ecoute": level_json(&ecoute),
        "ecoute_unflushed": if unflushed.is_empty() { Value::Null } else { level_json(&unflushed) },
        "raw_sled": level_json(&sled),
        "raw_sled_mean_batch": sled_batches,
        "postgres": if args.postgres.is_some() { level_json(&postgres) } else { Value::Null },
        "postgres_settings": pg_settings,
        "reads": reads.as_ref().map(reads::ReadResults::json),
        "ratios": {
            "top_writers": top,
            "ecoute_over_raw_sled": vs_sled,
            "ecoute_over_postgres": vs_pg,
            "ecoute_over_raw_sled_at_top": top_vs_sled,
            "ecoute_over_postgres_at_top": top_vs_pg,
            "single_writer_p50_over_fsync_p50": one_p50,
            "fsync_ops_over_single_writer_events": one_tput,
        },
        // The targets of 2 December (issue 22): durable PostgreSQL side by side, and
        // the fsync floor; raw sled (which acknowledges before its data is on disk)
        // is information, in `ratios`, not a target.
        "targets": {
            "top_writers": top_key,
            "ecoute_vs_postgres_at_top": target(top_vs_pg, 2.0, true),
            "single_writer_p50_vs_fsync_p50": target(one_p50, 2.0, false),
        },
        "total_seconds": round3(started.elapsed().as_secs_f64()),
    });
    println!("{report}");
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// ecoute's throughput over another engine's, at every writer count both measured.
fn ratio_at(ecoute: &BTreeMap<usize, Figures>, other: &BTreeMap<usize, Figures>) -> Value {
    Value::Object(
        ecoute
            .iter()
            .filter_map(|(w, e)| {
                let o = other.get(w)?;
                Some((w.to_string(), json!(ratio(e.per_sec(), o.per_sec()))))
            })
            .collect(),
    )
}
