//! Operations: backups (administrators) and the metrics' figures.

use std::path::PathBuf;

use ecoute_store::{BackupReport, EventStore};

use super::{Actor, App};
use crate::access::Action;
use crate::error::AppError;

impl App {
    /// A consistent copy of the event log and the access log into `dir` (absent or
    /// empty), while the server runs; never the keys.
    pub async fn backup(
        &self,
        actor: &Actor,
        dir: PathBuf,
    ) -> Result<(BackupReport, BackupReport), AppError> {
        self.check(actor, Action::Backup, None).await?;
        if !dir.is_absolute() {
            return Err(AppError::bad(
                "dir",
                "an absolute path on the server's machine",
            ));
        }
        if dir.exists()
            && std::fs::read_dir(&dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(AppError::bad("dir", "must be absent or empty"));
        }
        #[cfg(unix)]
        if dir.exists() {
            // A directory someone else owns could be read by them: refused.
            use std::os::unix::fs::MetadataExt;
            let owner = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.uid()).ok();
            if owner(&dir) != owner(&self.config.data_dir) {
                return Err(AppError::bad(
                    "dir",
                    "must be owned by the user the server runs as",
                ));
            }
        }
        let (log, access) = (self.store.clone(), self.access_log.store().clone());
        let (log, access) = tokio::task::spawn_blocking(move || {
            let log = log.backup(&dir.join("log"))?;
            let access = access.backup(&dir.join("access-log"))?;
            Ok::<_, ecoute_store::StoreError>((log, access))
        })
        .await
        .map_err(|e| AppError::fault("backup task failed", e))??;
        tracing::info!(records = log.records, "backup written");
        Ok((log, access))
    }

    /// The OpenMetrics text of `/metrics`: requests, commits, conflicts, access
    /// records, the log's head, the projections' lag, the deadlines.
    pub async fn metrics_text(&self) -> Result<String, AppError> {
        let head = self.store.head().await?;
        let lags = self
            .runtime
            .status()
            .into_iter()
            .map(|s| (s.name.to_string(), s.lag));
        let counts = self.views.timers.counts()?;
        self.metrics
            .deadlines(counts.armed, counts.fired, counts.overdue);
        Ok(self.metrics.render(head, lags))
    }
}
