//! `store_tool`: a developer's tool that tries the store on a directory of its own, never a server's.
//!
//! ```sh
//! cargo run -p ecoute-store --example store_tool -- smoke /tmp/try-store
//! cargo run -p ecoute-store --example store_tool -- append /tmp/try-store case-42 Noted "some text" [--expect N]
//! ```
//!
//! `smoke` appends three events to a new stream, reads them back and verifies
//! the log; `append` appends one raw event. Both write straight into the store,
//! past the helpline's rules and its encryption of personal data: they refuse a
//! server's data directory and its `log/` (a directory that holds, or whose
//! parent holds, `keys/` or `access-log/`). To read a server's log, use
//! `ecoute log`, `ecoute read` and `ecoute verify`, which only read.

use std::path::{Path, PathBuf};

use ecoute_store::{
    Direction, EventData, EventStore, ExpectedVersion, Metadata, ReadFrom, RecordedEvent,
    SledStore, StoreConfig, StoreError, StreamId,
};
use uuid::Uuid;

const USAGE: &str =
    "usage: store_tool smoke DIR | store_tool append DIR STREAM TYPE PAYLOAD [--expect N]";

/// What the tool can fail with.
#[derive(Debug, thiserror::Error)]
enum ToolError {
    /// The command line was not understood.
    #[error("{0}\n{USAGE}")]
    Usage(String),
    /// The directory belongs to a server: the tool never writes there.
    #[error(
        "refusing {dir}: it is {what} ({marker}/ found in {holder}); this tool writes raw \
         events past the helpline's rules and encryption, so it only works on a store \
         directory of its own (read a server's log with `ecoute log`, `read`, `verify`)"
    )]
    ServerData {
        /// The directory given.
        dir: PathBuf,
        /// "a server's data directory" or "the event log of a server's data directory".
        what: &'static str,
        /// The server's file found.
        marker: &'static str,
        /// Where it was found.
        holder: PathBuf,
    },
    /// The directory could not be examined.
    #[error("cannot examine {dir}")]
    Examine {
        /// The directory given.
        dir: PathBuf,
        /// Why.
        #[source]
        cause: std::io::Error,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The smoke test read back something other than it wrote.
    #[error("smoke test: {0}")]
    Smoke(String),
    /// `verify` found a fault.
    #[error("first fault at position {position}: {reason}")]
    Fault {
        /// The first bad position.
        position: u64,
        /// What is wrong there.
        reason: String,
    },
}

/// What a server keeps in its data directory beside `log/`.
const SERVER_MARKERS: [&str; 2] = ["keys", "access-log"];

/// Refuses a server's data directory and its `log/`: the directory, or its
/// parent, holds `keys/` or `access-log/`.
fn refuse_server_data(dir: &Path) -> Result<(), ToolError> {
    let examine = |cause| ToolError::Examine {
        dir: dir.to_owned(),
        cause,
    };
    let absolute = match dir.canonicalize() {
        Ok(p) => p,
        Err(_) => std::path::absolute(dir).map_err(examine)?,
    };
    let candidates = [
        Some((absolute.as_path(), "a server's data directory")),
        absolute
            .parent()
            .map(|p| (p, "the event log of a server's data directory")),
    ];
    for (holder, what) in candidates.into_iter().flatten() {
        for marker in SERVER_MARKERS {
            let found = holder.join(marker).try_exists().map_err(examine)?;
            if found {
                return Err(ToolError::ServerData {
                    dir: dir.to_owned(),
                    what,
                    marker,
                    holder: holder.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// A command the tool runs.
#[derive(Debug, PartialEq)]
enum Command {
    Smoke {
        dir: PathBuf,
    },
    Append {
        dir: PathBuf,
        stream: String,
        event_type: String,
        payload: String,
        expect: Option<u64>,
    },
}

fn parse(args: &[String]) -> Result<Command, ToolError> {
    let usage = |why: &str| ToolError::Usage(why.to_owned());
    match args {
        [c, dir] if c == "smoke" => Ok(Command::Smoke { dir: dir.into() }),
        [c, dir, stream, event_type, payload, rest @ ..] if c == "append" => {
            let expect = match rest {
                [] => None,
                [flag, n] if flag == "--expect" => Some(
                    n.parse()
                        .map_err(|_| usage("--expect takes a version number"))?,
                ),
                _ => return Err(usage("unexpected arguments after the payload")),
            };
            Ok(Command::Append {
                dir: dir.into(),
                stream: stream.clone(),
                event_type: event_type.clone(),
                payload: payload.clone(),
                expect,
            })
        }
        _ => Err(usage("unknown command")),
    }
}

async fn run(command: Command) -> Result<(), ToolError> {
    let dir = match &command {
        Command::Smoke { dir } | Command::Append { dir, .. } => dir,
    };
    // Before anything is opened or created.
    refuse_server_data(dir)?;
    let store = SledStore::open(dir, StoreConfig::default())?;
    let outcome = match command {
        Command::Smoke { .. } => smoke(&store).await,
        Command::Append {
            stream,
            event_type,
            payload,
            expect,
            ..
        } => append(&store, stream, event_type, payload, expect).await,
    };
    store.close().await?;
    outcome
}

async fn append(
    store: &SledStore,
    stream: String,
    event_type: String,
    payload: String,
    expect: Option<u64>,
) -> Result<(), ToolError> {
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

async fn smoke(store: &SledStore) -> Result<(), ToolError> {
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
        return Err(ToolError::Smoke(format!(
            "read back {} events, not the 3 appended",
            back.len()
        )));
    }
    for e in &back {
        print_event(e);
    }
    let report = store.verify().await?;
    println!("records checked: {}", report.records_checked);
    println!("chain head: {}", report.chain_head_hex());
    match report.first_fault {
        None => {
            println!("the log verifies");
            Ok(())
        }
        Some((position, reason)) => Err(ToolError::Fault { position, reason }),
    }
}

fn print_event(e: &RecordedEvent) {
    println!("{}", e.summary());
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match parse(&args) {
        Ok(command) => run(command).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprint!("error: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                eprint!(": {c}");
                cause = c.source();
            }
            eprintln!();
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    /// Every file under `dir`, with its size: what "nothing changed on disk" compares.
    fn tree(dir: &Path) -> Vec<(PathBuf, u64)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let meta = e.metadata().unwrap();
                if meta.is_dir() {
                    stack.push(e.path());
                }
                out.push((e.path(), if meta.is_dir() { 0 } else { meta.len() }));
            }
        }
        out.sort();
        out
    }

    /// A server's data directory as far as the tool can tell: `log/` with
    /// `keys/` (or `access-log/`) beside it.
    fn server_data(marker: &str) -> tempfile::TempDir {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir(data.path().join(marker)).unwrap();
        std::fs::write(data.path().join(marker).join("x"), b"secret").unwrap();
        data
    }

    #[tokio::test]
    async fn a_servers_data_directory_and_its_log_are_refused_untouched() {
        for marker in ["keys", "access-log"] {
            let data = server_data(marker);
            // Its log, already there: a store the server wrote.
            let log = data.path().join("log");
            let store = SledStore::open(&log, StoreConfig::default()).unwrap();
            store.close().await.unwrap();
            drop(store);
            let before = tree(data.path());
            for dir in [data.path().to_owned(), log.clone(), data.path().join("new")] {
                let d = dir.display().to_string();
                for line in [
                    format!("smoke {d}"),
                    format!("append {d} case-1 Noted text"),
                ] {
                    let err = run(parse(&args(&line)).unwrap()).await.unwrap_err();
                    assert!(
                        matches!(&err, ToolError::ServerData { marker: m, .. } if *m == marker),
                        "{line}: {err}"
                    );
                    assert!(err.to_string().starts_with("refusing "), "{err}");
                }
            }
            assert_eq!(
                tree(data.path()),
                before,
                "{marker}: something changed on disk"
            );
        }
    }

    #[tokio::test]
    async fn a_directory_of_its_own_is_tried() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("try");
        let d = store_dir.display().to_string();
        run(parse(&args(&format!("smoke {d}"))).unwrap())
            .await
            .unwrap();
        run(parse(&args(&format!("append {d} case-42 Noted hello"))).unwrap())
            .await
            .unwrap();
        let err = run(parse(&args(&format!("append {d} case-42 Noted again --expect 5"))).unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ToolError::Store(StoreError::WrongExpectedVersion { .. })
            ),
            "{err}"
        );
        let store = SledStore::open(&store_dir, StoreConfig::default()).unwrap();
        let case = StreamId::new("case-42").unwrap();
        let events = store
            .read_stream(&case, ReadFrom::Edge, Direction::Forward, 10)
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].payload, b"hello");
        assert_eq!(store.head().await.unwrap(), 4);
    }

    #[test]
    fn command_lines_are_read_or_refused() {
        assert_eq!(
            parse(&args("append d case-1 T p --expect 3")).unwrap(),
            Command::Append {
                dir: "d".into(),
                stream: "case-1".into(),
                event_type: "T".into(),
                payload: "p".into(),
                expect: Some(3),
            }
        );
        for bad in [
            "",
            "smoke",
            "append d s t",
            "append d s t p --expect x",
            "log d",
        ] {
            assert!(
                matches!(parse(&args(bad)), Err(ToolError::Usage(_))),
                "{bad}"
            );
        }
    }
}
