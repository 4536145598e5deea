//! `verify`: the whole visible log walked and checked, the indexes rebuilt and compared.

use super::Shared;
use crate::backend::Kv;
use crate::error::{Result, StoreError};
use crate::index::Index;
use crate::record;
use crate::types::*;

impl<K: Kv> Shared<K> {
    /// Walks the whole visible log: checksums, positions, commit ranges, the hash
    /// chain and the head file's note; then checks that the in-memory indexes
    /// agree with an index built afresh from the records walked.
    pub(crate) fn verify(&self, mut progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
        const CHUNK: u64 = 4096;
        let end = self.visible();
        let mut report = VerifyReport {
            records_checked: 0,
            chain_head: record::GENESIS,
            first_fault: None,
        };
        let mut prev_commit: Option<CommitRange> = None;
        let mut fresh = Index::default();
        let mut next = 0u64;
        while next < end && report.first_fault.is_none() {
            let stop = next.saturating_add(CHUNK).min(end);
            let mut expected = next;
            let mut chain = report.chain_head;
            let mut fault: Option<(u64, String)> = None;
            self.kv.scan(
                &record::event_key(next),
                &record::event_key(stop),
                false,
                &mut |key, value| {
                    let position = record::key_suffix_u64(key).unwrap_or(u64::MAX);
                    if position != expected {
                        fault = Some((expected, "record missing".into()));
                        return Ok(false);
                    }
                    let (ev, c) = match record::open_record(position, value) {
                        Ok(x) => x,
                        Err(StoreError::Corrupt { position, reason }) => {
                            fault = Some((position, reason));
                            return Ok(false);
                        }
                        Err(e) => return Err(e),
                    };
                    if record::chain_hash(&chain, c.format_and_body) != c.hash {
                        fault = Some((position, "hash chain broken".into()));
                        return Ok(false);
                    }
                    let commit_ok = match prev_commit {
                        None => ev.commit.first == 0,
                        Some(prev) if position == ev.commit.first => prev.last + 1 == position,
                        Some(prev) => prev == ev.commit,
                    };
                    if !commit_ok {
                        fault = Some((
                            position,
                            "commit range does not follow the previous record".into(),
                        ));
                        return Ok(false);
                    }
                    if let Some(note) = self.head_note.filter(|n| n.count == position + 1) {
                        if note.hash != c.hash {
                            fault = Some((
                                position,
                                "the record differs from the one the head file recorded".into(),
                            ));
                            return Ok(false);
                        }
                    }
                    chain = c.hash;
                    prev_commit = Some(ev.commit);
                    fresh.observe(&ev);
                    report.records_checked += 1;
                    expected += 1;
                    Ok(true)
                },
            )?;
            report.chain_head = chain;
            if fault.is_none() && expected != stop {
                fault = Some((expected, "record missing".into()));
            }
            report.first_fault = fault;
            next = stop;
            progress(next, end);
        }
        if report.first_fault.is_none() {
            if let Some(c) = prev_commit {
                if c.last != end - 1 {
                    report.first_fault = Some((end - 1, "last commit is incomplete".into()));
                }
            }
        }
        if report.first_fault.is_none() {
            if let Some(note) = self.head_note.filter(|n| n.count > end) {
                report.first_fault = Some((
                    end,
                    format!(
                        "the log ends at {end} but the head file recorded {} durable events",
                        note.count
                    ),
                ));
            }
        }
        if report.first_fault.is_none() {
            if let Err(why) = self.index().agrees_below(&fresh, end) {
                report.first_fault = Some((end, why));
            }
        }
        Ok(report)
    }
}
