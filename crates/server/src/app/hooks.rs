//! What the helpline does around each commit: its codec, sealing personal values
//! under their subjects' keys before they reach the log, and destroying keys only
//! once the decision that destroys them is in the log.

use std::sync::Arc;

use ecoute_domain::call::CallEvent;
use ecoute_domain::subject::SubjectEvent;
use ecoute_domain::{Event, HasPersonalData, Subject, SubjectId};
use ecoute_engine::async_trait;
use ecoute_engine::{Append, BoxError, Codec, CommitHooks, Encoded, Loaded};
use ecoute_store::RecordedEvent;
use uuid::Uuid;

use crate::error::AppError;
use crate::keys::{number_slot, KeyStore};

/// The domain's events, as the store keeps them.
pub(crate) struct HelplineCodec;

impl Codec for HelplineCodec {
    type Event = Event;

    fn encode(&self, event: &Event) -> Result<Encoded, BoxError> {
        let enc = ecoute_domain::encode(event)?;
        Ok(Encoded {
            type_name: enc.type_name.to_string(),
            schema_version: u32::from(enc.schema_version),
            payload: enc.payload,
        })
    }

    fn decode(&self, stored: &RecordedEvent) -> Result<Event, BoxError> {
        Ok(crate::auth::decode(stored)?)
    }
}

/// Seals personal values before the append; destroys keys after it.
pub(crate) struct Sealing {
    keys: Arc<KeyStore>,
}

impl Sealing {
    pub(crate) fn new(keys: Arc<KeyStore>) -> Self {
        Sealing { keys }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&KeyStore) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || work(&keys))
            .await
            .map_err(|e| AppError::fault("key task failed", e))?
    }
}

#[async_trait]
impl CommitHooks<Event> for Sealing {
    type Error = AppError;
    type Work = Vec<SubjectId>;

    /// Seals every personal value with its subject's key, creating (durably) the
    /// keys of new subjects first, and refuses a commit that would still hold one in
    /// clear: nothing personal reaches the log in clear.
    async fn prepare(&self, appends: &mut [Append<Event>]) -> Result<(), AppError> {
        let mut subjects = Vec::new();
        for a in appends.iter_mut() {
            for e in a.events.iter_mut() {
                let number = is_number(e);
                subjects.extend(
                    e.personal_values_mut()
                        .iter()
                        .map(|v| key_slot(number, v.subject()).id),
                );
            }
        }
        if !subjects.is_empty() {
            self.blocking(move |keys| keys.ensure(&subjects)).await?;
        }
        for a in appends.iter_mut() {
            for e in a.events.iter_mut() {
                let number = is_number(e);
                for v in e.personal_values_mut() {
                    v.seal(|subject, plain| self.keys.seal(key_slot(number, subject), plain))?;
                }
                if e.personal_values_mut().iter().any(|v| {
                    v.is_clear() || matches!(v.protected(), ecoute_domain::Protected::Withheld)
                }) {
                    return Err(AppError::internal(format!(
                        "{} would reach the log with a personal value in clear or withheld",
                        e.type_name()
                    )));
                }
            }
        }
        Ok(())
    }

    fn work(&self, loaded: &Loaded<Event>, appends: &[Append<Event>]) -> Option<Vec<SubjectId>> {
        let keys = destructions(loaded, appends);
        (!keys.is_empty()).then_some(keys)
    }

    async fn intend(&self, commit: Uuid, work: &Vec<SubjectId>) -> Result<(), AppError> {
        let work = work.clone();
        self.blocking(move |keys| keys.intend(commit, &work)).await
    }

    async fn carry_out(&self, commit: Uuid, work: &Vec<SubjectId>) -> Result<(), AppError> {
        let work = work.clone();
        self.blocking(move |keys| keys.carry_out(commit, &work))
            .await
    }

    async fn forget(&self, commit: Uuid) -> Result<(), AppError> {
        self.blocking(move |keys| keys.forget(commit)).await
    }

    async fn pending(&self) -> Result<Vec<(Uuid, Vec<SubjectId>)>, AppError> {
        self.blocking(|keys| keys.pending()).await
    }

    /// Keeps the request's digest keyed by the keys of every person whose values
    /// the commit holds (or, when it holds none, by a key of the server's): once
    /// any of them is erased, what is kept can no longer confirm a guess of what
    /// the request said.
    async fn keep_fingerprint(
        &self,
        fingerprint: &[u8; 32],
        appends: &[Append<Event>],
    ) -> Result<String, AppError> {
        let slots = fingerprint_slots(appends.iter().flat_map(|a| &a.events));
        let fingerprint = *fingerprint;
        self.blocking(move |keys| {
            if slots == [REQUESTS_SLOT] {
                keys.ensure(&slots)?;
            }
            keyed_fingerprint(keys, &slots, fingerprint)?
                .ok_or_else(|| AppError::Gone("the data of this person".into()))
        })
        .await
    }

    async fn same_fingerprint(
        &self,
        kept: &str,
        fingerprint: &[u8; 32],
        first: &[Event],
    ) -> Result<Option<bool>, AppError> {
        let slots = fingerprint_slots(first);
        let fingerprint = *fingerprint;
        let kept = kept.to_string();
        self.blocking(move |keys| {
            Ok(keyed_fingerprint(keys, &slots, fingerprint)?.map(|now| now == kept))
        })
        .await
    }
}

/// The key slot that keys the fingerprints of requests whose commit holds no
/// personal value (a key of the server's, not a person's).
const REQUESTS_SLOT: SubjectId =
    SubjectId::from_uuid(Uuid::from_u128(0x6563_6f75_7465_2d72_6571_7565_7374_7331));

/// The key slots of the personal values `events` hold, sorted, each once; the
/// server's own slot when they hold none.
fn fingerprint_slots<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<SubjectId> {
    let mut slots: Vec<SubjectId> = events
        .into_iter()
        .flat_map(|e| {
            let number = is_number(e);
            e.personal_fields()
                .into_iter()
                .map(move |f| key_slot(number, f.subject).id)
        })
        .collect();
    slots.sort_unstable();
    slots.dedup();
    if slots.is_empty() {
        slots.push(REQUESTS_SLOT);
    }
    slots
}

/// The fingerprint keyed in turn by each slot's key, in hex; `None` when one of
/// them was destroyed.
fn keyed_fingerprint(
    keys: &KeyStore,
    slots: &[SubjectId],
    fingerprint: [u8; 32],
) -> Result<Option<String>, AppError> {
    let mut acc = fingerprint;
    for slot in slots {
        match keys.mac(*slot, &acc)? {
            Some(next) => acc = next,
            None => return Ok(None),
        }
    }
    Ok(Some(acc.iter().map(|b| format!("{b:02x}")).collect()))
}

/// The keys a decided commit destroys once it is in the log: a refused number's
/// own key, an erased subject's keys, a number erased by retention. Every key destruction of the server is named
/// here.
fn destructions(loaded: &Loaded<Event>, appends: &[Append<Event>]) -> Vec<SubjectId> {
    let mut keys = Vec::new();
    for a in appends {
        let (before, _) = loaded.events(&a.stream);
        for e in &a.events {
            match e {
                Event::Call(CallEvent::NumberRetentionRefused(_)) => {
                    let call = ecoute_domain::event::fold_call(before.iter().chain(&a.events));
                    keys.extend(call.caller().map(number_slot));
                }
                Event::Subject(SubjectEvent::SubjectErased(erased)) => {
                    keys.push(erased.subject);
                    keys.push(number_slot(erased.subject));
                }
                // The callback-number retention rule: the number's slot alone.
                Event::Subject(SubjectEvent::NumberErased(erased)) => {
                    keys.push(number_slot(erased.subject));
                }
                _ => {}
            }
        }
    }
    keys
}

/// Opens the personal values of an event read from the log, for an entitled reader;
/// values of erased subjects become `Erased`.
pub(crate) fn open_values(keys: &KeyStore, event: &mut Event) -> Result<(), AppError> {
    let number = is_number(event);
    for v in event.personal_values_mut() {
        v.open(|subject, sealed| keys.unseal(key_slot(number, subject), sealed))?;
    }
    Ok(())
}

/// Whether the event records a callback number, sealed under its own key slot.
fn is_number(event: &Event) -> bool {
    matches!(event, Event::Call(CallEvent::CallbackNumberRecorded(_)))
}

/// The key a value is sealed under: its subject's, or for a callback number, the
/// number's own slot (see [`number_slot`]).
fn key_slot(number: bool, subject: Subject) -> Subject {
    if number {
        Subject {
            id: number_slot(subject.id),
            whose: subject.whose,
        }
    } else {
        subject
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecoute_domain::subject::{ErasureReason, NumberErased, SubjectErased};
    use ecoute_domain::RetentionRule;

    fn subject(n: u128) -> SubjectId {
        SubjectId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn every_erasure_names_its_keys_for_after_the_commit() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let (a, b) = (subject(1), subject(2));
        let check = |events: Vec<SubjectEvent>, expected: Vec<SubjectId>| {
            let appends = [Append::new(
                "subject-x",
                ecoute_store::ExpectedVersion::Any,
                events,
            )];
            assert_eq!(destructions(&Loaded::default(), &appends), expected);
        };
        // A person erased (on request or by a rule): their key and their number's.
        check(
            vec![SubjectEvent::SubjectErased(SubjectErased {
                subject: a,
                reason: ErasureReason::Retention,
                rule: Some(RetentionRule::UnattachedCall),
                at,
            })],
            vec![a, number_slot(a)],
        );
        // A number erased by the callback-number rule: its slot alone.
        check(
            vec![SubjectEvent::NumberErased(NumberErased {
                subject: b,
                rule: RetentionRule::CallbackNumber,
                at,
            })],
            vec![number_slot(b)],
        );
    }
}
