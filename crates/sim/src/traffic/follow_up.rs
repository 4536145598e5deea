//! What happens to a case after its first call, as plain data: call-backs, the
//! referent's analysis, solutions, the caller's consent, actions and closing.

use ecoute_domain::vocabulary::{CloseReason, RecontactOutcome, SolutionKind};

use super::{shares, texts};
use crate::rng::Rng;

/// A solution the referent proposes, and what is done first if the caller consents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Solution {
    /// Its kind.
    pub kind: SolutionKind,
    /// The proposal, as the referent words it.
    pub proposal: &'static str,
    /// The first action once consented.
    pub first_action: &'static str,
}

/// The caller's decision on a proposed solution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Consent given: the solution may be acted on.
    Given,
    /// Consent refused.
    Refused,
    /// Not decided yet: the caller thinks it over.
    ThinkingItOver,
}

/// The outcome of one attempt to call the caller back ([`shares::RECONTACT`]).
pub fn recontact(rng: &mut Rng) -> RecontactOutcome {
    rng.weighted(&shares::RECONTACT)
}

/// A referent's analysis.
pub fn analysis(rng: &mut Rng) -> String {
    texts::any(rng, &texts::ANALYSES)
}

/// How many solutions the referent proposes in a round: one, or two
/// ([`shares::TWO_SOLUTIONS`]).
pub fn solutions_in_a_round(rng: &mut Rng) -> usize {
    if rng.chance(shares::TWO_SOLUTIONS) {
        2
    } else {
        1
    }
}

/// A proposed solution ([`texts::SOLUTIONS`]).
pub fn solution(rng: &mut Rng) -> Solution {
    let (kind, proposal, first_action) = *rng.choose(&texts::SOLUTIONS);
    Solution {
        kind,
        proposal,
        first_action,
    }
}

/// The caller's decision on a solution ([`shares::CONSENT_GIVEN`],
/// [`shares::CONSENT_REFUSED`]).
pub fn decision(rng: &mut Rng) -> Decision {
    let x = rng.f64();
    if x < shares::CONSENT_GIVEN {
        Decision::Given
    } else if x < shares::CONSENT_GIVEN + shares::CONSENT_REFUSED {
        Decision::Refused
    } else {
        Decision::ThinkingItOver
    }
}

/// Whether a consented solution gets a second action ([`shares::FOLLOW_UP_ACTION`]).
pub fn has_follow_up(rng: &mut Rng) -> bool {
    rng.chance(shares::FOLLOW_UP_ACTION)
}

/// A second action's note ([`texts::FOLLOW_UPS`]).
pub fn follow_up(rng: &mut Rng) -> String {
    texts::any(rng, &texts::FOLLOW_UPS)
}

/// Whether a consent once given is withdrawn ([`shares::CONSENT_WITHDRAWN`]).
pub fn withdrawn(rng: &mut Rng) -> bool {
    rng.chance(shares::CONSENT_WITHDRAWN)
}

/// Why a case is closed once its solutions were decided: resolved or redirected when
/// something was done ([`shares::CLOSE_AFTER_ACTION`]), else declined by the caller
/// when they refused, else for another reason.
pub fn close_reason(rng: &mut Rng, acted: bool, refused: bool) -> CloseReason {
    if acted {
        rng.weighted(&shares::CLOSE_AFTER_ACTION)
    } else if refused {
        CloseReason::CallerDeclined
    } else {
        CloseReason::Other
    }
}
