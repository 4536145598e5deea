//! Pieces shared by the crash test, its child process and the corruption tests.
//!
//! The crash writer prints one [`Ack`] per acknowledged commit; every event it
//! writes carries [`payload_for`] its id, so that a reader can tell right data
//! from wrong data without any other record.

use ecoute_store::{EventData, Metadata, SledStore, StoreConfig, StoreError, StreamId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Event type of every event the crash writer appends.
pub const EVENT_TYPE: &str = "Written";

/// One acknowledged commit, as the crash writer prints it (one JSON line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The writer task that appended it.
    pub writer: usize,
    /// Global position of the commit's first event.
    pub first: u64,
    /// Global position of the commit's last event.
    pub last: u64,
    /// The commit's events, in position order.
    pub events: Vec<AckedEvent>,
}

/// One event of an acknowledged commit: where the store said it put it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckedEvent {
    /// The client-chosen event id.
    pub id: Uuid,
    /// The stream it was appended to.
    pub stream: String,
    /// Its version in that stream.
    pub version: u64,
    /// Its global position.
    pub position: u64,
}

/// The payload of an event, derived from its id: 16 to 512 bytes.
pub fn payload_for(id: &Uuid) -> Vec<u8> {
    let bytes = id.as_bytes();
    bytes.repeat(1 + usize::from(bytes[0] % 32))
}

/// The actor recorded in the metadata of writer `writer`'s events.
pub fn actor_for(writer: usize) -> String {
    format!("writer-{writer}")
}

/// The event the crash writer appends for `id`.
pub fn event_for(id: Uuid, writer: usize) -> EventData {
    EventData::new(id, EVENT_TYPE, 1, payload_for(&id)).with_metadata(Metadata {
        actor: Some(actor_for(writer)),
        ..Metadata::default()
    })
}

/// The two streams writer `writer` owns: it alone appends to them, with exact versions.
pub fn writer_streams(writer: usize) -> anyhow::Result<(StreamId, StreamId)> {
    Ok((
        StreamId::new(format!("crash-w{writer}"))?,
        StreamId::new(format!("pair-w{writer}"))?,
    ))
}

/// A small deterministic random number generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// A seed from the environment variable `var`, or from the clock.
pub fn seed_from_env(var: &str) -> anyhow::Result<u64> {
    match std::env::var(var) {
        Ok(s) => Ok(s.parse()?),
        Err(_) => {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
            Ok(t.as_secs().wrapping_mul(1_000_000_007) ^ u64::from(t.subsec_nanos()))
        }
    }
}

/// Opens a durable `SledStore` in `path`, waiting generously (30 s, for a
/// loaded CI machine) for sled's file lock after the previous process.
pub fn open_store(path: &std::path::Path) -> Result<SledStore, StoreError> {
    open_store_with_journal(path, None)
}

/// [`open_store`] with journal segments of `segment_bytes` (default if `None`).
pub fn open_store_with_journal(
    path: &std::path::Path,
    segment_bytes: Option<u64>,
) -> Result<SledStore, StoreError> {
    let default = StoreConfig::default();
    let config = StoreConfig {
        lock_wait: std::time::Duration::from_secs(30),
        journal_segment_bytes: segment_bytes.unwrap_or(default.journal_segment_bytes),
        ..default
    };
    SledStore::open(path, config)
}

/// A projection that counts the events it applies, per category and in all:
/// after a crash and a catch-up, its total must equal the number of events —
/// more would mean a chunk applied twice, fewer one skipped.
pub struct Counter;

/// Key of the counter's total.
pub const COUNTER_TOTAL: &[u8] = b"total";

impl ecoute_projections::Projection<()> for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }

    fn version(&self) -> u32 {
        1
    }

    fn accepts(&self, event: &ecoute_store::RecordedEvent) -> bool {
        !event.event_type.starts_with('$')
    }

    fn apply(
        &self,
        event: &ecoute_store::RecordedEvent,
        _: &(),
        model: &mut ecoute_projections::ModelTx<'_>,
    ) -> ecoute_projections::Result<()> {
        let key = format!("count/{}", event.stream_id.category()).into_bytes();
        model.update(&key, |n: &mut Option<u64>| *n.get_or_insert(0) += 1)?;
        model.update(COUNTER_TOTAL, |t: &mut Option<u64>| {
            *t.get_or_insert(0) += 1
        })
    }
}

/// The decoder of [`Counter`]'s runtime: every event decodes to `()`.
pub fn unit_decoder() -> ecoute_projections::Decoder<()> {
    std::sync::Arc::new(|_| Ok(Some(())))
}

/// Starts a runtime of [`Counter`] over `store`, with its models in `models`
/// (from within a tokio runtime).
pub fn start_counter(
    store: std::sync::Arc<dyn ecoute_store::EventStore>,
    models: &std::path::Path,
    config: ecoute_projections::RuntimeConfig,
) -> anyhow::Result<ecoute_projections::Runtime<()>> {
    Ok(ecoute_projections::Runtime::start(
        store,
        ecoute_projections::ModelDb::open(models)?,
        unit_decoder(),
        vec![std::sync::Arc::new(Counter)],
        config,
    )?)
}
