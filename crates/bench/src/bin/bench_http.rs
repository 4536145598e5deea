//! `bench-http`: the ecoute server over real HTTP (issue 5).
//!
//! 1. **HTTP load.** At 1, 16 and 64 concurrent clients, each a platform listener
//!    taking calls one after the other through the `/v1` API (see
//!    [`ecoute_bench::http_load`]), against a fresh, durable server per level:
//!    commands (write requests) per second, p50 and p99 latency.
//! 2. **The store's own figure, for the ratio.** At the same concurrency, in the
//!    same run, single-event durable commits appended straight to a `SledStore`
//!    (the `ecoute-bench` writers), with events of the size the HTTP load wrote;
//!    then HTTP commands/s ÷ store appends/s.
//! 3. **Resident memory.** A year of generated helpline traffic (`ecoute-sim`,
//!    about 60,000 calls) loaded into a data directory, then the real server
//!    started on it as a child process; once `/readyz` answers 200 (the read
//!    models rebuilt and caught up), `VmRSS` and `VmHWM` from `/proc/PID/status`.
//! 4. **A year through the API** (`--parts api`, not run by default: about five
//!    minutes). The real server started empty as a child process, then the
//!    demo's journeys (`ecoute_server::demo::load`: 60,000 calls in the
//!    service's proportions, 8 at once) sent to it over HTTP from this process;
//!    the server's `VmRSS` when the load ends, again after its minute's
//!    `malloc_trim`, and after a restart on the same directory.
//!
//! The server is the `ecoute` binary beside this one in the target directory: run
//! `cargo build --release -p ecoute-server` first. Human-readable lines, then one
//! JSON line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use ecoute_bench::http_load::{self, CallTaker};
use ecoute_bench::server::{
    self, context_switches, cpu_seconds, dir_bytes, own_usage, Memory, Mode, Running,
};
use ecoute_bench::stats::{drive, fmt_us, round3, Figures, Window};
use ecoute_bench::writes;
use ecoute_sim::{load_batched, SimConfig};
use ecoute_store::{Durability, EventStore, SledStore, StoreConfig};
use serde_json::{json, Map, Value};
use tempfile::TempDir;

/// The ecoute server over HTTP: commands/s and latency at 1/16/64 clients, the
/// ratio to the store's own appends, and resident memory after a year of traffic.
///
/// Needs the `ecoute` binary in the same target directory: run
/// `cargo build --release -p ecoute-server` first (or pass --ecoute PATH).
#[derive(Parser, Debug)]
#[command(name = "bench-http", version)]
struct Args {
    /// A short run: 1 s per level and 30 days of traffic for the memory part.
    #[arg(long)]
    quick: bool,

    /// Concurrent HTTP clients (and store writers) to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,

    /// Measured seconds per level (default 4; 1 with --quick), after a warm-up.
    #[arg(long)]
    seconds: Option<f64>,

    /// Where the load's server runs: `process` (the `ecoute` binary as a child) or
    /// `in-process` (`Server::start` on this benchmark's runtime). The memory part
    /// always uses a child process.
    #[arg(long, default_value = "process")]
    server: Mode,

    /// The `ecoute` binary (default: beside this benchmark, in the same target directory).
    #[arg(long)]
    ecoute: Option<PathBuf>,

    /// Payload bytes per event for the store part (default: the mean size, payload
    /// plus metadata, of the events the HTTP load wrote at the same level).
    #[arg(long)]
    event_size: Option<usize>,

    /// Days of generated traffic for the memory part (default 365, about 60,000
    /// calls; 30 with --quick).
    #[arg(long)]
    days: Option<u32>,

    /// Seed of the generated traffic.
    #[arg(long, default_value_t = 3977)]
    seed: u64,

    /// Where the temporary data directories go (default: the workspace's target/bench-tmp).
    #[arg(long)]
    dir: Option<PathBuf>,

    /// An extra argument for `ecoute serve` (repeatable), such as `--serve-arg=--cache-mib=16`;
    /// child processes only.
    #[arg(long = "serve-arg", allow_hyphen_values = true)]
    serve_args: Vec<String>,

    /// Which parts to run, comma-separated: http, store, memory, api (a year
    /// through the API: not run unless named).
    #[arg(long, value_delimiter = ',', default_value = "http,store,memory")]
    parts: Vec<String>,

    /// Calls the `api` part loads (default 60,000, a year; `--quick`: 3,000).
    #[arg(long)]
    api_calls: Option<usize>,
}

impl Args {
    fn runs(&self, part: &str) -> bool {
        self.parts.iter().any(|p| p == part)
    }
}

/// Server start-up and shut-down allowance for the load's small data directories.
const SMALL_WAIT: Duration = Duration::from_secs(60);
/// The same for a year of traffic (opening the log, rebuilding the read models).
const LARGE_WAIT: Duration = Duration::from_secs(1800);
/// The resident-memory target (issue 5), in bytes.
const RSS_TARGET_BYTES: f64 = 200e6;

/// How long the `api` part waits after the load for the server's next trim.
const TRIM_WAIT: Duration =
    Duration::from_secs(ecoute_server::allocator::RELEASE_EVERY.as_secs() + 5);
/// Event size for the store part when no HTTP level measured one.
const FALLBACK_EVENT_SIZE: usize = 400;

fn fresh(base: &Path, name: &str) -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(base)
        .with_context(|| format!("creating a temporary directory in {}", base.display()))
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| round3(a / b))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// One HTTP level: a fresh durable server, `clients` listeners enrolled through the
/// API, then the closed-loop load.
struct HttpLevel {
    figures: Figures,
    requests: u64,
    written: http_load::Written,
    server_memory: Option<Memory>,
    /// CPU seconds used by the server and by this process (the clients) over the
    /// level's warm-up and measurement; one figure, the server's, in-process.
    server_cpu: f64,
    client_cpu: Option<f64>,
    /// The server's context switches over the same time (child process only), and
    /// its threads at the end.
    server_switches: Option<(u64, usize)>,
}

async fn http_level(
    base: &Path,
    mode: Mode,
    binary: &Path,
    serve_args: &[String],
    clients: usize,
    window: Window,
) -> Result<HttpLevel> {
    let dir = fresh(base, "http")?;
    let data = dir.path().join("data");
    let server = Running::start(
        mode,
        binary,
        &data,
        &dir.path().join("server.log"),
        serve_args,
        &server::new_master_key()?,
        SMALL_WAIT,
    )
    .await?;
    let (figures, requests, server_memory, server_cpu, client_cpu, server_switches) =
        then_stop(server, SMALL_WAIT, async |server| {
            let admin = server
                .admin_token
                .clone()
                .ok_or_else(|| anyhow!("the fresh server created no first administrator"))?;
            let probe = http_load::client()?;
            server.wait_ready(&probe, SMALL_WAIT).await?;
            let tokens = http_load::enrol_listeners(&server.base, &admin, clients).await?;
            let sent = Arc::new(AtomicU64::new(0));
            let takers = tokens
                .into_iter()
                .enumerate()
                .map(|(i, token)| CallTaker::new(&server.base, token, i as u64 + 1, sent.clone()))
                .collect::<Result<Vec<_>>>()?;
            let me = std::process::id();
            let (server0, me0) = (cpu_seconds(server.pid), cpu_seconds(me));
            let (switches0, _) = context_switches(server.pid);
            let figures = drive(takers, window).await?;
            let server_cpu = cpu_seconds(server.pid) - server0;
            let switches = (mode == Mode::Process).then(|| {
                let (n, threads) = context_switches(server.pid);
                (n.saturating_sub(switches0), threads)
            });
            let client_cpu = (mode == Mode::Process).then(|| cpu_seconds(me) - me0);
            let memory = (mode == Mode::Process).then(|| Memory::of(server.pid));
            Ok((
                figures,
                sent.load(Ordering::Relaxed),
                memory,
                server_cpu,
                client_cpu,
                switches,
            ))
        })
        .await?;
    let written = http_load::written(&data.join("log")).await?;
    Ok(HttpLevel {
        figures,
        requests,
        written,
        server_memory,
        server_cpu,
        client_cpu,
        server_switches,
    })
}

/// The memory part's figures.
struct MemoryRun {
    events: u64,
    calls: u64,
    cases: u64,
    load: Duration,
    log_bytes: u64,
    first: Start,
    restart: Start,
    models_bytes: u64,
}

async fn memory_run(
    base: &Path,
    binary: &Path,
    serve_args: &[String],
    seed: u64,
    days: u32,
) -> Result<MemoryRun> {
    let dir = fresh(base, "memory")?;
    let data = dir.path().join("data");
    let log = data.join("log");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let started = Instant::now();
    let config = StoreConfig {
        durability: Durability::UnsafeNoFlush,
        ..StoreConfig::default()
    };
    let store = SledStore::open(&log, config).context("opening the log to load")?;
    let report = load_batched(&store, SimConfig::with_seed_and_days(seed, days), None, 64)
        .await
        .context("loading the generated history")?;
    let events = store.head().await?;
    store.close().await.context("closing the loaded log")?;
    drop(store);
    let load = started.elapsed();
    let log_bytes = dir_bytes(&log);
    println!(
        "loaded {events} events ({} calls, {} cases, {} refused) in {:.1} s; log {:.0} MB on disk",
        report.calls,
        report.cases,
        report.refused,
        load.as_secs_f64(),
        log_bytes as f64 / 1e6
    );

    // Once on the loaded log (the read models rebuilt from zero), then again on the
    // same directory (models already built: a plain restart).
    let master_key = server::new_master_key()?;
    let first = start_measured(
        &data,
        &dir.path().join("server.log"),
        binary,
        serve_args,
        &master_key,
    )
    .await?;
    let restart = start_measured(
        &data,
        &dir.path().join("server-2.log"),
        binary,
        serve_args,
        &master_key,
    )
    .await?;
    Ok(MemoryRun {
        events,
        calls: report.calls,
        cases: report.cases,
        load,
        log_bytes,
        first,
        restart,
        models_bytes: dir_bytes(&data.join("models")),
    })
}

/// The `api` part's figures.
struct ApiRun {
    summary: ecoute_server::demo::DemoSummary,
    /// The server when the load ended, and after its next `malloc_trim`.
    loaded: Memory,
    trimmed: Memory,
    restart: Start,
    log_bytes: u64,
    models_bytes: u64,
}

/// A year (or `calls`) of the demo's journeys sent over HTTP to a real server
/// started empty; the server's memory when the load ends, once it has handed
/// free memory back (it does every minute), and after a restart.
async fn api_run(
    base: &Path,
    binary: &Path,
    serve_args: &[String],
    seed: u64,
    calls: usize,
) -> Result<ApiRun> {
    let dir = fresh(base, "api")?;
    let data = dir.path().join("data");
    let master_key = server::new_master_key()?;
    let log_file = dir.path().join("server.log");
    let (summary, loaded, trimmed) = with_server(
        &data,
        &log_file,
        binary,
        serve_args,
        &master_key,
        async |running| {
            let admin = running
                .admin_token
                .clone()
                .ok_or_else(|| anyhow!("the fresh server printed no administrator token"))?;
            let config = ecoute_server::demo::DemoConfig {
                calls,
                seed,
                concurrency: 8,
            };
            let summary = ecoute_server::demo::load(&running.base, &admin, config).await?;
            let loaded = Memory::of(running.pid);
            tokio::time::sleep(TRIM_WAIT).await;
            let trimmed = Memory::of(running.pid);
            Ok((summary, loaded, trimmed))
        },
    )
    .await?;
    let restart = start_measured(
        &data,
        &dir.path().join("server-2.log"),
        binary,
        serve_args,
        &master_key,
    )
    .await?;
    Ok(ApiRun {
        summary,
        loaded,
        trimmed,
        restart,
        log_bytes: dir_bytes(&data.join("log")),
        models_bytes: dir_bytes(&data.join("models")),
    })
}

/// One start of the server as a child process on a data directory: memory when it
/// listens, when `/readyz` answers 200, and a few idle seconds later.
#[derive(Debug, Clone, Copy)]
struct Start {
    startup: Duration,
    ready_after: Duration,
    at_listen: Memory,
    at_ready: Memory,
    settled: Memory,
}

async fn start_measured(
    data: &Path,
    log_file: &Path,
    binary: &Path,
    serve_args: &[String],
    master_key: &ecoute_server::MasterKey,
) -> Result<Start> {
    with_server(
        data,
        log_file,
        binary,
        serve_args,
        master_key,
        async |server| {
            let at_listen = Memory::of(server.pid);
            let probe = http_load::client()?;
            let ready_after = server.wait_ready(&probe, LARGE_WAIT).await?;
            let at_ready = Memory::of(server.pid);
            // A few idle seconds, for the figure once everything has settled.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let settled = Memory::of(server.pid);
            Ok(Start {
                startup: server.startup,
                ready_after,
                at_listen,
                at_ready,
                settled,
            })
        },
    )
    .await
}

/// Starts the server as a child process on `data`, runs `work` against it,
/// then stops it ([`then_stop`]).
async fn with_server<T>(
    data: &Path,
    log_file: &Path,
    binary: &Path,
    serve_args: &[String],
    master_key: &ecoute_server::MasterKey,
    work: impl AsyncFnOnce(&Running) -> Result<T>,
) -> Result<T> {
    let server = Running::start(
        Mode::Process,
        binary,
        data,
        log_file,
        serve_args,
        master_key,
        LARGE_WAIT,
    )
    .await?;
    then_stop(server, LARGE_WAIT, work).await
}

/// Runs `work` against a started server, then stops it — also when `work`
/// failed, whose error is then the one returned.
async fn then_stop<T>(
    server: Running,
    wait: Duration,
    work: impl AsyncFnOnce(&Running) -> Result<T>,
) -> Result<T> {
    let outcome = work(&server).await;
    let stopped = server.stop(wait).await;
    let value = outcome?;
    stopped?;
    Ok(value)
}

impl Start {
    fn json(&self) -> Value {
        json!({
            "listening_seconds": round3(self.startup.as_secs_f64()),
            "ready_seconds": round3(self.ready_after.as_secs_f64()),
            "at_listen": mem_json(&self.at_listen),
            "at_ready": mem_json(&self.at_ready),
            "settled": mem_json(&self.settled),
        })
    }

    fn print(&self, what: &str) {
        println!(
            "{what}: listening after {:.1} s (VmRSS {:.0} MiB), ready after {:.1} s more; \
             at ready VmRSS {:.1} MiB ({:.0} MB), VmHWM {:.1} MiB ({:.0} MB); 3 s later VmRSS {:.1} MiB",
            self.startup.as_secs_f64(),
            self.at_listen.rss_mib(),
            self.ready_after.as_secs_f64(),
            self.at_ready.rss_mib(),
            self.at_ready.rss_mb(),
            self.at_ready.hwm_mib(),
            self.at_ready.hwm_mb(),
            self.settled.rss_mib(),
        );
    }
}

fn mem_json(m: &Memory) -> Value {
    json!({ "vm_rss_kib": m.rss_kib, "vm_hwm_kib": m.hwm_kib })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let seconds = args.seconds.unwrap_or(if args.quick { 1.0 } else { 4.0 });
    let window = Window {
        warmup: Duration::from_secs_f64((seconds / 4.0).clamp(0.25, 1.0)),
        measure: Duration::from_secs_f64(seconds),
    };
    let days = args.days.unwrap_or(if args.quick { 30 } else { 365 });
    let base = args
        .dir
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-tmp"));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let base = base
        .canonicalize()
        .context("resolving the bench directory")?;
    let binary = match &args.ecoute {
        Some(p) => p.clone(),
        None => server::sibling_binary()?,
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut levels = args.clients.clone();
    levels.sort_unstable();
    levels.dedup();
    levels.retain(|&c| c > 0);
    let started = Instant::now();

    println!(
        "bench-http: {cores} cores; data directories under {}",
        base.display()
    );
    println!("server binary: {}", binary.display());
    if !args.serve_args.is_empty() {
        println!("extra arguments for `ecoute serve`: {:?}", args.serve_args);
    }
    if args.runs("http") || args.runs("store") {
        println!("load server: {}", args.server.describe());
        println!(
            "each level: {:.2} s warm-up, {:.1} s measured; clients {levels:?}; a command = one write request \
             (call, victim, facts, note, end, and a transfer for 22% of calls); server durable (flush before \
             answer), {}",
            window.warmup.as_secs_f64(),
            window.measure.as_secs_f64(),
            match args.server {
                Mode::Process => "logging at its default level (info, one line per request) to a file",
                Mode::InProcess => "not logging (no subscriber in this process)",
            }
        );
    }
    println!();

    let mut http = BTreeMap::new();
    let mut store = BTreeMap::new();
    let mut levels_json = Map::new();
    for &c in &levels {
        let mut level = Map::new();
        let mut event_size = args.event_size;
        if args.runs("http") {
            let h = http_level(&base, args.server, &binary, &args.serve_args, c, window).await?;
            let w = &h.written;
            println!(
                "{}",
                h.figures
                    .line(&format!("HTTP, {c} client{}", plural(c)), "cmds")
            );
            println!(
                "    {} requests in all; {} events in {} commits ({:.2} events/command), {:.0} B payload + metadata per event{}",
                h.requests,
                w.events,
                w.commits,
                w.events as f64 / h.requests.max(1) as f64,
                w.mean_with_metadata,
                h.server_memory.map_or(String::new(), |m| format!(
                    "; server VmRSS {:.0} MiB after the level",
                    m.rss_mib()
                ))
            );
            let per_cmd = |cpu: f64| cpu / h.requests.max(1) as f64 * 1e6;
            match h.client_cpu {
                Some(client) => println!(
                    "    CPU per command: server {:.0} µs, clients {:.0} µs ({:.1} + {:.1} CPU-s over {:.1} s){}",
                    per_cmd(h.server_cpu),
                    per_cmd(client),
                    h.server_cpu,
                    client,
                    (window.warmup + window.measure).as_secs_f64(),
                    h.server_switches.map_or(String::new(), |(n, threads)| format!(
                        "; server: {:.1} context switches per command, {threads} threads",
                        n as f64 / h.requests.max(1) as f64
                    ))
                ),
                None => println!(
                    "    CPU per command: {:.0} µs, server and clients together",
                    per_cmd(h.server_cpu)
                ),
            }
            event_size = event_size.or(Some(w.mean_with_metadata.round() as usize));
            level.insert("http".into(), h.figures.json());
            level.insert("http_requests".into(), json!(h.requests));
            level.insert(
                "cpu_seconds".into(),
                json!({ "server": round3(h.server_cpu), "clients": h.client_cpu.map(round3) }),
            );
            if let Some((n, threads)) = h.server_switches {
                level.insert(
                    "server_context_switches".into(),
                    json!({ "count": n, "threads": threads }),
                );
            }
            level.insert(
                "written".into(),
                json!({
                    "events": w.events,
                    "commits": w.commits,
                    "mean_payload_bytes": round3(w.mean_payload),
                    "mean_payload_and_metadata_bytes": round3(w.mean_with_metadata),
                }),
            );
            if let Some(m) = h.server_memory {
                level.insert("server_memory_after".into(), mem_json(&m));
            }
            http.insert(c, h.figures);
        }
        if args.runs("store") {
            let size = event_size.unwrap_or(FALLBACK_EVENT_SIZE);
            let dir = fresh(&base, "store")?;
            let (cpu0, switches0) = own_usage();
            let f = writes::ecoute(dir.path(), c, size, window, Durability::Flush).await?;
            let (cpu1, switches1) = own_usage();
            // Appends over the warm-up too, at the measured rate: an estimate.
            let appends = f.per_sec() * (window.warmup + window.measure).as_secs_f64();
            println!(
                "{}",
                f.line(
                    &format!("store, {c} writer{}, {size} B events", plural(c)),
                    "appends"
                )
            );
            println!(
                "    CPU per append about {:.0} µs, {:.1} context switches per append (writers and store, one process)",
                (cpu1 - cpu0) / appends.max(1.0) * 1e6,
                switches1.saturating_sub(switches0) as f64 / appends.max(1.0)
            );
            level.insert(
                "store_usage".into(),
                json!({ "cpu_seconds": round3(cpu1 - cpu0), "context_switches": switches1.saturating_sub(switches0) }),
            );
            level.insert("store".into(), f.json());
            level.insert("store_event_bytes".into(), json!(size));
            store.insert(c, f);
        }
        if let (Some(h), Some(s)) = (http.get(&c), store.get(&c)) {
            let r = ratio(h.per_sec(), s.per_sec());
            println!(
                "    HTTP cmds/s / store appends/s at {c}: {}   (p50 {} vs {})",
                r.map_or("-".into(), |r| format!("{r:.2}x")),
                fmt_us(h.p50_us),
                fmt_us(s.p50_us)
            );
            level.insert("http_over_store".into(), json!(r));
        }
        levels_json.insert(c.to_string(), Value::Object(level));
    }

    let mut memory_json = Value::Null;
    if args.runs("memory") {
        println!();
        println!("memory: {days} days of generated traffic (seed {}), then the server as a child process until /readyz answers 200", args.seed);
        let m = memory_run(&base, &binary, &args.serve_args, args.seed, days).await?;
        let met = m.first.at_ready.rss_mb() * 1e6 < RSS_TARGET_BYTES;
        m.first.print("first start (read models rebuilt from zero)");
        m.restart.print("restart (read models already built)");
        println!(
            "resident once ready, {days} days of traffic loaded: VmRSS {:.1} MiB = {:.0} MB   (target < 200 MB: {})",
            m.first.at_ready.rss_mib(),
            m.first.at_ready.rss_mb(),
            if met { "met" } else { "NOT met" }
        );
        println!(
            "on disk: log {:.0} MB, read models {:.0} MB",
            m.log_bytes as f64 / 1e6,
            m.models_bytes as f64 / 1e6
        );
        memory_json = json!({
            "days": days,
            "seed": args.seed,
            "events": m.events,
            "calls": m.calls,
            "cases": m.cases,
            "load_seconds": round3(m.load.as_secs_f64()),
            "log_bytes": m.log_bytes,
            "models_bytes": m.models_bytes,
            "first_start": m.first.json(),
            "restart": m.restart.json(),
            "target_bytes": RSS_TARGET_BYTES,
            "met": met,
        });
    }

    let mut api_json = Value::Null;
    if args.runs("api") {
        let calls = args
            .api_calls
            .unwrap_or(if args.quick { 3_000 } else { 60_000 });
        println!();
        println!(
            "api: {calls} calls of the demo's journeys (seed {}, 8 at once) over HTTP to the server as a child process, started empty",
            args.seed
        );
        let a = api_run(&base, &binary, &args.serve_args, args.seed, calls).await?;
        let c = &a.summary.counts;
        println!(
            "loaded {} calls and {} cases: {} requests in {:.1} s; log {:.0} MB, read models {:.0} MB on disk",
            c.calls,
            c.cases,
            a.summary.requests,
            a.summary.elapsed.as_secs_f64(),
            a.log_bytes as f64 / 1e6,
            a.models_bytes as f64 / 1e6
        );
        println!(
            "server when the load ended: VmRSS {:.1} MiB ({:.0} MB), VmHWM {:.1} MiB ({:.0} MB)",
            a.loaded.rss_mib(),
            a.loaded.rss_mb(),
            a.loaded.hwm_mib(),
            a.loaded.hwm_mb()
        );
        let met = a.trimmed.rss_mb() * 1e6 < RSS_TARGET_BYTES;
        println!(
            "server after its next trim ({} s later): VmRSS {:.1} MiB = {:.0} MB   (target < 200 MB: {})",
            TRIM_WAIT.as_secs(),
            a.trimmed.rss_mib(),
            a.trimmed.rss_mb(),
            if met { "met" } else { "NOT met" }
        );
        a.restart.print("restart on that directory");
        api_json = json!({
            "calls": c.calls,
            "cases": c.cases,
            "requests": a.summary.requests,
            "load_seconds": round3(a.summary.elapsed.as_secs_f64()),
            "log_bytes": a.log_bytes,
            "models_bytes": a.models_bytes,
            "loaded": mem_json(&a.loaded),
            "trimmed": mem_json(&a.trimmed),
            "restart": a.restart.json(),
            "target_bytes": RSS_TARGET_BYTES,
            "met": met,
        });
    }

    println!("total time {:.1} s", started.elapsed().as_secs_f64());
    let report = json!({
        "bench": "bench-http",
        "cores": cores,
        "quick": args.quick,
        "server": format!("{:?}", args.server),
        "warmup_seconds": round3(window.warmup.as_secs_f64()),
        "measure_seconds": round3(window.measure.as_secs_f64()),
        "clients": levels,
        "levels": levels_json,
        "memory": memory_json,
        "api": api_json,
        "total_seconds": round3(started.elapsed().as_secs_f64()),
    });
    println!("{report}");
    Ok(())
}
