//! What statistics a member may see. Counts carry no personal data, but a count of
//! one or two, for one centre over a short period, points at a person: "one case
//! of sexual abuse by a son, at the Ardèche centre, on 3 March".
//!
//! The rule:
//! - **Exact figures, any period**, for the centres whose cases the member may
//!   read anyway (their accredited centres; every centre for the platform's
//!   listeners and the auditors): nothing is learnt that the cases do not say.
//! - **For everyone else** (another centre, or all centres for a member who may not
//!   read them all): periods of **whole calendar months that have ended**
//!   (subtracting two answers then gives whole months too, never a day), and
//!   **small cells suppressed**: a count from 1 to [`THRESHOLD`]` - 1` is published
//!   as `null`, and so is a mean or a share computed over fewer than [`THRESHOLD`]
//!   cases; where a list of counts has exactly one suppressed cell, its smallest
//!   other cell is suppressed too, so that no cell can be found by subtracting the
//!   others from a total published elsewhere.

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
        (from.unwrap_or(to - chrono::Duration::days(30)), to)
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
    let counts = |m: BTreeMap<String, u64>| suppress(m, exact);
    let proposed: u64 = report.solutions_proposed.values().sum();
    let enough = |n: u64| exact || n == 0 || n >= THRESHOLD;
    PublishedStatistics {
        from: slice.from,
        to: slice.to,
        centre: slice.centre.map(|c| c.to_string()),
        suppressed_below: (!exact).then_some(THRESHOLD),
        report: Figures {
            calls_per_day: suppress(report.calls_per_day, exact),
            calls_by_door: counts(report.calls_by_door),
            cases_opened_by_centre: counts(report.cases_opened_by_centre),
            cases_transferred_to_centre: counts(report.cases_transferred_to_centre),
            abuse_kinds: counts(report.abuse_kinds),
            settings: counts(report.settings),
            implicated_relations: counts(report.implicated_relations),
            call_to_referent: delays(report.call_to_referent, exact),
            referent_to_first_recontact: delays(report.referent_to_first_recontact, exact),
            solutions_proposed: counts(report.solutions_proposed),
            solutions_consented: enough(report.solutions_consented)
                .then_some(report.solutions_consented),
            consent_share: enough(proposed).then_some(report.consent_share),
        },
    }
}

fn delays(d: DurationStats, exact: bool) -> Delays {
    let shown = exact || d.count == 0 || d.count >= THRESHOLD;
    let figure = |x: f64| shown.then_some(x);
    Delays {
        count: shown.then_some(d.count),
        mean_hours: figure(d.mean_hours),
        within_24h: figure(d.within_24h),
        within_48h: figure(d.within_48h),
        within_7d: figure(d.within_7d),
    }
}

/// Small cells of a list of counts as `None` (and, where exactly one is, the
/// smallest other one too), unless `exact`.
fn suppress<K: Ord + Clone>(counts: BTreeMap<K, u64>, exact: bool) -> BTreeMap<K, Option<u64>> {
    if exact {
        return counts.into_iter().map(|(k, n)| (k, Some(n))).collect();
    }
    let small = |n: u64| n > 0 && n < THRESHOLD;
    let mut out: BTreeMap<K, Option<u64>> = counts
        .iter()
        .map(|(k, &n)| (k.clone(), (!small(n)).then_some(n)))
        .collect();
    if counts.values().filter(|&&n| small(n)).count() == 1 {
        let next = counts
            .iter()
            .filter(|(_, &n)| n >= THRESHOLD)
            .min_by_key(|(_, &n)| n)
            .map(|(k, _)| k.clone());
        if let Some(k) = next {
            out.insert(k, None);
        }
    }
    out
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
    fn small_cells_are_suppressed_with_a_second_cell_where_one_alone_would_show() {
        let counts: BTreeMap<&str, u64> = [("a", 1), ("b", 7), ("c", 4), ("d", 9)].into();
        let out = suppress(counts.clone(), false);
        assert_eq!(out["a"], None);
        assert_eq!(out["c"], None, "the smallest other cell goes too");
        assert_eq!((out["b"], out["d"]), (Some(7), Some(9)));
        let two: BTreeMap<&str, u64> = [("a", 1), ("b", 2), ("c", 5)].into();
        let out = suppress(two, false);
        assert_eq!((out["a"], out["b"], out["c"]), (None, None, Some(5)));
        assert_eq!(suppress(counts, true)["a"], Some(1));
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
