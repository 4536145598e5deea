//! The data subjects' rights, as the engine answers them: what is held about a person
//! (GDPR Art. 15), found through the subject index, and erasure (Art. 17) by
//! destroying their key.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ecoute_domain::call::{CallEvent, Door};
use ecoute_domain::event::fold_subject;
use ecoute_domain::subject::{self, ErasureReason, SubjectCommand, SubjectState};
use ecoute_domain::{
    subject_stream, CaseId, CentreId, Event, HasPersonalData, Protected, Role, StaffSnapshot,
    SubjectId, Whose,
};

use ecoute_store::EventStore;

use crate::access_log::AccessRecord;
use crate::app::{App, Decided, Outcome, Request};
use crate::auth::decode;
use crate::error::AppError;

/// One event's worth of data about the subject.
#[derive(Debug, Clone)]
pub struct HeldItem {
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The stream (`call-…` or `case-…`) and position.
    pub stream: String,
    /// Its global position.
    pub position: u64,
    /// The event type.
    pub event_type: String,
    /// What the subject is there: the caller, the victim, another person.
    pub whose: Whose,
    /// The subject's values, by field: in clear, or `None` once erased.
    pub values: BTreeMap<String, Option<String>>,
    /// Facts about the subject that are not free values (role, age band, the door
    /// called).
    pub facts: BTreeMap<String, String>,
}

/// Everything the data-protection officer needs to answer an access request.
#[derive(Debug, Clone)]
pub struct SubjectData {
    /// The subject.
    pub subject: SubjectId,
    /// When and why their data was erased, if it was.
    pub erased: Option<(DateTime<Utc>, ErasureReason)>,
    /// What is held, in recorded order.
    pub items: Vec<HeldItem>,
    /// The cases the data belongs to.
    pub cases: BTreeSet<CaseId>,
    /// The places that hold it (the national platform, a centre).
    pub centres: BTreeSet<CentreId>,
    /// Where the data came from: the calls, by door and date.
    pub sources: Vec<String>,
    /// Every consultation of those cases (who is left out: only roles remain).
    pub consultations: Vec<AccessRecord>,
}

impl App {
    /// The subject's data, opened, and the consultations of their cases; `None` when
    /// nothing was ever held about them.
    pub async fn subject_data(&self, subject: SubjectId) -> Result<Option<SubjectData>, AppError> {
        self.catch_up().await?;
        let refs = self.views.subjects.refs(subject).await?;
        let erased = self.subject_state(subject).await?.erased();
        if refs.is_empty() && erased.is_none() {
            return Ok(None);
        }
        let mut data = SubjectData {
            subject,
            erased,
            items: Vec::new(),
            cases: BTreeSet::new(),
            centres: BTreeSet::from([CentreId::NationalPlatform]),
            sources: Vec::new(),
            consultations: Vec::new(),
        };
        for r in refs {
            let Some(stored) = self.store.read_all(r.position, 1).await?.pop() else {
                continue;
            };
            let mut event = decode(&stored)?;
            self.open_values(&mut event)?;
            let mut item = HeldItem {
                recorded_at: stored.recorded_at,
                stream: r.stream.clone(),
                position: r.position,
                event_type: r.event_type.clone(),
                whose: r.whose,
                values: BTreeMap::new(),
                facts: BTreeMap::new(),
            };
            let fields = event.personal_fields();
            for (f, v) in fields.iter().zip(event.personal_values_mut()) {
                if f.subject.id != subject {
                    continue; // another person's data: left out
                }
                let value = match v.protected() {
                    Protected::Clear(text) => Some(text.clone()),
                    _ => None,
                };
                item.values.insert(f.field.to_string(), value);
            }
            match &event {
                Event::Call(CallEvent::CallReceived(c)) if c.caller == subject => {
                    let door = match c.door {
                        Door::Platform { .. } => "the national platform (3977)".to_string(),
                        Door::Centre { centre, .. } => format!("the centre of {centre}"),
                    };
                    item.facts.insert("called".into(), door.clone());
                    data.sources
                        .push(format!("a call to {door} on {}", c.at.format("%Y-%m-%d")));
                }
                Event::Call(CallEvent::PersonDescribed(d)) if d.person.person == subject => {
                    let p = &d.person;
                    item.facts.insert("role".into(), format!("{:?}", p.role));
                    item.facts
                        .insert("relation to the victim".into(), format!("{:?}", p.relation));
                    item.facts
                        .insert("age band".into(), format!("{:?}", p.age_band));
                    if let Some(l) = p.lives_with_victim {
                        item.facts
                            .insert("lives with the victim".into(), l.to_string());
                    }
                }
                _ => {}
            }
            data.items.push(item);
        }
        let streams: BTreeSet<&str> = data.items.iter().map(|i| i.stream.as_str()).collect();
        data.cases = self.cases_of(streams).await?;
        for case in &data.cases {
            if let Some(state) = self.case_state(*case).await? {
                data.centres.extend(state.centre());
            }
        }
        if data.sources.is_empty() {
            data.sources
                .push("what callers said of the person during calls to the helpline".into());
        }
        for case in &data.cases {
            data.consultations
                .extend(self.access_log.of_case(*case).await?);
        }
        data.consultations.sort_by_key(|c| c.at);
        Ok(Some(data))
    }

    /// The cases the `call-…` and `case-…` streams belong to, each stream read once.
    async fn cases_of(
        &self,
        streams: impl IntoIterator<Item = &str>,
    ) -> Result<BTreeSet<CaseId>, AppError> {
        let parse = |s: &str| uuid::Uuid::parse_str(s).ok();
        let mut cases = BTreeSet::new();
        for stream in streams {
            if let Some(id) = stream.strip_prefix("case-").and_then(parse) {
                cases.insert(CaseId::from_uuid(id));
            } else if let Some(id) = stream.strip_prefix("call-").and_then(parse) {
                let call = self
                    .call_state(ecoute_domain::CallId::from_uuid(id))
                    .await?;
                cases.extend(call.and_then(|c| c.attached_to()));
            }
        }
        Ok(cases)
    }

    /// The subject stream folded.
    pub async fn subject_state(&self, subject: SubjectId) -> Result<SubjectState, AppError> {
        let events = self
            .read_stream(&subject_stream(subject))
            .await?
            .unwrap_or_default();
        let decoded = events.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok(fold_subject(&decoded))
    }

    /// Erases a subject: records the erasure and, once it is in the log, destroys
    /// their keys (see [`App::execute`]; a stop in between is finished at the next
    /// start).
    pub async fn erase(
        &self,
        req: &Request<'_>,
        subject: SubjectId,
        reason: ErasureReason,
    ) -> Result<Outcome, AppError> {
        let stream = subject_stream(subject);
        let outcome = self
            .execute(req, vec![stream.clone()], |loaded, now| {
                let state = loaded.subject(subject);
                let ctx = self.context(req.actor, now, [])?;
                let events =
                    subject::decide(&state.0, &SubjectCommand::Erase { subject, reason }, &ctx)?;
                Ok(vec![Decided {
                    stream: stream.clone(),
                    expected: state.1,
                    events: events.into_iter().map(Event::Subject).collect(),
                }])
            })
            .await?;
        // The access log holds every erasure, under each case it touched.
        let refs = self.views.subjects.refs(subject).await?;
        let cases = self
            .cases_of(
                refs.iter()
                    .map(|r| r.stream.as_str())
                    .collect::<BTreeSet<_>>(),
            )
            .await?;
        let system = req.actor.id == App::retention_actor().id;
        for case in cases {
            self.access_log
                .record(&AccessRecord {
                    staff: (!system).then_some(req.actor.id),
                    roles: req.actor.roles.iter().copied().collect(),
                    action: "subject.erasure".into(),
                    route: req.target.clone(),
                    case: Some(case),
                    outcome: crate::access_log::Outcome::Allowed,
                    purpose: match reason {
                        ErasureReason::Request => "erasure requested by the person".into(),
                        ErasureReason::Retention => "retention period over".into(),
                    },
                    at: self.now(),
                    request_id: req.request_id,
                })
                .await?;
        }
        Ok(outcome)
    }

    /// Applies the retention rule: the subjects of cases closed longer ago than the
    /// retention period are erased, each erasure recorded (reason `Retention`) and
    /// logged. Returns how many subjects it erased.
    pub async fn apply_retention(&self) -> Result<usize, AppError> {
        let Some(period) = self.retention() else {
            return Ok(0);
        };
        self.catch_up().await?;
        let cutoff = self.now() - period;
        let actor = App::retention_actor();
        let mut erased = 0;
        for (case, subjects) in self.views.cases.closed_before(cutoff)? {
            for subject in subjects {
                if self.subject_state(subject).await?.erased().is_some() {
                    continue;
                }
                let req = Request {
                    actor: &actor,
                    target: format!("retention of case {case}"),
                    request_id: uuid::Uuid::new_v4(),
                    ids: crate::app::Ids::random(),
                };
                self.erase(&req, subject, ErasureReason::Retention).await?;
                tracing::info!(%subject, %case, "erased by the retention rule");
                erased += 1;
            }
        }
        Ok(erased)
    }

    /// The system as data-protection officer, for erasures the retention rule makes.
    pub fn retention_actor() -> StaffSnapshot {
        crate::app::system([Role::DataProtectionOfficer])
    }
}
