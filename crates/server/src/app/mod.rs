//! The application layer: everything the server does, between HTTP and the engine.
//!
//! HTTP parses and answers; this layer decides who may do what, records every read
//! of case data, and runs commands. Its entry points take an [`Actor`] (a member of
//! staff as they stand now, or the system) and typed arguments, and answer typed
//! results:
//!
//! - commands on calls, cases, staff and subjects (`commands.rs`, `staff.rs`,
//!   [`rights`]) go through one [`ecoute_engine::Runner`] ([`App::run`]): load,
//!   fold, decide in the domain, seal personal values, append, retried on a lost
//!   race, idempotent by the request's key; key destructions only once their
//!   decision is in the log (`hooks.rs`);
//! - reads of case data (`reads.rs`, `exports.rs`) pass one check: the access
//!   rule, the access record, then the answer — in one place;
//! - the access rules are [`crate::access`]'s, applied and recorded by
//!   `audit.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ecoute_domain::call::CallState;
use ecoute_domain::case::CaseState;
use ecoute_domain::{
    CallId, Calls, CaseId, Cases, Context, Event, StaffId, StaffSnapshot, Subjects,
};
use ecoute_engine::{Runner, RunnerConfig};
use ecoute_projections::helpline::{self, HelplineViews};
use ecoute_projections::{ModelDb, Runtime, RuntimeConfig};
use ecoute_store::{
    Clock, Direction, Durability, EventStore, ReadFrom, RecordedEvent, SledStore, StoreConfig,
    StoreError, StreamId, SystemClock,
};

use crate::access_log::AccessLog;
use crate::auth::StaffDirectory;
use crate::error::AppError;
use crate::keys::{KeyStore, MasterKey};
use crate::metrics::Metrics;

mod actor;
mod attempts;
mod audit;
mod commands;
pub mod disclosure;
mod exports;
mod hooks;
mod ops;
mod queries;
mod reads;
mod retention;
pub mod rights;
mod scheduler;
mod staff;

pub use actor::{Actor, FingerprintSlot};
pub use audit::Purpose;
pub use commands::{PersonInput, Reception};
pub use ecoute_engine::{Ids, Outcome};
pub use exports::{CaseExport, ExportCheck, ExportedEvent, LogStamp, EXPORT_FORMAT};
pub use reads::{CaseRead, History, HistoryEntry, Values};
pub use retention::RetentionReport;
pub use staff::{Enrolled, Enrolment};

/// The events a command loaded, as the runner gives them to a decision.
pub type Loaded = ecoute_engine::Loaded<Event>;
/// The events a decision appends to one stream.
pub type Append = ecoute_engine::Append<Event>;

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
    /// The retention rules: how long each kind of data is kept (see
    /// `docs/data-protection.md`).
    pub retention: ecoute_domain::RetentionPolicy,
    /// The deadlines kept for cases (none: no deadline is armed).
    pub deadlines: Option<ecoute_domain::DeadlinePolicy>,
    /// How often the scheduler looks for deadlines that fell due.
    pub scheduler_tick: Duration,
    /// How long refused attempts on nothing real (no valid token, an unknown case)
    /// are counted before their records are written.
    pub attempts_window: Duration,
}

impl AppConfig {
    /// The defaults for a data directory and its master key.
    pub fn new(data_dir: impl Into<PathBuf>, master_key: MasterKey) -> Self {
        AppConfig {
            master_key,
            retention: ecoute_domain::RetentionPolicy::default(),
            deadlines: Some(ecoute_domain::DeadlinePolicy::default()),
            scheduler_tick: Duration::from_secs(1),
            attempts_window: Duration::from_secs(60),
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

/// The running application: the event store and its runner, the projections, the
/// staff directory, the access log and the subjects' keys.
pub struct App {
    store: Arc<SledStore>,
    runner: Runner<hooks::HelplineCodec, hooks::Sealing>,
    runtime: Runtime<Event>,
    views: HelplineViews,
    staff: StaffDirectory,
    access_log: AccessLog,
    keys: Arc<KeyStore>,
    metrics: Metrics,
    attempts: attempts::Attempts,
    /// Commands that could leave no administrator able to act take turns, so that
    /// two administrators cannot each pass the check and both step down.
    admin_turn: tokio::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
    config: AppConfig,
}

/// The system itself as an actor: the first administrator's enrolment, the
/// scheduler's missed deadlines, the retention rule's erasures; never a token holder.
pub fn system(roles: impl IntoIterator<Item = ecoute_domain::Role>) -> StaffSnapshot {
    StaffSnapshot::new(StaffId::from_uuid(uuid::Uuid::nil()), roles)
}

impl App {
    /// Opens (or creates) the engine in `config.data_dir`, starts the projections,
    /// and finishes the key destructions a stop interrupted.
    pub async fn open(config: AppConfig) -> Result<Self, AppError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            AppError::internal(format!(
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
                .map_err(|e| AppError::fault("opening the event store", e))?,
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
        let views = HelplineViews::new(&runtime, dyn_store.clone())?;
        let staff = StaffDirectory::load(store.as_ref()).await?;
        let runner = Runner::new(
            dyn_store,
            hooks::HelplineCodec,
            hooks::Sealing::new(keys.clone()),
            config.clock.clone(),
            RunnerConfig {
                retries: config.retries,
                ..RunnerConfig::default()
            },
        );
        let app = App {
            store,
            runner,
            runtime,
            views,
            staff,
            access_log,
            keys,
            metrics: Metrics::new(),
            attempts: attempts::Attempts::default(),
            admin_turn: tokio::sync::Mutex::new(()),
            clock: config.clock.clone(),
            config,
        };
        let settled = app.runner.settle::<AppError>(true).await?;
        if settled > 0 {
            tracing::info!(
                settled,
                "key destructions decided before a stop were carried out"
            );
        }
        Ok(app)
    }

    /// Stops the projections and closes the stores, flushing everything.
    pub async fn close(&self) -> Result<(), AppError> {
        let attempts = self.flush_attempts().await;
        let projections = self.runtime.stop();
        let log = self.store.close().await;
        let access = self.access_log.close().await;
        attempts?;
        projections?;
        log?;
        access
    }

    /// How long attempts are counted before their records are written.
    pub fn attempts_window(&self) -> Duration {
        self.config.attempts_window
    }

    /// The event store (for operations: backups, verification, benchmarks).
    pub fn store(&self) -> &Arc<SledStore> {
        &self.store
    }

    /// The helpline's read models.
    pub fn views(&self) -> &HelplineViews {
        &self.views
    }

    /// The subjects' keys.
    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    /// The counters of `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The projection runtime.
    pub fn runtime(&self) -> &Runtime<Event> {
        &self.runtime
    }

    /// The access log.
    pub fn access_log(&self) -> &AccessLog {
        &self.access_log
    }

    /// How often the scheduler looks for due deadlines.
    pub fn scheduler_tick(&self) -> Duration {
        self.config.scheduler_tick
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

    /// The folded state of a call, if it exists.
    pub async fn call_state(&self, id: CallId) -> Result<Option<CallState>, AppError> {
        Ok(self.runner.state::<Calls>(&id).await?)
    }

    /// The folded state of a case, if it exists.
    pub async fn case_state(&self, id: CaseId) -> Result<Option<CaseState>, AppError> {
        Ok(self.runner.state::<Cases>(&id).await?)
    }

    /// The subject stream folded (the state of no event when it has none).
    pub async fn subject_state(
        &self,
        subject: ecoute_domain::SubjectId,
    ) -> Result<ecoute_domain::subject::SubjectState, AppError> {
        Ok(self
            .runner
            .state::<Subjects>(&subject)
            .await?
            .unwrap_or_default())
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
        ctx = ctx.with_retention(self.config.retention);
        for id in others {
            let s = self
                .staff
                .snapshot(id)
                .ok_or(AppError::NotFound("member of staff"))?;
            ctx = ctx.with_staff(s);
        }
        Ok(ctx)
    }

    /// Runs a command through the engine's runner: loads `streams`, lets `decide`
    /// say what to append (refusing with the domain's rule or an access rule),
    /// seals personal values, appends atomically, decides again on fresh state
    /// when another writer won the race, and answers a retried request (same
    /// idempotency key) from its first commit. `target` is recorded with the commit
    /// and compared on a retry.
    pub async fn run<D>(
        &self,
        actor: &Actor,
        target: String,
        streams: Vec<String>,
        decide: D,
    ) -> Result<Outcome, AppError>
    where
        D: Fn(&Loaded, DateTime<Utc>) -> Result<Vec<Append>, AppError> + Send + Sync,
    {
        let request = actor.request(target);
        let result = self.runner.run(&request, streams, decide).await;
        match &result {
            Ok(outcome) => {
                if outcome.work_pending {
                    tracing::warn!(
                        "a key destruction failed after its commit; it is retried every tick"
                    );
                }
                for _ in 0..outcome.lost_races {
                    self.metrics.conflict();
                }
                if !outcome.replayed {
                    self.metrics
                        .commit(outcome.last_position - outcome.first_position + 1);
                }
            }
            Err(AppError::Conflict(_)) => {
                for _ in 0..=self.config.retries {
                    self.metrics.conflict();
                }
            }
            Err(_) => {}
        }
        result
    }

    /// The upkeep of every scheduler tick: carries out the key destructions whose
    /// commit is in the log but whose work failed or was interrupted, makes the key
    /// store's new epoch after destructions (the destroyed keys leave the disk
    /// within a tick), and takes in staff changes the directory missed (a request
    /// dropped between its commit and its refresh): a revoked token stops working
    /// within a tick in any case.
    pub async fn upkeep(&self) -> Result<(), AppError> {
        self.runner.settle::<AppError>(false).await?;
        let keys = self.keys.clone();
        if tokio::task::spawn_blocking(move || keys.rewrap())
            .await
            .map_err(|e| AppError::fault("key task failed", e))??
        {
            tracing::info!("destroyed keys removed from the disk: the key store re-wrapped");
        }
        self.staff.follow(self.store.as_ref()).await
    }

    /// Opens the personal values of events read from the log, for an entitled reader;
    /// values of erased subjects become `Erased`.
    pub fn open_values(&self, event: &mut Event) -> Result<(), AppError> {
        hooks::open_values(&self.keys, event)
    }
}
