//! Crash test of the projection runtime: a child appends events while a
//! projection counts them, and is killed with SIGKILL at a random moment;
//! then the store and the read models are reopened, the projection catches up,
//! and its count must equal the number of events exactly — a chunk applied
//! twice (model written, checkpoint not) would count more, a skipped one less.
//!
//! Default 3 rounds; `ECOUTE_CRASH_ROUNDS=50` for more.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use ecoute_projections::RuntimeConfig;
use ecoute_store::EventStore;
use ecoute_tests::{open_store, seed_from_env, start_counter, Rng, COUNTER_TOTAL};

/// Starts the worker on `dir` and returns it with the first line it printed.
fn start_worker(dir: &std::path::Path, args: &[&str]) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_projection_worker"))
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    Ok((child, line))
}

#[test]
fn a_killed_projection_neither_skips_nor_double_counts() -> anyhow::Result<()> {
    let rounds: u64 = match std::env::var("ECOUTE_CRASH_ROUNDS") {
        Ok(s) => s.parse()?,
        Err(_) => 3,
    };
    let seed = seed_from_env("ECOUTE_CRASH_SEED")?;
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for round in 0..rounds {
        let (mut child, line) = start_worker(dir.path(), &[])?;
        ensure!(
            line.trim() == "ready",
            "round {round}: the worker said {line:?}"
        );
        std::thread::sleep(Duration::from_millis(rng.between(50, 400)));
        child.kill()?;
        child.wait()?;

        rt.block_on(async {
            let store: Arc<dyn EventStore> = Arc::new(open_store(&dir.path().join("store"))?);
            let runtime = start_counter(
                store.clone(),
                &dir.path().join("models"),
                RuntimeConfig::default(),
            )?;
            let head = store.head().await?;
            tokio::time::timeout(Duration::from_secs(120), runtime.wait_for(head)).await??;
            let reader = runtime.reader("counter")?;
            let total: u64 = reader.get(COUNTER_TOTAL)?.unwrap_or(0);
            ensure!(
                total == head,
                "round {round} (seed {seed}): the projection counted {total} events of {head}"
            );
            let cases: u64 = reader.get(b"count/case")?.unwrap_or(0);
            let calls: u64 = reader.get(b"count/call")?.unwrap_or(0);
            ensure!(
                cases + calls == total,
                "round {round}: categories {cases} + {calls} != {total}"
            );
            runtime.stop()?;
            drop(runtime);
            drop(reader);
            anyhow::Ok(())
        })?;
    }
    Ok(())
}

/// The first catch-up is persisted before it is reported: a process killed
/// right after saying so left its models at the head, with nothing to replay.
#[test]
fn the_first_catch_up_is_persisted_before_it_is_reported() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut child, line) = start_worker(dir.path(), &["catch-up"])?;
    let head: u64 = line
        .trim()
        .strip_prefix("caught up ")
        .with_context(|| format!("the worker said {line:?}"))?
        .parse()?;
    child.kill()?;
    child.wait()?;
    ensure!(head >= 3000, "the worker appended {head} events");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store: Arc<dyn EventStore> = Arc::new(open_store(&dir.path().join("store"))?);
        ensure!(store.head().await? == head);
        let runtime = start_counter(
            store.clone(),
            &dir.path().join("models"),
            RuntimeConfig::default(),
        )?;
        // As loaded, before anything is applied: at the head already.
        let reader = runtime.reader("counter")?;
        ensure!(
            reader.checkpoint()? == head,
            "the models were persisted at {} of {head}",
            reader.checkpoint()?
        );
        let total: u64 = reader.get(COUNTER_TOTAL)?.unwrap_or(0);
        ensure!(total == head, "counted {total} of {head}");
        runtime.stop()?;
        anyhow::Ok(())
    })
}
