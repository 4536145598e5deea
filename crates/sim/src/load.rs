//! Appending a simulated history to an event store.

use std::collections::{BTreeMap, HashSet, VecDeque};

use ecoute_store::{Commit, EventStore, StreamId};

use crate::{Sim, SimConfig, SimError, SimStats};

/// What a load appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadReport {
    /// Events appended.
    pub events: u64,
    /// Commits appended.
    pub commits: u64,
    /// Calls received.
    pub calls: u64,
    /// Cases opened.
    pub cases: u64,
    /// Cases opened by the national platform.
    pub cases_opened_by_platform: u64,
    /// Commands the domain refused (skipped); 0 unless the simulator has a bug.
    pub refused: u64,
    /// Events appended, per event type name.
    pub events_by_type: BTreeMap<String, u64>,
    /// The store's head after the load (events in the store, including any there before).
    pub head: u64,
    /// Everything the simulator counted.
    pub stats: SimStats,
}

impl LoadReport {
    fn new(stats: &SimStats, head: u64) -> Self {
        LoadReport {
            events: stats.events,
            commits: stats.commits,
            calls: stats.calls,
            cases: stats.cases,
            cases_opened_by_platform: stats.cases_opened_by_platform,
            refused: stats.refused,
            events_by_type: stats
                .events_by_type
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
            head,
            stats: stats.clone(),
        }
    }
}

fn reached(sim: &Sim, max_events: Option<u64>) -> bool {
    max_events.is_some_and(|max| sim.stats().events >= max)
}

/// Appends the history of `config` to `store`, one commit after the other, in the order
/// generated: global positions follow simulated time.
///
/// With `max_events`, stops after the first commit that brings the total to at least
/// that many events (a commit holds at most a few). Every commit generated is appended,
/// so the report's counts are both what was generated and what was stored.
pub async fn load(
    store: &dyn EventStore,
    config: SimConfig,
    max_events: Option<u64>,
) -> Result<LoadReport, SimError> {
    let mut sim = Sim::new(config)?;
    while !reached(&sim, max_events) {
        let Some(commit) = sim.next_commit() else {
            break;
        };
        store.append(commit).await?;
    }
    let head = store.head().await?;
    Ok(LoadReport::new(sim.stats(), head))
}

fn streams(commit: &Commit) -> impl Iterator<Item = &StreamId> {
    commit.appends.iter().map(|a| &a.stream)
}

fn is_staff(commit: &Commit) -> bool {
    streams(commit).any(|s| s.category() == "staff")
}

/// Like [`load`], but appends up to `concurrency` commits at once, for speed (the
/// store's group commit batches them).
///
/// Commits sent together touch distinct streams, and each stream's commits are appended
/// in the order generated, so every expected version holds. Within a batch the global
/// order is the store's, so positions may not follow simulated time exactly, and a
/// commit may be brought forward past earlier commits of other streams (at most a
/// batch's worth). Staff commits are never reordered: each is appended alone, after
/// everything generated before it, so no call or case precedes the accreditation it
/// relies on.
pub async fn load_batched(
    store: &dyn EventStore,
    config: SimConfig,
    max_events: Option<u64>,
    concurrency: usize,
) -> Result<LoadReport, SimError> {
    let concurrency = concurrency.max(1);
    let mut sim = Sim::new(config)?;
    let mut buffer: VecDeque<Commit> = VecDeque::new();
    let mut exhausted = false;
    loop {
        while !exhausted && buffer.len() < concurrency * 4 {
            if reached(&sim, max_events) {
                exhausted = true;
                break;
            }
            match sim.next_commit() {
                Some(c) => buffer.push_back(c),
                None => exhausted = true,
            }
        }
        if buffer.is_empty() {
            break;
        }
        // Take, in order, the commits whose streams no earlier commit still waiting
        // touches; stop at a staff commit (sent alone when it comes first).
        let mut batch: Vec<Commit> = Vec::new();
        let mut blocked: HashSet<StreamId> = HashSet::new();
        let mut kept: VecDeque<Commit> = VecDeque::new();
        while let Some(commit) = buffer.pop_front() {
            if batch.len() >= concurrency {
                kept.push_back(commit);
                break;
            }
            if is_staff(&commit) {
                if batch.is_empty() && kept.is_empty() {
                    batch.push(commit);
                } else {
                    kept.push_back(commit);
                }
                break;
            }
            if streams(&commit).any(|s| blocked.contains(s)) {
                blocked.extend(streams(&commit).cloned());
                kept.push_back(commit);
            } else {
                blocked.extend(streams(&commit).cloned());
                batch.push(commit);
            }
        }
        kept.append(&mut buffer);
        buffer = kept;
        let results = store.append_many(batch).await;
        for r in results {
            r?;
        }
    }
    let head = store.head().await?;
    Ok(LoadReport::new(sim.stats(), head))
}
