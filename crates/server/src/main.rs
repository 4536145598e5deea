//! `ecoute`: the command line over the event store.
//!
//! The HTTP server is not built yet (issue 5). Until then this binary opens the
//! store, appends, reads back and verifies, so that the engine can be tried and
//! checked by hand.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ecoute_store::{
    Direction, EventData, EventStore, ExpectedVersion, Metadata, ReadFrom, RecordedEvent,
    SledStore, StoreConfig, StreamId,
};
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "ecoute",
    version,
    about = "An event-sourced case engine for an elder-abuse helpline"
)]
struct Cli {
    /// The data directory holding the sled store.
    #[arg(
        long,
        env = "ECOUTE_DATA_DIR",
        default_value = "./ecoute-data",
        global = true
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Appends a commit to a stream, reads it back and verifies the whole log.
    Smoke,
    /// Appends one event (payload given as text) to a stream.
    Append {
        /// The stream, such as `case-42`.
        stream: String,
        /// The event type.
        event_type: String,
        /// The payload, stored as UTF-8 bytes.
        payload: String,
        /// Expected version of the stream's last event (default: any).
        #[arg(long)]
        expect: Option<u64>,
    },
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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match main_inner(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes), not a backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn main_inner(cli: Cli) -> Result<()> {
    let store = Arc::new(
        SledStore::open(&cli.data_dir, StoreConfig::default())
            .with_context(|| format!("opening the store in {}", cli.data_dir.display()))?,
    );
    let outcome = run(&store, cli.command).await;
    store.close().await.context("closing the store")?;
    outcome
}

async fn run(store: &Arc<SledStore>, command: Command) -> Result<()> {
    match command {
        Command::Smoke => smoke(store).await,
        Command::Append {
            stream,
            event_type,
            payload,
            expect,
        } => {
            let stream = StreamId::new(stream)?;
            let expected = expect.map_or(ExpectedVersion::Any, ExpectedVersion::Exact);
            let event = EventData::new(Uuid::new_v4(), event_type, 1, payload.into_bytes());
            let ack = store
                .append_to_stream(stream, expected, vec![event])
                .await?;
            println!(
                "appended at position {} as version {}",
                ack.positions.first, ack.streams[0].first_version
            );
            Ok(())
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
    println!(
        "{:>8}  {}@{}  {} v{}  {}  {} bytes",
        e.position,
        e.stream_id,
        e.version,
        e.event_type,
        e.schema_version,
        e.recorded_at.to_rfc3339(),
        e.payload.len()
    );
}

async fn smoke(store: &Arc<SledStore>) -> Result<()> {
    let stream = StreamId::new(format!("smoke-{}", Uuid::new_v4()))?;
    let correlation = Uuid::new_v4();
    let metadata = Metadata {
        correlation_id: Some(correlation),
        actor: Some("ecoute-smoke".into()),
        ..Metadata::default()
    };
    let events = (0..3)
        .map(|i| {
            EventData::new(
                Uuid::new_v4(),
                "SmokeTested",
                1,
                format!("step {i}").into_bytes(),
            )
            .with_metadata(metadata.clone())
        })
        .collect();
    let ack = store
        .append_to_stream(stream.clone(), ExpectedVersion::NoStream, events)
        .await?;
    println!(
        "appended 3 events to {stream} at positions {}..={}",
        ack.positions.first, ack.positions.last
    );
    let back = store
        .read_stream(&stream, ReadFrom::Edge, Direction::Forward, 10)
        .await?;
    if back.len() != 3
        || back
            .iter()
            .any(|e| e.metadata.correlation_id != Some(correlation))
    {
        bail!("read back {} events, not the 3 appended", back.len());
    }
    for e in &back {
        print_event(e);
    }
    verify(store)
}

fn verify(store: &SledStore) -> Result<()> {
    let mut last_shown = 0u64;
    let report = store.verify_with_progress(|done, total| {
        if done == total || done - last_shown >= 100_000 {
            eprintln!("verified {done} of {total} records");
            last_shown = done;
        }
    })?;
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
