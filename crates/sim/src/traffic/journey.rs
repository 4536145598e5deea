//! Journeys: a case (or an information call) from its first call to where it stands,
//! drawn one after the other from a seed, for loads that play a journey at a time.

use super::shares;
use crate::rng::Rng;

/// Where a journey's first call is answered, and what it leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JourneyKind {
    /// A call that leads to no case (information, advice).
    Information {
        /// Answered at a centre by a pair of volunteers (else by the platform).
        at_centre: bool,
    },
    /// A case opened by the national platform.
    Platform {
        /// The platform keeps the case for now, awaiting transfer.
        kept: bool,
    },
    /// A case opened at a centre by a pair of volunteers.
    Centre,
}

/// One journey: its kind, how many calls it holds, and the seed of every later choice
/// (so that journeys played concurrently stay deterministic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Journey {
    /// Its place in the sequence, from 0.
    pub index: usize,
    /// The seed of its own generator.
    pub seed: u64,
    /// What it is.
    pub kind: JourneyKind,
    /// 1, or 2 when the caller calls again about their case.
    pub calls: usize,
}

impl Journey {
    /// Whether the journey opens a case.
    pub fn opens_a_case(&self) -> bool {
        !matches!(self.kind, JourneyKind::Information { .. })
    }
}

/// Splits `calls` calls into journeys, deterministically, so that the calls come in the
/// shares of the traffic model: [`shares::NEW_CASE`] open a case,
/// [`shares::CALLING_AGAIN`] come from a caller calling again (at most once per case
/// here), [`shares::PLATFORM`] are answered by the platform.
pub fn journeys(rng: &mut Rng, calls: usize) -> Vec<Journey> {
    // With c the share of journeys that are cases and q the share of cases whose caller
    // calls again: new = c / (1 + c q), again = c q / (1 + c q).
    let again = shares::CALLING_AGAIN.min(shares::NEW_CASE);
    let case_share = shares::NEW_CASE / (1.0 - again);
    let second_call = again / shares::NEW_CASE;
    let mut out = Vec::new();
    let mut remaining = calls;
    while remaining > 0 {
        let kind = if !rng.chance(case_share) {
            JourneyKind::Information {
                at_centre: !rng.chance(shares::PLATFORM),
            }
        } else if rng.chance(shares::PLATFORM) {
            JourneyKind::Platform {
                kept: rng.chance(shares::KEPT_AT_PLATFORM),
            }
        } else {
            JourneyKind::Centre
        };
        let two = !matches!(kind, JourneyKind::Information { .. })
            && remaining >= 2
            && rng.chance(second_call);
        let n = if two { 2 } else { 1 };
        remaining -= n;
        out.push(Journey {
            index: out.len(),
            seed: rng.next_u64(),
            kind,
            calls: n,
        });
    }
    out
}
