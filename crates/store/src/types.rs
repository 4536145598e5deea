//! The store's vocabulary: stream ids, events, commits and their results.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Result, StoreError};

/// Longest stream id accepted, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 200;
/// Longest event type name accepted, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 128;

/// A validated stream id of the form `category-id`, such as `case-0192…`.
///
/// The category is the part before the first `-`: an ASCII letter followed by
/// letters, digits or `_`. The id after it is non-empty and made of ASCII
/// letters, digits and `-_.:`. Stream ids starting with `$$` are the store's own
/// metadata streams and cannot be written by callers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Validates and wraps a stream id.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if let Some(inner) = id.strip_prefix("$$") {
            validate_user_stream(inner).map_err(|reason| StoreError::InvalidStreamId {
                id: id.clone(),
                reason,
            })?;
        } else {
            validate_user_stream(&id).map_err(|reason| StoreError::InvalidStreamId {
                id: id.clone(),
                reason,
            })?;
        }
        Ok(StreamId(id))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The category: everything before the first `-` (`case` for `case-12`, `$$case` for `$$case-12`).
    pub fn category(&self) -> &str {
        self.0.split_once('-').map_or(&self.0, |(c, _)| c)
    }

    /// Whether this is one of the store's own metadata streams (`$$…`).
    pub fn is_system(&self) -> bool {
        self.0.starts_with('$')
    }

    /// The metadata stream that records deletions of this stream.
    pub(crate) fn metadata_stream(&self) -> StreamId {
        StreamId(format!("$${}", self.0))
    }
}

fn validate_user_stream(id: &str) -> std::result::Result<(), &'static str> {
    if id.len() > MAX_STREAM_ID_LEN {
        return Err("longer than 200 bytes");
    }
    let Some((category, rest)) = id.split_once('-') else {
        return Err("expected category-id");
    };
    validate_category_name(category)?;
    if rest.is_empty() {
        return Err("empty id after the category");
    }
    if !rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err("id may hold only ASCII letters, digits and -_.:");
    }
    Ok(())
}

fn validate_category_name(category: &str) -> std::result::Result<(), &'static str> {
    let mut bytes = category.bytes();
    match bytes.next() {
        None => return Err("empty category"),
        Some(b) if !b.is_ascii_alphabetic() => return Err("category must start with a letter"),
        Some(_) => {}
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("category may hold only ASCII letters, digits and _");
    }
    Ok(())
}

/// Validates a category name as given to `read_category` or a subscription filter.
pub(crate) fn validate_category(category: &str) -> Result<()> {
    let inner = category.strip_prefix("$$").unwrap_or(category);
    validate_category_name(inner).map_err(|reason| StoreError::InvalidStreamId {
        id: category.to_owned(),
        reason,
    })
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StreamId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for StreamId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        StreamId::new(s)
    }
}

/// What the caller expects of a stream's version when appending or deleting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist (or must be soft-deleted).
    NoStream,
    /// The stream must exist and not be soft-deleted.
    StreamExists,
    /// The stream's last event must have exactly this version (0-based).
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("stream exists"),
            ExpectedVersion::Exact(n) => write!(f, "{n}"),
        }
    }
}

/// Who and why: context recorded with every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The request or conversation this event belongs to.
    pub correlation_id: Option<Uuid>,
    /// The event or command that caused this one.
    pub causation_id: Option<Uuid>,
    /// A pseudonymous id of who caused the event (never a name).
    pub actor: Option<String>,
    /// Other key-values, kept in key order.
    pub extra: BTreeMap<String, String>,
}

/// An event as the caller gives it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventData {
    /// Client-chosen unique id; re-sending it makes the append idempotent.
    pub id: Uuid,
    /// The event's type name, such as `CaseOpened`. Names starting with `$` are reserved.
    pub event_type: String,
    /// The schema version of the payload, for upcasting on read.
    pub schema_version: u32,
    /// The encoded event; the store never looks inside.
    pub payload: Vec<u8>,
    /// Correlation, causation, actor and extra key-values.
    pub metadata: Metadata,
}

impl EventData {
    /// An event with empty metadata.
    pub fn new(
        id: Uuid,
        event_type: impl Into<String>,
        schema_version: u32,
        payload: Vec<u8>,
    ) -> Self {
        EventData {
            id,
            event_type: event_type.into(),
            schema_version,
            payload,
            metadata: Metadata::default(),
        }
    }

    /// The same event with this metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// An event as stored: the caller's data plus its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Gapless global position in commit order, from 0.
    pub position: u64,
    /// The stream the event belongs to.
    pub stream_id: StreamId,
    /// The event's version within its stream, from 0.
    pub version: u64,
    /// The client-chosen event id.
    pub id: Uuid,
    /// The event's type name.
    pub event_type: String,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// The encoded event.
    pub payload: Vec<u8>,
    /// Correlation, causation, actor and extra key-values.
    pub metadata: Metadata,
    /// When the store recorded the commit, from its injected clock (never decreasing).
    pub recorded_at: DateTime<Utc>,
    /// The positions of the first and last events of the commit this event belongs to.
    pub commit: CommitRange,
    /// The log's hash chain after this event (`docs/storage-format.md`): it
    /// differs between two logs from the first event where they differ, so a
    /// reader that noted it can tell whether it resumes on the same log.
    pub chain_hash: [u8; 32],
}

impl RecordedEvent {
    /// One line for a terminal: position, stream and version, type and schema
    /// version, time, payload size (never the payload).
    pub fn summary(&self) -> String {
        format!(
            "{:>8}  {}@{}  {} v{}  {}  {} bytes",
            self.position,
            self.stream_id,
            self.version,
            self.event_type,
            self.schema_version,
            self.recorded_at.to_rfc3339(),
            self.payload.len()
        )
    }
}

/// The first and last global positions of one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitRange {
    /// Position of the commit's first event.
    pub first: u64,
    /// Position of the commit's last event.
    pub last: u64,
}

/// The events to append to one stream, with the version expected of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppend {
    /// The stream to append to.
    pub stream: StreamId,
    /// The version the stream must have for the append to succeed.
    pub expected: ExpectedVersion,
    /// The events, in order; at least one.
    pub events: Vec<EventData>,
}

/// An atomic commit: appends to one or more distinct streams, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commit {
    /// The streams and their events, in the order they will be positioned.
    pub appends: Vec<StreamAppend>,
}

impl Commit {
    /// A commit to a single stream.
    pub fn single(stream: StreamId, expected: ExpectedVersion, events: Vec<EventData>) -> Self {
        Commit {
            appends: vec![StreamAppend {
                stream,
                expected,
                events,
            }],
        }
    }

    /// Adds the events for one more stream.
    pub fn and(
        mut self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Self {
        self.appends.push(StreamAppend {
            stream,
            expected,
            events,
        });
        self
    }

    /// Number of events in the commit.
    pub fn len(&self) -> usize {
        self.appends.iter().map(|a| a.events.len()).sum()
    }

    /// Whether the commit holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one stream got from a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamWritten {
    /// The stream.
    pub stream: StreamId,
    /// Version of its first event in the commit.
    pub first_version: u64,
    /// Version of its last event in the commit (pass as `Exact` to append next).
    pub last_version: u64,
}

/// The acknowledgement of a durable commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitResult {
    /// Global positions of the commit's first and last events.
    pub positions: CommitRange,
    /// Per stream, the versions written, in the commit's order.
    pub streams: Vec<StreamWritten>,
    /// True when this commit had already landed and nothing was appended now.
    pub duplicate: bool,
}

/// How to delete a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// Hide the stream; a later append recreates it and numbering continues.
    Soft,
    /// Delete for good: every later read or write says the stream is deleted.
    Tombstone,
}

/// The acknowledgement of a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteResult {
    /// Position of the deletion record in `$all`, or `None` when the stream was
    /// already soft-deleted and nothing was written.
    pub position: Option<u64>,
}

/// Where a stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Never written.
    Absent,
    /// Readable; its last event has this version.
    Active {
        /// Version of the stream's last event.
        last_version: u64,
    },
    /// Hidden by a soft delete; an append recreates it.
    SoftDeleted {
        /// Version of the last event written before the deletion, if any.
        last_version: Option<u64>,
    },
    /// Deleted for good.
    Tombstoned,
}

/// Where a stream read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The first event (forwards) or the last (backwards).
    Edge,
    /// This version, inclusive.
    Version(u64),
}

/// The direction of a stream read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending versions.
    Forward,
    /// Descending versions.
    Backward,
}

/// The outcome of walking the whole log with `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many records were checked before the end or the first fault.
    pub records_checked: u64,
    /// The hash chain's head after the last good record (all zeros for an empty log).
    pub chain_head: [u8; 32],
    /// The first fault found, if any: its position and what was wrong.
    pub first_fault: Option<(u64, String)>,
}

impl VerifyReport {
    /// Whether the whole log verified.
    pub fn is_ok(&self) -> bool {
        self.first_fault.is_none()
    }

    /// The chain head as lowercase hex.
    pub fn chain_head_hex(&self) -> String {
        crate::record::hex(&self.chain_head)
    }
}
