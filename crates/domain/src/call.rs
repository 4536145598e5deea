//! One call to the helpline, as a stream `call-<uuid>`: who answered, what the caller
//! asked about anonymity and their number, the people and facts described, the notes,
//! the end of the call and the case it joins.
//!
//! The state keeps no personal value, only flags and subject ids: personal data lives
//! in the events alone.

use crate::centre::{CentreId, DepartementCode};
use crate::context::Context;
use crate::error::DomainError;
use crate::ids::{CallId, CaseId, StaffId, SubjectId, TeamId};
use crate::personal::{Personal, Subject, Whose};
use crate::retention::{elapsed, RetentionPolicy, RetentionRule};
use crate::staff::{Role, StaffSnapshot, VolunteerPair};
use crate::vocabulary::{
    AbuseKind, AgeBand, Evolution, Frequency, PersonRole, Relation, Setting, Since,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The longest free text accepted in a note, a description or an address, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Which door the caller reached and who answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Door {
    /// The national platform (3977): one professional listener, within a team.
    Platform {
        /// The listener who answered.
        listener: StaffId,
        /// The listener's team at the time of the call.
        team: TeamId,
    },
    /// A departmental centre: a pair of volunteers accredited at that centre.
    Centre {
        /// The centre called.
        centre: DepartementCode,
        /// The two volunteers who answered together.
        pair: VolunteerPair,
    },
}

impl Door {
    /// The place that answered.
    pub fn centre(&self) -> CentreId {
        match self {
            Door::Platform { .. } => CentreId::NationalPlatform,
            Door::Centre { centre, .. } => CentreId::Departement(*centre),
        }
    }

    /// Who took the call: one listener or two volunteers.
    pub fn taken_by(&self) -> BTreeSet<StaffId> {
        match self {
            Door::Platform { listener, .. } => BTreeSet::from([*listener]),
            Door::Centre { pair, .. } => pair.members().into_iter().collect(),
        }
    }

    /// Whether `actor` took this call and may still act for its centre.
    fn may_record(&self, actor: &StaffSnapshot) -> bool {
        match self {
            Door::Platform { listener, .. } => {
                *listener == actor.id && actor.has(Role::PlatformListener)
            }
            Door::Centre { centre, pair } => {
                pair.contains(actor.id)
                    && actor.has(Role::Volunteer)
                    && actor.accredited_at(*centre)
            }
        }
    }
}

/// Who answers a call, as the command states it; the domain checks it against the staff
/// snapshots and records a [`Door`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The actor, a platform listener, answers alone.
    PlatformListener,
    /// Two volunteers, one of them the actor, answer at their centre.
    VolunteerPair {
        /// The centre called.
        centre: DepartementCode,
        /// The pair; the actor is one of them.
        pair: VolunteerPair,
    },
}

/// A person the caller speaks of, and their links to the victim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDescription {
    /// The person's random subject id; the caller's own id when describing the caller.
    pub person: SubjectId,
    /// Victim, close circle, professional or implicated person.
    pub role: PersonRole,
    /// How the person is related to the victim.
    pub relation: Relation,
    /// The person's age band.
    pub age_band: AgeBand,
    /// Whether the person lives with the victim, when known (added in version 2).
    pub lives_with_victim: Option<bool>,
    /// The person's name, if given.
    #[serde(with = "crate::personal::codec::option")]
    pub name: Option<Personal<String>>,
    /// The person's address, if given.
    #[serde(with = "crate::personal::codec::option")]
    pub address: Option<Personal<String>>,
    /// What the caller says of the person, in free text.
    #[serde(with = "crate::personal::codec::option")]
    pub description: Option<Personal<String>>,
}

/// The facts the caller reports: what, where, since when, how often, how they evolve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The kinds of abuse, at least one.
    pub abuse_kinds: BTreeSet<AbuseKind>,
    /// Home or institution.
    pub setting: Setting,
    /// Since when.
    pub since: Since,
    /// How often.
    pub frequency: Frequency,
    /// How the facts evolve.
    pub evolution: Evolution,
}

/// Commands on a call stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallCommand {
    /// A call is answered.
    Receive {
        /// The id the caller generated for the call.
        call_id: CallId,
        /// The random subject id the caller generated for the person calling.
        caller: SubjectId,
        /// Who answers.
        answer: Answer,
    },
    /// The caller asks to stay anonymous (demande à conserver l'anonymat).
    RequestAnonymity,
    /// The caller refuses that their phone number be kept.
    RefuseNumberRetention,
    /// The caller leaves a number to be called back on.
    RecordCallbackNumber(Personal<String>),
    /// The listener records a person the caller speaks of.
    DescribePerson(PersonDescription),
    /// The listener records the facts.
    RecordFacts(Facts),
    /// The listener writes a note of the conversation, about one subject.
    AddNote(Personal<String>),
    /// The call ends.
    End,
    /// The call joins a case, new or existing; give it once the call has ended, in the
    /// same commit as the case's `Open` or `LinkCall`.
    AttachToCase {
        /// The case.
        case_id: CaseId,
        /// Whether the case is opened by this call.
        new_case: bool,
    },
    /// The unattached-call retention rule erases the call's persons; given by the
    /// system (with the data-protection officer's role), refused unless due now.
    EraseByRetention,
}

/// A call was answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReceived {
    /// The call.
    pub call_id: CallId,
    /// Which door and who answered.
    pub door: Door,
    /// The caller's random subject id.
    pub caller: SubjectId,
    /// When.
    pub at: DateTime<Utc>,
}

/// The caller asked to stay anonymous: nothing identifying is recorded for them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnonymityRequested {
    /// When.
    pub at: DateTime<Utc>,
}

/// The caller refused that their number be kept: they cannot be called back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberRetentionRefused {
    /// When.
    pub at: DateTime<Utc>,
}

/// The caller left a number to be called back on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackNumberRecorded {
    /// The number, the caller's personal data.
    #[serde(with = "crate::personal::codec")]
    pub number: Personal<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A person of the situation was described.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDescribed {
    /// The description.
    pub person: PersonDescription,
    /// When.
    pub at: DateTime<Utc>,
}

/// The facts were recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactsRecorded {
    /// The facts.
    pub facts: Facts,
    /// When.
    pub at: DateTime<Utc>,
}

/// A listening note was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListeningNoteRecorded {
    /// The note, personal data of the subject it is about.
    #[serde(with = "crate::personal::codec")]
    pub note: Personal<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEnded {
    /// How long the call lasted, in whole seconds.
    pub duration_seconds: u32,
    /// When.
    pub at: DateTime<Utc>,
}

/// The call joined a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAttachedToCase {
    /// The case.
    pub case_id: CaseId,
    /// Whether the case was opened by this call.
    pub new_case: bool,
    /// When.
    pub at: DateTime<Utc>,
}

/// The persons of a call that never joined a case were erased by the retention rule
/// (each subject's erasure is recorded in their own stream, in the same commit); the
/// call accepts nothing more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPersonsErased {
    /// The rule.
    pub rule: RetentionRule,
    /// The subjects of the call.
    pub subjects: Vec<SubjectId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The events of a call stream.
/// Serializes as the event's own fields, without its type name (which the store keeps
/// beside the payload): for readable renderings such as an audited history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CallEvent {
    /// See [`CallReceived`].
    CallReceived(CallReceived),
    /// See [`AnonymityRequested`].
    AnonymityRequested(AnonymityRequested),
    /// See [`NumberRetentionRefused`].
    NumberRetentionRefused(NumberRetentionRefused),
    /// See [`CallbackNumberRecorded`].
    CallbackNumberRecorded(CallbackNumberRecorded),
    /// See [`PersonDescribed`].
    PersonDescribed(PersonDescribed),
    /// See [`FactsRecorded`].
    FactsRecorded(FactsRecorded),
    /// See [`ListeningNoteRecorded`].
    ListeningNoteRecorded(ListeningNoteRecorded),
    /// See [`CallEnded`].
    CallEnded(CallEnded),
    /// See [`CallAttachedToCase`].
    CallAttachedToCase(CallAttachedToCase),
    /// See [`CallPersonsErased`].
    CallPersonsErased(CallPersonsErased),
}

/// Whether a call leaves a way to call the caller back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NumberStatus {
    /// A callback number was recorded.
    Left,
    /// No number was recorded.
    NotLeft,
    /// The caller refused that the number be kept.
    Refused,
}

/// What a case needs to know of a call: built by [`CallState::summary`] and passed in
/// the [`Context`] of the case command that opens the case or links the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSummary {
    /// The call.
    pub call_id: CallId,
    /// Which door and who answered.
    pub door: Door,
    /// Whether the caller can be called back from this call.
    pub number: NumberStatus,
    /// Every subject of the call: the caller and each person described.
    pub subjects: BTreeSet<Subject>,
    /// Whether the call has ended.
    pub ended: bool,
    /// The case the call already joined, if any.
    pub attached_to: Option<CaseId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Received {
    call_id: CallId,
    door: Door,
    caller: SubjectId,
    at: DateTime<Utc>,
}

/// The state of a call stream: the fold of its events. It holds no personal value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallState {
    received: Option<Received>,
    anonymous: bool,
    number_refused: bool,
    number_left: bool,
    caller_identified: bool,
    subjects: BTreeMap<SubjectId, Whose>,
    facts_recorded: usize,
    notes: usize,
    ended: Option<u32>,
    ended_at: Option<DateTime<Utc>>,
    attached_to: Option<CaseId>,
    erased: bool,
}

impl CallState {
    /// The caller's subject id, once the call is received.
    pub fn caller(&self) -> Option<SubjectId> {
        self.received.as_ref().map(|r| r.caller)
    }

    /// Which kind of person a subject of this call is, if it is one.
    pub fn subject(&self, id: SubjectId) -> Option<Whose> {
        self.subjects.get(&id).copied()
    }

    /// Whether the call was received.
    pub fn is_received(&self) -> bool {
        self.received.is_some()
    }

    /// Which door answered, once received.
    pub fn door(&self) -> Option<Door> {
        self.received.as_ref().map(|r| r.door)
    }

    /// Whether the caller asked to stay anonymous.
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// Whether the caller's name or address is recorded (and not withdrawn by a later
    /// request for anonymity).
    pub fn caller_identified(&self) -> bool {
        self.caller_identified
    }

    /// Whether the caller can be called back from this call.
    pub fn number(&self) -> NumberStatus {
        if self.number_refused {
            NumberStatus::Refused
        } else if self.number_left {
            NumberStatus::Left
        } else {
            NumberStatus::NotLeft
        }
    }

    /// The call's duration in seconds, once ended.
    pub fn duration_seconds(&self) -> Option<u32> {
        self.ended
    }

    /// The case the call joined, if any.
    pub fn attached_to(&self) -> Option<CaseId> {
        self.attached_to
    }

    /// Every subject of the call: the caller and each person described.
    pub fn subjects(&self) -> &BTreeMap<SubjectId, Whose> {
        &self.subjects
    }

    /// Whether the retention rule erased the call's persons.
    pub fn is_erased(&self) -> bool {
        self.erased
    }

    /// Whether the unattached-call retention rule is due for this call at `now`: it
    /// never joined a case, and the period ran from its end (or, never ended, from
    /// its reception).
    pub fn retention_due(&self, policy: &RetentionPolicy, now: DateTime<Utc>) -> bool {
        let Some(r) = &self.received else {
            return false;
        };
        let since = self.ended_at.unwrap_or(r.at);
        self.attached_to.is_none() && !self.erased && elapsed(policy.unattached_call, since, now)
    }

    /// What a case needs to know of this call, once it was received.
    pub fn summary(&self) -> Option<CallSummary> {
        let r = self.received.as_ref()?;
        Some(CallSummary {
            call_id: r.call_id,
            door: r.door,
            number: self.number(),
            subjects: self
                .subjects
                .iter()
                .map(|(id, whose)| Subject {
                    id: *id,
                    whose: *whose,
                })
                .collect(),
            ended: self.ended.is_some(),
            attached_to: self.attached_to,
        })
    }
}

pub(crate) fn check_text(field: &'static str, text: &Personal<String>) -> Result<(), DomainError> {
    let t = text.reveal().ok_or(DomainError::NotInClear { field })?;
    if t.trim().is_empty() {
        return Err(DomainError::EmptyText { field });
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(DomainError::TextTooLong {
            field,
            max: MAX_TEXT_CHARS,
        });
    }
    Ok(())
}

fn check_phone(number: &Personal<String>) -> Result<(), DomainError> {
    let n = number.reveal().ok_or(DomainError::NotInClear {
        field: "callback_number",
    })?;
    let digits = n.chars().filter(|c| c.is_ascii_digit()).count();
    let shape_ok = n
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-') || (c == '+' && i == 0));
    if !shape_ok || !(3..=20).contains(&digits) || n.len() > 32 {
        return Err(DomainError::InvalidPhoneNumber);
    }
    Ok(())
}

fn check_subject(
    field: &'static str,
    value: &Personal<String>,
    expected: Subject,
) -> Result<(), DomainError> {
    if value.subject() != expected {
        return Err(DomainError::SubjectMismatch { field });
    }
    Ok(())
}

/// Decides what a call command records, or why it is refused.
pub fn decide(
    state: &CallState,
    command: &CallCommand,
    ctx: &Context,
) -> Result<Vec<CallEvent>, DomainError> {
    let at = ctx.now;
    if state.erased {
        return Err(DomainError::CallErasedByRetention);
    }
    if let CallCommand::EraseByRetention = command {
        if !ctx.actor.has(Role::DataProtectionOfficer) {
            return Err(DomainError::NotTheDataProtectionOfficer);
        }
        let policy = ctx.retention.ok_or(DomainError::RetentionNotDue)?;
        if !state.retention_due(&policy, at) {
            return Err(DomainError::RetentionNotDue);
        }
        return Ok(vec![CallEvent::CallPersonsErased(CallPersonsErased {
            rule: RetentionRule::UnattachedCall,
            subjects: state.subjects.keys().copied().collect(),
            at,
        })]);
    }
    let received = match (&state.received, command) {
        (
            None,
            CallCommand::Receive {
                call_id,
                caller,
                answer,
            },
        ) => {
            let door = match *answer {
                Answer::PlatformListener => {
                    if !ctx.actor.has(Role::PlatformListener) {
                        return Err(DomainError::NotAPlatformListener(ctx.actor.id));
                    }
                    let team = ctx.actor.team.ok_or(DomainError::ListenerWithoutTeam)?;
                    Door::Platform {
                        listener: ctx.actor.id,
                        team,
                    }
                }
                Answer::VolunteerPair { centre, pair } => {
                    if !pair.contains(ctx.actor.id) {
                        return Err(DomainError::ActorNotAnswerer);
                    }
                    for member in pair.members() {
                        let s = ctx.staff(member)?;
                        let eligible = s.has(Role::Volunteer) && s.accredited_at(centre);
                        // The refusal describes the actor, never the partner they
                        // named: their roles and accreditations are not the
                        // actor's to learn.
                        if !eligible && member != ctx.actor.id {
                            return Err(DomainError::PartnerCannotAnswer);
                        }
                        if !s.has(Role::Volunteer) {
                            return Err(DomainError::NotAVolunteer(member));
                        }
                        if !s.accredited_at(centre) {
                            return Err(DomainError::NotAccreditedAtCentre {
                                staff: member,
                                centre: CentreId::Departement(centre),
                            });
                        }
                    }
                    Door::Centre { centre, pair }
                }
            };
            return Ok(vec![CallEvent::CallReceived(CallReceived {
                call_id: *call_id,
                door,
                caller: *caller,
                at,
            })]);
        }
        (Some(_), CallCommand::Receive { .. }) => return Err(DomainError::CallAlreadyReceived),
        (None, _) => return Err(DomainError::CallNotReceived),
        (Some(r), _) => r,
    };
    if !received.door.may_record(&ctx.actor) {
        return Err(DomainError::ActorNotAnswerer);
    }
    if let Some(case_id) = state.attached_to {
        return Err(DomainError::CallAlreadyAttached(case_id));
    }
    let caller = Subject::caller(received.caller);
    let event = match command {
        CallCommand::Receive { .. } => return Err(DomainError::CallAlreadyReceived),
        CallCommand::RequestAnonymity => {
            if state.anonymous {
                return Err(DomainError::AlreadyAnonymous);
            }
            CallEvent::AnonymityRequested(AnonymityRequested { at })
        }
        CallCommand::RefuseNumberRetention => {
            if state.number_refused {
                return Err(DomainError::NumberRetentionAlreadyRefused);
            }
            CallEvent::NumberRetentionRefused(NumberRetentionRefused { at })
        }
        CallCommand::RecordCallbackNumber(number) => {
            if state.number_refused {
                return Err(DomainError::NumberRetentionRefused);
            }
            check_subject("callback_number", number, caller)?;
            check_phone(number)?;
            CallEvent::CallbackNumberRecorded(CallbackNumberRecorded {
                number: number.clone(),
                at,
            })
        }
        CallCommand::DescribePerson(p) => {
            let whose = if p.person == received.caller {
                Whose::Caller
            } else if p.role == PersonRole::Victim {
                Whose::Victim
            } else {
                Whose::OtherPerson
            };
            if let Some(known) = state.subjects.get(&p.person) {
                if *known != whose {
                    return Err(DomainError::SubjectMismatch { field: "person" });
                }
            }
            let subject = Subject {
                id: p.person,
                whose,
            };
            if whose == Whose::Caller
                && state.anonymous
                && (p.name.is_some() || p.address.is_some())
            {
                return Err(DomainError::AnonymousCaller);
            }
            for (field, value) in [
                ("name", &p.name),
                ("address", &p.address),
                ("description", &p.description),
            ] {
                if let Some(v) = value {
                    check_subject(field, v, subject)?;
                    check_text(field, v)?;
                }
            }
            CallEvent::PersonDescribed(PersonDescribed {
                person: p.clone(),
                at,
            })
        }
        CallCommand::RecordFacts(facts) => {
            if facts.abuse_kinds.is_empty() {
                return Err(DomainError::NoAbuseKind);
            }
            CallEvent::FactsRecorded(FactsRecorded {
                facts: facts.clone(),
                at,
            })
        }
        CallCommand::AddNote(note) => {
            let s = note.subject();
            match state.subjects.get(&s.id) {
                None => return Err(DomainError::UnknownSubject(s.id)),
                Some(w) if *w != s.whose => {
                    return Err(DomainError::SubjectMismatch { field: "note" })
                }
                Some(_) => {}
            }
            check_text("note", note)?;
            CallEvent::ListeningNoteRecorded(ListeningNoteRecorded {
                note: note.clone(),
                at,
            })
        }
        CallCommand::End => {
            if state.ended.is_some() {
                return Err(DomainError::CallAlreadyEnded);
            }
            let seconds = (at - received.at).num_seconds();
            let duration_seconds =
                u32::try_from(seconds).map_err(|_| DomainError::EndedBeforeReceived)?;
            CallEvent::CallEnded(CallEnded {
                duration_seconds,
                at,
            })
        }
        CallCommand::EraseByRetention => return Err(DomainError::RetentionNotDue),
        CallCommand::AttachToCase { case_id, new_case } => {
            if state.ended.is_none() {
                return Err(DomainError::CallNotEnded);
            }
            CallEvent::CallAttachedToCase(CallAttachedToCase {
                case_id: *case_id,
                new_case: *new_case,
                at,
            })
        }
    };
    Ok(vec![event])
}

/// Applies one event to the state. The fold never fails; an event out of place leaves
/// the state as it was.
pub fn evolve(mut state: CallState, event: &CallEvent) -> CallState {
    match event {
        CallEvent::CallReceived(e) => {
            state.received = Some(Received {
                call_id: e.call_id,
                door: e.door,
                caller: e.caller,
                at: e.at,
            });
            state.subjects.insert(e.caller, Whose::Caller);
        }
        CallEvent::AnonymityRequested(_) => {
            state.anonymous = true;
            state.caller_identified = false;
        }
        CallEvent::NumberRetentionRefused(_) => {
            state.number_refused = true;
            state.number_left = false;
        }
        CallEvent::CallbackNumberRecorded(_) => state.number_left = true,
        CallEvent::PersonDescribed(e) => {
            let p = &e.person;
            let is_caller = state
                .received
                .as_ref()
                .is_some_and(|r| r.caller == p.person);
            let whose = if is_caller {
                Whose::Caller
            } else if p.role == PersonRole::Victim {
                Whose::Victim
            } else {
                Whose::OtherPerson
            };
            state.subjects.entry(p.person).or_insert(whose);
            if is_caller && (p.name.is_some() || p.address.is_some()) {
                state.caller_identified = true;
            }
        }
        CallEvent::FactsRecorded(_) => state.facts_recorded += 1,
        CallEvent::ListeningNoteRecorded(_) => state.notes += 1,
        CallEvent::CallEnded(e) => {
            state.ended = Some(e.duration_seconds);
            state.ended_at = Some(e.at);
        }
        CallEvent::CallAttachedToCase(e) => state.attached_to = Some(e.case_id),
        CallEvent::CallPersonsErased(_) => state.erased = true,
    }
    state
}

/// Folds a call stream's events into its state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a CallEvent>) -> CallState {
    events.into_iter().fold(CallState::default(), evolve)
}
