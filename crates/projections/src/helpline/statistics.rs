//! Statistics with no personal data: counts by day, centre and category,
//! filterable by period and centre.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use chrono::{DateTime, NaiveDate, Utc};
use ecoute_domain::call::{CallEvent, Door};
use ecoute_domain::case::CaseEvent;
use ecoute_domain::vocabulary::PersonRole;
use ecoute_domain::{CentreId, Event, SolutionId};
use ecoute_store::RecordedEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{in_categories, stream_uuid, Words};
use crate::error::Result;
use crate::model::{text_key, Key, ModelReader, ModelTx};
use crate::runtime::Projection;

pub(crate) const NAME: &str = "statistics";

const CALLS: &str = "calls";
const CASES_OPENED: &str = "cases_opened";
const CASES_TRANSFERRED: &str = "cases_transferred";
const ABUSE: &str = "abuse_kinds";
const SETTING: &str = "settings";
const IMPLICATED: &str = "implicated_relations";
const SOLUTIONS: &str = "solutions_proposed";
const CONSENTED: &str = "solutions_consented";
const TO_REFERENT: &str = "call_to_referent";
const TO_RECONTACT: &str = "referent_to_recontact";

/// What the projection remembers of a call: where and when it was taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CallInfo {
    centre: CentreId,
    #[serde(with = "ecoute_domain::time")]
    at: DateTime<Utc>,
}

/// What the projection remembers of a case, to measure its delays.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CaseInfo {
    centre: CentreId,
    #[serde(with = "ecoute_domain::time")]
    first_call_at: DateTime<Utc>,
    #[serde(with = "ecoute_domain::time::option")]
    referent_at: Option<DateTime<Utc>>,
    recontacted: bool,
    consented: BTreeSet<SolutionId>,
}

/// Running totals of one delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct DurationAcc {
    count: u64,
    total_seconds: u64,
    within_24h: u64,
    within_48h: u64,
    within_7d: u64,
}

impl DurationAcc {
    fn add(&mut self, seconds: u64) {
        self.count += 1;
        self.total_seconds += seconds;
        self.within_24h += u64::from(seconds <= 24 * 3600);
        self.within_48h += u64::from(seconds <= 48 * 3600);
        self.within_7d += u64::from(seconds <= 7 * 24 * 3600);
    }

    fn merge(&mut self, o: &DurationAcc) {
        self.count += o.count;
        self.total_seconds += o.total_seconds;
        self.within_24h += o.within_24h;
        self.within_48h += o.within_48h;
        self.within_7d += o.within_7d;
    }
}

fn day(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

fn count_key(metric: &str, day: NaiveDate, centre: CentreId, dim: impl Display) -> Key {
    text_key(format_args!("n/{metric}/{day}/{centre}/{dim}"))
}

fn duration_key(metric: &str, day: NaiveDate, centre: CentreId) -> Key {
    text_key(format_args!("d/{metric}/{day}/{centre}"))
}

/// Where a call's centre and time are kept while its case is counted.
const CALL_INFO: u8 = b'i';
/// Where a case's centre and first times are kept.
const CASE_INFO: u8 = b'j';

/// `i` or `j` and the call's or case's id (16 bytes).
fn working_key(kind: u8, id: Uuid) -> Key {
    let mut k = Key::new();
    k.push(kind);
    k.extend_from_slice(id.as_bytes());
    k
}

fn bump(model: &mut ModelTx<'_>, key: Key) -> Result<()> {
    model.update(&key, |n: &mut Option<u64>| *n.get_or_insert(0) += 1)
}

fn add_duration(
    model: &mut ModelTx<'_>,
    key: Key,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<()> {
    let seconds = u64::try_from(to.signed_duration_since(from).num_seconds()).unwrap_or(0);
    model.update(&key, |acc: &mut Option<DurationAcc>| {
        acc.get_or_insert_default().add(seconds)
    })
}

/// Builds the statistics.
pub struct StatisticsProjection;

impl Projection<Event> for StatisticsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        // 2: timestamps held compact, a call's day derived from its time.
        // 3: binary keys for the calls' and cases' working records.
        3
    }

    fn accepts(&self, event: &RecordedEvent) -> bool {
        in_categories(event, &["case", "call"])
    }

    fn apply(&self, stored: &RecordedEvent, event: &Event, model: &mut ModelTx<'_>) -> Result<()> {
        let id = stream_uuid(stored)?;
        let at = event.at();
        match event {
            Event::Call(e) => {
                let info_key = working_key(CALL_INFO, id);
                if let CallEvent::CallReceived(r) = e {
                    let (centre, door) = match r.door {
                        Door::Platform { .. } => (CentreId::NationalPlatform, "platform"),
                        Door::Centre { centre, .. } => (CentreId::Departement(centre), "centre"),
                    };
                    bump(model, count_key(CALLS, day(at), centre, door))?;
                    return model.put(&info_key, CallInfo { centre, at });
                }
                // Most of a call's events count nothing: their call's record is not read.
                let counted = match e {
                    CallEvent::FactsRecorded(_) => true,
                    CallEvent::PersonDescribed(p) => p.person.role == PersonRole::Implicated,
                    _ => false,
                };
                if !counted {
                    return Ok(());
                }
                let Some(info) = model.get::<CallInfo>(&info_key)? else {
                    return Ok(());
                };
                match e {
                    CallEvent::FactsRecorded(f) => {
                        for k in &f.facts.abuse_kinds {
                            bump(model, count_key(ABUSE, day(info.at), info.centre, Words(k)))?;
                        }
                        bump(
                            model,
                            count_key(SETTING, day(info.at), info.centre, Words(f.facts.setting)),
                        )?;
                    }
                    CallEvent::PersonDescribed(p) if p.person.role == PersonRole::Implicated => {
                        bump(
                            model,
                            count_key(
                                IMPLICATED,
                                day(info.at),
                                info.centre,
                                Words(p.person.relation),
                            ),
                        )?;
                    }
                    _ => {}
                }
            }
            Event::Case(e) => {
                let info_key = working_key(CASE_INFO, id);
                if let CaseEvent::CaseOpened(o) = e {
                    bump(
                        model,
                        count_key(CASES_OPENED, day(at), o.opened_by, "opened"),
                    )?;
                    // The delay to a referent runs from the call that opened the case.
                    let first_call_at = model
                        .get::<CallInfo>(&working_key(CALL_INFO, *o.call.call_id.as_uuid()))?
                        .map_or(at, |c| c.at.min(at));
                    let info = CaseInfo {
                        centre: o.opened_by,
                        first_call_at,
                        referent_at: None,
                        recontacted: false,
                        consented: BTreeSet::new(),
                    };
                    return model.put(&info_key, info);
                }
                // Most of a case's events count nothing: their case's record is not read.
                let counted = matches!(
                    e,
                    CaseEvent::CaseTransferred(_)
                        | CaseEvent::ReferentAssigned(_)
                        | CaseEvent::RecontactAttempted(_)
                        | CaseEvent::SolutionProposed(_)
                        | CaseEvent::ConsentGiven(_)
                );
                if !counted {
                    return Ok(());
                }
                let Some(mut info) = model.get::<CaseInfo>(&info_key)? else {
                    return Ok(());
                };
                match e {
                    CaseEvent::CaseTransferred(t) => {
                        info.centre = CentreId::Departement(t.to);
                        bump(
                            model,
                            count_key(CASES_TRANSFERRED, day(at), info.centre, "transferred"),
                        )?;
                    }
                    CaseEvent::ReferentAssigned(_) if info.referent_at.is_none() => {
                        info.referent_at = Some(at);
                        add_duration(
                            model,
                            duration_key(TO_REFERENT, day(at), info.centre),
                            info.first_call_at,
                            at,
                        )?;
                    }
                    CaseEvent::RecontactAttempted(_) if !info.recontacted => {
                        info.recontacted = true;
                        let from = info.referent_at.unwrap_or(info.first_call_at);
                        add_duration(
                            model,
                            duration_key(TO_RECONTACT, day(at), info.centre),
                            from,
                            at,
                        )?;
                    }
                    CaseEvent::SolutionProposed(s) => {
                        bump(
                            model,
                            count_key(SOLUTIONS, day(at), info.centre, Words(s.kind)),
                        )?;
                    }
                    CaseEvent::ConsentGiven(c) if info.consented.insert(c.solution_id) => {
                        bump(
                            model,
                            count_key(CONSENTED, day(at), info.centre, "consented"),
                        )?;
                    }
                    _ => return Ok(()),
                }
                model.put(&info_key, info)?;
            }
            Event::Staff(_) | Event::Subject(_) => {}
        }
        Ok(())
    }
}

/// Which slice of the statistics to compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatisticsQuery {
    /// First day, inclusive (UTC).
    pub from: NaiveDate,
    /// Last day, inclusive (UTC).
    pub to: NaiveDate,
    /// One centre only (`national` for the platform), or all.
    pub centre: Option<CentreId>,
}

/// Summary of one delay over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DurationStats {
    /// How many cases were measured.
    pub count: u64,
    /// Mean, in hours (0 when none).
    pub mean_hours: f64,
    /// Share within 24 hours.
    pub within_24h: f64,
    /// Share within 48 hours.
    pub within_48h: f64,
    /// Share within 7 days.
    pub within_7d: f64,
}

impl From<DurationAcc> for DurationStats {
    fn from(a: DurationAcc) -> Self {
        let share = |n: u64| {
            if a.count == 0 {
                0.0
            } else {
                n as f64 / a.count as f64
            }
        };
        DurationStats {
            count: a.count,
            mean_hours: if a.count == 0 {
                0.0
            } else {
                a.total_seconds as f64 / a.count as f64 / 3600.0
            },
            within_24h: share(a.within_24h),
            within_48h: share(a.within_48h),
            within_7d: share(a.within_7d),
        }
    }
}

/// The statistics of a period: counts only, no personal data.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatisticsReport {
    /// Calls per day.
    pub calls_per_day: BTreeMap<NaiveDate, u64>,
    /// Calls by door (`platform`, `centre`).
    pub calls_by_door: BTreeMap<String, u64>,
    /// Cases opened, by the centre that opened them.
    pub cases_opened_by_centre: BTreeMap<String, u64>,
    /// Cases transferred, by receiving centre.
    pub cases_transferred_to_centre: BTreeMap<String, u64>,
    /// Abuse kinds named in calls.
    pub abuse_kinds: BTreeMap<String, u64>,
    /// Settings (home, institution) named in calls.
    pub settings: BTreeMap<String, u64>,
    /// Relation of implicated persons to the victim.
    pub implicated_relations: BTreeMap<String, u64>,
    /// Delay from the first call to the first referent.
    pub call_to_referent: DurationStats,
    /// Delay from the first referent to the first recontact attempt.
    pub referent_to_first_recontact: DurationStats,
    /// Solutions proposed, by kind.
    pub solutions_proposed: BTreeMap<String, u64>,
    /// Solutions that got the caller's consent.
    pub solutions_consented: u64,
    /// Consented over proposed (0 when none were proposed).
    pub consent_share: f64,
}

/// Queries over the `statistics` projection.
#[derive(Clone)]
pub struct Statistics {
    reader: ModelReader,
}

impl Statistics {
    /// Queries over a reader of the `statistics` projection.
    pub fn new(reader: ModelReader) -> Self {
        Statistics { reader }
    }

    /// (day, centre, dimension, count) of one counter over the query's period.
    fn counts(
        &self,
        metric: &str,
        q: &StatisticsQuery,
    ) -> Result<Vec<(NaiveDate, String, String, u64)>> {
        let start = format!("n/{metric}/{}", q.from);
        let end = format!("n/{metric}/{}~", q.to);
        let centre = q.centre.map(|c| c.to_string());
        let mut out = Vec::new();
        for (k, n) in self.reader.range::<u64>(start.as_bytes(), end.as_bytes())? {
            let Ok(k) = String::from_utf8(k) else {
                continue;
            };
            let mut parts = k.splitn(5, '/').skip(2);
            let (Some(d), Some(c), Some(dim)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let Ok(d) = d.parse::<NaiveDate>() else {
                continue;
            };
            if centre.as_deref().is_some_and(|want| want != c) {
                continue;
            }
            out.push((d, c.to_owned(), dim.to_owned(), n));
        }
        Ok(out)
    }

    fn durations(&self, metric: &str, q: &StatisticsQuery) -> Result<DurationAcc> {
        let start = format!("d/{metric}/{}", q.from);
        let end = format!("d/{metric}/{}~", q.to);
        let centre = q.centre.map(|c| c.to_string());
        let mut total = DurationAcc::default();
        for (k, acc) in self
            .reader
            .range::<DurationAcc>(start.as_bytes(), end.as_bytes())?
        {
            let Ok(k) = String::from_utf8(k) else {
                continue;
            };
            let c = k.rsplit('/').next().unwrap_or_default();
            if centre.as_deref().is_some_and(|want| want != c) {
                continue;
            }
            total.merge(&acc);
        }
        Ok(total)
    }

    /// The statistics of a period, for one centre or all.
    pub fn query(&self, q: &StatisticsQuery) -> Result<StatisticsReport> {
        let mut r = StatisticsReport::default();
        for (d, _, door, n) in self.counts(CALLS, q)? {
            *r.calls_per_day.entry(d).or_default() += n;
            *r.calls_by_door.entry(door).or_default() += n;
        }
        let by_dim = |metric: &str, by_centre: bool| -> Result<BTreeMap<String, u64>> {
            let mut m = BTreeMap::new();
            for (_, c, dim, n) in self.counts(metric, q)? {
                *m.entry(if by_centre { c } else { dim }).or_default() += n;
            }
            Ok(m)
        };
        r.cases_opened_by_centre = by_dim(CASES_OPENED, true)?;
        r.cases_transferred_to_centre = by_dim(CASES_TRANSFERRED, true)?;
        r.abuse_kinds = by_dim(ABUSE, false)?;
        r.settings = by_dim(SETTING, false)?;
        r.implicated_relations = by_dim(IMPLICATED, false)?;
        r.solutions_proposed = by_dim(SOLUTIONS, false)?;
        r.solutions_consented = by_dim(CONSENTED, false)?.values().sum();
        let proposed: u64 = r.solutions_proposed.values().sum();
        r.consent_share = if proposed == 0 {
            0.0
        } else {
            r.solutions_consented as f64 / proposed as f64
        };
        r.call_to_referent = self.durations(TO_REFERENT, q)?.into();
        r.referent_to_first_recontact = self.durations(TO_RECONTACT, q)?.into();
        Ok(r)
    }
}
