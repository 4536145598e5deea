//! The on-disk encoding: keys, the event record envelope, stream records.
//!
//! See `docs/storage-format.md` for the layout in prose.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::types::{CommitRange, Metadata, RecordedEvent, StreamId};

/// Format byte of the current event record envelope.
pub(crate) const FORMAT_V1: u8 = 1;
/// Length of a chain hash.
pub(crate) const HASH_LEN: usize = 32;
const CRC_LEN: usize = 4;
/// Largest body bincode will decode; a damaged length prefix cannot allocate more.
const DECODE_LIMIT: usize = 64 << 20;

/// The all-zero hash that precedes position 0 in the chain.
pub(crate) const GENESIS: [u8; HASH_LEN] = [0; HASH_LEN];

pub(crate) const PREFIX_EVENT: u8 = b'e';

/// Key of the layout marker in the meta space.
pub(crate) const META_FORMAT_KEY: &[u8] = b"mformat";
/// The key layout: 2 = event records only, indexes derived in memory.
pub(crate) const LAYOUT: u8 = 2;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

pub(crate) fn event_key(position: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = PREFIX_EVENT;
    k[1..].copy_from_slice(&position.to_be_bytes());
    k
}

/// Reads a big-endian u64 stored as an index value or key suffix.
pub(crate) fn be_u64(bytes: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_be_bytes(arr))
}

/// Reads the trailing big-endian u64 of a key.
pub(crate) fn key_suffix_u64(key: &[u8]) -> Option<u64> {
    key.len()
        .checked_sub(8)
        .and_then(|start| be_u64(&key[start..]))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A record's body, borrowing its strings and payload from the stored bytes:
/// written as is, and read without a zeroed buffer or a copy until the owned
/// event is built.
#[derive(Serialize, Deserialize)]
struct BodyRef<'a> {
    position: u64,
    commit_first: u64,
    commit_last: u64,
    stream: &'a str,
    version: u64,
    id: [u8; 16],
    event_type: &'a str,
    schema_version: u32,
    recorded_at_micros: i64,
    correlation_id: Option<[u8; 16]>,
    causation_id: Option<[u8; 16]>,
    actor: Option<&'a str>,
    #[serde(borrow)]
    extra: Vec<(&'a str, &'a str)>,
    #[serde(with = "serde_bytes")]
    payload: &'a [u8],
}

/// What the committer knows of an event it is about to write.
pub(crate) struct NewRecord<'a> {
    pub position: u64,
    pub commit: CommitRange,
    pub stream: &'a str,
    pub version: u64,
    pub id: Uuid,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub recorded_at_micros: i64,
    pub metadata: &'a Metadata,
    pub payload: &'a [u8],
}

/// Encodes a record envelope: format byte, body, chain hash, CRC-32.
///
/// Returns the stored bytes and the record's chain hash.
pub(crate) fn encode_record(
    rec: &NewRecord<'_>,
    prev_hash: &[u8; HASH_LEN],
) -> Result<(Vec<u8>, [u8; HASH_LEN])> {
    let body = BodyRef {
        position: rec.position,
        commit_first: rec.commit.first,
        commit_last: rec.commit.last,
        stream: rec.stream,
        version: rec.version,
        id: *rec.id.as_bytes(),
        event_type: rec.event_type,
        schema_version: rec.schema_version,
        recorded_at_micros: rec.recorded_at_micros,
        correlation_id: rec.metadata.correlation_id.map(|u| *u.as_bytes()),
        causation_id: rec.metadata.causation_id.map(|u| *u.as_bytes()),
        actor: rec.metadata.actor.as_deref(),
        extra: rec
            .metadata
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        payload: rec.payload,
    };
    let mut out = Vec::with_capacity(rec.payload.len() + 128);
    out.push(FORMAT_V1);
    bincode::serde::encode_into_std_write(&body, &mut out, config())
        .map_err(|e| StoreError::InvalidRequest(format!("event cannot be encoded: {e}")))?;
    let hash = chain_hash(prev_hash, &out);
    out.extend_from_slice(&hash);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok((out, hash))
}

/// The chain hash of a record: BLAKE3 over the previous hash, the format byte and the body.
pub(crate) fn chain_hash(prev: &[u8; HASH_LEN], format_and_body: &[u8]) -> [u8; HASH_LEN] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(format_and_body);
    *h.finalize().as_bytes()
}

/// A stored record, checked and split into its parts.
pub(crate) struct Checked<'a> {
    /// Format byte and body: what the chain hash covers after the previous hash.
    pub format_and_body: &'a [u8],
    /// The chain hash stored in the record.
    pub hash: [u8; HASH_LEN],
}

/// Checks a stored record's length, CRC and format byte.
pub(crate) fn check_record(position: u64, bytes: &[u8]) -> Result<Checked<'_>> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        position,
        reason: reason.to_owned(),
    };
    if bytes.len() < 1 + HASH_LEN + CRC_LEN {
        return Err(corrupt("record too short"));
    }
    let (covered, crc_bytes) = bytes.split_at(bytes.len() - CRC_LEN);
    let stored_crc = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
    if crc32fast::hash(covered) != stored_crc {
        return Err(corrupt("checksum mismatch"));
    }
    if covered[0] != FORMAT_V1 {
        return Err(corrupt("unknown record format"));
    }
    let (format_and_body, hash_bytes) = covered.split_at(covered.len() - HASH_LEN);
    let mut hash = [0u8; HASH_LEN];
    hash.copy_from_slice(hash_bytes);
    Ok(Checked {
        format_and_body,
        hash,
    })
}

/// Checks and decodes a stored record found under `position`.
pub(crate) fn decode_record(position: u64, bytes: &[u8]) -> Result<RecordedEvent> {
    open_record(position, bytes).map(|(ev, _)| ev)
}

/// Checks a stored record once and decodes it, keeping what the hash chain
/// needs (the covered bytes and the stored hash).
pub(crate) fn open_record(position: u64, bytes: &[u8]) -> Result<(RecordedEvent, Checked<'_>)> {
    let checked = check_record(position, bytes)?;
    let ev = decode_body(position, checked.format_and_body, checked.hash)?;
    Ok((ev, checked))
}

fn decode_body(
    position: u64,
    format_and_body: &[u8],
    chain_hash: [u8; HASH_LEN],
) -> Result<RecordedEvent> {
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let (body, used): (BodyRef<'_>, usize) =
        bincode::serde::borrow_decode_from_slice(&format_and_body[1..], config())
            .map_err(|e| corrupt(format!("undecodable body: {e}")))?;
    if used != format_and_body.len() - 1 {
        return Err(corrupt("trailing bytes after body".into()));
    }
    if body.position != position {
        return Err(corrupt(format!(
            "record says position {}, stored under {position}",
            body.position
        )));
    }
    if !(body.commit_first <= position && position <= body.commit_last) {
        return Err(corrupt("position outside its commit".into()));
    }
    let stream_id = StreamId::new(body.stream.to_owned())
        .map_err(|_| corrupt("invalid stream id in record".into()))?;
    let recorded_at = DateTime::<Utc>::from_timestamp_micros(body.recorded_at_micros)
        .ok_or_else(|| corrupt("recorded-at out of range".into()))?;
    Ok(RecordedEvent {
        position,
        stream_id,
        version: body.version,
        id: Uuid::from_bytes(body.id),
        event_type: body.event_type.to_owned(),
        schema_version: body.schema_version,
        payload: body.payload.to_vec(),
        metadata: Metadata {
            correlation_id: body.correlation_id.map(Uuid::from_bytes),
            causation_id: body.causation_id.map(Uuid::from_bytes),
            actor: body.actor.map(str::to_owned),
            extra: body
                .extra
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        },
        recorded_at,
        commit: CommitRange {
            first: body.commit_first,
            last: body.commit_last,
        },
        chain_hash,
    })
}

/// Payload of the `$deleted` / `$tombstoned` events in a `$$stream`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct DeletionPayload {
    pub truncate_before: u64,
}

pub(crate) fn encode_deletion(p: &DeletionPayload) -> Vec<u8> {
    bincode::serde::encode_to_vec(p, config()).unwrap_or_default()
}

pub(crate) fn decode_deletion(bytes: &[u8]) -> Option<DeletionPayload> {
    bincode::serde::decode_from_slice(bytes, config())
        .ok()
        .map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(payload: &[u8]) -> (Vec<u8>, [u8; 32]) {
        let md = Metadata {
            correlation_id: Some(Uuid::from_u128(7)),
            causation_id: None,
            actor: Some("staff-1".into()),
            extra: [("k".to_string(), "v".to_string())].into_iter().collect(),
        };
        let rec = NewRecord {
            position: 5,
            commit: CommitRange { first: 4, last: 6 },
            stream: "case-1",
            version: 2,
            id: Uuid::from_u128(42),
            event_type: "CaseOpened",
            schema_version: 3,
            recorded_at_micros: 1_700_000_000_000_000,
            metadata: &md,
            payload,
        };
        encode_record(&rec, &GENESIS).unwrap()
    }

    #[test]
    fn record_round_trips() {
        let (bytes, hash) = sample(b"hello");
        let ev = decode_record(5, &bytes).unwrap();
        assert_eq!(ev.stream_id.as_str(), "case-1");
        assert_eq!(ev.version, 2);
        assert_eq!(ev.payload, b"hello");
        assert_eq!(ev.metadata.actor.as_deref(), Some("staff-1"));
        assert_eq!(ev.commit, CommitRange { first: 4, last: 6 });
        assert_eq!(check_record(5, &bytes).unwrap().hash, hash);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let (bytes, _) = sample(b"some payload bytes");
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut damaged = bytes.clone();
                damaged[i] ^= bit;
                assert!(
                    matches!(
                        decode_record(5, &damaged),
                        Err(StoreError::Corrupt { position: 5, .. })
                    ),
                    "flip at byte {i} not caught"
                );
            }
        }
    }

    #[test]
    fn record_under_wrong_key_is_caught() {
        let (bytes, _) = sample(b"x");
        assert!(matches!(
            decode_record(6, &bytes),
            Err(StoreError::Corrupt { position: 6, .. })
        ));
    }

    #[test]
    fn truncated_and_duplicated_bytes_are_caught() {
        let (bytes, _) = sample(b"payload");
        for cut in 0..bytes.len() {
            assert!(decode_record(5, &bytes[..cut]).is_err());
        }
        let mut doubled = bytes.clone();
        doubled.extend_from_slice(&bytes);
        assert!(decode_record(5, &doubled).is_err());
    }
}
