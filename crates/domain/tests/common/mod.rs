//! Fixtures shared by the scenario tests: a clock, a small staff, subjects, and one
//! `check` helper — given events, when a command, then events or an error.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use ecoute_domain::call::{self, CallCommand, CallEvent, CallSummary, Door, NumberStatus};
use ecoute_domain::case::{self, CaseCommand, CaseEvent};
use ecoute_domain::staff::{self, StaffCommand, StaffEvent};
use ecoute_domain::*;
use std::collections::BTreeSet;
use std::fmt::Debug;
use uuid::Uuid;

/// Minute `m` of the test day.
pub fn t(m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0)
        .single()
        .expect("valid date")
        + Duration::minutes(m)
}

pub const fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub const ADMIN: StaffId = StaffId::from_uuid(uuid(0xA0));
pub const LISTENER: StaffId = StaffId::from_uuid(uuid(0xA1));
pub const LISTENER_2: StaffId = StaffId::from_uuid(uuid(0xA2));
pub const V1: StaffId = StaffId::from_uuid(uuid(0xB1));
pub const V2: StaffId = StaffId::from_uuid(uuid(0xB2));
/// A volunteer of the Bouches-du-Rhône (13), not of the Rhône (69).
pub const V13: StaffId = StaffId::from_uuid(uuid(0xB3));
/// A volunteer whose accreditation at 69 was revoked.
pub const V_REVOKED: StaffId = StaffId::from_uuid(uuid(0xB4));
pub const R1: StaffId = StaffId::from_uuid(uuid(0xC1));
pub const R2: StaffId = StaffId::from_uuid(uuid(0xC2));
/// A referent of the Bouches-du-Rhône (13).
pub const R13: StaffId = StaffId::from_uuid(uuid(0xC3));
/// A referent who is also a volunteer of 69 and may take calls there.
pub const RV: StaffId = StaffId::from_uuid(uuid(0xC4));
pub const AUDITOR: StaffId = StaffId::from_uuid(uuid(0xD1));
pub const TEAM: TeamId = TeamId::from_uuid(uuid(0xE1));

pub const CALL_1: CallId = CallId::from_uuid(uuid(0x101));
pub const CALL_2: CallId = CallId::from_uuid(uuid(0x102));
pub const CALL_3: CallId = CallId::from_uuid(uuid(0x103));
pub const CASE_1: CaseId = CaseId::from_uuid(uuid(0x201));
pub const CASE_2: CaseId = CaseId::from_uuid(uuid(0x202));
pub const SOL_1: SolutionId = SolutionId::from_uuid(uuid(0x301));
pub const SOL_2: SolutionId = SolutionId::from_uuid(uuid(0x302));

pub const CALLER: SubjectId = SubjectId::from_uuid(uuid(0x401));
pub const VICTIM: SubjectId = SubjectId::from_uuid(uuid(0x402));
pub const SON: SubjectId = SubjectId::from_uuid(uuid(0x403));

pub fn d(code: &str) -> DepartementCode {
    DepartementCode::parse(code).expect("a valid code in fixtures")
}

pub fn rhone() -> DepartementCode {
    d("69")
}

pub fn pair(a: StaffId, b: StaffId) -> VolunteerPair {
    VolunteerPair::new(a, b).expect("distinct volunteers in fixtures")
}

fn snap(id: StaffId, roles: &[Role], team: Option<TeamId>, centres: &[&str]) -> StaffSnapshot {
    StaffSnapshot {
        id,
        roles: roles.iter().copied().collect(),
        team,
        accreditations: centres.iter().map(|c| d(c)).collect(),
    }
}

/// Every member of the fixture staff, as their staff streams stand.
pub fn all_staff() -> Vec<StaffSnapshot> {
    use Role::*;
    vec![
        snap(ADMIN, &[Administrator], None, &[]),
        snap(LISTENER, &[PlatformListener], Some(TEAM), &[]),
        snap(LISTENER_2, &[PlatformListener], Some(TEAM), &[]),
        snap(V1, &[Volunteer], None, &["69"]),
        snap(V2, &[Volunteer], None, &["69"]),
        snap(V13, &[Volunteer], None, &["13"]),
        snap(V_REVOKED, &[Volunteer], None, &[]),
        snap(R1, &[Referent], None, &["69"]),
        snap(R2, &[Referent], None, &["69"]),
        snap(R13, &[Referent], None, &["13"]),
        snap(RV, &[Volunteer, Referent], None, &["69"]),
        snap(AUDITOR, &[Auditor], None, &[]),
    ]
}

pub fn snapshot(id: StaffId) -> StaffSnapshot {
    all_staff()
        .into_iter()
        .find(|s| s.id == id)
        .expect("a fixture member")
}

/// The context of a command given by `actor` at minute `m`, with every fixture member.
pub fn ctx(actor: StaffId, m: i64) -> Context {
    all_staff()
        .into_iter()
        .fold(Context::new(t(m), snapshot(actor)), Context::with_staff)
}

pub fn caller_says(text: &str) -> Personal<String> {
    Personal::new(Subject::caller(CALLER), text.to_string())
}

pub fn about_victim(text: &str) -> Personal<String> {
    Personal::new(
        Subject {
            id: VICTIM,
            whose: Whose::Victim,
        },
        text.to_string(),
    )
}

/// The victim as the seed's caller describes her: an 80–89-year-old, named.
pub fn describe_victim() -> call::PersonDescription {
    call::PersonDescription {
        person: VICTIM,
        role: vocabulary::PersonRole::Victim,
        relation: vocabulary::Relation::Themself,
        age_band: vocabulary::AgeBand::From80To89,
        lives_with_victim: None,
        name: Some(about_victim("Mme Durand")),
        address: None,
        description: None,
    }
}

pub fn about_son(text: &str) -> Personal<String> {
    Personal::new(
        Subject {
            id: SON,
            whose: Whose::OtherPerson,
        },
        text.to_string(),
    )
}

/// Given `given`, when `when` with `ctx`, then `then`; a refused command produces no event.
pub fn check<S: Default, C: Debug, E: PartialEq + Debug>(
    evolve: fn(S, &E) -> S,
    decide: fn(&S, &C, &Context) -> Result<Vec<E>, DomainError>,
    given: &[E],
    when: C,
    ctx: &Context,
    then: Result<Vec<E>, DomainError>,
) {
    let state = given.iter().fold(S::default(), evolve);
    let got = decide(&state, &when, ctx);
    assert_eq!(got, then, "\ngiven {given:#?}\nwhen {when:?}");
    if let Ok(events) = got {
        // The produced events always fold.
        let _ = events.iter().fold(state, evolve);
    }
}

pub fn check_call(
    given: &[CallEvent],
    when: CallCommand,
    ctx: &Context,
    then: Result<Vec<CallEvent>, DomainError>,
) {
    check(call::evolve, call::decide, given, when, ctx, then)
}

pub fn check_case(
    given: &[CaseEvent],
    when: CaseCommand,
    ctx: &Context,
    then: Result<Vec<CaseEvent>, DomainError>,
) {
    check(case::evolve, case::decide, given, when, ctx, then)
}

pub fn check_staff(
    given: &[StaffEvent],
    when: StaffCommand,
    ctx: &Context,
    then: Result<Vec<StaffEvent>, DomainError>,
) {
    check(staff::evolve, staff::decide, given, when, ctx, then)
}

/// The summary of an ended, unattached platform call taken by `LISTENER`.
pub fn platform_call(id: CallId, number: NumberStatus) -> CallSummary {
    CallSummary {
        call_id: id,
        door: Door::Platform {
            listener: LISTENER,
            team: TEAM,
        },
        number,
        subjects: [
            Subject::caller(CALLER),
            Subject {
                id: VICTIM,
                whose: Whose::Victim,
            },
            Subject {
                id: SON,
                whose: Whose::OtherPerson,
            },
        ]
        .into_iter()
        .collect(),
        ended: true,
        attached_to: None,
    }
}

/// The summary of an ended, unattached call of the Rhône centre taken by `a` and `b`.
pub fn centre_call(id: CallId, a: StaffId, b: StaffId, number: NumberStatus) -> CallSummary {
    CallSummary {
        door: Door::Centre {
            centre: rhone(),
            pair: pair(a, b),
        },
        ..platform_call(id, number)
    }
}

pub fn takers(ids: &[StaffId]) -> BTreeSet<StaffId> {
    ids.iter().copied().collect()
}

/// What a case keeps of a call.
pub fn linked(summary: &call::CallSummary) -> case::LinkedCall {
    case::LinkedCall {
        call_id: summary.call_id,
        centre: summary.door.centre(),
        taken_by: summary.door.taken_by(),
        number: summary.number,
        subjects: summary.subjects.iter().map(|s| (s.id, s.whose)).collect(),
    }
}
