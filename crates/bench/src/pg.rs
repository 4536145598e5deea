//! PostgreSQL with the same workload: one event per transaction, synchronous commit.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

use crate::stats::{drive, payload, BoxFut, Figures, Window, Writer};

const SCHEMA: &str = "
DROP TABLE IF EXISTS bench_events;
CREATE TABLE bench_events (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream      text        NOT NULL,
    version     bigint      NOT NULL,
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    schema_ver  integer     NOT NULL,
    payload     bytea       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream, version)
);
";

const INSERT: &str =
    "INSERT INTO bench_events (stream, version, event_id, event_type, schema_ver, payload) \
                      VALUES ($1, $2, $3, 'BenchEvent', 1, $4)";

async fn connect(url: &str) -> Result<Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {url}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("postgres connection error: {e}");
        }
    });
    // Explicit, whatever the server's default: every commit waits for its WAL flush.
    client
        .batch_execute("SET synchronous_commit = on")
        .await
        .context("SET synchronous_commit = on")?;
    Ok(client)
}

/// The server's version and the settings that decide its durability.
pub async fn settings(url: &str) -> Result<Value> {
    let client = connect(url).await?;
    let mut out = serde_json::Map::new();
    for name in [
        "server_version",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "full_page_writes",
        "commit_delay",
        "shared_buffers",
    ] {
        let row = client
            .query_one(&format!("SHOW {name}"), &[])
            .await
            .with_context(|| format!("SHOW {name}"))?;
        let v: String = row.get(0);
        out.insert(name.into(), json!(v));
    }
    if out.get("fsync").and_then(Value::as_str) != Some("on")
        || out.get("synchronous_commit").and_then(Value::as_str) != Some("on")
    {
        bail!("PostgreSQL is not durable here (fsync or synchronous_commit is off): {out:?}");
    }
    Ok(Value::Object(out))
}

struct PgWriter {
    client: Client,
    insert: Statement,
    stream: String,
    payload: Vec<u8>,
}

impl Writer for PgWriter {
    fn write(&mut self, seq: u64) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            let n = self
                .client
                .execute(
                    &self.insert,
                    &[&self.stream, &(seq as i64), &Uuid::new_v4(), &self.payload],
                )
                .await
                .with_context(|| format!("insert into {}", self.stream))?;
            if n != 1 {
                bail!("insert affected {n} rows");
            }
            Ok(())
        })
    }
}

/// `writers` concurrent clients, each on its own connection and stream, each
/// inserting one event per (autocommit) transaction, on a freshly created table.
pub async fn run(url: &str, writers: usize, len: usize, window: Window) -> Result<Figures> {
    let admin = connect(url).await?;
    admin
        .batch_execute(SCHEMA)
        .await
        .context("creating the bench_events table")?;
    admin
        .batch_execute("CHECKPOINT")
        .await
        .context("CHECKPOINT")
        .or_else(|e| {
            // CHECKPOINT needs superuser or pg_checkpoint; it only evens out runs.
            eprintln!("note: {e:#}");
            anyhow::Ok(())
        })?;
    let mut ws = Vec::with_capacity(writers);
    for i in 0..writers {
        let client = connect(url).await?;
        let insert = client.prepare(INSERT).await.context("preparing insert")?;
        ws.push(PgWriter {
            client,
            insert,
            stream: format!("bench-w{i}"),
            payload: payload(i as u64, len),
        });
    }
    let figures = drive(ws, window).await?;
    admin
        .batch_execute("DROP TABLE IF EXISTS bench_events")
        .await
        .context("dropping bench_events")?;
    Ok(figures)
}
