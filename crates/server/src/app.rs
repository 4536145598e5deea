//! The engine the HTTP layer drives: the store, the projections, the staff directory
//! and the access log, and how a command becomes a commit.
//!
//! A command runs in four steps, retried on fresh state when it loses a race:
//! 1. load the streams it names and fold them;
//! 2. `decide` in the domain (pure), with a [`Context`] built from the folded
//!    streams and the staff directory;
//! 3. encode the events and append them in one commit, each stream with the exact
//!    version it was read at;
//! 4. on a wrong expected version, start again (at most [`AppConfig::retries`]
//!    times), then answer a conflict.
//!
//! Commands on the same stream within this process take turns (see
//! `StreamLocks`), so the race is lost only to another writer of the same log.
//!
//! A request that carries an idempotency key gets event ids (and the ids of what it
//! creates) derived from the member and the key, so a retry finds the first commit
//! through the store's id index and answers from it, appending nothing.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ecoute_domain::call::CallState;
use ecoute_domain::case::{self, CaseState};
use ecoute_domain::event::{fold_call, fold_case, fold_staff, fold_subject};
use ecoute_domain::staff::{StaffCommand, StaffState};
use ecoute_domain::{
    call_stream, case_stream, encode, staff_stream, CallId, CaseId, Context, Event,
    HasPersonalData, Role, StaffId, StaffSnapshot,
};
use ecoute_projections::helpline::{self, HelplineViews};
use ecoute_projections::{ModelDb, Runtime, RuntimeConfig};
use ecoute_store::{
    Clock, Commit, Direction, Durability, EventData, EventStore, ExpectedVersion, Metadata,
    ReadFrom, RecordedEvent, SledStore, StoreConfig, StoreError, StreamId, StreamWritten,
    SystemClock,
};
use uuid::Uuid;

use crate::access_log::AccessLog;
use crate::auth::{decode, NewToken, StaffDirectory};
use crate::error::AppError;
use crate::keys::{KeyStore, MasterKey};
use crate::metrics::Metrics;

/// Where and how the engine runs.
#[derive(Clone)]
pub struct AppConfig {
    /// The data directory: `log/` (the event store), `models/` (read models),
    /// `access-log/`.
    pub data_dir: PathBuf,
    /// The clock that stamps commands and commits.
    pub clock: Arc<dyn Clock>,
    /// Flush before acknowledging (the default); unsafe only for benchmarks.
    pub durability: Durability,
    /// sled's page cache for the event store, in bytes.
    pub cache_bytes: u64,
    /// sled's page cache for the read models, in bytes.
    pub models_cache_bytes: u64,
    /// How many times a command that lost a race is tried again on fresh state.
    pub retries: usize,
    /// How long a read waits for the projections to catch up with the last write.
    pub read_wait: Duration,
    /// The master key that wraps the subjects' keys.
    pub master_key: MasterKey,
    /// Cases closed for this long have their subjects erased (none: kept).
    pub retention: Option<chrono::Duration>,
    /// The deadlines kept for cases (none: no deadline is armed).
    pub deadlines: Option<ecoute_domain::DeadlinePolicy>,
    /// How often the scheduler looks for deadlines that fell due.
    pub scheduler_tick: Duration,
}

impl AppConfig {
    /// The defaults for a data directory and its master key.
    pub fn new(data_dir: impl Into<PathBuf>, master_key: MasterKey) -> Self {
        AppConfig {
            master_key,
            retention: None,
            deadlines: Some(ecoute_domain::DeadlinePolicy::default()),
            scheduler_tick: Duration::from_secs(1),
            data_dir: data_dir.into(),
            clock: Arc::new(SystemClock),
            durability: Durability::Flush,
            cache_bytes: 8 << 20,
            models_cache_bytes: 2 << 20,
            retries: 5,
            read_wait: Duration::from_secs(10),
        }
    }
}

/// The running engine.
pub struct App {
    /// The event store.
    pub store: Arc<SledStore>,
    /// The projections following it.
    pub runtime: Runtime<Event>,
    /// The helpline's read models.
    pub views: HelplineViews,
    /// Staff and tokens.
    pub staff: StaffDirectory,
    /// Who read which case, and every refused attempt.
    pub access_log: AccessLog,
    /// The subjects' keys.
    pub keys: Arc<KeyStore>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    clock: Arc<dyn Clock>,
    config: AppConfig,
    locks: StreamLocks,
}

/// Commands on the same stream, in this process, take turns: without this, many
/// concurrent commands on one busy case would mostly lose the optimistic race and
/// burn their retries. Streams are hashed onto a fixed set of async mutexes, taken in
/// ascending order so that multi-stream commands cannot deadlock. Optimistic
/// concurrency still guards the log against any other writer.
struct StreamLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl StreamLocks {
    fn new(n: usize) -> Self {
        StreamLocks {
            stripes: (0..n).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    async fn lock(&self, streams: &[String]) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut idx: Vec<usize> = streams
            .iter()
            .map(|s| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                s.hash(&mut h);
                h.finish() as usize % self.stripes.len()
            })
            .collect();
        idx.sort_unstable();
        idx.dedup();
        let mut guards = Vec::with_capacity(idx.len());
        for i in idx {
            guards.push(self.stripes[i].lock().await);
        }
        guards
    }
}

/// The system itself as an actor: the first administrator's enrolment, the
/// scheduler's missed deadlines, the retention rule's erasures; never a token holder.
pub fn system(
    roles: impl IntoIterator<Item = ecoute_domain::Role>,
) -> ecoute_domain::StaffSnapshot {
    ecoute_domain::StaffSnapshot::new(ecoute_domain::StaffId::from_uuid(uuid::Uuid::nil()), roles)
}

/// Who gives a command, and how it was asked.
pub struct Request<'a> {
    /// The member of staff, as authenticated.
    pub actor: &'a StaffSnapshot,
    /// `POST /v1/calls/…`, with the real ids: recorded with the commit, compared on
    /// an idempotent retry.
    pub target: String,
    /// The request's id, recorded as the correlation id.
    pub request_id: Uuid,
    /// Derives ids from the idempotency key, or draws them at random.
    pub ids: Ids,
}

/// Makes the ids a command creates: derived from (member, idempotency key, label)
/// when a key was given, so that a retry names the same call, case or event;
/// random otherwise.
#[derive(Clone)]
pub struct Ids {
    seed: Option<[u8; 32]>,
}

impl Ids {
    /// Random ids.
    pub fn random() -> Self {
        Ids { seed: None }
    }

    /// Ids derived from an idempotency key given by `actor`.
    pub fn from_key(actor: StaffId, key: &str) -> Self {
        let mut h = blake3::Hasher::new_derive_key("ecoute 2026 idempotency key v1");
        h.update(actor.as_uuid().as_bytes());
        h.update(key.as_bytes());
        Ids {
            seed: Some(*h.finalize().as_bytes()),
        }
    }

    /// Whether these ids come from an idempotency key.
    pub fn keyed(&self) -> bool {
        self.seed.is_some()
    }

    /// The id named `label` (`"call"`, `"event/0"`, …).
    pub fn uuid(&self, label: &str) -> Uuid {
        match &self.seed {
            None => Uuid::new_v4(),
            Some(seed) => {
                let mut h = blake3::Hasher::new_keyed(seed);
                h.update(label.as_bytes());
                let bytes: [u8; 16] = h.finalize().as_bytes()[..16].try_into().unwrap_or([0; 16]);
                uuid::Builder::from_custom_bytes(bytes).into_uuid()
            }
        }
    }
}

/// The events decided for one stream, and the version they were decided on.
pub struct Decided {
    /// The stream.
    pub stream: String,
    /// The version read (or `NoStream`).
    pub expected: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<Event>,
}

/// What a command appended (or, on an idempotent retry, had appended the first time).
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
}

/// One stream as loaded for a command.
#[derive(Default)]
pub struct Loaded {
    streams: HashMap<String, (Vec<Event>, Option<u64>)>,
}

impl Loaded {
    fn get(&self, stream: &str) -> (&[Event], ExpectedVersion) {
        match self.streams.get(stream) {
            Some((events, Some(v))) => (events, ExpectedVersion::Exact(*v)),
            _ => (&[], ExpectedVersion::NoStream),
        }
    }

    /// A call's state and the version to expect.
    pub fn call(&self, id: CallId) -> (CallState, ExpectedVersion) {
        let (events, v) = self.get(&call_stream(id));
        (fold_call(events), v)
    }

    /// A case's state and the version to expect.
    pub fn case(&self, id: CaseId) -> (CaseState, ExpectedVersion) {
        let (events, v) = self.get(&case_stream(id));
        (fold_case(events), v)
    }

    /// A subject's state and the version to expect.
    pub fn subject(
        &self,
        id: ecoute_domain::SubjectId,
    ) -> (ecoute_domain::subject::SubjectState, ExpectedVersion) {
        let (events, v) = self.get(&ecoute_domain::subject_stream(id));
        (fold_subject(events), v)
    }

    /// A member's state and the version to expect.
    pub fn staff(&self, id: StaffId) -> (StaffState, ExpectedVersion) {
        let (events, v) = self.get(&staff_stream(id));
        (fold_staff(events), v)
    }
}

/// One event of a case's history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The stored event.
    pub stored: RecordedEvent,
    /// The event, decoded.
    pub event: Event,
}

/// A case's history and its state, as of a moment or now.
pub struct History {
    /// The events of the case and of its calls, in global order.
    pub entries: Vec<HistoryEntry>,
    /// The case folded from its events up to the moment.
    pub state: CaseState,
}

impl App {
    /// Opens (or creates) the engine in `config.data_dir` and starts the projections.
    pub async fn open(config: AppConfig) -> Result<Self, AppError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            AppError::Internal(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let store_config = StoreConfig {
            durability: config.durability,
            clock: config.clock.clone(),
            cache_capacity: config.cache_bytes,
            ..StoreConfig::default()
        };
        let store = Arc::new(
            SledStore::open(config.data_dir.join("log"), store_config)
                .map_err(|e| AppError::Internal(format!("opening the event store: {e}")))?,
        );
        let access_log =
            AccessLog::open(&config.data_dir.join("access-log"), config.clock.clone())?;
        let keys = Arc::new(KeyStore::open(
            &config.data_dir.join("keys"),
            &config.master_key,
        )?);
        let db =
            ModelDb::open_with_cache(config.data_dir.join("models"), config.models_cache_bytes)?;
        let dyn_store: Arc<dyn EventStore> = store.clone();
        let runtime = Runtime::start(
            dyn_store.clone(),
            db,
            helpline::decoder(),
            helpline::projections(),
            RuntimeConfig::default(),
        )?;
        let views = HelplineViews::new(&runtime, dyn_store)?;
        let staff = StaffDirectory::load(store.as_ref()).await?;
        let app = App {
            store,
            runtime,
            views,
            staff,
            access_log,
            keys,
            metrics: Metrics::new(),
            clock: config.clock.clone(),
            config,
            locks: StreamLocks::new(1024),
        };
        app.settle_destructions(true).await?;
        Ok(app)
    }

    /// Stops the projections and closes the stores, flushing everything.
    pub async fn close(&self) -> Result<(), AppError> {
        let projections = self.runtime.stop();
        let log = self.store.close().await;
        let access = self.access_log.close().await;
        projections?;
        log?;
        access
    }

    /// How often the scheduler looks for due deadlines.
    pub fn scheduler_tick(&self) -> Duration {
        self.config.scheduler_tick
    }

    /// The retention period, if one is set.
    pub fn retention(&self) -> Option<chrono::Duration> {
        self.config.retention
    }

    /// The retention rule, in words.
    pub fn retention_rule(&self) -> String {
        match self.config.retention {
            Some(d) => format!(
                "the data of a case is erased {} days after the case was closed (a case \
                 reopened by a new call starts again)",
                d.num_days()
            ),
            None => "the data is kept while the case may be reopened; this deployment sets \
                     no automatic erasure, and the data-protection officer erases on request"
                .to_string(),
        }
    }

    /// The engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Why the engine cannot serve, if it cannot: the store failed or opened
    /// read-only, or a projection stopped.
    pub fn unready_reason(&self) -> Option<String> {
        if let Some(f) = self.store.failure() {
            return Some(format!("event store: {f}"));
        }
        if let Some(f) = self.access_log.store().failure() {
            return Some(format!("access log: {f}"));
        }
        self.runtime
            .status()
            .into_iter()
            .find_map(|s| match s.state {
                ecoute_projections::ProjectionState::Failed { position, error } => Some(format!(
                    "projection {} stopped at position {position}: {error}",
                    s.name
                )),
                _ => None,
            })
    }

    /// Waits until the read models hold every acknowledged write.
    pub async fn catch_up(&self) -> Result<(), AppError> {
        let head = self.store.head().await?;
        tokio::time::timeout(self.config.read_wait, self.runtime.wait_for(head))
            .await
            .map_err(|_| AppError::NotReady("the read models are catching up".into()))??;
        Ok(())
    }

    /// Reads a whole stream; `None` when it does not exist.
    pub async fn read_stream(&self, stream: &str) -> Result<Option<Vec<RecordedEvent>>, AppError> {
        let id = StreamId::new(stream)?;
        match self
            .store
            .read_stream(&id, ReadFrom::Edge, Direction::Forward, usize::MAX)
            .await
        {
            Ok(events) => Ok(Some(events)),
            Err(StoreError::StreamNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn load(&self, streams: &[String]) -> Result<Loaded, AppError> {
        let mut loaded = Loaded::default();
        for s in streams {
            if loaded.streams.contains_key(s) {
                continue;
            }
            let entry = match self.read_stream(s).await? {
                None => (Vec::new(), None),
                Some(stored) => {
                    let version = stored.last().map(|e| e.version);
                    let events = stored.iter().map(decode).collect::<Result<_, _>>()?;
                    (events, version)
                }
            };
            loaded.streams.insert(s.clone(), entry);
        }
        Ok(loaded)
    }

    /// The folded state of a call, if it exists.
    pub async fn call_state(&self, id: CallId) -> Result<Option<CallState>, AppError> {
        let loaded = self.load(&[call_stream(id)]).await?;
        let (state, v) = loaded.call(id);
        Ok((v != ExpectedVersion::NoStream).then_some(state))
    }

    /// The folded state of a case, if it exists.
    pub async fn case_state(&self, id: CaseId) -> Result<Option<CaseState>, AppError> {
        let loaded = self.load(&[case_stream(id)]).await?;
        let (state, v) = loaded.case(id);
        Ok((v != ExpectedVersion::NoStream).then_some(state))
    }

    /// A context for `actor` at `now`, with the named members as they stand now.
    pub fn context(
        &self,
        actor: &StaffSnapshot,
        now: DateTime<Utc>,
        others: impl IntoIterator<Item = StaffId>,
    ) -> Result<Context, AppError> {
        let actor = self
            .staff
            .snapshot(actor.id)
            .unwrap_or_else(|| actor.clone());
        let mut ctx = Context::new(now, actor);
        if let Some(policy) = self.config.deadlines {
            ctx = ctx.with_deadlines(policy);
        }
        for id in others {
            let s = self
                .staff
                .snapshot(id)
                .ok_or(AppError::NotFound("member of staff"))?;
            ctx = ctx.with_staff(s);
        }
        Ok(ctx)
    }

    /// Runs a command: loads `streams`, lets `decide` say what to record, appends it
    /// atomically, and tries again on fresh state when another command won the race.
    pub async fn execute<D>(
        &self,
        req: &Request<'_>,
        streams: Vec<String>,
        decide: D,
    ) -> Result<Outcome, AppError>
    where
        D: Fn(&Loaded, DateTime<Utc>) -> Result<Vec<Decided>, AppError> + Send + Sync,
    {
        let _turn = self.locks.lock(&streams).await;
        if let Some(replayed) = self.replay(req).await? {
            return Ok(replayed);
        }
        for _ in 0..=self.config.retries {
            let loaded = self.load(&streams).await?;
            let mut decided = decide(&loaded, self.now())?;
            let destroys = destructions(&loaded, &decided);
            self.seal(&mut decided).await?;
            let commit = self.commit(req, decided)?;
            // The types appended, in commit order: no need to read them back.
            let events: Vec<String> = commit
                .appends
                .iter()
                .flat_map(|a| a.events.iter().map(|e| e.event_type.clone()))
                .collect();
            // Keys this commit destroys: an intent first, the destruction only once the
            // commit is in the log (see `keys`).
            let intent = commit
                .appends
                .first()
                .and_then(|a| a.events.first())
                .map(|e| e.id);
            let intent = intent.filter(|_| !destroys.is_empty());
            if let Some(id) = intent {
                let (keys, subjects) = (self.keys.clone(), destroys.clone());
                blocking(move || keys.intend(id, &subjects)).await?;
            }
            let appended = self.store.append(commit).await;
            if let Some(id) = intent {
                let keys = self.keys.clone();
                match &appended {
                    Ok(_) => blocking(move || keys.carry_out(id, &destroys)).await?,
                    // Not in the log, for sure: nothing to destroy.
                    Err(StoreError::WrongExpectedVersion { .. }) => {
                        blocking(move || keys.forget(id)).await?
                    }
                    // Perhaps in the log: the next start (or a retry) settles it.
                    Err(_) => {}
                }
            }
            match appended {
                Ok(result) => {
                    self.metrics
                        .commit(result.positions.last - result.positions.first + 1);
                    return Ok(Outcome {
                        first_position: result.positions.first,
                        last_position: result.positions.last,
                        streams: result.streams,
                        events,
                        replayed: result.duplicate,
                    });
                }
                Err(StoreError::WrongExpectedVersion { .. }) => {
                    self.metrics.conflict();
                    continue;
                }
                Err(StoreError::IdempotencyMismatch { .. }) if req.ids.keyed() => {
                    // The same request, sent twice at once: the other one landed.
                    if let Some(replayed) = self.replay(req).await? {
                        return Ok(replayed);
                    }
                    return Err(AppError::Internal(
                        "an idempotent retry matched part of another commit".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(format!(
            "other commands kept changing the same records; gave up after {} tries",
            self.config.retries + 1
        )))
    }

    /// Seals every personal value with its subject's key, creating (durably) the keys
    /// of new subjects first: nothing personal reaches the log in clear.
    async fn seal(&self, decided: &mut [Decided]) -> Result<(), AppError> {
        let mut subjects = Vec::new();
        for d in decided.iter_mut() {
            for e in d.events.iter_mut() {
                let number = is_number(e);
                subjects.extend(
                    e.personal_values_mut()
                        .iter()
                        .map(|v| key_slot(number, v.subject()).id),
                );
            }
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.ensure(&subjects))
            .await
            .map_err(|e| AppError::Internal(format!("key task failed: {e}")))??;
        for d in decided.iter_mut() {
            for e in d.events.iter_mut() {
                let number = is_number(e);
                for v in e.personal_values_mut() {
                    v.seal(|subject, plain| self.keys.seal(key_slot(number, subject), plain))?;
                }
            }
        }
        Ok(())
    }

    /// Opens the personal values of events read from the log, for an entitled reader;
    /// values of erased subjects become `Erased`.
    pub fn open_values(&self, event: &mut Event) -> Result<(), AppError> {
        let number = is_number(event);
        for v in event.personal_values_mut() {
            v.open(|subject, sealed| self.keys.unseal(key_slot(number, subject), sealed))?;
        }
        Ok(())
    }

    fn commit(&self, req: &Request<'_>, decided: Vec<Decided>) -> Result<Commit, AppError> {
        let mut commit: Option<Commit> = None;
        let mut n = 0usize;
        for d in decided {
            if d.events.is_empty() {
                continue;
            }
            let mut events = Vec::with_capacity(d.events.len());
            for mut e in d.events {
                if e.personal_values_mut().iter().any(|v| v.is_clear()) {
                    return Err(AppError::Internal(format!(
                        "{} would reach the log with a personal value in clear",
                        e.type_name()
                    )));
                }
                let enc = encode(&e).map_err(|err| AppError::Internal(err.to_string()))?;
                let mut metadata = Metadata {
                    correlation_id: Some(req.request_id),
                    actor: Some(staff_stream(req.actor.id)),
                    ..Metadata::default()
                };
                if n == 0 {
                    metadata.extra.insert("request".into(), req.target.clone());
                }
                events.push(
                    EventData::new(
                        req.ids.uuid(&format!("event/{n}")),
                        enc.type_name,
                        u32::from(enc.schema_version),
                        enc.payload,
                    )
                    .with_metadata(metadata),
                );
                n += 1;
            }
            let stream = StreamId::new(d.stream)?;
            commit = Some(match commit {
                None => Commit::single(stream, d.expected, events),
                Some(c) => c.and(stream, d.expected, events),
            });
        }
        commit.ok_or_else(|| AppError::Internal("the command decided no event".into()))
    }

    /// The first answer to a request retried with the same idempotency key.
    async fn replay(&self, req: &Request<'_>) -> Result<Option<Outcome>, AppError> {
        if !req.ids.keyed() {
            return Ok(None);
        }
        let Some(first) = self.store.event_by_id(req.ids.uuid("event/0")).await? else {
            return Ok(None);
        };
        // A retry finishes what the first attempt decided and did not carry out.
        self.settle_destructions(false).await?;
        let asked = first
            .metadata
            .extra
            .get("request")
            .cloned()
            .unwrap_or_default();
        if asked != req.target {
            return Err(AppError::IdempotencyKeyReused { first: asked });
        }
        let len = (first.commit.last - first.commit.first + 1) as usize;
        let events = self.store.read_all(first.commit.first, len).await?;
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
        }))
    }

    /// Carries out the key destructions whose commit is in the log (a process stopped,
    /// or a sync failed, between the commit and the destruction). With `at_open` (no
    /// command in flight), intents whose commit is not in the log are forgotten: that
    /// commit was refused or never acknowledged.
    async fn settle_destructions(&self, at_open: bool) -> Result<(), AppError> {
        let keys = self.keys.clone();
        let pending = blocking(move || keys.pending()).await?;
        for (commit, subjects) in pending {
            let keys = self.keys.clone();
            if self.store.event_by_id(commit).await?.is_some() {
                blocking(move || keys.carry_out(commit, &subjects)).await?;
                tracing::info!("a key destruction decided before a stop was carried out");
            } else if at_open {
                blocking(move || keys.forget(commit)).await?;
            }
        }
        Ok(())
    }

    /// Runs a staff command and refreshes the directory before answering.
    pub async fn staff_command(
        &self,
        req: &Request<'_>,
        member: StaffId,
        commands: Vec<StaffCommand>,
    ) -> Result<Outcome, AppError> {
        let outcome = self
            .execute(req, vec![staff_stream(member)], |loaded, now| {
                let (mut state, expected) = loaded.staff(member);
                let ctx = self.context(req.actor, now, [])?;
                let mut events = Vec::new();
                for c in &commands {
                    for e in ecoute_domain::staff::decide(&state, c, &ctx)? {
                        state = ecoute_domain::staff::evolve(state, &e);
                        events.push(Event::Staff(e));
                    }
                }
                Ok(vec![Decided {
                    stream: staff_stream(member),
                    expected,
                    events,
                }])
            })
            .await?;
        self.staff.refresh(self.store.as_ref(), member).await?;
        Ok(outcome)
    }

    /// On an empty store, enrols a first administrator with a token, recorded as given
    /// by the system itself; returns the token, to be shown once. `None` when staff
    /// exist already.
    pub async fn bootstrap(&self) -> Result<Option<(StaffId, String)>, AppError> {
        if !self.staff.is_empty() {
            return Ok(None);
        }
        let system = system([Role::Administrator]);
        let id = StaffId::from_uuid(Uuid::new_v4());
        let token = NewToken::draw()?;
        let req = Request {
            actor: &system,
            target: "bootstrap".into(),
            request_id: Uuid::new_v4(),
            ids: Ids::random(),
        };
        let outcome = self
            .execute(&req, vec![staff_stream(id)], |_, now| {
                let ctx = Context::new(now, system.clone());
                let state = StaffState::default();
                let enrol = StaffCommand::Enrol {
                    staff_id: id,
                    roles: BTreeSet::from([Role::Administrator]),
                    team: None,
                };
                let mut events = ecoute_domain::staff::decide(&state, &enrol, &ctx)?;
                let state = events.iter().fold(state, ecoute_domain::staff::evolve);
                events.extend(ecoute_domain::staff::decide(
                    &state,
                    &StaffCommand::IssueToken {
                        token_id: ecoute_domain::TokenId::from_uuid(Uuid::new_v4()),
                        digest: token.digest,
                    },
                    &ctx,
                )?);
                Ok(vec![Decided {
                    stream: staff_stream(id),
                    expected: ExpectedVersion::NoStream,
                    events: events.into_iter().map(Event::Staff).collect(),
                }])
            })
            .await?;
        debug_assert!(outcome.events.iter().any(|e| e == "TokenIssued"));
        self.staff.refresh(self.store.as_ref(), id).await?;
        Ok(Some((id, token.secret)))
    }

    /// The history of a case: its events and those of its calls, in global order, up
    /// to `at` if given; `None` for an unknown case.
    pub async fn history(
        &self,
        case_id: CaseId,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<History>, AppError> {
        let all = self.views.timelines.events_of_case(case_id).await?;
        if all.is_empty() {
            return Ok(None);
        }
        let upto = |e: &RecordedEvent| at.is_none_or(|at| e.recorded_at <= at);
        // The calls that had joined the case by then: the others were not its calls yet.
        let calls: BTreeSet<String> = all
            .iter()
            .filter(|(stored, _)| upto(stored))
            .filter_map(|(_, event)| match event {
                Event::Case(case::CaseEvent::CaseOpened(o)) => Some(o.call.call_id),
                Event::Case(case::CaseEvent::CallLinked(l)) => Some(l.call.call_id),
                _ => None,
            })
            .map(call_stream)
            .collect();
        let mut entries = Vec::new();
        for (stored, mut event) in all {
            let of_case = stored.stream_id.category() == "case";
            if !upto(&stored) || !(of_case || calls.contains(stored.stream_id.as_str())) {
                continue;
            }
            self.open_values(&mut event)?;
            entries.push(HistoryEntry { stored, event });
        }
        let state = fold_case(entries.iter().map(|e| &e.event));
        if state.status() == case::CaseStatus::NotOpened && at.is_some() {
            // The case did not exist yet at that moment.
            return Ok(Some(History {
                entries: Vec::new(),
                state,
            }));
        }
        Ok(Some(History { entries, state }))
    }
}

/// The keys a decided commit destroys once it is in the log: a refused number's
/// own key, an erased subject's keys. Every key destruction of the engine is named
/// here, and carried out by [`App::execute`] only after the commit.
fn destructions(loaded: &Loaded, decided: &[Decided]) -> Vec<ecoute_domain::SubjectId> {
    use ecoute_domain::call::CallEvent;
    use ecoute_domain::subject::SubjectEvent;
    let mut keys = Vec::new();
    for d in decided {
        let (before, _) = loaded.get(&d.stream);
        for e in &d.events {
            match e {
                Event::Call(CallEvent::NumberRetentionRefused(_)) => {
                    let call = fold_call(before.iter().chain(&d.events));
                    keys.extend(call.caller().map(crate::keys::number_slot));
                }
                Event::Subject(SubjectEvent::SubjectErased(erased)) => {
                    keys.push(erased.subject);
                    keys.push(crate::keys::number_slot(erased.subject));
                }
                _ => {}
            }
        }
    }
    keys
}

/// Runs blocking key-store work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(format!("key task failed: {e}")))?
}

/// Whether the event records a callback number, sealed under its own key slot.
fn is_number(event: &Event) -> bool {
    matches!(
        event,
        Event::Call(ecoute_domain::call::CallEvent::CallbackNumberRecorded(_))
    )
}

/// The key a value is sealed under: its subject's, or for a callback number, the
/// number's own slot (see [`crate::keys::number_slot`]).
fn key_slot(number: bool, subject: ecoute_domain::Subject) -> ecoute_domain::Subject {
    if number {
        ecoute_domain::Subject {
            id: crate::keys::number_slot(subject.id),
            whose: subject.whose,
        }
    } else {
        subject
    }
}
