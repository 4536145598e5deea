//! What an application does around a commit: its codec, the preparation of decided
//! events, and irreversible work carried out only once the commit is in the log.

use async_trait::async_trait;
use ecoute_store::RecordedEvent;
use uuid::Uuid;

use crate::error::BoxError;
use crate::runner::{Append, Loaded};

/// An event ready for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The stable name of its type.
    pub type_name: String,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Turns an application's events into stored bytes and back.
pub trait Codec: Send + Sync + 'static {
    /// The application's event type (one enum over all its streams).
    type Event: Send + Sync + 'static;

    /// Encodes a decided event; an error refuses the whole commit.
    fn encode(&self, event: &Self::Event) -> Result<Encoded, BoxError>;

    /// Decodes a stored event of a stream the runner loads.
    fn decode(&self, stored: &RecordedEvent) -> Result<Self::Event, BoxError>;
}

/// What an application does around each commit. Every method has a default that
/// does nothing, so [`NoHooks`] is the whole implementation for most applications.
///
/// Irreversible work (destroying a key, deleting a file, sending a message) follows
/// one rule: **nothing irreversible before the decision that allows it is in the
/// log**. The runner asks [`CommitHooks::work`] what the decided commit allows,
/// records it durably with [`CommitHooks::intend`] before the append, carries it out
/// with [`CommitHooks::carry_out`] once the commit is acknowledged, and forgets it
/// when the commit certainly did not land; [`crate::Runner::settle`] carries out, at
/// the next start, what a stop left between the commit and the work.
#[async_trait]
pub trait CommitHooks<E: Send + Sync + 'static>: Send + Sync + 'static {
    /// The hooks' own error.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Irreversible work a commit allows.
    type Work: Send + Sync + Clone + 'static;

    /// Changes the decided events before they are encoded (sealing personal values,
    /// say). May do durable I/O, never anything irreversible.
    async fn prepare(&self, appends: &mut [Append<E>]) -> Result<(), Self::Error> {
        let _ = appends;
        Ok(())
    }

    /// The irreversible work the decided commit allows, if any (decided from the
    /// streams as loaded and the events decided, before they are prepared).
    fn work(&self, loaded: &Loaded<E>, appends: &[Append<E>]) -> Option<Self::Work> {
        let _ = (loaded, appends);
        None
    }

    /// Records durably that the commit whose first event id is `commit` allows
    /// `work`. Called before the append.
    async fn intend(&self, commit: Uuid, work: &Self::Work) -> Result<(), Self::Error> {
        let _ = (commit, work);
        Ok(())
    }

    /// Carries out `work`, whose commit is in the log, and removes its intent.
    async fn carry_out(&self, commit: Uuid, work: &Self::Work) -> Result<(), Self::Error> {
        let _ = (commit, work);
        Ok(())
    }

    /// Removes an intent whose commit is not in the log.
    async fn forget(&self, commit: Uuid) -> Result<(), Self::Error> {
        let _ = commit;
        Ok(())
    }

    /// Every intent recorded and not yet carried out or forgotten.
    async fn pending(&self) -> Result<Vec<(Uuid, Self::Work)>, Self::Error> {
        Ok(Vec::new())
    }

    /// What to keep with the commit of a request's fingerprint (its events as
    /// prepared are `appends`). The default keeps the digest itself, in hex; an
    /// application whose requests carry personal data keeps a keyed digest instead,
    /// so that what is kept cannot confirm a guess of what was asked.
    async fn keep_fingerprint(
        &self,
        fingerprint: &[u8; 32],
        appends: &[Append<E>],
    ) -> Result<String, Self::Error> {
        let _ = appends;
        Ok(hex(fingerprint))
    }

    /// Whether a retried request's `fingerprint` is the one kept (as `kept`) with
    /// its first commit, whose events are `first`: `None` when that can no longer
    /// be told (the key of a keyed digest destroyed since), in which case the retry
    /// is answered from its first commit.
    async fn same_fingerprint(
        &self,
        kept: &str,
        fingerprint: &[u8; 32],
        first: &[E],
    ) -> Result<Option<bool>, Self::Error> {
        let _ = first;
        Ok(Some(kept == hex(fingerprint)))
    }
}

/// Bytes as lowercase hexadecimal digits.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hooks that do nothing: events are appended as decided.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

/// The error of [`NoHooks`], which never happens.
#[derive(Debug, thiserror::Error)]
#[error("no hook fails")]
pub struct Never;

#[async_trait]
impl<E: Send + Sync + 'static> CommitHooks<E> for NoHooks {
    type Error = Never;
    type Work = ();
}
