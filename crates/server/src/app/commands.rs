//! The commands on calls and cases: who may give them, how they become the domain's
//! commands, one runner call each — and a call joining a case, one decision over two
//! streams.

use ecoute_domain::call::{Answer, CallCommand, CallState, PersonDescription};
use ecoute_domain::case::{CaseCommand, CaseState};
use ecoute_domain::vocabulary::{AgeBand, PersonRole, Relation, SolutionKind};
use ecoute_domain::{
    call_stream, case_stream, join_case, CallId, Calls, CaseId, Cases, CentreId, Decider, Personal,
    SolutionId, StaffId, Subject, SubjectId, Whose,
};

use super::{Actor, App, Append, Outcome};
use crate::access::{self, Action};
use crate::error::AppError;

/// A person the caller speaks of, as the listener describes them.
#[derive(Debug, Clone)]
pub struct PersonInput {
    /// An already described person of this call, to describe again; `None` for a new
    /// person (or the caller, with `is_caller`).
    pub person: Option<SubjectId>,
    /// True when the caller speaks of themself.
    pub is_caller: bool,
    /// Victim, close circle, professional or implicated person.
    pub role: PersonRole,
    /// How the person is related to the victim.
    pub relation: Relation,
    /// The person's age band.
    pub age_band: AgeBand,
    /// Whether the person lives with the victim, when known.
    pub lives_with_victim: Option<bool>,
    /// The person's name, if given.
    pub name: Option<String>,
    /// The person's address, if given.
    pub address: Option<String>,
    /// What the caller says of the person.
    pub description: Option<String>,
}

/// What answering a call created.
#[derive(Debug, Clone)]
pub struct Reception {
    /// What was appended.
    pub outcome: Outcome,
    /// The new call.
    pub call: CallId,
    /// The caller's subject id.
    pub caller: SubjectId,
}

/// The received call, visible to the actor, or "no such call".
fn visible_call(actor: &Actor, state: &CallState) -> Result<(), AppError> {
    let door = state.door().ok_or(AppError::NotFound("call"))?;
    if !access::allowed(actor.snapshot(), Action::ActOnCall(door.centre())) {
        return Err(AppError::NotFound("call"));
    }
    Ok(())
}

/// The opened case, one the actor may act on, or "no such case".
fn actionable_case(actor: &Actor, state: &CaseState) -> Result<(), AppError> {
    let centre = state.centre().ok_or(AppError::NotFound("case"))?;
    if !access::allowed(actor.snapshot(), Action::ActOnCase(centre)) {
        return Err(AppError::NotFound("case"));
    }
    Ok(())
}

/// The subject a case text is about: `about`, or the caller of the case's first call.
fn subject_of(case: &CaseState, about: Option<SubjectId>) -> Result<Subject, AppError> {
    match about {
        Some(id) => {
            let whose = case
                .subject(id)
                .ok_or_else(|| AppError::bad("about", "not a person of this case"))?;
            Ok(Subject { id, whose })
        }
        None => case
            .calls()
            .flat_map(|c| c.subjects.iter())
            .find(|(_, w)| **w == Whose::Caller)
            .map(|(id, whose)| Subject {
                id: *id,
                whose: *whose,
            })
            .ok_or(AppError::NotFound("case")),
    }
}

impl App {
    /// A call is answered: at the national platform by the actor, or at a centre by
    /// the pair the actor belongs to.
    pub async fn receive_call(&self, actor: &Actor, answer: Answer) -> Result<Reception, AppError> {
        let (centre, partner) = match answer {
            Answer::PlatformListener => (CentreId::NationalPlatform, None),
            Answer::VolunteerPair { centre, pair } => (
                CentreId::Departement(centre),
                pair.members().into_iter().find(|m| *m != actor.id()),
            ),
        };
        self.check(actor, Action::ReceiveCall(centre), None).await?;
        let ids = actor.ids();
        let call = CallId::from_uuid(ids.uuid("call"));
        let caller = SubjectId::from_uuid(ids.uuid("caller"));
        let command = CallCommand::Receive {
            call_id: call,
            caller,
            answer,
        };
        let streams = vec![call_stream(call)];
        let outcome = self
            .run(actor, actor.new_target(), streams, |loaded, now| {
                let (state, expected) = loaded.fold::<Calls>(&call);
                let ctx = self.context(actor.snapshot(), now, partner)?;
                let events = Calls::decide(&state, &command, &ctx)?;
                Ok(vec![Append::new(call_stream(call), expected, events)])
            })
            .await?;
        Ok(Reception {
            outcome,
            call,
            caller,
        })
    }

    /// Runs a command on a call the actor may see, built from the call as it stands;
    /// an unknown or hidden call is "not found", and the attempt is recorded.
    async fn on_call(
        &self,
        actor: &Actor,
        id: CallId,
        make: impl Fn(&CallState) -> Result<CallCommand, AppError> + Send + Sync,
    ) -> Result<Outcome, AppError> {
        let result = self
            .run(
                actor,
                actor.target(id),
                vec![call_stream(id)],
                |loaded, now| {
                    let (call, expected) = loaded.fold::<Calls>(&id);
                    visible_call(actor, &call)?;
                    let command = make(&call)?;
                    let ctx = self.context(actor.snapshot(), now, [])?;
                    let events = Calls::decide(&call, &command, &ctx)?;
                    Ok(vec![Append::new(call_stream(id), expected, events)])
                },
            )
            .await;
        let action = Action::ActOnCall(CentreId::NationalPlatform);
        self.record_not_found(actor, action, None, result).await
    }

    /// A command on a call that needs nothing of the call's state (anonymity, the
    /// refusal that the number be kept, facts, the end).
    pub async fn call_command(
        &self,
        actor: &Actor,
        id: CallId,
        command: CallCommand,
    ) -> Result<Outcome, AppError> {
        self.on_call(actor, id, |_| Ok(command.clone())).await
    }

    /// The caller leaves a number to be called back on.
    pub async fn record_callback_number(
        &self,
        actor: &Actor,
        id: CallId,
        number: &str,
    ) -> Result<Outcome, AppError> {
        self.on_call(actor, id, |call| {
            let caller = call.caller().ok_or(AppError::NotFound("call"))?;
            Ok(CallCommand::RecordCallbackNumber(Personal::new(
                Subject::caller(caller),
                number.to_string(),
            )))
        })
        .await
    }

    /// Records a person the caller speaks of (or the caller themself); answers with
    /// the person's subject id.
    pub async fn describe_person(
        &self,
        actor: &Actor,
        id: CallId,
        p: &PersonInput,
    ) -> Result<(Outcome, SubjectId), AppError> {
        if p.is_caller && p.person.is_some() {
            return Err(AppError::bad(
                "person_id",
                "give either person_id or is_caller",
            ));
        }
        let new_person = p
            .person
            .unwrap_or_else(|| SubjectId::from_uuid(actor.ids().uuid("subject")));
        let outcome = self
            .on_call(actor, id, |call| {
                let caller = call.caller().ok_or(AppError::NotFound("call"))?;
                // A person id is new (drawn here) or one of this call's: never another
                // call's person, whose access answer and erasure it would change.
                if p.person.is_some_and(|known| call.subject(known).is_none()) {
                    return Err(AppError::bad("person_id", "not a person of this call"));
                }
                let person = if p.is_caller { caller } else { new_person };
                let whose = call.subject(person).unwrap_or(if person == caller {
                    Whose::Caller
                } else if p.role == PersonRole::Victim {
                    Whose::Victim
                } else {
                    Whose::OtherPerson
                });
                let subject = Subject { id: person, whose };
                let personal = |v: &Option<String>| v.clone().map(|v| Personal::new(subject, v));
                Ok(CallCommand::DescribePerson(PersonDescription {
                    person,
                    role: p.role,
                    relation: p.relation,
                    age_band: p.age_band,
                    lives_with_victim: p.lives_with_victim,
                    name: personal(&p.name),
                    address: personal(&p.address),
                    description: personal(&p.description),
                }))
            })
            .await?;
        let person = if p.is_caller {
            self.call_state(id)
                .await?
                .and_then(|c| c.caller())
                .ok_or(AppError::NotFound("call"))?
        } else {
            new_person
        };
        Ok((outcome, person))
    }

    /// Records a note of the conversation about a person of the call (default: the
    /// caller).
    pub async fn add_note(
        &self,
        actor: &Actor,
        id: CallId,
        text: &str,
        about: Option<SubjectId>,
    ) -> Result<Outcome, AppError> {
        self.on_call(actor, id, |call| {
            let caller = call.caller().ok_or(AppError::NotFound("call"))?;
            let about = about.unwrap_or(caller);
            let whose = call
                .subject(about)
                .ok_or_else(|| AppError::bad("about", "not a person of this call"))?;
            Ok(CallCommand::AddNote(Personal::new(
                Subject { id: about, whose },
                text.to_string(),
            )))
        })
        .await
    }

    /// An ended call joins a case — a new one opened at the call's centre, or an
    /// existing one the actor may act on — and `then` (a transfer) is decided on the
    /// case in the same commit.
    pub async fn join_case(
        &self,
        actor: &Actor,
        id: CallId,
        existing: Option<CaseId>,
        then: Option<CaseCommand>,
    ) -> Result<(Outcome, CaseId), AppError> {
        let case_id = existing.unwrap_or_else(|| CaseId::from_uuid(actor.ids().uuid("case")));
        let streams = vec![call_stream(id), case_stream(case_id)];
        let result = self
            .run(actor, actor.target(id), streams, |loaded, now| {
                let (call, call_expected) = loaded.fold::<Calls>(&id);
                visible_call(actor, &call)?;
                let (case, case_expected) = loaded.fold::<Cases>(&case_id);
                if existing.is_some() {
                    actionable_case(actor, &case)?;
                }
                let ctx = self.context(actor.snapshot(), now, [])?;
                let joined = join_case(
                    &call,
                    &case,
                    case_id,
                    existing.is_none(),
                    then.as_ref(),
                    &ctx,
                )?;
                Ok(vec![
                    Append::new(call_stream(id), call_expected, joined.call),
                    Append::new(case_stream(case_id), case_expected, joined.case),
                ])
            })
            .await;
        let action = Action::ActOnCall(CentreId::NationalPlatform);
        let outcome = self
            .record_not_found(actor, action, existing, result)
            .await?;
        Ok((outcome, case_id))
    }

    /// Runs a command on a case the actor may act on, built from the case as it
    /// stands; `others` are the members the decision looks at. An unknown or hidden
    /// case is "not found", and the attempt is recorded.
    async fn on_case(
        &self,
        actor: &Actor,
        id: CaseId,
        others: &[StaffId],
        make: impl Fn(&CaseState) -> Result<CaseCommand, AppError> + Send + Sync,
    ) -> Result<Outcome, AppError> {
        let result = self
            .run(
                actor,
                actor.target(id),
                vec![case_stream(id)],
                |loaded, now| {
                    let (case, expected) = loaded.fold::<Cases>(&id);
                    actionable_case(actor, &case)?;
                    let command = make(&case)?;
                    let ctx = self.context(actor.snapshot(), now, others.iter().copied())?;
                    let events = Cases::decide(&case, &command, &ctx)?;
                    Ok(vec![Append::new(case_stream(id), expected, events)])
                },
            )
            .await;
        let action = Action::ActOnCase(CentreId::NationalPlatform);
        self.record_not_found(actor, action, Some(id), result).await
    }

    /// A command on a case that needs nothing of its state (a recontact attempt, a
    /// transfer, a consent, closing, reopening).
    pub async fn case_command(
        &self,
        actor: &Actor,
        id: CaseId,
        command: CaseCommand,
    ) -> Result<Outcome, AppError> {
        self.on_case(actor, id, &[], |_| Ok(command.clone())).await
    }

    /// Names the referent who follows the case.
    pub async fn assign_referent(
        &self,
        actor: &Actor,
        id: CaseId,
        referent: StaffId,
    ) -> Result<Outcome, AppError> {
        // The case is checked first (by `on_case`): a case the actor may not act on
        // answers 404 whoever is named, so staff ids cannot be probed through it.
        self.on_case(actor, id, &[referent], |_| {
            if self.staff.snapshot(referent).is_none() {
                return Err(AppError::bad("referent", "no such member of staff"));
            }
            Ok(CaseCommand::AssignReferent(referent))
        })
        .await
    }

    /// The referent records their analysis of the situation, about a person of the
    /// case (default: the caller).
    pub async fn record_analysis(
        &self,
        actor: &Actor,
        id: CaseId,
        text: &str,
        about: Option<SubjectId>,
    ) -> Result<Outcome, AppError> {
        self.on_case(actor, id, &[], |case| {
            let subject = subject_of(case, about)?;
            Ok(CaseCommand::RecordAnalysis(Personal::new(
                subject,
                text.to_string(),
            )))
        })
        .await
    }

    /// The referent proposes a solution; answers with its id.
    pub async fn propose_solution(
        &self,
        actor: &Actor,
        id: CaseId,
        kind: SolutionKind,
        description: &str,
        about: Option<SubjectId>,
    ) -> Result<(Outcome, SolutionId), AppError> {
        let solution = SolutionId::from_uuid(actor.ids().uuid("solution"));
        let outcome = self
            .on_case(actor, id, &[], |case| {
                Ok(CaseCommand::ProposeSolution {
                    solution_id: solution,
                    kind,
                    description: Personal::new(subject_of(case, about)?, description.to_string()),
                })
            })
            .await?;
        Ok((outcome, solution))
    }

    /// Records a step taken on a solution, about a person of the case (default: the
    /// caller).
    pub async fn take_action(
        &self,
        actor: &Actor,
        id: CaseId,
        solution: SolutionId,
        note: &str,
        about: Option<SubjectId>,
    ) -> Result<Outcome, AppError> {
        self.on_case(actor, id, &[], |case| {
            Ok(CaseCommand::TakeAction {
                solution_id: solution,
                note: Personal::new(subject_of(case, about)?, note.to_string()),
            })
        })
        .await
    }
}
