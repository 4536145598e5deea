//! `ecoute`: the server (`serve`, `demo`), its clients, and read-only commands over its data directory.
//!
//! The server runs on its data directory (`ecoute serve`), or with a demo set
//! loaded through its API (`ecoute demo`); the commands over the data directory
//! (`verify`, `log`, `read`) only read it. Nothing here writes an event past the
//! server: trying the store by hand is `ecoute-store`'s `store_tool` example, on
//! a directory of its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod client;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ecoute_server::demo::DemoConfig;
use ecoute_server::{AppConfig, HttpConfig, MasterKey, ServeConfig, Server};
use ecoute_store::{
    Direction, EventStore, ReadFrom, RecordedEvent, SledStore, StoreConfig, StreamId,
};

#[derive(Parser)]
#[command(
    name = "ecoute",
    version,
    about = "An event-sourced case engine for an elder-abuse helpline"
)]
struct Cli {
    /// The data directory holding the sled store [default: ./ecoute-data; for `demo`:
    /// ./ecoute-demo-data].
    #[arg(long, env = "ECOUTE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the HTTP API on the data directory (created if absent).
    Serve(ServeArgs),
    /// Runs the HTTP API like `serve`, after loading a made-up demo set through it
    /// (on an empty data directory only), and prints a token per role.
    Demo(DemoArgs),
    #[command(flatten)]
    Remote(client::RemoteCommand),
    /// Prints the events of one stream.
    Read {
        /// The stream, such as `case-42`.
        stream: String,
        /// Read from the end backwards.
        #[arg(long)]
        backward: bool,
        /// Most events to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Prints events of `$all` from a global position.
    Log {
        /// First position to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Most events to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Checks every record's checksum, the hash chain and the indexes; prints the chain head.
    Verify,
    /// When no administrator can act any more: enrols a new administrator and prints
    /// their token once. Run on the server's machine, the server stopped, with the
    /// data directory and the master key; written in the access log.
    RecoverAdmin {
        /// The file holding the master key (or ECOUTE_MASTER_KEY_FILE).
        #[arg(long, env = "ECOUTE_MASTER_KEY_FILE")]
        master_key_file: PathBuf,
    },
    /// Re-wraps the key store under a new master key, atomically: afterwards only the
    /// new key opens it, and the old one opens nothing written since. Run on the
    /// server's machine with the server stopped (refused while it holds the data
    /// directory); run it again if it was interrupted.
    RotateMasterKey {
        /// The file holding the current master key (or ECOUTE_MASTER_KEY_FILE).
        #[arg(long, env = "ECOUTE_MASTER_KEY_FILE")]
        master_key_file: PathBuf,
        /// The file holding the new master key (or ECOUTE_NEW_MASTER_KEY_FILE).
        #[arg(long, env = "ECOUTE_NEW_MASTER_KEY_FILE")]
        new_master_key_file: PathBuf,
        /// Creates the new master key file with a new key if it does not exist yet.
        #[arg(long)]
        create_new_master_key: bool,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "ECOUTE_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Where to serve `/metrics` and `/readyz` with its reason (a loopback or
    /// internal address, apart from the API's); unset: not served.
    #[arg(long, env = "ECOUTE_OPS_ADDR")]
    ops_addr: Option<SocketAddr>,
    /// Logs as JSON lines instead of readable text.
    #[arg(long, env = "ECOUTE_LOG_JSON")]
    log_json: bool,
    /// Largest request body, in bytes.
    #[arg(long, env = "ECOUTE_MAX_BODY", default_value_t = 64 * 1024)]
    max_body: usize,
    /// Longest time a request may take, in seconds.
    #[arg(long, env = "ECOUTE_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,
    /// Longest time to receive a request's line and headers, in seconds (also how
    /// long a keep-alive connection waits for its next request).
    #[arg(long, env = "ECOUTE_HEADER_READ_TIMEOUT", default_value_t = 10)]
    header_read_timeout: u64,
    /// Seconds without a byte either way after which a connection is closed.
    #[arg(long, env = "ECOUTE_IDLE_TIMEOUT", default_value_t = 60)]
    idle_timeout: u64,
    /// Most connections open at once; more wait in the kernel's backlog.
    #[arg(long, env = "ECOUTE_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Most requests in flight at once; more are answered 503.
    #[arg(long, env = "ECOUTE_MAX_IN_FLIGHT", default_value_t = 256)]
    max_in_flight: usize,
    /// Seconds to wait, when stopping, for open connections; then they are dropped.
    #[arg(long, env = "ECOUTE_SHUTDOWN_GRACE", default_value_t = 10)]
    shutdown_grace: u64,
    /// Largest request line and headers together, in bytes; more is answered 431.
    #[arg(long, env = "ECOUTE_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    max_header_bytes: usize,
    /// Most header fields in a request; more is answered 431.
    #[arg(long, env = "ECOUTE_MAX_HEADERS", default_value_t = 100)]
    max_headers: usize,
    /// sled's page cache for the event log, in MiB (sled's own accounting: the
    /// memory it takes is larger).
    #[arg(long, env = "ECOUTE_CACHE_MIB", default_value_t = 8)]
    cache_mib: u64,
    /// sled's page cache for the read models' persisted form, in MiB (the models
    /// themselves are held in memory; sled is read when they load, written when
    /// they are persisted).
    #[arg(long, env = "ECOUTE_MODELS_CACHE_MIB", default_value_t = 2)]
    models_cache_mib: u64,
    /// A file holding the master key (64 hexadecimal digits) that wraps the keys of
    /// personal data. Keep it apart from the data directory and its backups.
    #[arg(long, env = "ECOUTE_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Creates the master key file with a new key if it does not exist yet.
    #[arg(long, requires = "master_key_file")]
    create_master_key: bool,
    /// Accepts a master key file that others than its owner may read (refused
    /// otherwise).
    #[arg(long)]
    allow_readable_master_key: bool,
    /// Erases the data of cases closed for this many days (checked hourly); unset:
    /// kept until the data-protection officer erases it.
    #[arg(long, env = "ECOUTE_RETENTION_DAYS")]
    retention_days: Option<u32>,
    /// Erases the persons of a call that joined no case this many days after the
    /// call ended (checked hourly); `off`: kept until erased on request.
    #[arg(
        long,
        env = "ECOUTE_RETENTION_UNATTACHED_CALL_DAYS",
        default_value = "90"
    )]
    retention_unattached_call_days: Days,
    /// Flags to its centre a case without activity for this many days (checked
    /// hourly); `off`: never.
    #[arg(
        long,
        env = "ECOUTE_RETENTION_INACTIVE_CASE_DAYS",
        default_value = "365"
    )]
    retention_inactive_case_days: Days,
    /// Days a flagged case waits for a reason to keep it before it is closed and its
    /// persons erased.
    #[arg(
        long,
        env = "ECOUTE_RETENTION_INACTIVE_GRACE_DAYS",
        default_value_t = 30
    )]
    retention_inactive_grace_days: u32,
    /// Erases a case's callback numbers when it is closed, or this many days after
    /// its call-back deadline fell due unmade; `off`: numbers follow their case.
    #[arg(
        long,
        env = "ECOUTE_RETENTION_CALLBACK_NUMBER_DAYS",
        default_value = "30"
    )]
    retention_callback_number_days: Days,
    /// Hours from a case's transfer until a referent is due.
    #[arg(long, env = "ECOUTE_DEADLINE_REFERENT_HOURS", default_value_t = 48)]
    deadline_referent_hours: u32,
    /// Hours from the referent's naming until a first call back is due (when a number
    /// was left).
    #[arg(long, env = "ECOUTE_DEADLINE_RECONTACT_HOURS", default_value_t = 72)]
    deadline_recontact_hours: u32,
    /// Days from a solution's proposal until its follow-up is due.
    #[arg(long, env = "ECOUTE_DEADLINE_FOLLOW_UP_DAYS", default_value_t = 14)]
    deadline_follow_up_days: u32,
}

/// A number of days, or `off`: a retention rule's period.
#[derive(Clone, Copy, Debug)]
struct Days(Option<u32>);

impl std::str::FromStr for Days {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(Days(None));
        }
        s.parse()
            .map(|d| Days(Some(d)))
            .map_err(|_| format!("{s:?} is neither a number of days nor `off`"))
    }
}

/// The master key from `ECOUTE_MASTER_KEY` or `--master-key-file`, creating the file
/// with `--create-master-key`; without one the server does not start.
fn master_key(args: &ServeArgs) -> Result<MasterKey> {
    // The key itself only from the environment, never from the command line (which
    // every local user can read in the process list).
    if let Ok(hex) = std::env::var("ECOUTE_MASTER_KEY") {
        return Ok(MasterKey::from_hex(&hex)?);
    }
    let Some(path) = &args.master_key_file else {
        bail!(
            "no master key: give --master-key-file FILE (add --create-master-key to make one) \
             or ECOUTE_MASTER_KEY; personal data is never stored without encryption"
        );
    };
    if !path.exists() && args.create_master_key {
        let key = MasterKey::generate()?;
        write_secret(path, &key.to_hex())
            .with_context(|| format!("creating the master key file {}", path.display()))?;
        eprintln!(
            "created a new master key in {}: keep it safe and apart from the data \
             directory and its backups; without it the personal data cannot be read",
            path.display()
        );
        return Ok(key);
    }
    read_key_file(path, args.allow_readable_master_key)
}

/// Reads a master key file, refusing one that others than its owner may read
/// (unless `allow_readable`): the key unlocks every person's data.
fn read_key_file(path: &Path, allow_readable: bool) -> Result<MasterKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading the master key file {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 && !allow_readable {
            bail!(
                "the master key file {} may be read by others (mode {:o}): `chmod 600` it, \
                 or give --allow-readable-master-key",
                path.display(),
                mode & 0o777
            );
        }
    }
    let hex = std::fs::read_to_string(path)
        .with_context(|| format!("reading the master key file {}", path.display()))?;
    Ok(MasterKey::from_hex(&hex)?)
}

/// `ecoute recover-admin`: a new administrator, enrolled by the system on the
/// server's machine.
async fn recover_admin(data_dir: PathBuf, master_key_file: &Path) -> Result<()> {
    let master = read_key_file(master_key_file, false)?;
    let app = ecoute_server::App::open(AppConfig::new(&data_dir, master))
        .await
        .with_context(|| {
            format!(
                "opening {} (stop the server first: it holds the data directory)",
                data_dir.display()
            )
        })?;
    let recovered = app.recover_administrator().await;
    app.close().await?;
    let (id, token) = recovered?;
    println!("a new administrator was enrolled: {id}");
    println!("their token, shown this once: {token}");
    Ok(())
}

/// `ecoute rotate-master-key`: the key store re-wrapped under a new master key.
fn rotate_master_key(data_dir: &Path, old: &Path, new: &Path, create: bool) -> Result<()> {
    let old = read_key_file(old, false)?;
    if create && !new.exists() {
        let key = MasterKey::generate()?;
        write_secret(new, &key.to_hex())
            .with_context(|| format!("creating the master key file {}", new.display()))?;
        println!(
            "created a new master key in {}: keep it safe and apart from the data \
             directory and its backups",
            new.display()
        );
    }
    let new = read_key_file(new, false)?;
    let keys = data_dir.join("keys");
    let done = ecoute_server::keys::KeyStore::rotate_master_key(&keys, &old, &new)
        .with_context(|| format!("rotating the master key of {}", keys.display()))?;
    match done {
        ecoute_server::keys::Rotation::Rotated { epoch } => println!(
            "the key store is wrapped by the new master key from epoch {epoch} on; the old \
             master key opens nothing written from now on. Start the server with the new \
             key, then destroy the old one and every copy of it"
        ),
        ecoute_server::keys::Rotation::AlreadyDone => println!(
            "the new master key already opens the key store (an interrupted rotation was \
             finished): nothing left to do"
        ),
    }
    Ok(())
}

/// The demo's master key: the one given, as for `serve`, or else one the demo makes
/// and keeps in its data directory — fine for a demo, never for real data, whose
/// master key lives apart from the data and its backups.
fn demo_master_key(data_dir: &Path, args: &ServeArgs) -> Result<MasterKey> {
    if std::env::var_os("ECOUTE_MASTER_KEY").is_some() || args.master_key_file.is_some() {
        return master_key(args);
    }
    let path = data_dir.join("demo-master.key");
    if path.exists() {
        return read_key_file(&path, false);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let key = MasterKey::generate()?;
    write_secret(&path, &key.to_hex()).with_context(|| format!("creating {}", path.display()))?;
    println!(
        "demo: made a master key for the personal data in {} (kept beside the data for the \
         demo only; a real deployment gives --master-key-file, kept apart)",
        path.display()
    );
    Ok(key)
}

/// Writes a file only its owner can read.
fn write_secret(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[derive(clap::Args)]
struct DemoArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// How many calls to load.
    #[arg(long, default_value_t = 300)]
    calls: usize,
    /// The seed of the demo's choices: the same seed plays the same journeys.
    #[arg(long, default_value_t = 3977)]
    seed: u64,
    /// How many caller journeys are loaded at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

fn main() -> std::process::ExitCode {
    ecoute_server::process::restrict();
    ecoute_server::process::quiet_panics();
    ecoute_server::allocator::tune();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run_cli()),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run_cli() -> std::process::ExitCode {
    let cli = Cli::parse();
    let json = match &cli.command {
        Command::Serve(a) | Command::Demo(DemoArgs { serve: a, .. }) => a.log_json,
        _ => false,
    };
    // The demo's own thousands of requests would drown the guide: its default leaves
    // the per-request lines out (RUST_LOG brings them back).
    let default_filter = match &cli.command {
        Command::Demo(_) => "info,ecoute_server::http=warn",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter))
        // sled's trace and debug logs dump record bytes: never below info.
        .add_directive("sled=info".parse().expect("a valid directive"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
    let data_dir = cli.data_dir.unwrap_or_else(|| {
        PathBuf::from(match cli.command {
            Command::Demo(_) => "./ecoute-demo-data",
            _ => "./ecoute-data",
        })
    });
    let outcome = match cli.command {
        Command::Serve(args) => serve(data_dir, args).await,
        Command::Demo(args) => demo(data_dir, args).await,
        Command::Remote(command) => client::run(command).await,
        Command::RecoverAdmin { master_key_file } => {
            recover_admin(data_dir, &master_key_file).await
        }
        Command::RotateMasterKey {
            master_key_file,
            new_master_key_file,
            create_new_master_key,
        } => rotate_master_key(
            &data_dir,
            &master_key_file,
            &new_master_key_file,
            create_new_master_key,
        ),
        command => main_inner(data_dir, command).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes), not a backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Opens the data directory and starts listening, as `serve` and `demo` both do;
/// prints the first administrator's token when the store was empty.
async fn start(data_dir: &Path, args: &ServeArgs, master: MasterKey) -> Result<Server> {
    let mut app = AppConfig::new(data_dir, master);
    app.cache_bytes = args.cache_mib << 20;
    app.models_cache_bytes = args.models_cache_mib << 20;
    let days = |d: u32| chrono::Duration::days(i64::from(d));
    app.retention = ecoute_domain::RetentionPolicy {
        closed_case: args.retention_days.map(days),
        unattached_call: args.retention_unattached_call_days.0.map(days),
        inactive_case: args.retention_inactive_case_days.0.map(days),
        inactive_grace: days(args.retention_inactive_grace_days),
        callback_number: args.retention_callback_number_days.0.map(days),
    };
    app.deadlines = Some(ecoute_domain::DeadlinePolicy {
        referent: chrono::Duration::hours(i64::from(args.deadline_referent_hours)),
        recontact: chrono::Duration::hours(i64::from(args.deadline_recontact_hours)),
        follow_up: chrono::Duration::days(i64::from(args.deadline_follow_up_days)),
    });
    let config = ServeConfig {
        app,
        addr: args.addr,
        http: HttpConfig {
            max_body: args.max_body,
            timeout: Duration::from_secs(args.request_timeout),
            header_read_timeout: Duration::from_secs(args.header_read_timeout),
            idle_timeout: Duration::from_secs(args.idle_timeout),
            max_connections: args.max_connections,
            max_in_flight: args.max_in_flight,
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            max_header_bytes: args.max_header_bytes,
            max_headers: args.max_headers,
        },
        ops_addr: args.ops_addr,
    };
    let server = Server::start(config)
        .await
        .with_context(|| format!("starting on {}", data_dir.display()))?;
    if let Some((id, token)) = server.first_admin() {
        println!("created the first administrator, staff id {id}");
        println!("their token, shown this once: {token}");
    }
    println!("listening on http://{}", server.addr());
    Ok(server)
}

/// Serves until SIGINT or SIGTERM, then stops cleanly.
async fn serve_until_stopped(server: Server) -> Result<()> {
    stop_signal().await;
    stop(server).await
}

async fn stop(server: Server) -> Result<()> {
    tracing::info!("stopping: finishing requests in flight");
    server.shutdown().await.context("stopping")?;
    tracing::info!("stopped");
    Ok(())
}

async fn serve(data_dir: PathBuf, args: ServeArgs) -> Result<()> {
    let server = start(&data_dir, &args, master_key(&args)?).await?;
    serve_until_stopped(server).await
}

/// `serve`, after loading the demo set through the API on an empty data directory.
async fn demo(data_dir: PathBuf, args: DemoArgs) -> Result<()> {
    let master = demo_master_key(&data_dir, &args.serve)?;
    let server = start(&data_dir, &args.serve, master).await?;
    let Some((_, admin_token)) = server.first_admin().cloned() else {
        println!(
            "{} already holds a store (staff exist): the demo set is not loaded again, \
             and nothing is deleted; the tokens were printed on its first run. Serving it \
             as it is (use another --data-dir for a fresh demo).",
            data_dir.display()
        );
        return serve_until_stopped(server).await;
    };
    // The server may listen on every interface; the loader talks to it locally.
    let mut local = server.addr();
    if local.ip().is_unspecified() {
        local.set_ip(match local {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let base_url = format!("http://{local}");
    let config = DemoConfig {
        calls: args.calls,
        seed: args.seed,
        concurrency: args.concurrency,
    };
    println!(
        "loading the demo set through the API: {} calls, seed {}…",
        config.calls, config.seed
    );
    let loaded = tokio::select! {
        loaded = ecoute_server::demo::load(&base_url, &admin_token, config) => loaded,
        _ = stop_signal() => {
            println!("interrupted: what was loaded so far stays in {}", data_dir.display());
            return stop(server).await;
        }
    };
    let summary = match loaded {
        Ok(summary) => summary,
        Err(e) => {
            if let Err(s) = stop(server).await {
                eprintln!("error: {s:#}");
            }
            return Err(e.context(format!(
                "loading the demo set (what was loaded so far stays in {}; the \
                 administrator token above still works)",
                data_dir.display()
            )));
        }
    };
    print!("{}", summary.guide());
    println!("serving until interrupted (Ctrl-C)");
    serve_until_stopped(server).await
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// `log`, `read` and `verify`: they read the data directory's logs, and never
/// create one.
async fn main_inner(data_dir: PathBuf, command: Command) -> Result<()> {
    let log = data_dir.join("log");
    if !log.is_dir() {
        bail!(
            "no event log in {}: `log`, `read` and `verify` read an existing data directory",
            data_dir.display()
        );
    }
    let store = match SledStore::open(&log, StoreConfig::default()) {
        Ok(store) => Arc::new(store),
        Err(ecoute_store::StoreError::Locked(_)) => bail!(
            "{} is in use by a running server: `log`, `read` and `verify` read a data \
             directory that no process holds. Stop the server first (nothing is lost), or \
             verify a backup instead (`ecoute backup`, then `ecoute verify --data-dir <backup>`)",
            data_dir.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("opening the event log in {}", log.display()))
        }
    };
    let verifying = matches!(command, Command::Verify);
    let outcome = run(&store, command).await;
    store.close().await.context("closing the store")?;
    outcome?;
    let access = data_dir.join("access-log");
    if verifying && access.exists() {
        println!("the access log:");
        let store = SledStore::open(&access, StoreConfig::default())
            .with_context(|| format!("opening the access log in {}", access.display()))?;
        let outcome = verify(&store);
        store.close().await.context("closing the access log")?;
        outcome?;
    }
    Ok(())
}

async fn run(store: &Arc<SledStore>, command: Command) -> Result<()> {
    match command {
        Command::Serve(_)
        | Command::Demo(_)
        | Command::Remote(_)
        | Command::RecoverAdmin { .. }
        | Command::RotateMasterKey { .. } => {
            bail!("serve, demo and the commands to a running server run on their own")
        }
        Command::Read {
            stream,
            backward,
            limit,
        } => {
            let stream = StreamId::new(stream)?;
            let direction = if backward {
                Direction::Backward
            } else {
                Direction::Forward
            };
            for e in store
                .read_stream(&stream, ReadFrom::Edge, direction, limit)
                .await?
            {
                print_event(&e);
            }
            Ok(())
        }
        Command::Log { from, limit } => {
            for e in store.read_all(from, limit).await? {
                print_event(&e);
            }
            Ok(())
        }
        Command::Verify => verify(store),
    }
}

fn print_event(e: &RecordedEvent) {
    println!("{}", e.summary());
}

fn verify(store: &SledStore) -> Result<()> {
    // A progress bar on a terminal; nothing when stderr is a file or a pipe.
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "verifying {bar:40} {pos}/{len} records ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = store.verify_with_progress(|done, total| {
        bar.set_length(total);
        if done % 1024 == 0 || done == total {
            bar.set_position(done);
        }
    });
    bar.finish_and_clear();
    let report = report?;
    println!("records checked: {}", report.records_checked);
    println!("chain head: {}", report.chain_head_hex());
    match report.first_fault {
        None => {
            println!("the log verifies");
            Ok(())
        }
        Some((position, reason)) => bail!("first fault at position {position}: {reason}"),
    }
}
