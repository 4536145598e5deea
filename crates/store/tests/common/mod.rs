//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

pub mod ledger;

use std::sync::Arc;

use ecoute_store::*;
use uuid::Uuid;

/// A store under test and whatever must outlive it (a temporary directory).
pub struct Harness {
    pub store: Arc<dyn EventStore>,
    pub _guard: Option<tempfile::TempDir>,
}

/// Every implementation the conformance suite runs against.
pub type Maker = fn() -> Harness;

pub fn implementations() -> Vec<(&'static str, Maker)> {
    vec![("memory", memory), ("sled", sled)]
}

pub fn memory() -> Harness {
    Harness {
        store: Arc::new(MemoryStore::in_memory(StoreConfig::default())),
        _guard: None,
    }
}

pub fn sled() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path().join("db"), StoreConfig::default()).expect("open");
    Harness {
        store: Arc::new(store),
        _guard: Some(dir),
    }
}

pub fn stream(s: &str) -> StreamId {
    StreamId::new(s).expect("valid stream id")
}

pub fn event(n: u128, payload: &str) -> EventData {
    EventData::new(
        Uuid::from_u128(n),
        "Happened",
        1,
        payload.as_bytes().to_vec(),
    )
}

pub fn payloads(events: &[RecordedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect()
}
