//! Case summaries, centre queues and referent caseloads: one projection that
//! keeps each case's folded domain state and derives the three views from it.

use chrono::{DateTime, Duration, Utc};
use ecoute_domain::case::{
    self, CaseEvent, CaseState, CaseStatus, Consent, Deadline, DeadlineKind, InactivityFlag,
    RetentionStep,
};
use ecoute_domain::vocabulary::{CloseReason, RecontactOutcome, SolutionKind};
use ecoute_domain::RetentionPolicy;
use ecoute_domain::{CallId, CaseId, CentreId, Event, SolutionId, StaffId};
use ecoute_store::RecordedEvent;
use serde::{Deserialize, Serialize};

use super::{in_categories, stream_uuid};
use crate::error::Result;
use crate::model::{text_key, Key, ModelReader, ModelTx};
use crate::runtime::Projection;

pub(crate) const NAME: &str = "cases";

/// Why a case sits in a centre's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum QueueKind {
    /// Opened by the national platform and not transferred yet.
    AwaitingTransfer,
    /// At a centre, with no referent.
    AwaitingReferent,
    /// A referent follows it and a number was left, but nobody reached the caller yet.
    AwaitingRecontact,
    /// Nobody can call back: the case waits for the caller to call again.
    AwaitingCallBack,
    /// Flagged for inactivity: closed and its persons erased unless someone keeps
    /// it (before any other queue: it is the most pressing).
    AwaitingReview,
}

impl QueueKind {
    fn key(self) -> &'static str {
        match self {
            QueueKind::AwaitingTransfer => "transfer",
            QueueKind::AwaitingReferent => "referent",
            QueueKind::AwaitingRecontact => "recontact",
            QueueKind::AwaitingCallBack => "callback",
            QueueKind::AwaitingReview => "review",
        }
    }

    const ALL: [QueueKind; 5] = [
        QueueKind::AwaitingTransfer,
        QueueKind::AwaitingReferent,
        QueueKind::AwaitingRecontact,
        QueueKind::AwaitingCallBack,
        QueueKind::AwaitingReview,
    ];
}

/// A solution as a referent sees it in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionSummary {
    /// The solution's id.
    pub id: SolutionId,
    /// What kind of contact it proposes.
    pub kind: SolutionKind,
    /// The caller's standing decision.
    pub consent: Consent,
    /// How many actions were taken on it.
    pub actions: u32,
}

/// What a referent opens: where a case stands, without any personal value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// The case.
    pub case_id: CaseId,
    /// Open or closed.
    pub status: CaseStatus,
    /// Where the case was opened.
    pub opened_by: CentreId,
    /// Who holds it now.
    pub centre: CentreId,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// The referent following it.
    pub referent: Option<StaffId>,
    /// The calls of the case, in the order they joined.
    pub calls: Vec<CallId>,
    /// Whether a number is kept to call the caller back.
    pub can_recontact: bool,
    /// Whether the case waits for the caller to call again.
    pub awaiting_call_back: bool,
    /// Solutions proposed, with consent and actions; open ones first.
    pub solutions: Vec<SolutionSummary>,
    /// Recontact attempts so far.
    pub recontact_attempts: u32,
    /// Why it was closed, when it is.
    pub closed_reason: Option<CloseReason>,
    /// The time of its last event.
    pub last_activity: DateTime<Utc>,
    /// The queue it sits in, if any, and since when.
    pub queue: Option<(QueueKind, DateTime<Utc>)>,
    /// The deadlines armed or missed, with their due times.
    pub deadlines: Vec<(DeadlineKind, Deadline)>,
    /// The promises that fell due unkept.
    pub overdue: Vec<DeadlineKind>,
    /// The inactivity flag, while it stands: when the case is closed and its persons
    /// erased unless someone keeps it.
    pub inactivity: Option<InactivityFlag>,
}

/// One case in a centre's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The case.
    pub case_id: CaseId,
    /// Since when it waits.
    pub since: DateTime<Utc>,
    /// How long it has waited, as of the time asked.
    pub waited: Duration,
    /// Whether a deadline of the case fell due unkept.
    pub overdue: bool,
    /// For a case flagged for inactivity, when it is closed unless kept.
    pub closes_at: Option<DateTime<Utc>>,
}

/// A centre's queues, each oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CentreQueue {
    /// Cases opened by the platform, not transferred yet (the platform's queue).
    pub awaiting_transfer: Vec<QueueEntry>,
    /// Cases with no referent.
    pub awaiting_referent: Vec<QueueEntry>,
    /// Cases whose caller nobody reached yet.
    pub awaiting_recontact: Vec<QueueEntry>,
    /// Cases waiting for the caller's call-back.
    pub awaiting_call_back: Vec<QueueEntry>,
    /// Cases flagged for inactivity, to keep or let close.
    pub awaiting_review: Vec<QueueEntry>,
}

/// One open case on a referent's caseload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseloadEntry {
    /// The case.
    pub case_id: CaseId,
    /// The centre holding it.
    pub centre: CentreId,
    /// Since when the referent follows it.
    #[serde(with = "ecoute_domain::time")]
    pub since: DateTime<Utc>,
    /// The queue it sits in, if any.
    pub queue: Option<QueueKind>,
    /// The promises of the case that fell due unkept.
    pub overdue: Vec<DeadlineKind>,
}

/// What the projection keeps per case.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CaseRecord {
    state: CaseState,
    #[serde(with = "ecoute_domain::time")]
    opened_at: DateTime<Utc>,
    #[serde(with = "ecoute_domain::time")]
    last_activity: DateTime<Utc>,
    recontact_attempts: u32,
    reached: bool,
    closed_reason: Option<CloseReason>,
    #[serde(with = "ecoute_domain::time::option")]
    referent_since: Option<DateTime<Utc>>,
    #[serde(with = "ecoute_domain::time::option")]
    awaiting_referent_since: Option<DateTime<Utc>>,
    #[serde(with = "ecoute_domain::time::option")]
    awaiting_call_back_since: Option<DateTime<Utc>>,
    /// The queue entry written for the case, to remove it when it moves.
    #[serde(with = "queued")]
    queue: Option<(CentreId, QueueKind, DateTime<Utc>)>,
    /// The caseload entry written for the case.
    load: Option<StaffId>,
    /// Whether the queue entry written says overdue.
    queue_overdue: bool,
}

/// A queue entry as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct QueueValue {
    #[serde(with = "ecoute_domain::time")]
    since: DateTime<Utc>,
    overdue: bool,
    #[serde(with = "ecoute_domain::time::option")]
    closes_at: Option<DateTime<Utc>>,
}

/// The serde form of a case's queue entry, its time compact.
mod queued {
    use super::*;
    use ecoute_domain::time::At;
    use serde::{Deserializer, Serializer};

    type Queued = Option<(CentreId, QueueKind, DateTime<Utc>)>;

    pub fn serialize<S: Serializer>(q: &Queued, s: S) -> Result<S::Ok, S::Error> {
        q.map(|(c, k, t)| (c, k, At(t))).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Queued, D::Error> {
        let q = Option::<(CentreId, QueueKind, At)>::deserialize(d)?;
        Ok(q.map(|(c, k, t)| (c, k, t.0)))
    }
}

fn case_key(case: CaseId) -> Key {
    text_key(format_args!("c/{case}"))
}

fn queue_key(centre: CentreId, kind: QueueKind, case: CaseId) -> Key {
    text_key(format_args!("q/{centre}/{}/{case}", kind.key()))
}

fn load_key(referent: StaffId, case: CaseId) -> Key {
    text_key(format_args!("l/{referent}/{case}"))
}

/// Builds case summaries, centre queues and caseloads.
pub struct CasesProjection;

impl Projection<Event> for CasesProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        // 2: deadlines in the case state, overdue flags in queues and caseloads.
        // 3: timestamps held compact (ecoute_domain::time).
        // 4: retention: last activity, closing, inactivity flag in the case state;
        // the review queue.
        4
    }

    fn accepts(&self, event: &RecordedEvent) -> bool {
        in_categories(event, &["case"])
    }

    fn apply(&self, stored: &RecordedEvent, event: &Event, model: &mut ModelTx<'_>) -> Result<()> {
        let Event::Case(ev) = event else {
            return Ok(());
        };
        let case_id = CaseId::from_uuid(stream_uuid(stored)?);
        let at = event.at();
        // The case's record is changed where the chunk holds it; the queue and
        // caseload entries it moves are written after.
        let moved = model.update(&case_key(case_id), |rec: &mut Option<CaseRecord>| {
            rec.get_or_insert_with(|| CaseRecord::new(at))
                .apply(case_id, ev, at)
        })?;
        if let Some((centre, kind)) = moved.unqueue {
            model.remove(&queue_key(centre, kind, case_id))?;
        }
        if let Some((centre, kind, value)) = moved.queue {
            model.put(&queue_key(centre, kind, case_id), value)?;
        }
        if let Some(referent) = moved.unload {
            model.remove(&load_key(referent, case_id))?;
        }
        if let Some((referent, entry)) = moved.load {
            model.put(&load_key(referent, case_id), entry)?;
        }
        Ok(())
    }
}

/// The queue and caseload entries a case's event moves: the ones to remove,
/// then the ones to write.
struct Moved {
    unqueue: Option<(CentreId, QueueKind)>,
    queue: Option<(CentreId, QueueKind, QueueValue)>,
    unload: Option<StaffId>,
    load: Option<(StaffId, CaseloadEntry)>,
}

impl CaseRecord {
    /// The record of a case whose first event is at `at`.
    fn new(at: DateTime<Utc>) -> Self {
        CaseRecord {
            state: CaseState::default(),
            opened_at: at,
            last_activity: at,
            recontact_attempts: 0,
            reached: false,
            closed_reason: None,
            referent_since: None,
            awaiting_referent_since: None,
            awaiting_call_back_since: None,
            queue: None,
            load: None,
            queue_overdue: false,
        }
    }

    /// Applies one of the case's events, and says which entries move.
    fn apply(&mut self, case_id: CaseId, ev: &CaseEvent, at: DateTime<Utc>) -> Moved {
        let was_awaiting_call_back = self.state.is_awaiting_call_back();
        let had_referent = self.state.referent();
        self.state = case::evolve(std::mem::take(&mut self.state), ev);
        // Deadlines and retention are the system's, not anyone's activity on the case.
        if ev.is_activity() {
            self.last_activity = at;
        }
        match ev {
            CaseEvent::CaseOpened(_) => self.opened_at = at,
            CaseEvent::CaseTransferred(_) => self.awaiting_referent_since = Some(at),
            CaseEvent::RecontactAttempted(r) => {
                self.recontact_attempts += 1;
                if r.outcome == RecontactOutcome::Reached {
                    self.reached = true;
                }
            }
            CaseEvent::CaseClosed(c) => self.closed_reason = Some(c.reason),
            CaseEvent::CaseReopened(_) => self.closed_reason = None,
            _ => {}
        }
        if self.state.referent() != had_referent {
            self.referent_since = self.state.referent().map(|_| at);
            self.reached = false;
            if self.state.referent().is_none() {
                self.awaiting_referent_since = Some(at);
            }
        }
        if self.state.is_awaiting_call_back() && !was_awaiting_call_back {
            self.awaiting_call_back_since = Some(at);
        }
        // Move the queue entry.
        let mut moved = Moved {
            unqueue: None,
            queue: None,
            unload: None,
            load: None,
        };
        let queue = queue_of(self);
        let overdue = self.state.overdue().next().is_some();
        if queue != self.queue || overdue != self.queue_overdue {
            moved.unqueue = self.queue.map(|(c, k, _)| (c, k));
            let closes_at = self.state.inactivity().map(|f| f.closes_at);
            moved.queue = queue.map(|(c, k, since)| {
                let value = QueueValue {
                    since,
                    overdue,
                    closes_at,
                };
                (c, k, value)
            });
            self.queue = queue;
            self.queue_overdue = overdue;
        }
        // Move the caseload entry: open cases of the referent.
        let load = self
            .state
            .referent()
            .filter(|_| self.state.status() == CaseStatus::Open);
        moved.unload = self.load.filter(|old| Some(*old) != load);
        moved.load = load.map(|referent| {
            let entry = CaseloadEntry {
                case_id,
                centre: self.state.centre().unwrap_or(CentreId::NationalPlatform),
                since: self.referent_since.unwrap_or(at),
                queue: self.queue.map(|(_, k, _)| k),
                overdue: self.state.overdue().collect(),
            };
            (referent, entry)
        });
        self.load = load;
        moved
    }
}

fn queue_of(rec: &CaseRecord) -> Option<(CentreId, QueueKind, DateTime<Utc>)> {
    let s = &rec.state;
    if s.status() != CaseStatus::Open {
        return None;
    }
    let centre = s.centre()?;
    if let Some(flag) = s.inactivity() {
        return Some((centre, QueueKind::AwaitingReview, flag.flagged_at));
    }
    if centre == CentreId::NationalPlatform {
        return Some((centre, QueueKind::AwaitingTransfer, rec.opened_at));
    }
    if s.referent().is_none() {
        let since = rec.awaiting_referent_since.unwrap_or(rec.opened_at);
        return Some((centre, QueueKind::AwaitingReferent, since));
    }
    if s.is_awaiting_call_back() {
        let since = rec.awaiting_call_back_since.unwrap_or(rec.last_activity);
        return Some((centre, QueueKind::AwaitingCallBack, since));
    }
    if s.can_recontact() && !rec.reached {
        let since = rec.referent_since.unwrap_or(rec.last_activity);
        return Some((centre, QueueKind::AwaitingRecontact, since));
    }
    None
}

/// Queries over the `cases` projection.
#[derive(Clone)]
pub struct Cases {
    reader: ModelReader,
}

impl Cases {
    /// Queries over a reader of the `cases` projection.
    pub fn new(reader: ModelReader) -> Self {
        Cases { reader }
    }

    /// The summary of one case, if the projection has seen it.
    pub fn summary(&self, case_id: CaseId) -> Result<Option<CaseSummary>> {
        let Some(rec) = self.reader.get::<CaseRecord>(&case_key(case_id))? else {
            return Ok(None);
        };
        let s = &rec.state;
        let mut solutions: Vec<SolutionSummary> = s
            .solutions()
            .iter()
            .map(|(id, sol)| SolutionSummary {
                id: *id,
                kind: sol.kind,
                consent: sol.consent,
                actions: sol.actions,
            })
            .collect();
        solutions.sort_by_key(|x| matches!(x.consent, Consent::Refused | Consent::Withdrawn));
        Ok(Some(CaseSummary {
            case_id,
            status: s.status(),
            opened_by: s.opened_by().unwrap_or(CentreId::NationalPlatform),
            centre: s.centre().unwrap_or(CentreId::NationalPlatform),
            opened_at: rec.opened_at,
            referent: s.referent(),
            calls: s.calls().map(|c| c.call_id).collect(),
            can_recontact: s.can_recontact(),
            awaiting_call_back: s.is_awaiting_call_back(),
            solutions,
            recontact_attempts: rec.recontact_attempts,
            closed_reason: rec.closed_reason,
            last_activity: rec.last_activity,
            queue: rec.queue.map(|(_, k, since)| (k, since)),
            deadlines: s.deadlines().iter().map(|(k, d)| (*k, *d)).collect(),
            overdue: s.overdue().collect(),
            inactivity: s.inactivity(),
        }))
    }

    /// The cases a retention step is due for at `now` under `policy`, with those
    /// steps (the domain's own [`CaseState::retention_due`]): what the retention
    /// rules act on. The domain checks again when the step is decided.
    pub fn retention_due(
        &self,
        now: DateTime<Utc>,
        policy: &RetentionPolicy,
    ) -> Result<Vec<(CaseId, Vec<RetentionStep>)>> {
        let mut out = Vec::new();
        for (_, rec) in self.reader.scan::<CaseRecord>(b"c/")? {
            let steps = rec.state.retention_due(policy, now);
            if let (false, Some(id)) = (steps.is_empty(), rec.state.case_id()) {
                out.push((id, steps));
            }
        }
        Ok(out)
    }

    /// A centre's queues as of `now`, each oldest first.
    pub fn queue(&self, centre: CentreId, now: DateTime<Utc>) -> Result<CentreQueue> {
        let mut q = CentreQueue::default();
        for kind in QueueKind::ALL {
            let prefix = format!("q/{centre}/{}/", kind.key());
            let mut entries: Vec<QueueEntry> = self
                .reader
                .scan::<QueueValue>(prefix.as_bytes())?
                .into_iter()
                .filter_map(|(k, v)| {
                    let id = std::str::from_utf8(&k[prefix.len()..]).ok()?;
                    let case_id = CaseId::from_uuid(uuid::Uuid::parse_str(id).ok()?);
                    Some(QueueEntry {
                        case_id,
                        since: v.since,
                        waited: now.signed_duration_since(v.since).max(Duration::zero()),
                        overdue: v.overdue,
                        closes_at: v.closes_at,
                    })
                })
                .collect();
            entries.sort_by_key(|e| (e.since, e.case_id));
            match kind {
                QueueKind::AwaitingTransfer => q.awaiting_transfer = entries,
                QueueKind::AwaitingReferent => q.awaiting_referent = entries,
                QueueKind::AwaitingRecontact => q.awaiting_recontact = entries,
                QueueKind::AwaitingCallBack => q.awaiting_call_back = entries,
                QueueKind::AwaitingReview => q.awaiting_review = entries,
            }
        }
        Ok(q)
    }

    /// A referent's open cases, longest followed first.
    pub fn caseload(&self, referent: StaffId) -> Result<Vec<CaseloadEntry>> {
        let prefix = format!("l/{referent}/");
        let mut entries: Vec<CaseloadEntry> = self
            .reader
            .scan::<CaseloadEntry>(prefix.as_bytes())?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        entries.sort_by_key(|e| (e.since, e.case_id));
        Ok(entries)
    }
}
