//! The runner's promises, on an in-memory store: decided again after a lost race,
//! a conflict after the retries, idempotent by key, several streams in one commit,
//! and irreversible work only once the commit is in the log.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ecoute_engine::{
    Append, BoxError, Codec, CommitHooks, Decider, Encoded, EngineError, Envelope, Ids, Loaded,
    NoHooks, Request, Runner, RunnerConfig,
};
use ecoute_store::{
    EventData, EventStore, ExpectedVersion, MemoryStore, RecordedEvent, StoreConfig, StreamId,
    SystemClock,
};
use uuid::Uuid;

/// A counter that refuses to go below zero; its events are the amounts added.
struct Counter;

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("would go below zero")]
    BelowZero,
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Never(#[from] ecoute_engine::Never),
}

impl Decider for Counter {
    type Id = &'static str;
    type State = i64;
    type Event = i64;
    type Command = i64;
    type Context = ();
    type Error = Error;

    fn stream(id: &&'static str) -> String {
        format!("counter-{id}")
    }

    fn evolve(state: i64, event: &i64) -> i64 {
        state + event
    }

    fn decide(state: &i64, add: &i64, _: &()) -> Result<Vec<i64>, Error> {
        if state + add < 0 {
            return Err(Error::BelowZero);
        }
        Ok(vec![*add])
    }
}

impl Envelope<Counter> for i64 {
    fn as_event(&self) -> Option<&i64> {
        Some(self)
    }
}

struct Amounts;

impl Codec for Amounts {
    type Event = i64;

    fn encode(&self, event: &i64) -> Result<Encoded, BoxError> {
        Ok(Encoded {
            type_name: "Added".into(),
            schema_version: 1,
            payload: event.to_be_bytes().to_vec(),
        })
    }

    fn decode(&self, stored: &RecordedEvent) -> Result<i64, BoxError> {
        let bytes: [u8; 8] = stored.payload.as_slice().try_into()?;
        Ok(i64::from_be_bytes(bytes))
    }
}

fn store() -> Arc<dyn EventStore> {
    Arc::new(MemoryStore::in_memory(StoreConfig::default()))
}

fn runner<H: CommitHooks<i64>>(store: &Arc<dyn EventStore>, hooks: H) -> Runner<Amounts, H> {
    Runner::new(
        store.clone(),
        Amounts,
        hooks,
        Arc::new(SystemClock),
        RunnerConfig {
            retries: 2,
            turns: 16,
        },
    )
}

fn request(ids: Ids) -> Request {
    Request {
        target: "add".into(),
        actor: None,
        correlation_id: Uuid::new_v4(),
        ids,
        fingerprint: None,
    }
}

fn add(n: i64) -> impl Fn(&i64, DateTime<Utc>) -> Result<(i64, ()), Error> + Send + Sync {
    move |_, _| Ok((n, ()))
}

/// Another process appends to the counter's stream behind the runner's back.
async fn interfere(store: &Arc<dyn EventStore>, id: &'static str) {
    let stream = StreamId::new(Counter::stream(&id)).unwrap();
    let event = EventData::new(Uuid::new_v4(), "Added", 1, 5i64.to_be_bytes().to_vec());
    store
        .append_to_stream(stream, ExpectedVersion::Any, vec![event])
        .await
        .unwrap();
}

/// The same, from inside a decision (a closure run by the runner): on a thread of
/// its own, with a runtime of its own.
fn interfere_now(store: &Arc<dyn EventStore>, id: &'static str) {
    let store = store.clone();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(interfere(&store, id))
    })
    .join()
    .expect("the other writer appended");
}

/// Counts a decision; the first one is overtaken by another writer.
fn overtake_first(tries: &Mutex<usize>, store: &Arc<dyn EventStore>) {
    let mut n = tries.lock().unwrap();
    *n += 1;
    if *n == 1 {
        interfere_now(store, "a");
    }
}

async fn value(runner: &Runner<Amounts, impl CommitHooks<i64>>, id: &'static str) -> i64 {
    let loaded = runner.load(&[Counter::stream(&id)]).await.unwrap();
    loaded.fold::<Counter>(&id).0
}

#[tokio::test]
async fn a_command_that_lost_a_race_is_decided_again_on_fresh_state() {
    let store = store();
    let r = runner(&store, NoHooks);
    let tries = Mutex::new(0);
    let outcome = r
        .run(
            &request(Ids::random()),
            vec![Counter::stream(&"a")],
            |loaded, _| {
                let (state, expected) = loaded.fold::<Counter>(&"a");
                // The first decision is overtaken by another writer.
                overtake_first(&tries, &store);
                // Take away all there is: on stale state this would go below zero.
                Ok::<_, Error>(vec![Append::new(
                    Counter::stream(&"a"),
                    expected,
                    Counter::decide(&state, &-state, &())?,
                )])
            },
        )
        .await
        .unwrap();
    assert_eq!((outcome.lost_races, *tries.lock().unwrap()), (1, 2));
    assert_eq!(value(&r, "a").await, 0);
}

#[tokio::test]
async fn a_command_that_keeps_losing_answers_a_conflict_and_appends_nothing() {
    let store = store();
    let r = runner(&store, NoHooks);
    let result = r
        .run(
            &request(Ids::random()),
            vec![Counter::stream(&"a")],
            |loaded, _| {
                let (_, expected) = loaded.fold::<Counter>(&"a");
                interfere_now(&store, "a");
                Ok::<_, Error>(vec![Append::new(Counter::stream(&"a"), expected, [1i64])])
            },
        )
        .await;
    assert!(
        matches!(
            result,
            Err(Error::Engine(EngineError::Conflict { tries: 3 }))
        ),
        "{result:?}"
    );
    assert_eq!(
        value(&r, "a").await,
        15,
        "only the other writer's three events"
    );
}

#[tokio::test]
async fn a_retried_request_is_answered_from_its_first_commit() {
    let store = store();
    let r = runner(&store, NoHooks);
    let key = Ids::from_key(b"me", "k1");
    let first = r
        .handle::<Counter, Error, _>(&request(key.clone()), &"a", add(2))
        .await
        .unwrap();
    let again = r
        .handle::<Counter, Error, _>(&request(key.clone()), &"a", add(2))
        .await
        .unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.first_position, again.first_position);
    assert_eq!(value(&r, "a").await, 2);
    // The same key for another request is refused.
    let other = Request {
        target: "another".into(),
        ..request(key)
    };
    let reused = r.handle::<Counter, Error, _>(&other, &"a", add(2)).await;
    assert!(
        matches!(&reused, Err(Error::Engine(EngineError::KeyReused { first })) if first == "add"),
        "{reused:?}"
    );
    assert_eq!(value(&r, "a").await, 2);
}

#[tokio::test]
async fn a_key_sent_again_with_another_fingerprint_is_refused() {
    let store = store();
    let r = runner(&store, NoHooks);
    let asked = |key: &str, body: u8| Request {
        fingerprint: Some([body; 32]),
        ..request(Ids::from_key(b"me", key))
    };
    r.handle::<Counter, Error, _>(&asked("k", 1), &"a", add(2))
        .await
        .unwrap();
    let same = r
        .handle::<Counter, Error, _>(&asked("k", 1), &"a", add(2))
        .await
        .unwrap();
    assert!(same.replayed);
    let other = r
        .handle::<Counter, Error, _>(&asked("k", 2), &"a", add(5))
        .await;
    assert!(
        matches!(&other, Err(Error::Engine(EngineError::KeyReused { first })) if first == "add"),
        "{other:?}"
    );
    // A retry that brings no fingerprint is compared on its target only.
    let bare = r
        .handle::<Counter, Error, _>(&request(Ids::from_key(b"me", "k")), &"a", add(2))
        .await
        .unwrap();
    assert!(bare.replayed);
    assert_eq!(value(&r, "a").await, 2, "nothing but the first commit");
}

#[tokio::test]
async fn a_decision_over_two_streams_is_one_commit() {
    let store = store();
    let r = runner(&store, NoHooks);
    r.handle::<Counter, Error, _>(&request(Ids::random()), &"a", add(3))
        .await
        .unwrap();
    // Move 3 from a to b, or nothing.
    let streams = vec![Counter::stream(&"a"), Counter::stream(&"b")];
    let moved = r
        .run(&request(Ids::random()), streams.clone(), |loaded, _| {
            let (a, va) = loaded.fold::<Counter>(&"a");
            let (b, vb) = loaded.fold::<Counter>(&"b");
            Ok::<_, Error>(vec![
                Append::new(Counter::stream(&"a"), va, Counter::decide(&a, &-3, &())?),
                Append::new(Counter::stream(&"b"), vb, Counter::decide(&b, &3, &())?),
            ])
        })
        .await
        .unwrap();
    assert_eq!(moved.streams.len(), 2);
    assert_eq!(moved.last_position, moved.first_position + 1);
    // Again: a would go below zero, so b gets nothing either.
    let refused = r
        .run(&request(Ids::random()), streams, |loaded, _| {
            let (a, va) = loaded.fold::<Counter>(&"a");
            let (b, vb) = loaded.fold::<Counter>(&"b");
            Ok::<_, Error>(vec![
                Append::new(Counter::stream(&"b"), vb, Counter::decide(&b, &3, &())?),
                Append::new(Counter::stream(&"a"), va, Counter::decide(&a, &-3, &())?),
            ])
        })
        .await;
    assert!(matches!(refused, Err(Error::BelowZero)));
    assert_eq!((value(&r, "a").await, value(&r, "b").await), (0, 3));
}

#[derive(Debug, thiserror::Error)]
#[error("hook failed")]
struct HookError;

/// Hooks that note every call; a negative amount is "irreversible work".
#[derive(Default, Clone)]
struct Journal {
    calls: Arc<Mutex<Vec<String>>>,
    intents: Arc<Mutex<Vec<(Uuid, i64)>>>,
    fail_next_carry_out: Arc<std::sync::atomic::AtomicBool>,
}

impl Journal {
    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
    fn note(&self, s: String) {
        self.calls.lock().unwrap().push(s);
    }
}

#[async_trait]
impl CommitHooks<i64> for Journal {
    type Error = HookError;
    type Work = i64;

    fn work(&self, _: &Loaded<i64>, appends: &[Append<i64>]) -> Option<i64> {
        appends
            .iter()
            .flat_map(|a| &a.events)
            .copied()
            .find(|n| *n < 0)
    }

    async fn intend(&self, commit: Uuid, work: &i64) -> Result<(), HookError> {
        self.note(format!("intend {work}"));
        self.intents.lock().unwrap().push((commit, *work));
        Ok(())
    }

    async fn carry_out(&self, commit: Uuid, work: &i64) -> Result<(), HookError> {
        if self
            .fail_next_carry_out
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.note(format!("carry out {work} failed"));
            return Err(HookError);
        }
        self.note(format!("carry out {work}"));
        self.intents.lock().unwrap().retain(|(c, _)| *c != commit);
        Ok(())
    }

    async fn forget(&self, commit: Uuid) -> Result<(), HookError> {
        self.note("forget".into());
        self.intents.lock().unwrap().retain(|(c, _)| *c != commit);
        Ok(())
    }

    async fn pending(&self) -> Result<Vec<(Uuid, i64)>, HookError> {
        Ok(self.intents.lock().unwrap().clone())
    }
}

#[tokio::test]
async fn irreversible_work_waits_for_the_commit() {
    let store = store();
    let journal = Journal::default();
    let r = runner(&store, journal.clone());
    r.handle::<Counter, Error, _>(&request(Ids::random()), &"a", add(2))
        .await
        .unwrap();
    assert_eq!(journal.calls(), Vec::<String>::new(), "no work, no intent");
    // Refused by the decision: nothing at all.
    let refused = r
        .handle::<Counter, Error, _>(&request(Ids::random()), &"a", add(-5))
        .await;
    assert!(matches!(refused, Err(Error::BelowZero)));
    assert_eq!(journal.calls(), Vec::<String>::new());
    // Accepted: intent, append, then the work.
    let head = store.head().await.unwrap();
    r.handle::<Counter, Error, _>(&request(Ids::random()), &"a", add(-1))
        .await
        .unwrap();
    assert_eq!(journal.calls(), ["intend -1", "carry out -1"]);
    assert_eq!(store.head().await.unwrap(), head + 1);
    // A lost race: the intent is forgotten, then made again for the new decision.
    let tries = Mutex::new(0);
    r.run(
        &request(Ids::random()),
        vec![Counter::stream(&"a")],
        |loaded, _| {
            let (_, expected) = loaded.fold::<Counter>(&"a");
            overtake_first(&tries, &store);
            Ok::<_, Error>(vec![Append::new(Counter::stream(&"a"), expected, [-1i64])])
        },
    )
    .await
    .unwrap();
    assert_eq!(
        journal.calls(),
        ["intend -1", "forget", "intend -1", "carry out -1"]
    );
}

#[tokio::test]
async fn settling_carries_out_what_is_in_the_log_and_forgets_the_rest() {
    let store = store();
    let journal = Journal::default();
    let r = runner(&store, journal.clone());
    let landed = r
        .handle::<Counter, Error, _>(&request(Ids::from_key(b"me", "k")), &"a", add(4))
        .await
        .unwrap();
    let in_log = store.read_all(landed.first_position, 1).await.unwrap()[0].id;
    // What a stop between a commit and its work, and one before a commit, leave.
    journal.intents.lock().unwrap().push((in_log, -7));
    journal.intents.lock().unwrap().push((Uuid::new_v4(), -9));
    // While commands may be in flight, only what is in the log is settled.
    assert_eq!(r.settle::<Error>(false).await.unwrap(), 1);
    assert_eq!(journal.calls(), ["carry out -7"]);
    assert_eq!(journal.pending().await.unwrap().len(), 1);
    // At open, the rest is forgotten.
    assert_eq!(r.settle::<Error>(true).await.unwrap(), 0);
    assert_eq!(journal.calls(), ["forget"]);
    assert!(journal.pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn work_that_fails_after_its_commit_stays_pending_until_settled() {
    let store = store();
    let journal = Journal::default();
    let r = runner(&store, journal.clone());
    r.handle::<Counter, Error, _>(&request(Ids::random()), &"a", add(2))
        .await
        .unwrap();
    journal
        .fail_next_carry_out
        .store(true, std::sync::atomic::Ordering::SeqCst);
    // The commit stands (it is in the log); its work is pending, not lost.
    let outcome = r
        .handle::<Counter, Error, _>(&request(Ids::random()), &"a", add(-1))
        .await
        .unwrap();
    assert!(outcome.work_pending);
    assert_eq!(value(&r, "a").await, 1);
    assert_eq!(journal.calls(), ["intend -1", "carry out -1 failed"]);
    assert_eq!(journal.pending().await.unwrap().len(), 1);
    // The next settling (the server's upkeep, every tick) carries it out.
    assert_eq!(r.settle::<Error>(false).await.unwrap(), 1);
    assert_eq!(journal.calls(), ["carry out -1"]);
    assert!(journal.pending().await.unwrap().is_empty());
}
