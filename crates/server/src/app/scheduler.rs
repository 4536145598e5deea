//! The scheduler: fires the deadlines that fell due, exactly once in effect.
//!
//! The timer projection indexes armed deadlines by due time; the scheduler reads
//! those due (a range read: its cost follows the number due, not the number armed)
//! and gives each case a `MissDeadline` command as the system. The command's event
//! id is derived from (case, deadline, due time), so a restart or a second scheduler
//! that fires the same deadline again is answered from the first commit and appends
//! nothing; a command that arrives late is decided on the case as it stands, and
//! refused if the deadline was kept, re-armed or the case closed.

use ecoute_domain::case::CaseCommand;
use ecoute_domain::{case_stream, Cases, Decider, DomainError};

use super::{Actor, App, Append};
use crate::error::AppError;

/// At most this many deadlines are fired per pass.
const BATCH: usize = 1000;

impl App {
    /// Fires every deadline due now; returns how many were recorded as missed.
    pub async fn fire_due(&self) -> Result<usize, AppError> {
        self.catch_up().await?;
        let mut fired = 0;
        loop {
            let due = self.views.timers.due(self.now(), BATCH)?;
            let n = due.len();
            for d in due {
                let target = format!("deadline {} {:?} {}", d.case_id, d.kind, d.due.to_rfc3339());
                let key = format!(
                    "deadline/{}/{:?}/{}",
                    d.case_id,
                    d.kind,
                    d.due.timestamp_micros()
                );
                let system = Actor::system([], &target, Some(key));
                let stream = case_stream(d.case_id);
                let command = CaseCommand::MissDeadline {
                    kind: d.kind,
                    due: d.due,
                };
                let result = self
                    .run(&system, target, vec![stream.clone()], |loaded, now| {
                        let (state, expected) = loaded.fold::<Cases>(&d.case_id);
                        let ctx = self.context(system.snapshot(), now, [])?;
                        let events = Cases::decide(&state, &command, &ctx)?;
                        Ok(vec![Append::new(stream.clone(), expected, events)])
                    })
                    .await;
                match result {
                    Ok(outcome) if !outcome.replayed => {
                        fired += 1;
                        tracing::info!(kind = ?d.kind, "deadline missed: the case is flagged overdue");
                    }
                    Ok(_) => {}
                    // The case moved on before the command arrived: nothing to flag.
                    Err(AppError::Rule(
                        DomainError::DeadlineNotArmed
                        | DomainError::DeadlineAlreadyMissed
                        | DomainError::DeadlineNotDue
                        | DomainError::CaseIsClosed,
                    )) => {}
                    Err(e) => return Err(e),
                }
            }
            // The index follows the log: wait for it before the next batch.
            self.catch_up().await?;
            if n < BATCH {
                return Ok(fired);
            }
        }
    }
}
