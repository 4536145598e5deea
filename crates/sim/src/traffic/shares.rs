//! The proportions of the helpline's traffic, each with where it comes from.
//!
//! Three kinds of sources, named on every figure:
//! - **public**: the service's published figures for 2024 (the brief's `mission.md`:
//!   over 60,000 calls and about 13,000 case files a year, ~97 % through the national
//!   platform, ~73 % of situations at home, the implicated person most often family,
//!   the seven abuse kinds of its reports);
//! - **demo**: the tables `ecoute demo` had, the most detailed of the three earlier
//!   models (kept where no public figure says otherwise);
//! - **sim**: the simulator's calibration of a year's volumes (kept where the demo had
//!   no figure, or where the simulated year's benchmarks rest on it).
//!
//! Weights need not sum to one ([`Rng::weighted`](crate::rng::Rng::weighted) scales
//! them); shares are probabilities.

use ecoute_domain::vocabulary::{
    AbuseKind, AgeBand, CloseCircle, CloseReason, Evolution, Frequency, PersonRole,
    RecontactOutcome, Relation, Since,
};

// ---- volumes ----

/// Share of calls that open a case. Public: about 13,000 cases for 60,000 calls
/// (0.217).
pub const NEW_CASE: f64 = 0.22;

/// Share of calls from a caller calling again about their case (linked to it; a
/// closed case reopens). Sim: no public figure; the rest (0.60) inform or advise and
/// lead to no case.
pub const CALLING_AGAIN: f64 = 0.18;

/// Share of calls answered by the national platform, whatever the call is about; the
/// others are answered at a centre by a pair of volunteers. Public: ~97 % of calls
/// and of cases. (The demo had 97 % of cases but only 75 % of information calls.)
pub const PLATFORM: f64 = 0.97;

/// Share of the platform's new cases that the platform keeps for now, awaiting
/// transfer, when the demo's snapshot is taken. Demo.
pub const KEPT_AT_PLATFORM: f64 = 0.03;

/// Share of callers about a new case who ask to stay anonymous. Demo (the sim had
/// 0.15).
pub const ANONYMOUS_NEW_CASE: f64 = 0.18;

/// Share of callers of an information call who ask to stay anonymous. Demo and sim.
pub const ANONYMOUS_INFORMATION: f64 = 0.10;

// ---- the number ----

/// (leaves a number, refuses that it be kept), by situation; the rest neither leave
/// one nor refuse. New case: demo (the sim had 0.35/0.45 anonymous, 0.70/0.05 named).
pub const NUMBER_NEW_CASE_ANONYMOUS: (f64, f64) = (0.30, 0.50);
/// See [`NUMBER_NEW_CASE_ANONYMOUS`]: a named caller about a new case. Demo.
pub const NUMBER_NEW_CASE_NAMED: (f64, f64) = (0.75, 0.05);
/// A caller calling again whom the centre can already call back. Sim.
pub const NUMBER_AGAIN_REACHABLE: (f64, f64) = (0.15, 0.03);
/// A caller calling again whom the centre cannot call back. Sim.
pub const NUMBER_AGAIN_UNREACHABLE: (f64, f64) = (0.55, 0.10);
/// An information call. Sim (the demo asked information callers as it asked new
/// cases, 0.75 leaving a number).
pub const NUMBER_INFORMATION: (f64, f64) = (0.15, 0.05);

// ---- people ----

/// Who calls: (role, relation to the victim, the caller's own age band), weighted.
/// Demo (the sim had the victim 22 %, a child 27 %, a neighbour 12 %, a professional
/// 16 %); public: the close circle, most often family, calls most.
pub const CALLERS: [((PersonRole, Relation, AgeBand), f64); 7] = [
    (
        (PersonRole::Victim, Relation::Themself, AgeBand::Unknown),
        0.26,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Child,
            AgeBand::Under60,
        ),
        0.3,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Grandchild,
            AgeBand::Under60,
        ),
        0.06,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Sibling,
            AgeBand::From70To79,
        ),
        0.05,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Neighbour),
            Relation::Neighbour,
            AgeBand::From60To69,
        ),
        0.12,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Friend),
            Relation::Friend,
            AgeBand::From70To79,
        ),
        0.06,
    ),
    (
        (
            PersonRole::Professional,
            Relation::Professional,
            AgeBand::Under60,
        ),
        0.15,
    ),
];

/// The victim's age band. Demo and sim (the same table).
pub const VICTIM_AGES: [(AgeBand, f64); 5] = [
    (AgeBand::From60To69, 0.1),
    (AgeBand::From70To79, 0.25),
    (AgeBand::From80To89, 0.4),
    (AgeBand::From90, 0.2),
    (AgeBand::Unknown, 0.05),
];

/// Share of situations at home (the rest in an institution). Public: about 73 %.
pub const AT_HOME: f64 = 0.73;

/// Share of new-case calls that describe an implicated person. Demo (the sim
/// described one always, two in 15 % of calls).
pub const IMPLICATED_DESCRIBED: f64 = 0.88;

/// Share of new-case calls that describe someone else around the victim (a
/// professional, more of the close circle). Demo (the sim: 20 %, professionals only).
pub const OTHER_DESCRIBED: f64 = 0.25;

/// Share of new-case calls where the caller, when not the victim, lives with them.
/// Demo and sim.
pub const CALLER_LIVES_WITH_VICTIM: f64 = 0.2;

/// Share of named callers (not anonymous) who give their name. Demo and sim.
pub const CALLER_NAMED: f64 = 0.7;

/// Share of victims (described by someone else) whose name is given. Demo and sim.
pub const VICTIM_NAMED: f64 = 0.8;

/// Share of victims (described by someone else) whose address is given. Demo (the sim
/// had 0.4).
pub const VICTIM_ADDRESS: f64 = 0.6;

/// Share of implicated persons whose name is given. Demo (the sim had 0.3).
pub const IMPLICATED_NAMED: f64 = 0.5;

/// An implicated person: (relation, age band, lives with the victim, words).
pub type Implicated = (Relation, AgeBand, Option<bool>, &'static str);

/// The implicated person at home, weighted. Demo (the sim had child 42, spouse 16,
/// professional 12, grandchild 7, other family 6, neighbour 6, other 5, friend 4,
/// sibling 2); public: most often family (here 77 %), often living with the victim.
pub const IMPLICATED_AT_HOME: [(Implicated, f64); 7] = [
    (
        (
            Relation::Child,
            AgeBand::Under60,
            Some(true),
            "le fils, revenu vivre chez sa mère depuis son licenciement",
        ),
        0.25,
    ),
    (
        (
            Relation::Child,
            AgeBand::From60To69,
            Some(false),
            "la fille, qui gère les comptes et ne laisse rien voir",
        ),
        0.2,
    ),
    (
        (
            Relation::Spouse,
            AgeBand::From80To89,
            Some(true),
            "le conjoint, épuisé, qui crie et bouscule",
        ),
        0.14,
    ),
    (
        (
            Relation::Grandchild,
            AgeBand::Under60,
            Some(false),
            "un petit-fils qui passe réclamer de l'argent",
        ),
        0.1,
    ),
    (
        (
            Relation::OtherFamily,
            AgeBand::Under60,
            Some(false),
            "une nièce qui a obtenu une procuration",
        ),
        0.08,
    ),
    (
        (
            Relation::Professional,
            AgeBand::Under60,
            Some(false),
            "l'aide à domicile, pressée, qui laisse la personne au lit",
        ),
        0.13,
    ),
    (
        (
            Relation::Neighbour,
            AgeBand::From60To69,
            Some(false),
            "un voisin qui fait les courses et garde la monnaie",
        ),
        0.1,
    ),
];

/// The implicated person in an institution, drawn alike. Demo (the sim had
/// professional 70, other 15, child 10, other family 5).
pub const IMPLICATED_IN_INSTITUTION: [Implicated; 3] = [
    (
        Relation::Professional,
        AgeBand::Under60,
        Some(false),
        "un soignant de l'équipe de nuit, parle durement",
    ),
    (
        Relation::Professional,
        AgeBand::Under60,
        Some(false),
        "la direction de l'établissement, qui ne répond pas aux courriers",
    ),
    (
        Relation::Child,
        AgeBand::From60To69,
        Some(false),
        "le fils, qui a fait vendre la maison sans l'accord de sa mère",
    ),
];

/// Someone else around the victim: (role, relation, words), drawn alike.
pub const OTHERS: [(PersonRole, Relation, &str); 4] = [
    (
        PersonRole::Professional,
        Relation::Professional,
        "l'infirmière libérale qui passe chaque matin",
    ),
    (
        PersonRole::Professional,
        Relation::Professional,
        "le médecin traitant, pas encore informé",
    ),
    (
        PersonRole::CloseCircle(CloseCircle::Family),
        Relation::Child,
        "une autre fille, qui vit loin et s'inquiète",
    ),
    (
        PersonRole::CloseCircle(CloseCircle::Neighbour),
        Relation::Neighbour,
        "la voisine de palier, qui entend des cris",
    ),
];

// ---- facts ----

/// The kinds of abuse the helpline's reports count, weighted (the first kind of a
/// call; more may follow, see [`MORE_KINDS`]). Demo (the sim had 38/25/13/12/7/3/2);
/// public: the seven kinds, psychological abuse the most reported, then financial.
pub const ABUSE_KINDS: [(AbuseKind, f64); 7] = [
    (AbuseKind::Psychological, 0.40),
    (AbuseKind::Financial, 0.22),
    (AbuseKind::Physical, 0.14),
    (AbuseKind::Neglect, 0.12),
    (AbuseKind::DeprivationOfRights, 0.06),
    (AbuseKind::Medical, 0.03),
    (AbuseKind::Sexual, 0.03),
];

/// After the first kind, the chance of drawing one more, up to three. Demo (the sim:
/// 0.45 for a second, 0.15 for a third).
pub const MORE_KINDS: f64 = 0.35;

/// Since when. Demo and sim (the same table).
pub const SINCE: [(Since, f64); 4] = [
    (Since::LessThanAMonth, 0.15),
    (Since::MonthsToAYear, 0.35),
    (Since::MoreThanAYear, 0.4),
    (Since::Unknown, 0.1),
];

/// How often. Demo (the sim had daily 0.25, unknown 0.10).
pub const FREQUENCY: [(Frequency, f64); 5] = [
    (Frequency::Once, 0.08),
    (Frequency::Occasional, 0.3),
    (Frequency::Weekly, 0.27),
    (Frequency::Daily, 0.27),
    (Frequency::Unknown, 0.08),
];

/// How the facts evolve. Demo and sim (the same table).
pub const EVOLUTION: [(Evolution, f64); 4] = [
    (Evolution::Worsening, 0.45),
    (Evolution::Stable, 0.35),
    (Evolution::Improving, 0.05),
    (Evolution::Unknown, 0.15),
];

/// A call about a new case has a note, and a second one with this chance. Demo (the
/// sim: one note in 70 % of calls).
pub const SECOND_NOTE: f64 = 0.4;

/// Share of a new case's notes about the victim, when someone else calls. Demo.
pub const NOTE_ABOUT_VICTIM: f64 = 0.4;

/// In a call from a caller calling again: the caller's news described, the facts
/// recorded again, a note. Sim (0.3 / 0.5 / 0.6; the demo recorded only a note).
pub const AGAIN_DESCRIBED: f64 = 0.3;
/// See [`AGAIN_DESCRIBED`].
pub const AGAIN_FACTS: f64 = 0.5;
/// See [`AGAIN_DESCRIBED`].
pub const AGAIN_NOTE: f64 = 0.6;

/// In an information call: the caller described, facts recorded, a note. Sim for the
/// facts (0.4); the demo described the caller and wrote a note in every one, the sim
/// in 30 %: half-way.
pub const INFORMATION_DESCRIBED: f64 = 0.5;
/// See [`INFORMATION_DESCRIBED`].
pub const INFORMATION_FACTS: f64 = 0.4;
/// See [`INFORMATION_DESCRIBED`].
pub const INFORMATION_NOTE: f64 = 0.6;

// ---- follow-up ----

/// An attempt to call the caller back. Demo (the sim had 0.62/0.30/0.08).
pub const RECONTACT: [(RecontactOutcome, f64); 3] = [
    (RecontactOutcome::Reached, 0.6),
    (RecontactOutcome::NoAnswer, 0.36),
    (RecontactOutcome::WrongNumber, 0.04),
];

/// Attempts without an answer before the referent waits for the caller. Demo and sim.
pub const RECONTACT_ATTEMPTS: usize = 3;

/// Share of referents who propose two solutions at once rather than one. Demo (the
/// sim: 0.3).
pub const TWO_SOLUTIONS: f64 = 0.35;

/// The caller's decision on a proposed solution: consent, refusal, or still thinking
/// it over (a snapshot such as the demo's catches some undecided; the simulator asks
/// again later). Demo (the sim: 0.72 given, 0.28 refused).
pub const CONSENT_GIVEN: f64 = 0.68;
/// See [`CONSENT_GIVEN`].
pub const CONSENT_REFUSED: f64 = 0.25;

/// Share of consented solutions with a second action (a follow-up). Demo (the sim:
/// 0.25).
pub const FOLLOW_UP_ACTION: f64 = 0.3;

/// Share of consents withdrawn once given. Demo (the sim: 0.06).
pub const CONSENT_WITHDRAWN: f64 = 0.05;

/// Why a case where something was done is closed. Demo (the sim: 0.45 resolved, 0.55
/// redirected).
pub const CLOSE_AFTER_ACTION: [(CloseReason, f64); 2] =
    [(CloseReason::Resolved, 0.6), (CloseReason::Redirected, 0.4)];

// ---- the life of a case over time (the simulator) ----

/// Of the calls from a caller calling again, the share about a case awaiting their
/// call (when there is one). Sim.
pub const AGAIN_ABOUT_AWAITED: f64 = 0.35;

/// Of the other calls from a caller calling again, the share about a closed case
/// (which reopens). Sim.
pub const AGAIN_ABOUT_CLOSED: f64 = 0.12;

/// Share of transferred cases reassigned to another centre after the analysis. Sim.
pub const REASSIGNED: f64 = 0.01;

/// Share of callers who cannot be called back but called again, to whom the referent
/// proposes solutions through that call. Sim.
pub const PROPOSED_THROUGH_A_CALL: f64 = 0.6;

/// Share of closed cases reopened later by a decision (new calls reopen others). Sim.
pub const REOPENED: f64 = 0.04;

// ---- where a snapshot catches a case (the demo) ----

/// Share of a centre's cases that have a referent when the snapshot is taken. Demo.
pub const SNAPSHOT_REFERENT: f64 = 0.85;
/// Share of those whose referent has begun work. Demo.
pub const SNAPSHOT_WORKED: f64 = 0.9;
/// Share of referents at work who have written an analysis. Demo.
pub const SNAPSHOT_ANALYSED: f64 = 0.7;
/// Share of referents who read the case before acting. Demo.
pub const SNAPSHOT_READ: f64 = 0.3;
/// Share of reached callers whose case is closed by then. Demo.
pub const SNAPSHOT_CLOSED: f64 = 0.45;
/// Share of unreachable callers whose case is closed for want of contact by then. Demo.
pub const SNAPSHOT_CLOSED_NO_CONTACT: f64 = 0.3;
/// Share of referents who, after an unanswered call-back, note that the case awaits
/// the caller's call. Demo.
pub const SNAPSHOT_AWAITING: f64 = 0.5;
/// Share of unanswered call-backs after which the referent stops trying for now. Demo.
pub const SNAPSHOT_STOP_TRYING: f64 = 0.4;
