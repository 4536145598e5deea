//! Queries over the read models: a centre's queues, a referent's caseload,
//! statistics — each behind its access rule; reads of queues and caseloads (case
//! ids, waits, overdue flags) are recorded in the access log.

use chrono::NaiveDate;
use ecoute_domain::{CentreId, StaffId};
use ecoute_projections::helpline::{CaseloadEntry, CentreQueue, StatisticsQuery};

use super::disclosure::{self, PublishedStatistics};
use super::{Actor, App};
use crate::access::Action;
use crate::access_log::Outcome as Seen;
use crate::error::AppError;

impl App {
    /// What waits at a centre, how long, and what is overdue.
    pub async fn queue(&self, actor: &Actor, centre: CentreId) -> Result<CentreQueue, AppError> {
        self.check(actor, Action::ReadQueue(centre), None).await?;
        self.record(actor, Action::ReadQueue(centre), None, Seen::Allowed)
            .await?;
        self.catch_up().await?;
        Ok(self.views.cases.queue(centre, self.now())?)
    }

    /// The cases a referent follows.
    pub async fn caseload(
        &self,
        actor: &Actor,
        referent: StaffId,
    ) -> Result<Vec<CaseloadEntry>, AppError> {
        self.check(actor, Action::ReadCaseload(referent), None)
            .await?;
        let action = Action::ReadCaseload(referent);
        self.record(actor, action, None, Seen::Allowed).await?;
        self.catch_up().await?;
        Ok(self.views.cases.caseload(referent)?)
    }

    /// The service's statistics over a period (no personal data), as the member
    /// may see them (see [`disclosure`]): exact for the centres whose cases they may
    /// read, otherwise whole ended months with small cells suppressed. A period
    /// end left out takes its default.
    pub async fn statistics(
        &self,
        actor: &Actor,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        centre: Option<CentreId>,
    ) -> Result<PublishedStatistics, AppError> {
        self.check(actor, Action::ReadStatistics, None).await?;
        let slice = disclosure::slice(actor.snapshot(), from, to, centre, self.now().date_naive())?;
        self.catch_up().await?;
        let report = self.views.statistics.query(&StatisticsQuery {
            from: slice.from,
            to: slice.to,
            centre,
        })?;
        Ok(disclosure::publish(report, &slice))
    }
}
