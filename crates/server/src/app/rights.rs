//! The data subjects' rights, as the engine answers them: what is held about a person
//! (GDPR Art. 15), found through the subject index, and erasure (Art. 17) by
//! destroying their key.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ecoute_domain::call::{CallEvent, Door};
use ecoute_domain::subject::{Erasure, ErasureReason, SubjectCommand};
use ecoute_domain::{
    subject_stream, CaseId, CentreId, Decider, Event, HasPersonalData, Protected, RetentionRule,
    SubjectId, Subjects, Whose,
};
use ecoute_store::EventStore;

use super::{Actor, App, Append, Outcome};
use crate::access::Action;
use crate::access_log::{AccessRecord, Outcome as Seen};
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
    /// When and why (and by which retention rule) their data was erased, if it was.
    pub erased: Option<Erasure>,
    /// When and by which retention rule their callback number alone was erased.
    pub number_erased: Option<(DateTime<Utc>, RetentionRule)>,
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
    /// What is held about a person, for the data-protection officer: the check, the
    /// answer, and a consultation recorded under each case it touches.
    pub async fn subject_access(
        &self,
        actor: &Actor,
        subject: SubjectId,
    ) -> Result<SubjectData, AppError> {
        self.check(actor, Action::SubjectRights, None).await?;
        let data = self
            .subject_data(subject)
            .await?
            .ok_or(AppError::NotFound("data subject"))?;
        for case in &data.cases {
            self.record(actor, Action::SubjectRights, Some(*case), Seen::Allowed)
                .await?;
        }
        if data.cases.is_empty() {
            // A person found only on calls that joined no case: the answer is a
            // consultation all the same.
            self.record(actor, Action::SubjectRights, None, Seen::Allowed)
                .await?;
        }
        Ok(data)
    }

    /// The subject's data, opened, and the consultations of their cases; `None` when
    /// nothing was ever held about them.
    pub async fn subject_data(&self, subject: SubjectId) -> Result<Option<SubjectData>, AppError> {
        self.catch_up().await?;
        let refs = self.views.subjects.refs(subject).await?;
        let state = self.subject_state(subject).await?;
        let erased = state.erasure();
        if refs.is_empty() && erased.is_none() {
            return Ok(None);
        }
        let mut data = SubjectData {
            subject,
            erased,
            number_erased: state.number_erased(),
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

    /// Erases a person's data on their request (data-protection officer): the
    /// erasure is recorded, then their keys destroyed.
    pub async fn erase_subject(
        &self,
        actor: &Actor,
        subject: SubjectId,
    ) -> Result<Outcome, AppError> {
        self.check(actor, Action::SubjectRights, None).await?;
        self.catch_up().await?;
        if !self.views.subjects.any(subject)? {
            return Err(AppError::NotFound("data subject"));
        }
        self.erase(actor, subject, ErasureReason::Request).await
    }

    /// Erases a subject on request: records the erasure and, once it is in the log,
    /// destroys their keys (see [`App::run`]; a stop in between is finished at the
    /// next start).
    async fn erase(
        &self,
        actor: &Actor,
        subject: SubjectId,
        reason: ErasureReason,
    ) -> Result<Outcome, AppError> {
        let stream = subject_stream(subject);
        let command = SubjectCommand::Erase { subject, reason };
        let outcome = self
            .run(
                actor,
                actor.target(subject),
                vec![stream.clone()],
                |loaded, now| {
                    let (state, expected) = loaded.fold::<Subjects>(&subject);
                    let ctx = self.context(actor.snapshot(), now, [])?;
                    let events = Subjects::decide(&state, &command, &ctx)?;
                    Ok(vec![Append::new(stream.clone(), expected, events)])
                },
            )
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
        for case in cases {
            self.log_erasure(actor, Some(case), "erasure requested by the person".into())
                .await?;
        }
        Ok(outcome)
    }

    /// Records an erasure in the access log, under its case (or none, for a call
    /// that joined no case), with its purpose: who asked, or which rule.
    pub(super) async fn log_erasure(
        &self,
        actor: &Actor,
        case: Option<CaseId>,
        purpose: String,
    ) -> Result<(), AppError> {
        self.write_access(&AccessRecord {
            staff: (!actor.is_system()).then_some(actor.id()),
            roles: actor.snapshot().roles.iter().copied().collect(),
            token: actor.token().map(|(t, _)| t),
            token_issued_by: actor.token().and_then(|(_, by)| by),
            action: "subject.erasure".into(),
            route: actor.route().to_string(),
            case,
            outcome: Seen::Allowed,
            purpose,
            at: self.now(),
            request_id: actor.request_id(),
            attempts: None,
        })
        .await
    }
}
