//! The runner: load the streams a command names, fold, decide, append with the
//! versions read, retry on a lost race, answer a retried request from its first
//! commit.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecoute_decider::{Decider, Envelope};
use ecoute_store::{
    Clock, Commit, Direction, EventData, EventStore, ExpectedVersion, Metadata, ReadFrom,
    StoreError, StreamId, StreamWritten,
};
use uuid::Uuid;

use crate::error::EngineError;
use crate::hooks::{Codec, CommitHooks};
use crate::ids::Ids;
use crate::turns::Turns;

/// The metadata entry of a commit's first event that names what was asked.
const REQUEST: &str = "request";
/// The metadata entry of a commit's first event that keeps the request's
/// fingerprint, as the hooks chose to keep it.
const FINGERPRINT: &str = "fingerprint";

/// How the runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// How many times a command that lost a race is decided again on fresh state
    /// before the runner answers a conflict.
    pub retries: usize,
    /// How many turn locks the streams are spread over.
    pub turns: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            retries: 5,
            turns: 1024,
        }
    }
}

/// How a command was asked: recorded with its commit.
#[derive(Clone)]
pub struct Request {
    /// What was asked, with the real ids (`POST /v1/calls/…`): recorded with the
    /// commit's first event and compared when the request is retried.
    pub target: String,
    /// Who asked (a stream name, say), recorded in every event's metadata.
    pub actor: Option<String>,
    /// The request's id, recorded as every event's correlation id.
    pub correlation_id: Uuid,
    /// The ids the command creates.
    pub ids: Ids,
    /// A digest of everything else that was asked (the request's body, say): kept
    /// with the commit in the form [`CommitHooks::keep_fingerprint`] chooses and
    /// compared when the request is retried, so that one key sent again with
    /// another body is refused rather than answered with the first one's result.
    pub fingerprint: Option<[u8; 32]>,
}

/// Never shows the fingerprint: a plain digest of a request's body could confirm
/// a guess of what it said.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("target", &self.target)
            .field("actor", &self.actor)
            .field("correlation_id", &self.correlation_id)
            .field("ids", &self.ids)
            .field("fingerprint", &self.fingerprint.map(|_| ".."))
            .finish()
    }
}

/// The events decided for one stream, and the version they were decided on.
#[derive(Debug, Clone)]
pub struct Append<E> {
    /// The stream.
    pub stream: String,
    /// The version read (or `NoStream`).
    pub expected: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<E>,
}

impl<E> Append<E> {
    /// Events decided for `stream`, read at `expected`.
    pub fn new<T: Into<E>>(
        stream: impl Into<String>,
        expected: ExpectedVersion,
        events: impl IntoIterator<Item = T>,
    ) -> Self {
        Append {
            stream: stream.into(),
            expected,
            events: events.into_iter().map(Into::into).collect(),
        }
    }
}

/// The streams a command loaded, decoded, with the versions they were read at.
#[derive(Debug)]
pub struct Loaded<E> {
    streams: HashMap<String, (Vec<E>, Option<u64>)>,
}

impl<E> Default for Loaded<E> {
    fn default() -> Self {
        Loaded {
            streams: HashMap::new(),
        }
    }
}

impl<E> Loaded<E> {
    /// A stream's events and the version to expect when appending to it (nothing
    /// and `NoStream` for a stream that does not exist or was not loaded).
    pub fn events(&self, stream: &str) -> (&[E], ExpectedVersion) {
        match self.streams.get(stream) {
            Some((events, Some(v))) => (events, ExpectedVersion::Exact(*v)),
            _ => (&[], ExpectedVersion::NoStream),
        }
    }

    /// Whether the stream holds at least one event.
    pub fn exists(&self, stream: &str) -> bool {
        self.events(stream).1 != ExpectedVersion::NoStream
    }

    /// The state of `D`'s entity `id` and the version to expect.
    pub fn fold<D>(&self, id: &D::Id) -> (D::State, ExpectedVersion)
    where
        D: Decider,
        E: Envelope<D>,
    {
        let (events, expected) = self.events(&D::stream(id));
        (ecoute_decider::fold_envelopes::<D, E>(events), expected)
    }
}

/// What a command appended (or, answering a retry, had appended the first time).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The global position of the commit's first event.
    pub first_position: u64,
    /// The global position of its last event.
    pub last_position: u64,
    /// Each stream written, with its versions.
    pub streams: Vec<StreamWritten>,
    /// The event types appended, in order.
    pub events: Vec<String>,
    /// Whether this answers a retry and nothing was appended now.
    pub replayed: bool,
    /// How many races the command lost before its commit landed.
    pub lost_races: usize,
    /// Irreversible work the commit allows that failed after the commit landed: its
    /// intent stays, and [`Runner::settle`] carries it out (the commit stands).
    pub work_pending: bool,
}

/// Runs commands against an [`EventStore`]: loads the streams a command names,
/// folds them, lets a pure decision say what to record, appends it atomically with
/// the versions read, and decides again on fresh state when another writer won the
/// race.
///
/// - **Turns.** Commands on the same stream within one runner take turns, so the
///   race is lost only to another process writing the same log.
/// - **Idempotency.** A request with an idempotency key gets event ids derived from
///   it ([`Ids::from_key`]); sent again, it is answered from its first commit and
///   appends nothing. The same key for another request is
///   [`EngineError::KeyReused`].
/// - **Several streams.** A decision may append to every stream it loaded, in one
///   atomic commit.
/// - **Nothing irreversible before the commit** (see [`CommitHooks`]).
///
/// The example `examples/library.rs` runs a small lending library (no helpline
/// type) on the same store, runner and projection runtime as ecoute.
pub struct Runner<C: Codec, H: CommitHooks<C::Event>> {
    store: Arc<dyn EventStore>,
    codec: C,
    hooks: Arc<H>,
    clock: Arc<dyn Clock>,
    config: RunnerConfig,
    turns: Turns,
}

impl<C: Codec, H: CommitHooks<C::Event>> Runner<C, H> {
    /// A runner over `store`, stamping decisions with `clock`.
    pub fn new(
        store: Arc<dyn EventStore>,
        codec: C,
        hooks: H,
        clock: Arc<dyn Clock>,
        config: RunnerConfig,
    ) -> Self {
        let turns = Turns::new(config.turns);
        Runner {
            store,
            codec,
            hooks: Arc::new(hooks),
            clock,
            config,
            turns,
        }
    }

    /// The store it appends to.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The application's hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// The time decisions are stamped with now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Reads and decodes whole streams; a stream that does not exist loads empty.
    pub async fn load(&self, streams: &[String]) -> Result<Loaded<C::Event>, EngineError> {
        let mut loaded = Loaded::default();
        for s in streams {
            if loaded.streams.contains_key(s) {
                continue;
            }
            let id = StreamId::new(s.as_str())?;
            let entry = match self
                .store
                .read_stream(&id, ReadFrom::Edge, Direction::Forward, usize::MAX)
                .await
            {
                Ok(stored) => {
                    let version = stored.last().map(|e| e.version);
                    let events = stored
                        .iter()
                        .map(|e| {
                            self.codec.decode(e).map_err(|source| EngineError::Decode {
                                position: e.position,
                                source,
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    (events, version)
                }
                Err(StoreError::StreamNotFound(_)) => (Vec::new(), None),
                Err(e) => return Err(e.into()),
            };
            loaded.streams.insert(s.clone(), entry);
        }
        Ok(loaded)
    }

    /// The state of `D`'s entity `id` as the log holds it now; `None` when its stream
    /// has no event.
    pub async fn state<D>(&self, id: &D::Id) -> Result<Option<D::State>, EngineError>
    where
        D: Decider,
        C::Event: Envelope<D>,
    {
        let stream = D::stream(id);
        let loaded = self.load(std::slice::from_ref(&stream)).await?;
        Ok(loaded.exists(&stream).then(|| loaded.fold::<D>(id).0))
    }

    /// Runs a command on one entity of decider `D`: `ask` sees the entity's state
    /// and the time, and gives the command and its context (or refuses before the
    /// decision: an access rule, say).
    pub async fn handle<D, Err, F>(&self, req: &Request, id: &D::Id, ask: F) -> Result<Outcome, Err>
    where
        D: Decider,
        D::Id: Sync,
        C::Event: Envelope<D>,
        Err: From<EngineError> + From<H::Error> + From<D::Error>,
        F: Fn(&D::State, DateTime<Utc>) -> Result<(D::Command, D::Context), Err> + Send + Sync,
    {
        let stream = D::stream(id);
        self.run(req, vec![stream.clone()], |loaded, now| {
            let (state, expected) = loaded.fold::<D>(id);
            let (command, ctx) = ask(&state, now)?;
            let events = D::decide(&state, &command, &ctx)?;
            Ok(vec![Append::new(stream.clone(), expected, events)])
        })
        .await
    }

    /// Runs a command over `streams`: `decide` sees them as loaded and the time, and
    /// says what to append to which (only streams it loaded), or refuses.
    pub async fn run<Err, F>(
        &self,
        req: &Request,
        streams: Vec<String>,
        decide: F,
    ) -> Result<Outcome, Err>
    where
        Err: From<EngineError> + From<H::Error>,
        F: Fn(&Loaded<C::Event>, DateTime<Utc>) -> Result<Vec<Append<C::Event>>, Err> + Send + Sync,
    {
        let _turn = self.turns.take(&streams).await;
        if let Some(first) = self.replay::<Err>(req).await? {
            // A retry finishes what the first attempt decided and did not carry out.
            self.settle::<Err>(false).await?;
            return Ok(first);
        }
        for lost_races in 0..=self.config.retries {
            let loaded = self.load(&streams).await?;
            let mut appends = decide(&loaded, self.now())?;
            let work = self.hooks.work(&loaded, &appends);
            drop(loaded);
            self.hooks.prepare(&mut appends).await?;
            let kept = match (&req.fingerprint, req.ids.keyed()) {
                (Some(fingerprint), true) => {
                    Some(self.hooks.keep_fingerprint(fingerprint, &appends).await?)
                }
                _ => None,
            };
            let commit = self.commit(req, kept, appends)?;
            let events: Vec<String> = commit
                .appends
                .iter()
                .flat_map(|a| a.events.iter().map(|e| e.event_type.clone()))
                .collect();
            let first_id = commit
                .appends
                .first()
                .and_then(|a| a.events.first())
                .map(|e| e.id)
                .ok_or(EngineError::NothingDecided)?;
            if let Some(work) = &work {
                self.hooks.intend(first_id, work).await?;
            }
            // The append and the work it allows run as a task of their own: a
            // request dropped meanwhile (its client gone, a timeout) cannot leave a
            // commit in the log with its work undone.
            let (store, hooks) = (self.store.clone(), self.hooks.clone());
            let (appended, work_pending) = tokio::spawn(async move {
                let appended = store.append(commit).await;
                let mut pending = false;
                if let Some(work) = &work {
                    match &appended {
                        // The commit stands; if its work fails, the intent stays and
                        // `settle` carries it out.
                        Ok(_) => pending = hooks.carry_out(first_id, work).await.is_err(),
                        // Certainly not in the log: nothing to carry out.
                        Err(StoreError::WrongExpectedVersion { .. }) => {
                            let _ = hooks.forget(first_id).await;
                        }
                        // Perhaps in the log: a retry, `settle` or the next start
                        // settles it.
                        Err(_) => {}
                    }
                }
                (appended, pending)
            })
            .await
            .map_err(|e| EngineError::Task(e.to_string()))?;
            match appended {
                Ok(result) => {
                    return Ok(Outcome {
                        first_position: result.positions.first,
                        last_position: result.positions.last,
                        streams: result.streams,
                        events,
                        replayed: result.duplicate,
                        lost_races,
                        work_pending,
                    })
                }
                Err(StoreError::WrongExpectedVersion { .. }) => continue,
                Err(StoreError::IdempotencyMismatch { .. }) if req.ids.keyed() => {
                    // The same request, sent twice at once: the other one landed, and
                    // with it perhaps work this attempt's intent named.
                    return match self.replay::<Err>(req).await? {
                        Some(first) => {
                            self.settle::<Err>(false).await?;
                            Ok(first)
                        }
                        None => Err(EngineError::PartialReplay.into()),
                    };
                }
                Err(e) => return Err(EngineError::from(e).into()),
            }
        }
        Err(EngineError::Conflict {
            tries: self.config.retries + 1,
        }
        .into())
    }

    /// Carries out the irreversible work whose commit is in the log (a process
    /// stopped, or the work failed, between the commit and the work). With
    /// `at_open` (no command in flight), intents whose commit is not in the log are
    /// forgotten: that commit was refused or never acknowledged. Returns how many
    /// were carried out.
    pub async fn settle<Err>(&self, at_open: bool) -> Result<usize, Err>
    where
        Err: From<EngineError> + From<H::Error>,
    {
        let mut done = 0;
        for (commit, work) in self.hooks.pending().await? {
            let landed = self
                .store
                .event_by_id(commit)
                .await
                .map_err(EngineError::from)?
                .is_some();
            if landed {
                self.hooks.carry_out(commit, &work).await?;
                done += 1;
            } else if at_open {
                self.hooks.forget(commit).await?;
            }
        }
        Ok(done)
    }

    fn commit(
        &self,
        req: &Request,
        fingerprint: Option<String>,
        appends: Vec<Append<C::Event>>,
    ) -> Result<Commit, EngineError> {
        let mut commit: Option<Commit> = None;
        let mut n = 0usize;
        for a in appends {
            if a.events.is_empty() {
                continue;
            }
            let mut events = Vec::with_capacity(a.events.len());
            for e in &a.events {
                let enc = self.codec.encode(e).map_err(EngineError::Encode)?;
                let mut metadata = Metadata {
                    correlation_id: Some(req.correlation_id),
                    actor: req.actor.clone(),
                    ..Metadata::default()
                };
                if n == 0 {
                    metadata.extra.insert(REQUEST.into(), req.target.clone());
                    if let Some(f) = &fingerprint {
                        metadata.extra.insert(FINGERPRINT.into(), f.clone());
                    }
                }
                events.push(
                    EventData::new(
                        req.ids.event(n),
                        enc.type_name,
                        enc.schema_version,
                        enc.payload,
                    )
                    .with_metadata(metadata),
                );
                n += 1;
            }
            let stream = StreamId::new(a.stream)?;
            commit = Some(match commit {
                None => Commit::single(stream, a.expected, events),
                Some(c) => c.and(stream, a.expected, events),
            });
        }
        commit.ok_or(EngineError::NothingDecided)
    }

    /// The first answer to a request retried with the same idempotency key: refused
    /// when the key was first used for another target or with another fingerprint.
    async fn replay<Err>(&self, req: &Request) -> Result<Option<Outcome>, Err>
    where
        Err: From<EngineError> + From<H::Error>,
    {
        if !req.ids.keyed() {
            return Ok(None);
        }
        let Some(first) = self
            .store
            .event_by_id(req.ids.event(0))
            .await
            .map_err(EngineError::from)?
        else {
            return Ok(None);
        };
        let asked = first
            .metadata
            .extra
            .get(REQUEST)
            .cloned()
            .unwrap_or_default();
        if asked != req.target {
            return Err(EngineError::KeyReused { first: asked }.into());
        }
        let len = usize::try_from(first.commit.last - first.commit.first + 1).unwrap_or(0);
        let events = self
            .store
            .read_all(first.commit.first, len)
            .await
            .map_err(EngineError::from)?;
        let kept = first.metadata.extra.get(FINGERPRINT);
        if let (Some(kept), Some(fingerprint)) = (kept, &req.fingerprint) {
            let decoded = events
                .iter()
                .map(|e| {
                    self.codec.decode(e).map_err(|source| EngineError::Decode {
                        position: e.position,
                        source,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let same = self
                .hooks
                .same_fingerprint(kept, fingerprint, &decoded)
                .await?;
            if same == Some(false) {
                return Err(EngineError::KeyReused { first: asked }.into());
            }
        }
        let mut streams: Vec<StreamWritten> = Vec::new();
        for e in &events {
            match streams.iter_mut().find(|s| s.stream == e.stream_id) {
                Some(s) => {
                    s.first_version = s.first_version.min(e.version);
                    s.last_version = s.last_version.max(e.version);
                }
                None => streams.push(StreamWritten {
                    stream: e.stream_id.clone(),
                    first_version: e.version,
                    last_version: e.version,
                }),
            }
        }
        Ok(Some(Outcome {
            first_position: first.commit.first,
            last_position: first.commit.last,
            streams,
            events: events.into_iter().map(|e| e.event_type).collect(),
            replayed: true,
            lost_races: 0,
            work_pending: false,
        }))
    }
}
