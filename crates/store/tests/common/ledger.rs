//! What concurrent writers were answered, and the check of a reopened store
//! against it: every acknowledged commit present where it was acknowledged,
//! no refused commit present, a commit of unknown outcome whole or absent,
//! and nothing else in a gapless log that verifies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ecoute_store::*;
use uuid::Uuid;

/// The answers writers got, by kind.
#[derive(Default, Debug)]
pub struct Ledger {
    pub acked: Vec<(Vec<Uuid>, CommitRange)>,
    pub unknown: Vec<Vec<Uuid>>,
    pub refused: Vec<Vec<Uuid>>,
}

impl Ledger {
    /// Files one answer. Any error but a refusal, an unknown outcome or a
    /// closed store is a failure of the test.
    pub fn record(&mut self, ids: Vec<Uuid>, answer: Result<CommitResult>) {
        match answer {
            Ok(r) => self.acked.push((ids, r.positions)),
            Err(StoreError::OutcomeUnknown { .. }) => self.unknown.push(ids),
            Err(StoreError::Failed { .. } | StoreError::Closed) => self.refused.push(ids),
            Err(e) => panic!("unexpected answer to an append: {e}"),
        }
    }

    /// Checks a reopened store against the answers; returns its head.
    pub async fn check(&self, store: &dyn EventStore, context: &str) -> u64 {
        let head = store.head().await.unwrap();
        let all = store.read_all(0, usize::MAX).await.unwrap();
        assert_eq!(all.len() as u64, head, "{context}: the log has gaps");
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.position, i as u64, "{context}: positions not gapless");
        }
        let report = store.verify().await.unwrap();
        assert_eq!(report.first_fault, None, "{context}: verify");
        let at: HashMap<Uuid, u64> = all.iter().map(|e| (e.id, e.position)).collect();
        for (ids, range) in &self.acked {
            for (i, id) in ids.iter().enumerate() {
                assert_eq!(
                    at.get(id).copied(),
                    Some(range.first + i as u64),
                    "{context}: an acknowledged event is missing or moved"
                );
            }
        }
        for ids in &self.refused {
            for id in ids {
                assert!(
                    !at.contains_key(id),
                    "{context}: a refused commit landed: {id}"
                );
            }
        }
        for ids in &self.unknown {
            let found: Vec<Option<u64>> = ids.iter().map(|id| at.get(id).copied()).collect();
            let whole = found.iter().all(Option::is_some)
                && found.windows(2).all(|w| w[0].map(|p| p + 1) == w[1]);
            assert!(
                whole || found.iter().all(Option::is_none),
                "{context}: a commit of unknown outcome is in the log in part: {found:?}"
            );
        }
        let known = self.acked.len() + self.unknown.len();
        let listed: std::collections::HashSet<Uuid> = self
            .acked
            .iter()
            .flat_map(|(ids, _)| ids.iter())
            .chain(self.unknown.iter().flatten())
            .copied()
            .collect();
        for e in &all {
            assert!(
                listed.contains(&e.id),
                "{context}: an event nobody wrote ({known} commits known)"
            );
        }
        head
    }
}

/// The ids of commit `i` of writer `w` in run `tag` (one or two events).
pub fn ids(tag: u32, w: u32, i: u32) -> Vec<Uuid> {
    let n = 1 + (i % 2);
    (0..n)
        .map(|e| {
            Uuid::from_u128(
                (u128::from(tag) << 64)
                    | (u128::from(w) << 40)
                    | (u128::from(i) << 8)
                    | u128::from(e),
            )
        })
        .collect()
}

/// `writers` tasks each append `commits` commits to a stream of their own,
/// concurrently; returns what they were answered.
pub async fn run_writers<S: EventStore>(
    store: Arc<S>,
    tag: u32,
    writers: u32,
    commits: u32,
    payload: usize,
) -> Ledger {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::new(format!("case-{tag}x{w}")).unwrap();
            for i in 0..commits {
                let ids = ids(tag, w, i);
                let events = ids
                    .iter()
                    .map(|id| EventData::new(*id, "Happened", 1, vec![w as u8; payload]))
                    .collect();
                let answer = store
                    .append(Commit::single(stream.clone(), ExpectedVersion::Any, events))
                    .await;
                ledger.lock().unwrap().record(ids, answer);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(ledger)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_default()
}
