//! The child process of the crash test.
//!
//! `crash_writer DIR WRITERS SEED [JOURNAL_SEGMENT_BYTES]` opens a durable
//! `SledStore` in `DIR` (with journal segments of that size: a small one makes
//! the background checkpoints run all the time, so the kill lands in them) and runs
//! `WRITERS` concurrent tasks. Writer `w` owns the streams `crash-w<w>` and
//! `pair-w<w>`; it reads where they stand, then appends with exact expected
//! versions: single events, several events, and commits over both streams,
//! now and then re-sending its previous commit to check it is a duplicate.
//! Every acknowledged commit is printed as one JSON [`Ack`] line on stdout,
//! flushed before the next append, until the process is killed (or a minute
//! passes). Any unexpected answer from the store ends the process with an error.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use ecoute_store::{
    Commit, CommitResult, EventStore, ExpectedVersion, SledStore, StreamId, StreamState,
};
use ecoute_tests::{event_for, open_store_with_journal, writer_streams, Ack, AckedEvent, Rng};
use uuid::Uuid;

/// The child stops by itself after this long, in case nobody kills it.
const LIFETIME: Duration = Duration::from_secs(60);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: crash_writer DIR WRITERS SEED [JOURNAL_SEGMENT_BYTES]";
    let dir = args.next().context(usage)?;
    let writers: usize = args.next().context(usage)?.parse()?;
    let seed: u64 = args.next().context(usage)?.parse()?;
    let segment: Option<u64> = args.next().map(|s| s.parse()).transpose()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    rt.block_on(run(dir, writers, seed, segment))
}

async fn run(dir: String, writers: usize, seed: u64, segment: Option<u64>) -> anyhow::Result<()> {
    let store = Arc::new(open_store_with_journal(Path::new(&dir), segment)?);
    let deadline = Instant::now() + LIFETIME;
    let mut seeds = Rng::new(seed);
    let tasks: Vec<_> = (0..writers)
        .map(|w| tokio::spawn(write(store.clone(), w, seeds.next_u64(), deadline)))
        .collect();
    for task in tasks {
        task.await??;
    }
    store.close().await?;
    Ok(())
}

/// Where one of the writer's streams stands: the expected version of its next append.
async fn expected_of(store: &SledStore, stream: &StreamId) -> anyhow::Result<ExpectedVersion> {
    match store.stream_state(stream).await? {
        StreamState::Absent => Ok(ExpectedVersion::NoStream),
        StreamState::Active { last_version } => Ok(ExpectedVersion::Exact(last_version)),
        other => bail!("stream {stream} is {other:?}; the crash test never deletes"),
    }
}

fn events(writer: usize, n: u64) -> Vec<ecoute_store::EventData> {
    (0..n).map(|_| event_for(Uuid::new_v4(), writer)).collect()
}

async fn write(
    store: Arc<SledStore>,
    writer: usize,
    seed: u64,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut rng = Rng::new(seed);
    let (a, b) = writer_streams(writer)?;
    let mut expected_a = expected_of(&store, &a).await?;
    let mut expected_b = expected_of(&store, &b).await?;
    let mut previous: Option<(Commit, CommitResult)> = None;
    while Instant::now() < deadline {
        let roll = rng.between(0, 99);
        if roll < 5 {
            if let Some((commit, first)) = &previous {
                let again = store.append(commit.clone()).await?;
                ensure!(
                    again.duplicate
                        && again.positions == first.positions
                        && again.streams == first.streams,
                    "writer {writer}: re-sent commit answered {again:?}, first answer {first:?}"
                );
                continue;
            }
        }
        let commit = if roll < 55 {
            Commit::single(a.clone(), expected_a, events(writer, 1))
        } else if roll < 80 {
            Commit::single(a.clone(), expected_a, events(writer, rng.between(2, 5)))
        } else {
            Commit::single(a.clone(), expected_a, events(writer, rng.between(1, 3))).and(
                b.clone(),
                expected_b,
                events(writer, rng.between(1, 3)),
            )
        };
        let result = store.append(commit.clone()).await?;
        ensure!(
            !result.duplicate,
            "writer {writer}: new commit answered as a duplicate"
        );
        let mut acked = Vec::with_capacity(commit.len());
        let mut position = result.positions.first;
        for (append, written) in commit.appends.iter().zip(&result.streams) {
            ensure!(
                written.stream == append.stream,
                "streams out of order in {result:?}"
            );
            let expected = ExpectedVersion::Exact(written.last_version);
            if append.stream == a {
                expected_a = expected;
            } else {
                expected_b = expected;
            }
            for (event, version) in append.events.iter().zip(written.first_version..) {
                acked.push(AckedEvent {
                    id: event.id,
                    stream: append.stream.to_string(),
                    version,
                    position,
                });
                position += 1;
            }
        }
        ensure!(
            position == result.positions.last + 1,
            "writer {writer}: {} events but positions {:?}",
            commit.len(),
            result.positions
        );
        let ack = Ack {
            writer,
            first: result.positions.first,
            last: result.positions.last,
            events: acked,
        };
        let line = serde_json::to_string(&ack)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        drop(out);
        previous = Some((commit, result));
    }
    Ok(())
}
