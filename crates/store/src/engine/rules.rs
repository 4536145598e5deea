//! What a commit must satisfy: expected versions, event types, sizes.

use std::collections::HashSet;

use super::{state_of, MAX_COMMIT_BYTES, MAX_COMMIT_EVENTS};
use crate::error::{ActualVersion, Result, StoreError};
use crate::index::StreamRecord;
use crate::types::*;

/// Checks an expected version against a stream's stored record.
pub(crate) fn check_expected(
    stream: &StreamId,
    rec: Option<&StreamRecord>,
    expected: ExpectedVersion,
) -> Result<()> {
    let actual = match state_of(rec) {
        StreamState::Tombstoned => return Err(StoreError::StreamDeleted(stream.to_string())),
        StreamState::Absent => ActualVersion::Absent,
        StreamState::Active { last_version } => ActualVersion::Revision(last_version),
        StreamState::SoftDeleted { last_version } => ActualVersion::SoftDeleted(last_version),
    };
    let ok = match (expected, actual) {
        (ExpectedVersion::Any, _) => true,
        (ExpectedVersion::NoStream, ActualVersion::Revision(_)) => false,
        (ExpectedVersion::NoStream, _) => true,
        (ExpectedVersion::StreamExists, ActualVersion::Revision(_)) => true,
        (ExpectedVersion::StreamExists, _) => false,
        (ExpectedVersion::Exact(n), ActualVersion::Revision(v))
        | (ExpectedVersion::Exact(n), ActualVersion::SoftDeleted(Some(v))) => n == v,
        (ExpectedVersion::Exact(_), _) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(StoreError::WrongExpectedVersion {
            stream: stream.to_string(),
            expected,
            actual,
        })
    }
}

fn validate_event_type(t: &str) -> Result<()> {
    if t.is_empty()
        || t.len() > MAX_EVENT_TYPE_LEN
        || t.starts_with('$')
        || t.chars().any(char::is_control)
    {
        return Err(StoreError::InvalidRequest(format!(
            "event type {t:?} must be 1 to {MAX_EVENT_TYPE_LEN} bytes, without control characters, and not start with $"
        )));
    }
    Ok(())
}

pub(super) fn validate_commit(commit: &Commit) -> Result<()> {
    let invalid = |m: String| Err(StoreError::InvalidRequest(m));
    if commit.appends.is_empty() {
        return invalid("a commit needs at least one stream".into());
    }
    let mut streams = HashSet::new();
    let mut ids = HashSet::new();
    let mut count = 0usize;
    let mut bytes = 0usize;
    for a in &commit.appends {
        if a.stream.is_system() {
            return invalid(format!("stream {} is reserved for the store", a.stream));
        }
        if !streams.insert(a.stream.as_str()) {
            return invalid(format!("stream {} appears twice in one commit", a.stream));
        }
        if a.events.is_empty() {
            return invalid(format!("no events for stream {}", a.stream));
        }
        for e in &a.events {
            validate_event_type(&e.event_type)?;
            if !ids.insert(e.id) {
                return invalid(format!("event id {} appears twice in one commit", e.id));
            }
            count += 1;
            bytes += e.payload.len()
                + e.event_type.len()
                + e.metadata.actor.as_ref().map_or(0, String::len)
                + e.metadata
                    .extra
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>();
        }
    }
    if count > MAX_COMMIT_EVENTS {
        return invalid(format!(
            "{count} events in one commit; at most {MAX_COMMIT_EVENTS}"
        ));
    }
    if bytes > MAX_COMMIT_BYTES {
        return invalid(format!(
            "{bytes} bytes in one commit; at most {MAX_COMMIT_BYTES}"
        ));
    }
    Ok(())
}
