//! The ecoute server: the engine behind an HTTP API, with staff, access control and
//! an access log.
//!
//! - [`app`]: the application layer — who may do what, every read recorded, and
//!   the commands run through the engine's runner (`ecoute-engine`) on the event
//!   store, with the projections, staff directory, access log and keys;
//! - [`access`]: every access rule, in one place;
//! - [`access_log`]: the append-only record of every read of case data and every
//!   refused attempt;
//! - [`auth`]: bearer tokens and the staff directory;
//! - [`keys`]: encryption of personal values at rest, a key per data subject;
//! - [`http`]: the `/v1` API (axum), problem details, OpenAPI;
//! - [`metrics`]: the Prometheus exposition;
//! - [`allocator`]: glibc's allocator bounded for a long-running server;
//! - [`process`]: files its user's alone, no core dumps, quiet panics (with
//!   `allocator`, the crate's only `unsafe`: calls into libc).
//!
//! [`Server::start`] opens everything and listens; [`Server::shutdown`] stops
//! accepting, finishes the requests in flight, and closes the stores.
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod access;
pub mod access_log;
#[allow(unsafe_code)]
pub mod allocator;
pub mod app;
pub mod auth;
pub mod demo;
pub mod error;
pub mod http;
pub mod keys;
pub mod metrics;
#[allow(unsafe_code)]
pub mod process;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use app::{App, AppConfig};
pub use error::AppError;
pub use http::HttpConfig;
pub use keys::MasterKey;

/// Everything `ecoute serve` is told.
#[derive(Clone)]
pub struct ServeConfig {
    /// The engine.
    pub app: AppConfig,
    /// Where to listen (port 0 picks a free one).
    pub addr: SocketAddr,
    /// Request limits.
    pub http: HttpConfig,
    /// Where to serve the metrics and the readiness details (`/metrics`,
    /// `/readyz` with its reason); `None`: not served. Keep it on a loopback or
    /// internal address, apart from the API's.
    pub ops_addr: Option<SocketAddr>,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    app: Arc<App>,
    state: http::ApiState,
    first_admin: Option<(ecoute_domain::StaffId, String)>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    ops: Option<(
        SocketAddr,
        oneshot::Sender<()>,
        JoinHandle<std::io::Result<()>>,
    )>,
    background: Vec<JoinHandle<()>>,
    scheduler_passes: tokio::sync::watch::Receiver<u64>,
}

impl Server {
    /// Opens the engine, creates a first administrator on an empty store, and starts
    /// listening. Readiness follows once the projections have caught up.
    pub async fn start(config: ServeConfig) -> Result<Server, AppError> {
        process::restrict();
        let app = Arc::new(App::open(config.app.clone()).await?);
        let first_admin = app.bootstrap().await?;
        let state = http::ApiState {
            app: app.clone(),
            ready: Arc::new(AtomicBool::new(false)),
        };
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| AppError::internal(format!("cannot listen on {}: {e}", config.addr)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| AppError::fault("no address to listen on", e))?;
        let router = http::router(state.clone(), &config.http);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(http::listen::serve(
            listener,
            router,
            config.http.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        let mut background = Vec::new();
        let mut ops = None;
        if let Some(ops_at) = config.ops_addr {
            let listener = tokio::net::TcpListener::bind(ops_at)
                .await
                .map_err(|e| AppError::fault(format!("cannot listen on {ops_at}"), e))?;
            let bound = listener
                .local_addr()
                .map_err(|e| AppError::fault("no address to listen on", e))?;
            let (ops_stop, ops_stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(http::listen::serve(
                listener,
                http::ops_router(state.clone(), &config.http),
                config.http.clone(),
                async {
                    let _ = ops_stopped.await;
                },
            ));
            tracing::info!(addr = %bound, "operations listening");
            ops = Some((bound, ops_stop, task));
        }
        let ready_state = state.clone();
        background.push(tokio::spawn(async move {
            // A long history may take more than one wait to catch up.
            while ready_state.app.catch_up().await.is_err() {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            // Catching up (a rebuild from zero, above all) is the largest burst of
            // allocations the server makes; give back what it freed.
            allocator::release_free_memory();
            http::set_ready(&ready_state, true);
        }));
        background.push(tokio::spawn(async move {
            // Hand back, now and then, what a burst of requests freed (the C
            // allocator keeps it otherwise): about 10 % of the resident memory
            // after a year of load (docs/benchmarks.md).
            let mut every = tokio::time::interval(allocator::RELEASE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let _ = tokio::task::spawn_blocking(allocator::release_free_memory).await;
            }
        }));
        let (passes, scheduler_passes) = tokio::sync::watch::channel(0u64);
        {
            // Deadlines that fell due while the server was down fire at once: the
            // interval's first tick is immediate.
            let app = app.clone();
            background.push(tokio::spawn(async move {
                let mut every = tokio::time::interval(app.scheduler_tick());
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    if let Err(e) = app.fire_due().await {
                        tracing::warn!(error = %e.chain(), "the scheduler could not fire due deadlines");
                    }
                    if let Err(e) = app.upkeep().await {
                        tracing::warn!(error = %e.chain(), "the upkeep could not run");
                    }
                    passes.send_modify(|n| *n += 1);
                }
            }));
        }
        {
            // Refused attempts on nothing real, written once per source a window.
            let app = app.clone();
            background.push(tokio::spawn(async move {
                let mut every = tokio::time::interval(app.attempts_window());
                every.tick().await;
                loop {
                    every.tick().await;
                    if let Err(e) = app.flush_attempts().await {
                        tracing::error!(error = %e.chain(), "refused attempts could not be recorded");
                    }
                }
            }));
        }
        if app.retention().any() {
            let app = app.clone();
            background.push(tokio::spawn(async move {
                // Hourly, the first pass an hour after the start (a start is busy
                // enough catching up; nothing the rules erase is urgent to the minute).
                let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                every.tick().await;
                loop {
                    every.tick().await;
                    if let Err(e) = app.apply_retention().await {
                        tracing::error!(error = %e, "the retention rules could not be applied");
                    }
                }
            }));
        }
        tracing::info!(%addr, "listening");
        Ok(Server {
            addr,
            app,
            state,
            first_admin,
            stop: Some(stop),
            task,
            ops,
            background,
            scheduler_passes,
        })
    }

    /// Counts the scheduler's completed passes (the first runs at start): wait on it
    /// to know that deadlines due at start have been fired.
    pub fn scheduler_passes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.scheduler_passes.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The operations address, if one was asked for.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().map(|(a, _, _)| *a)
    }

    /// The engine.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// The administrator created on this start's empty store, with their token (to be
    /// shown once); `None` when the store already had staff.
    pub fn first_admin(&self) -> Option<&(ecoute_domain::StaffId, String)> {
        self.first_admin.as_ref()
    }

    /// Stops accepting, lets the requests in flight finish (dropping the
    /// connections still open after `HttpConfig::shutdown_grace`), then stops the
    /// projections and flushes and closes the stores.
    pub async fn shutdown(mut self) -> Result<(), AppError> {
        http::set_ready(&self.state, false);
        for task in self.background.drain(..) {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((_, stop, task)) = self.ops.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        (&mut self.task)
            .await
            .map_err(|e| AppError::fault("the server task failed", e))?
            .map_err(|e| AppError::fault("the server failed", e))?;
        self.app.close().await
    }
}
