//! Crash test: a child process appends from 16 concurrent writers to a durable
//! `SledStore` and prints every acknowledgement; it is killed with SIGKILL at a
//! random moment, the store is reopened and checked, and the next round
//! appends to the same directory.
//!
//! After every kill: every acknowledged event (of this round and all earlier
//! ones) is stored at its acknowledged position, stream and version with its
//! id, payload and commit range; positions are gapless from 0 to the head; no
//! commit is torn; every stream's versions are gapless and match its state and
//! its `read_stream`; every category read matches `$all`; re-sending an
//! acknowledged commit is a duplicate with the original positions; and
//! `verify` passes over the whole log. Only correctness is asserted, never
//! timing.
//!
//! What a `kill -9` cannot show: whether acknowledged data was *fsynced*.
//! The kernel keeps a killed process's writes in its page cache, and sled
//! hands its buffers to the kernel promptly, so the same test passes with
//! `Durability::UnsafeNoFlush` (tried by hand). With the write-ahead journal, an
//! acknowledged group is in the journal, not necessarily in sled's files, so
//! these rounds do exercise the journal's replay; and every other round uses
//! segments of 16 KiB, so that the kill also lands in background checkpoints
//! and segment deletions. Losing unsynced writes takes a
//! power cut or an OS crash (a VM, or dm-flakey); this test checks atomicity,
//! order, recovery and idempotency across process death.
//!
//! The default is 6 rounds. For many rounds, and a fixed seed (the kill
//! delays and the writers' mix; the moment of the kill itself cannot be
//! replayed exactly):
//!
//! ```text
//! ECOUTE_CRASH_ROUNDS=200 ECOUTE_CRASH_SEED=42 cargo test -p ecoute-tests --release --test crash -- --nocapture
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use ecoute_store::{
    Commit, CommitRange, Direction, EventStore, ExpectedVersion, ReadFrom, RecordedEvent,
    SledStore, StreamId, StreamState,
};
use ecoute_tests::{
    actor_for, event_for, open_store, payload_for, seed_from_env, Ack, Rng, EVENT_TYPE,
};
use uuid::Uuid;

const WRITERS: usize = 16;
const DEFAULT_ROUNDS: u64 = 6;
/// A journal segment of a few groups: checkpoints run all the time.
const SMALL_JOURNAL_SEGMENT: u64 = 16 << 10;
/// How long after its first acknowledgement the child is killed, in milliseconds.
const KILL_AFTER_MS: (u64, u64) = (50, 400);
/// Generous bound for the child to start acknowledging; only a hang trips it.
const START_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn acknowledged_commits_survive_kill_9() -> anyhow::Result<()> {
    let rounds = match std::env::var("ECOUTE_CRASH_ROUNDS") {
        Ok(s) => s.parse().context("ECOUTE_CRASH_ROUNDS")?,
        Err(_) => DEFAULT_ROUNDS,
    };
    let seed = seed_from_env("ECOUTE_CRASH_SEED")?;
    eprintln!("crash test: {rounds} rounds, ECOUTE_CRASH_SEED={seed}");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("db");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut acked: HashMap<Uuid, Acked> = HashMap::new();
    for round in 0..rounds {
        // Every other round writes tiny journal segments, so that the kill also
        // lands in background checkpoints and segment deletions.
        let segment = (round % 2 == 1).then_some(SMALL_JOURNAL_SEGMENT);
        let acks = run_child(
            &db,
            rng.next_u64(),
            rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1),
            segment,
        )
        .with_context(|| format!("round {round}, ECOUTE_CRASH_SEED={seed}"))?;
        for ack in &acks {
            let range = CommitRange {
                first: ack.first,
                last: ack.last,
            };
            for e in &ack.events {
                let previous = acked.insert(
                    e.id,
                    Acked {
                        writer: ack.writer,
                        stream: e.stream.clone(),
                        version: e.version,
                        position: e.position,
                        commit: range,
                    },
                );
                ensure!(previous.is_none(), "event {} acknowledged twice", e.id);
            }
        }
        let head = rt
            .block_on(check(&db, &acked, &acks))
            .with_context(|| format!("round {round}, ECOUTE_CRASH_SEED={seed}"))?;
        eprintln!(
            "round {round}: {} commits acknowledged, {} events acknowledged in all, head {head}",
            acks.len(),
            acked.len()
        );
    }
    Ok(())
}

/// What the store acknowledged for one event.
#[derive(Debug)]
struct Acked {
    writer: usize,
    stream: String,
    version: u64,
    position: u64,
    commit: CommitRange,
}

/// Runs the child until `kill_after_ms` after its first acknowledgement, kills
/// it with SIGKILL, and returns every acknowledgement it printed in full.
fn run_child(
    db: &Path,
    seed: u64,
    kill_after_ms: u64,
    journal_segment: Option<u64>,
) -> anyhow::Result<Vec<Ack>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"));
    child.arg(db).arg(WRITERS.to_string()).arg(seed.to_string());
    if let Some(bytes) = journal_segment {
        child.arg(bytes.to_string());
    }
    let mut child = child
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut stderr = child.stderr.take().context("child stderr")?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut stdout = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            stdout.read_until(b'\n', &mut line)?;
            // A line cut short by the kill was never a complete acknowledgement.
            if line.last() != Some(&b'\n') {
                return Ok(());
            }
            if tx.send(line).is_err() {
                return Ok(());
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut lines = Vec::new();
    let started = rx.recv_timeout(START_TIMEOUT);
    if let Ok(line) = started {
        lines.push(line);
        std::thread::sleep(Duration::from_millis(kill_after_ms));
    }
    child.kill()?;
    let status = child.wait()?;
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("stdout reader panicked"))??;
    lines.extend(rx.try_iter());
    let errors = errors.join().unwrap_or_default();
    ensure!(
        status.signal() == Some(9) || status.success(),
        "crash writer failed ({status}): {errors}"
    );
    ensure!(
        !lines.is_empty(),
        "crash writer acknowledged nothing ({status}): {errors}"
    );
    lines
        .iter()
        .map(|l| serde_json::from_slice(l).context("malformed acknowledgement line"))
        .collect()
}

/// Reopens the store and checks everything the crash test promises; returns the head.
async fn check(db: &Path, acked: &HashMap<Uuid, Acked>, this_round: &[Ack]) -> anyhow::Result<u64> {
    let store = open_store(db)?;
    let head = check_log(&store, acked, this_round).await;
    store.close().await?;
    drop(store);
    head
}

async fn check_log(
    store: &SledStore,
    acked: &HashMap<Uuid, Acked>,
    this_round: &[Ack],
) -> anyhow::Result<u64> {
    let head = store.head().await?;
    let all = read_everything(store, head).await?;

    // Gapless positions, unique ids, right data, whole commits that tile the log.
    let mut by_id: HashMap<Uuid, &RecordedEvent> = HashMap::with_capacity(all.len());
    for (i, ev) in all.iter().enumerate() {
        let p = ev.position;
        ensure!(p == u64::try_from(i)?, "position {p} found at index {i}");
        ensure!(
            by_id.insert(ev.id, ev).is_none(),
            "event {} stored twice",
            ev.id
        );
        ensure!(
            ev.event_type == EVENT_TYPE && ev.payload == payload_for(&ev.id),
            "event at {p} holds wrong data: {ev:?}"
        );
        let c = ev.commit;
        ensure!(
            c.first <= p && p <= c.last,
            "event at {p} lies outside its commit {c:?}"
        );
        ensure!(c.last < head, "torn commit {c:?}: head is {head}");
        let first = &all[usize::try_from(c.first)?];
        let last = &all[usize::try_from(c.last)?];
        ensure!(
            first.commit == c && last.commit == c,
            "events of commit {c:?} disagree on its range"
        );
        if p == c.first && p > 0 {
            let before = all[i - 1].commit;
            ensure!(
                before.last == p - 1,
                "commit {c:?} does not follow {before:?}"
            );
        }
        ensure!(
            ev.recorded_at == first.recorded_at,
            "events of commit {c:?} have different times"
        );
    }

    // Every acknowledged event, where the store said it put it.
    for (id, a) in acked {
        let Some(ev) = by_id.get(id) else {
            bail!("acknowledged event {id} is lost: {a:?}");
        };
        ensure!(
            ev.position == a.position
                && ev.stream_id.as_str() == a.stream
                && ev.version == a.version
                && ev.commit == a.commit
                && ev.metadata.actor.as_deref() == Some(actor_for(a.writer).as_str()),
            "acknowledged event {id} was {a:?}, is stored as {ev:?}"
        );
    }

    // Streams: gapless versions, matching state and stream reads.
    let mut streams: BTreeMap<&str, Vec<&RecordedEvent>> = BTreeMap::new();
    for ev in &all {
        streams.entry(ev.stream_id.as_str()).or_default().push(ev);
    }
    for (name, events) in &streams {
        let stream = StreamId::new(*name)?;
        for (v, ev) in events.iter().enumerate() {
            ensure!(
                ev.version == u64::try_from(v)?,
                "stream {name}: version {} at index {v}",
                ev.version
            );
        }
        let last_version = u64::try_from(events.len() - 1)?;
        let state = store.stream_state(&stream).await?;
        ensure!(
            state == StreamState::Active { last_version },
            "stream {name} is {state:?}, its last event has version {last_version}"
        );
        let read = store
            .read_stream(&stream, ReadFrom::Edge, Direction::Forward, usize::MAX)
            .await?;
        ensure!(
            read.iter().eq(events.iter().copied()),
            "read_stream({name}) differs from $all"
        );
    }

    // Categories: the same events as $all, in the same order.
    for category in ["crash", "pair"] {
        let read = store.read_category(category, 0, usize::MAX).await?;
        let want = all.iter().filter(|e| e.stream_id.category() == category);
        ensure!(
            read.iter().eq(want),
            "read_category({category}) differs from $all"
        );
    }

    // Strong idempotency across the crash: each writer's last acknowledged
    // commit of this round, sent again, is a duplicate with the same positions.
    let mut last_of_writer: BTreeMap<usize, &Ack> = BTreeMap::new();
    for ack in this_round {
        last_of_writer.insert(ack.writer, ack);
    }
    for ack in last_of_writer.values() {
        let again = store.append(commit_of(ack)?).await?;
        ensure!(
            again.duplicate
                && again.positions
                    == CommitRange {
                        first: ack.first,
                        last: ack.last
                    },
            "re-sent commit {ack:?} answered {again:?}"
        );
    }
    ensure!(store.head().await? == head, "a re-sent commit appended");

    let report = store.verify().await?;
    ensure!(report.is_ok(), "verify: {:?}", report.first_fault);
    ensure!(
        report.records_checked == head,
        "verify checked {} records of {head}",
        report.records_checked
    );
    Ok(head)
}

async fn read_everything(store: &SledStore, head: u64) -> anyhow::Result<Vec<RecordedEvent>> {
    let mut all = Vec::with_capacity(usize::try_from(head)?);
    let mut from = 0;
    while from < head {
        let batch = store.read_all(from, 4096).await?;
        ensure!(
            !batch.is_empty(),
            "read_all({from}) is empty below head {head}"
        );
        from += u64::try_from(batch.len())?;
        all.extend(batch);
    }
    ensure!(
        store.read_all(head, 10).await?.is_empty(),
        "events beyond the head"
    );
    Ok(all)
}

/// The commit an acknowledgement came from, with `Any` as every expected version.
fn commit_of(ack: &Ack) -> anyhow::Result<Commit> {
    let mut commit = Commit::default();
    for e in &ack.events {
        let stream = StreamId::new(e.stream.as_str())?;
        let event = event_for(e.id, ack.writer);
        match commit.appends.last_mut() {
            Some(a) if a.stream == stream => a.events.push(event),
            _ => commit = commit.and(stream, ExpectedVersion::Any, vec![event]),
        }
    }
    Ok(commit)
}
