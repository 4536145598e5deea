//! The flusher: one flush for the groups applied since the last, then the head moves and acks go out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{Durability, Shared};
use crate::backend::Kv;
use crate::error::{Failure, Result, StoreError};
use crate::headfile::{HeadFile, HeadNote};
use crate::record::HASH_LEN;
use crate::types::*;

pub(super) enum Reply {
    Commit(oneshot::Sender<Result<CommitResult>>, Result<CommitResult>),
    Delete(oneshot::Sender<Result<DeleteResult>>, Result<DeleteResult>),
}
/// Groups applied but not yet flushed that the flusher may hold at once.
pub(super) const FLUSH_QUEUE: usize = 16;

/// A group applied to the backend, waiting for its flush and acknowledgement.
pub(super) struct FlushJob {
    /// The log's length once this group is durable.
    pub(super) end: u64,
    /// The chain hash of the group's last record.
    pub(super) chain: [u8; HASH_LEN],
    /// Whether the group wrote anything (a group of refusals writes nothing).
    pub(super) wrote: bool,
    pub(super) replies: Vec<Reply>,
}

/// Flushes groups and acknowledges them: on the flusher thread, or on the
/// committer's own when nothing else is in flight.
pub(super) struct Completion<K: Kv> {
    pub(super) shared: Arc<Shared<K>>,
    pub(super) durability: Durability,
    /// Taken only to note the head after a flush (a plain write, never synced).
    pub(super) head_file: Mutex<Option<HeadFile>>,
    /// Groups handed to the flusher and not yet acknowledged.
    pub(super) in_flight: AtomicU64,
}

impl<K: Kv> Completion<K> {
    /// One flush for the groups, then the head moves, the head file is noted
    /// and the commits are acknowledged. False if the flush failed: the store
    /// has failed, and the groups' commits were answered with the error.
    pub(super) fn complete(&self, group: Vec<FlushJob>) -> bool {
        let wrote = group.iter().any(|j| j.wrote);
        let outcome = if wrote && self.durability == Durability::Flush {
            self.shared.kv.flush()
        } else {
            Ok(())
        };
        // A store that failed meanwhile (a flush on the other path) publishes
        // nothing more: this flush may have found nothing left to write.
        let outcome = outcome.and_then(|()| match self.shared.failed() {
            Some(e) if wrote => Err(e),
            _ => Ok(()),
        });
        match outcome {
            Ok(()) => {
                let Some(&FlushJob { end, chain, .. }) = group.last() else {
                    return true;
                };
                self.shared.publish(end);
                for j in group {
                    send_replies(j.replies);
                }
                // After the answers: the note is a plain write that no answer waits for.
                if wrote {
                    self.note(end, chain);
                }
                true
            }
            Err(e) => {
                let e = Arc::new(e);
                tracing::error!(error = %e, "flush failed; the store refuses writes until reopened");
                self.shared.fail(Failure::from_error(e.clone()));
                for mut j in group {
                    fail_replies(&mut j.replies, &e);
                    send_replies(j.replies);
                }
                false
            }
        }
    }

    fn note(&self, count: u64, hash: [u8; HASH_LEN]) {
        let mut hf = self.head_file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hf) = hf.as_mut() {
            if let Err(e) = hf.write(&HeadNote { count, hash }) {
                tracing::warn!(error = %e, "cannot note the head in the head file");
            }
        }
    }
}

/// The second thread: one flush for every group applied since the last one.
pub(super) struct Flusher<K: Kv> {
    pub(super) completion: Arc<Completion<K>>,
}

impl<K: Kv> Flusher<K> {
    pub(super) fn run(self, jobs: std::sync::mpsc::Receiver<FlushJob>) {
        let c = &self.completion;
        while let Ok(first) = jobs.recv() {
            let mut group = vec![first];
            while let Ok(j) = jobs.try_recv() {
                group.push(j);
            }
            let n = group.len() as u64;
            let ok = c.complete(group);
            c.in_flight.fetch_sub(n, Ordering::AcqRel);
            if !ok {
                // Refuse the groups still coming.
                let e = Arc::new(c.shared.failed().unwrap_or_else(|| StoreError::failed("")));
                while let Ok(mut j) = jobs.recv() {
                    fail_replies(&mut j.replies, &e);
                    send_replies(j.replies);
                    c.in_flight.fetch_sub(1, Ordering::AcqRel);
                }
                return;
            }
        }
    }
}

/// Turns the successes of a group that reached the backend but failed to
/// become durable into [`StoreError::OutcomeUnknown`]: its records are in
/// sled's buffers and maybe in the journal, so it may still land.
pub(super) fn fail_replies(replies: &mut [Reply], e: &Arc<StoreError>) {
    for r in replies {
        match r {
            Reply::Commit(_, res @ Ok(_)) => *res = Err(unknown(e)),
            Reply::Delete(_, res @ Ok(_)) => *res = Err(unknown(e)),
            _ => {}
        }
    }
}

/// Turns the successes of a group refused before it reached the backend into `e`.
pub(super) fn refuse_replies(replies: &mut [Reply], e: &StoreError) {
    for r in replies {
        match r {
            Reply::Commit(_, res @ Ok(_)) => *res = Err(refusal(e)),
            Reply::Delete(_, res @ Ok(_)) => *res = Err(refusal(e)),
            _ => {}
        }
    }
}

pub(super) fn send_replies(replies: Vec<Reply>) {
    for r in replies {
        match r {
            Reply::Commit(tx, res) => drop(tx.send(res)),
            Reply::Delete(tx, res) => drop(tx.send(res)),
        }
    }
}

/// The answer of a commit whose write failed after it reached the backend;
/// the error itself is shared, as the cause of each copy.
fn unknown(e: &Arc<StoreError>) -> StoreError {
    let (reason, cause) = match &**e {
        StoreError::Failed { reason, cause } | StoreError::OutcomeUnknown { reason, cause } => {
            (reason.clone(), cause.clone())
        }
        other => (other.to_string(), Some(e.clone() as crate::error::Cause)),
    };
    StoreError::OutcomeUnknown { reason, cause }
}

/// A refusal, for each of the commits it refuses.
pub(super) fn refusal(e: &StoreError) -> StoreError {
    match e {
        StoreError::Failed { reason, cause } => StoreError::Failed {
            reason: reason.clone(),
            cause: cause.clone(),
        },
        StoreError::InvalidRequest(why) => StoreError::InvalidRequest(why.clone()),
        StoreError::Closed => StoreError::Closed,
        other => StoreError::failed(other.to_string()),
    }
}
