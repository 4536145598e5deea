//! The child process of the file-level corruption test.
//!
//! `open_damaged DIR STREAM…` opens the `SledStore` in `DIR` (a damaged copy),
//! then reads `$all`, reads each named stream, verifies the log and tries one
//! append, printing what each step answered, and a line
//! `summary: head N verified BOOL` before the append. Errors are expected and fine; the
//! process exits 0 unless something panicked. A panic on any thread (inside
//! sled included, even where tokio would catch it) is reported on stderr and
//! ends the process with status 101.

use std::io::Write;

use anyhow::Context;
use ecoute_store::{
    Direction, EventData, EventStore, ExpectedVersion, ReadFrom, SledStore, StoreConfig, StreamId,
};
use uuid::Uuid;

fn main() -> anyhow::Result<()> {
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr(), "PANIC: {info}");
        std::process::exit(101);
    }));
    let mut args = std::env::args().skip(1);
    let dir = args.next().context("usage: open_damaged DIR STREAM…")?;
    let streams = args.map(StreamId::new).collect::<Result<Vec<_>, _>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = match SledStore::open(&dir, StoreConfig::default()) {
            Ok(s) => s,
            Err(e) => {
                println!("open: {e}");
                return;
            }
        };
        println!("open: ok");
        match store.head().await {
            Ok(head) => match store.read_all(0, usize::MAX).await {
                Ok(evs) => println!("read_all: {} events of {head}", evs.len()),
                Err(e) => println!("read_all: {e}"),
            },
            Err(e) => println!("head: {e}"),
        }
        for s in &streams {
            match store
                .read_stream(s, ReadFrom::Edge, Direction::Forward, usize::MAX)
                .await
            {
                Ok(evs) => println!("read_stream {s}: {} events", evs.len()),
                Err(e) => println!("read_stream {s}: {e}"),
            }
        }
        let verified = match store.verify().await {
            Ok(r) => {
                println!(
                    "verify: {} records, fault {:?}",
                    r.records_checked, r.first_fault
                );
                r.is_ok()
            }
            Err(e) => {
                println!("verify: {e}");
                false
            }
        };
        if let Ok(head) = store.head().await {
            println!("summary: head {head} verified {verified}");
        }
        if let Some(s) = streams.first() {
            let event = EventData::new(Uuid::new_v4(), "Probed", 1, b"after damage".to_vec());
            match store
                .append_to_stream(s.clone(), ExpectedVersion::Any, vec![event])
                .await
            {
                Ok(r) => println!("append: at {:?}", r.positions),
                Err(e) => println!("append: {e}"),
            }
        }
        if let Err(e) = store.close().await {
            println!("close: {e}");
        }
    });
    Ok(())
}
