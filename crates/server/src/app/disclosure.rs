//! What statistics a member may see. Counts carry no personal data, but a count of
//! one or two, for one centre over a short period, points at a person: "one case
//! of sexual abuse by a son, at the Ardèche centre, on 3 March".
//!
//! The rule:
//! - **Exact figures, any period**, for the centres whose cases the member may
//!   read anyway (their accredited centres; every centre for the platform's
//!   listeners and the auditors): nothing is learnt that the cases do not say.
//! - **For everyone else** (another centre, or all centres for a member who may not
//!   read them all): periods of **whole calendar months that have ended** (never a
//!   day, and no count per day); a count from 1 to [`THRESHOLD`]` - 1` published as
//!   `null`, every other count **rounded to a multiple of 5** (so that subtracting
//!   two answers — two periods, all centres minus the others — gives a range, never
//!   a small count), means rounded to the hour, and a share published only when
//!   both what it counts and what it leaves out are 0 or at least [`THRESHOLD`],
//!   rounded to a tenth.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use ecoute_domain::{CentreId, DepartementCode, StaffSnapshot};
use ecoute_projections::helpline::{DurationStats, StatisticsReport};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{allowed, Action};
use crate::error::AppError;

/// The smallest count published to a member who may not read the cases counted.
pub const THRESHOLD: u64 = 3;

/// The longest period one answer covers.
const MAX_DAYS: i64 = 3660;

/// The statistics of a period as a member may see them: counts only, never
/// personal data; `null` marks a suppressed figure.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PublishedStatistics {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// The centre, if one was asked for.
    pub centre: Option<String>,
    /// Whether small cells were suppressed (the member may not read every case
    /// counted): a count under this threshold is then `null`.
    pub suppressed_below: Option<u64>,
    /// The figures.
    pub report: Figures,
}

/// The figures of a period: counts only; `null` marks a suppressed one.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    /// Calls per day.
    pub calls_per_day: BTreeMap<NaiveDate, Option<u64>>,
    /// Calls by door (`platform`, `centre`).
    pub calls_by_door: BTreeMap<String, Option<u64>>,
    /// Cases opened, by the centre that opened them.
    pub cases_opened_by_centre: BTreeMap<String, Option<u64>>,
    /// Cases transferred, by receiving centre.
    pub cases_transferred_to_centre: BTreeMap<String, Option<u64>>,
    /// Abuse kinds named in calls.
    pub abuse_kinds: BTreeMap<String, Option<u64>>,
    /// Settings (home, institution) named in calls.
    pub settings: BTreeMap<String, Option<u64>>,
    /// Relation of implicated persons to the victim.
    pub implicated_relations: BTreeMap<String, Option<u64>>,
    /// Delay from the first call to the first referent.
    pub call_to_referent: Delays,
    /// Delay from the first referent to the first recontact attempt.
    pub referent_to_first_recontact: Delays,
    /// Solutions proposed, by kind.
    pub solutions_proposed: BTreeMap<String, Option<u64>>,
    /// Solutions that got the caller's consent.
    pub solutions_consented: Option<u64>,
    /// Consented over proposed (0 when none were proposed).
    pub consent_share: Option<f64>,
}

/// One delay over a period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Delays {
    /// How many cases were measured.
    pub count: Option<u64>,
    /// Mean, in hours (0 when none).
    pub mean_hours: Option<f64>,
    /// Share within 24 hours.
    pub within_24h: Option<f64>,
    /// Share within 48 hours.
    pub within_48h: Option<f64>,
    /// Share within 7 days.
    pub within_7d: Option<f64>,
}

/// The period and centre asked for, checked against what the member may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// One centre, or all.
    pub centre: Option<CentreId>,
    /// Whether the answer is exact (the member may read every case counted).
    pub exact: bool,
}

/// Whether `member` may read the cases of `centre` (of every centre: `None`).
fn reads_cases_of(member: &StaffSnapshot, centre: Option<CentreId>) -> bool {
    let reads = |c: CentreId| allowed(member, Action::ReadCase(c));
    match centre {
        Some(c) => reads(c),
        None => {
            reads(CentreId::NationalPlatform)
                && DepartementCode::all().all(|d| reads(CentreId::Departement(d)))
        }
    }
}

/// The first day of `day`'s month.
fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The last day of `day`'s month.
fn month_end(day: NaiveDate) -> NaiveDate {
    month_start(day)
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(day)
}

/// Checks the period asked for (either end may be left out) against what `member`
/// may see on `today`. Exact readers: any period, by default the 30 days to today.
/// Others: whole months that have ended, by default the last one.
pub fn slice(
    member: &StaffSnapshot,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    centre: Option<CentreId>,
    today: NaiveDate,
) -> Result<Slice, AppError> {
    let exact = reads_cases_of(member, centre);
    let (from, to) = if exact {
        let to = to.unwrap_or(today);
        let from = match from {
            Some(from) => from,
            None => to
                .checked_sub_days(chrono::Days::new(30))
                .ok_or_else(|| AppError::bad("to", "out of the calendar's range"))?,
        };
        (from, to)
    } else {
        let last_ended = month_start(today).pred_opt().unwrap_or(today);
        let to = to.unwrap_or(last_ended);
        (from.unwrap_or(month_start(to)), to)
    };
    if from > to {
        return Err(AppError::bad("from", "after `to`"));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(AppError::bad("from", "the period is over ten years"));
    }
    if !exact {
        if from != month_start(from) {
            return Err(AppError::bad(
                "from",
                "for centres whose cases you may not read, statistics cover whole months: \
                 start on the first day of a month",
            ));
        }
        if to != month_end(to) || to >= month_start(today) {
            return Err(AppError::bad(
                "to",
                "for centres whose cases you may not read, statistics cover whole months \
                 that have ended: end on the last day of a past month",
            ));
        }
    }
    Ok(Slice {
        from,
        to,
        centre,
        exact,
    })
}

/// The report as `slice` allows it to be published.
pub fn publish(report: StatisticsReport, slice: &Slice) -> PublishedStatistics {
    let exact = slice.exact;
    let counts = |m: BTreeMap<String, u64>| -> BTreeMap<String, Option<u64>> {
        m.into_iter().map(|(k, n)| (k, count(n, exact))).collect()
    };
    let proposed: u64 = report.solutions_proposed.values().sum();
    PublishedStatistics {
        from: slice.from,
        to: slice.to,
        centre: slice.centre.map(|c| c.to_string()),
        suppressed_below: (!exact).then_some(THRESHOLD),
        report: Figures {
            calls_per_day: if exact {
                report
                    .calls_per_day
                    .into_iter()
                    .map(|(d, n)| (d, Some(n)))
                    .collect()
            } else {
                BTreeMap::new()
            },
            calls_by_door: counts(report.calls_by_door),
            cases_opened_by_centre: counts(report.cases_opened_by_centre),
            cases_transferred_to_centre: counts(report.cases_transferred_to_centre),
            abuse_kinds: counts(report.abuse_kinds),
            settings: counts(report.settings),
            implicated_relations: counts(report.implicated_relations),
            call_to_referent: delays(report.call_to_referent, exact),
            referent_to_first_recontact: delays(report.referent_to_first_recontact, exact),
            solutions_proposed: counts(report.solutions_proposed),
            solutions_consented: count(report.solutions_consented, exact),
            consent_share: share(report.consent_share, proposed, exact),
        },
    }
}

/// A count as published: exact, or (`!exact`) `None` from 1 to `THRESHOLD - 1` and
/// otherwise rounded to the nearest multiple of 5.
fn count(n: u64, exact: bool) -> Option<u64> {
    match n {
        _ if exact => Some(n),
        0 => Some(0),
        n if n < THRESHOLD => None,
        n => Some((n + 2) / 5 * 5),
    }
}

/// A share of `of` cases as published: exact, or (`!exact`) only when both what it
/// counts and what it leaves out are 0 or at least `THRESHOLD`, rounded to a tenth.
fn share(share: f64, of: u64, exact: bool) -> Option<f64> {
    if exact {
        return Some(share);
    }
    let counted = (share * of as f64).round() as u64;
    let left = of.saturating_sub(counted);
    let enough = |n: u64| n == 0 || n >= THRESHOLD;
    (enough(counted) && enough(left)).then(|| (share * 10.0).round() / 10.0)
}

fn delays(d: DurationStats, exact: bool) -> Delays {
    let shown = exact || d.count == 0 || d.count >= THRESHOLD;
    let mean = if exact {
        d.mean_hours
    } else {
        d.mean_hours.round()
    };
    Delays {
        count: count(d.count, exact),
        mean_hours: shown.then_some(mean),
        within_24h: share(d.within_24h, d.count, exact).filter(|_| shown),
        within_48h: share(d.within_48h, d.count, exact).filter(|_| shown),
        within_7d: share(d.within_7d, d.count, exact).filter(|_| shown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecoute_domain::{Role, StaffId};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn member(roles: &[Role], centres: &[&str]) -> StaffSnapshot {
        let mut m = StaffSnapshot::new(
            StaffId::from_uuid(uuid::Uuid::new_v4()),
            roles.iter().copied(),
        );
        m.accreditations
            .extend(centres.iter().map(|c| DepartementCode::parse(c).unwrap()));
        m
    }

    #[test]
    fn small_counts_are_hidden_and_the_others_rounded_to_fives() {
        let table = [
            (0, Some(0)),
            (1, None),
            (2, None),
            (3, Some(5)),
            (4, Some(5)),
            (7, Some(5)),
            (8, Some(10)),
            (12, Some(10)),
            (13, Some(15)),
        ];
        for (n, shown) in table {
            assert_eq!(count(n, false), shown, "{n}");
            assert_eq!(count(n, true), Some(n));
        }
        // Subtracting two answers gives a range: 4 and 5 both read 5.
        assert_eq!(count(4, false), count(5, false));
    }

    #[test]
    fn a_share_shows_only_when_neither_side_is_small() {
        // 1 of 10 consented: the share would give the count away.
        assert_eq!(share(0.1, 10, false), None);
        // 9 of 10: what it leaves out is 1.
        assert_eq!(share(0.9, 10, false), None);
        assert_eq!(share(0.4, 10, false), Some(0.4));
        assert_eq!(share(1.0, 10, false), Some(1.0));
        assert_eq!(share(0.1, 10, true), Some(0.1));
        assert_eq!(share(0.333, 9, false), Some(0.3));
    }

    #[test]
    fn few_cases_hide_their_delays_and_shares() {
        let d = DurationStats {
            count: 2,
            mean_hours: 5.0,
            ..DurationStats::default()
        };
        assert_eq!(delays(d, false).mean_hours, None);
        assert_eq!(delays(d, true).mean_hours, Some(5.0));
        let d = DurationStats { count: 3, ..d };
        assert_eq!(delays(d, false).mean_hours, Some(5.0));
    }

    #[test]
    fn a_date_at_the_calendars_edge_is_refused_not_a_panic() {
        let m = member(&[Role::Auditor], &[]);
        let r = slice(&m, None, Some(NaiveDate::MIN), None, day("2026-12-02"));
        assert!(matches!(r, Err(AppError::BadInput { .. })));
        let r = slice(
            &m,
            Some(NaiveDate::MIN),
            Some(NaiveDate::MAX),
            None,
            day("2026-12-02"),
        );
        assert!(matches!(r, Err(AppError::BadInput { .. })));
    }

    #[test]
    fn who_sees_exact_figures_and_which_periods_others_may_ask() {
        let today = day("2026-12-02");
        let volunteer = member(&[Role::Volunteer], &["69"]);
        let lyon = Some(CentreId::parse("69").unwrap());
        let paris = Some(CentreId::parse("75").unwrap());
        // Their own centre: exact, any period, the last 30 days by default.
        let s = slice(&volunteer, Some(day("2026-12-01")), None, lyon, today).unwrap();
        assert!(s.exact);
        let s = slice(&volunteer, None, None, lyon, today).unwrap();
        assert_eq!((s.from, s.to), (day("2026-11-02"), today));
        // Another centre, or all: the last ended month by default, whole months only.
        for centre in [paris, None] {
            let s = slice(&volunteer, None, None, centre, today).unwrap();
            assert!(!s.exact);
            assert_eq!((s.from, s.to), (day("2026-11-01"), day("2026-11-30")));
            let year = slice(
                &volunteer,
                Some(day("2026-01-01")),
                Some(day("2026-11-30")),
                centre,
                today,
            );
            assert!(year.is_ok());
            for (from, to) in [
                ("2026-11-02", "2026-11-30"),
                ("2026-11-01", "2026-11-29"),
                ("2026-12-01", "2026-12-31"),
                ("2026-11-03", "2026-11-03"),
            ] {
                let r = slice(&volunteer, Some(day(from)), Some(day(to)), centre, today);
                assert!(matches!(r, Err(AppError::BadInput { .. })), "{from}..{to}");
            }
        }
        // The platform's listeners and auditors read every centre's cases.
        for role in [Role::PlatformListener, Role::Auditor] {
            let m = member(&[role], &[]);
            assert!(slice(&m, None, None, None, today).unwrap().exact);
            assert!(slice(&m, None, None, paris, today).unwrap().exact);
        }
        let dpo = member(&[Role::DataProtectionOfficer], &[]);
        assert!(!slice(&dpo, None, None, None, today).unwrap().exact);
    }
}
