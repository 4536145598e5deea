//! `bench-timers`: with many deadlines armed, the time to find and fire those due
//! follows the number due, not the number armed (issue 7).
//!
//! For each count of armed deadlines (10,000 and 100,000 by default), the benchmark
//! loads that many transferred cases, each with its referent deadline armed one
//! minute after the previous one, into a fresh server engine (`ecoute_server::App`,
//! unflushed for the load), waits for the timer index, then moves a manual clock so
//! that K deadlines are due and measures:
//! - **find**: the timer index's range read of what is due (`Timers::due`);
//! - **fire**: the scheduler's whole pass (`App::fire_due`): find, then one
//!   `MissDeadline` command per due deadline, each a durable commit... here unflushed,
//!   so the figure is the engine's cost, not the disk's.
//!
//! ```sh
//! cargo run --release -p ecoute-bench --bin bench-timers
//! cargo run --release -p ecoute-bench --bin bench-timers -- --armed 10000,100000 --due 10,100,1000
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Parser;
use ecoute_domain::call::NumberStatus;
use ecoute_domain::case::{
    CaseEvent, CaseOpened, CaseTransferred, DeadlineArmed, DeadlineKind, LinkedCall,
};
use ecoute_domain::{
    case_stream, encode, CallId, CaseId, CentreId, DepartementCode, Event, StaffId,
};
use ecoute_server::{App, AppConfig, MasterKey};
use ecoute_store::{
    Commit, Durability, EventData, EventStore, ExpectedVersion, ManualClock, StreamId,
};
use uuid::Uuid;

#[derive(Parser)]
#[command(about = "Finding and firing due deadlines among many armed ones")]
struct Args {
    /// Counts of armed deadlines, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    armed: Vec<usize>,
    /// Counts of due deadlines to find and fire, comma-separated, ascending.
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
    due: Vec<usize>,
}

fn event(e: CaseEvent) -> Result<EventData> {
    let enc = encode(&Event::Case(e))?;
    Ok(EventData::new(
        Uuid::new_v4(),
        enc.type_name,
        u32::from(enc.schema_version),
        enc.payload,
    ))
}

/// Appends `n` transferred cases whose referent deadlines fall due one minute apart
/// from `t0`.
async fn load(app: &App, n: usize, t0: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let rhone = DepartementCode::parse("69")?;
    let listener = StaffId::from_uuid(Uuid::from_u128(1));
    let mut pending = Vec::new();
    for i in 0..n {
        let case_id = CaseId::from_uuid(Uuid::new_v4());
        let call = LinkedCall {
            call_id: CallId::from_uuid(Uuid::new_v4()),
            centre: CentreId::NationalPlatform,
            taken_by: [listener].into_iter().collect(),
            number: NumberStatus::Left,
            subjects: BTreeMap::new(),
        };
        let at = t0 - chrono::Duration::days(3);
        let events = vec![
            event(CaseEvent::CaseOpened(CaseOpened {
                case_id,
                opened_by: CentreId::NationalPlatform,
                call,
                at,
            }))?,
            event(CaseEvent::CaseTransferred(CaseTransferred {
                to: rhone,
                from: None,
                at,
            }))?,
            event(CaseEvent::DeadlineArmed(DeadlineArmed {
                kind: DeadlineKind::Referent,
                due: t0 + chrono::Duration::minutes(i as i64),
                at,
            }))?,
        ];
        let stream = StreamId::new(case_stream(case_id))?;
        pending.push(Commit::single(stream, ExpectedVersion::NoStream, events));
        if pending.len() == 256 {
            for r in app.store().append_many(std::mem::take(&mut pending)).await {
                r?;
            }
        }
    }
    for r in app.store().append_many(pending).await {
        r?;
    }
    // The timer index follows the log.
    while app.catch_up().await.is_err() {}
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    println!("bench-timers: finding and firing due deadlines among many armed ones");
    println!("(2 cores shared; unflushed commits: the engine's cost, not the disk's)\n");
    println!(
        "{:>9} {:>6} {:>12} {:>14} {:>14}",
        "armed", "due", "find (ms)", "fire (ms)", "fire/due (µs)"
    );
    let mut results: BTreeMap<(usize, usize), (f64, f64)> = BTreeMap::new();
    for &armed in &args.armed {
        let dir = tempfile::tempdir()?;
        let t0: chrono::DateTime<chrono::Utc> = "2026-06-01T00:00:00Z".parse()?;
        let clock = Arc::new(ManualClock::new(t0 - chrono::Duration::days(3)));
        let mut config = AppConfig::new(dir.path(), MasterKey::generate()?);
        config.clock = clock.clone();
        config.durability = Durability::UnsafeNoFlush;
        let app = App::open(config).await.context("opening the engine")?;
        let started = Instant::now();
        load(&app, armed, t0).await?;
        eprintln!(
            "loaded {armed} armed deadlines in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // The baseline: what a scan of every armed deadline would cost.
        let start = Instant::now();
        let all = app
            .views()
            .timers
            .due(t0 + chrono::Duration::days(3650), usize::MAX)?;
        let scan = start.elapsed().as_secs_f64() * 1000.0;
        println!(
            "{armed:>9} {:>6} {scan:>12.3} {:>14} {:>14}   (baseline: reading every armed deadline)",
            all.len(),
            "-",
            "-"
        );
        let mut fired_so_far = 0usize;
        for &due in &args.due {
            // Deadline i is due at t0 + i minutes: `due` of them are due now.
            clock.set(t0 + chrono::Duration::minutes(due as i64 - 1));
            let now = app.now();
            let start = Instant::now();
            let found = app.views().timers.due(now, usize::MAX)?;
            let find = start.elapsed().as_secs_f64() * 1000.0;
            let start = Instant::now();
            let fired = app.fire_due().await?;
            let fire = start.elapsed().as_secs_f64() * 1000.0;
            let newly = due - fired_so_far;
            anyhow::ensure!(
                found.len() == newly,
                "found {} due, expected {newly}",
                found.len()
            );
            anyhow::ensure!(fired == newly, "fired {fired}, expected {newly}");
            fired_so_far = due;
            println!(
                "{armed:>9} {newly:>6} {find:>12.3} {fire:>14.1} {:>14.0}",
                fire * 1000.0 / newly as f64
            );
            results.insert((armed, newly), (find, fire));
        }
        app.close().await?;
    }
    // The point: for the same number due, more armed deadlines cost (almost) nothing.
    if let (Some(&small), Some(&large)) = (args.armed.first(), args.armed.last()) {
        println!("\nratio {large} armed ÷ {small} armed, same number due:");
        for ((a, due), (find, fire)) in &results {
            if *a != large {
                continue;
            }
            if let Some((f0, r0)) = results.get(&(small, *due)) {
                println!(
                    "  due {due:>5}: find {:.2}×, fire {:.2}×",
                    find / f0.max(1e-6),
                    fire / r0.max(1e-6)
                );
            }
        }
    }
    Ok(())
}
