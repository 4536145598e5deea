//! Access decisions and the access log: every check, refusal and consultation is
//! recorded here, and nowhere else.

use ecoute_domain::CaseId;
use uuid::Uuid;

use super::{Actor, App};
use crate::access::{self, Action};
use crate::access_log::{AccessRecord, Outcome};
use crate::auth::Holder;
use crate::error::AppError;

/// Why data is read or changed: a closed list, so that no free text (a name typed
/// by mistake) is kept in the access log for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reading a case to follow it.
    CaseFollowUp,
    /// Recording on a call or a case.
    CaseWork,
    /// Preparing or making a call back.
    CallBack,
    /// Sharing out the cases: queues, caseloads.
    CaseAllocation,
    /// An auditor's review of what was done and when (personal values withheld).
    Audit,
    /// An auditor's review of one case's personal values: the only purpose under
    /// which an auditor reads them.
    AuditValues,
    /// The service's statistics.
    Statistics,
    /// Managing staff.
    StaffManagement,
    /// Answering a person's access or erasure request.
    DataSubjectRequest,
    /// Taking a backup.
    Backup,
}

impl Purpose {
    /// Every purpose, as requests name them.
    pub const ALL: [Purpose; 10] = [
        Purpose::CaseFollowUp,
        Purpose::CaseWork,
        Purpose::CallBack,
        Purpose::CaseAllocation,
        Purpose::Audit,
        Purpose::AuditValues,
        Purpose::Statistics,
        Purpose::StaffManagement,
        Purpose::DataSubjectRequest,
        Purpose::Backup,
    ];

    /// Its name, as requests give it and the access log keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::CaseFollowUp => "case-follow-up",
            Purpose::CaseWork => "case-work",
            Purpose::CallBack => "call-back",
            Purpose::CaseAllocation => "case-allocation",
            Purpose::Audit => "audit",
            Purpose::AuditValues => "audit-values",
            Purpose::Statistics => "statistics",
            Purpose::StaffManagement => "staff-management",
            Purpose::DataSubjectRequest => "data-subject-request",
            Purpose::Backup => "backup",
        }
    }

    /// The purpose with this name, if it is one.
    pub fn parse(name: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The purpose recorded when a request gives none.
    fn implied_by(action: Action) -> Purpose {
        match action {
            Action::ReadCase(_) => Purpose::CaseFollowUp,
            Action::ActOnCase(_) | Action::ActOnCall(_) | Action::ReceiveCall(_) => {
                Purpose::CaseWork
            }
            Action::ReadQueue(_) | Action::ReadCaseload(_) => Purpose::CaseAllocation,
            Action::ReadStatistics => Purpose::Statistics,
            Action::ManageStaff | Action::ReadStaff(_) => Purpose::StaffManagement,
            Action::SubjectRights => Purpose::DataSubjectRequest,
            Action::Backup => Purpose::Backup,
        }
    }
}

impl App {
    /// The member a bearer token belongs to, as they stand now; a missing or unknown
    /// token is recorded in the access log and refused.
    pub async fn authenticate(
        &self,
        token: Option<&str>,
        route: &str,
        request_id: Uuid,
    ) -> Result<Holder, AppError> {
        if let Some(holder) = token.and_then(|t| self.staff.authenticate(t)) {
            return Ok(holder);
        }
        // Counted, and written once per route a window (see `attempts.rs`).
        self.attempts.note(AccessRecord {
            staff: None,
            roles: Vec::new(),
            token: None,
            token_issued_by: None,
            action: "authenticate".into(),
            route: route.to_string(),
            case: None,
            outcome: Outcome::Unauthenticated,
            purpose: String::new(),
            at: self.now(),
            request_id,
            attempts: None,
        });
        Err(AppError::Unauthenticated)
    }

    /// Asks the access rules; a refusal is recorded and answered 403, or 404 where
    /// the resource's existence is itself confidential.
    pub(crate) async fn check(
        &self,
        actor: &Actor,
        action: Action,
        case: Option<CaseId>,
    ) -> Result<(), AppError> {
        if access::allowed(actor.snapshot(), action) {
            return Ok(());
        }
        Err(self.refused(actor, action, case).await)
    }

    /// Records a refused attempt and gives the error to answer with.
    pub(crate) async fn refused(
        &self,
        actor: &Actor,
        action: Action,
        case: Option<CaseId>,
    ) -> AppError {
        let (outcome, error) = if action.hides_existence() {
            (Outcome::NotFound, AppError::NotFound("case"))
        } else {
            (
                Outcome::Refused,
                AppError::Forbidden(format!("your roles do not allow {} here", action.name())),
            )
        };
        match self.record(actor, action, case, outcome).await {
            Ok(()) => error,
            Err(e) => e,
        }
    }

    /// Records one consultation (or attempt) in the access log.
    pub(crate) async fn record(
        &self,
        actor: &Actor,
        action: Action,
        case: Option<CaseId>,
        outcome: Outcome,
    ) -> Result<(), AppError> {
        self.write_access(&self.access_record(actor, action, case, outcome))
            .await
    }

    /// Counts an attempt on something that does not exist (a case, a call): written
    /// once per member, route and window (see `attempts.rs`).
    pub(crate) fn note_attempt(&self, actor: &Actor, action: Action) {
        self.attempts
            .note(self.access_record(actor, action, None, Outcome::NotFound));
    }

    /// Writes the attempts counted since the last call, one record per source and
    /// route; returns how many records. Called every `AppConfig::attempts_window`
    /// and at close.
    pub async fn flush_attempts(&self) -> Result<usize, AppError> {
        let records = self.attempts.take();
        let written = records.len();
        let mut records = records.into_iter();
        while let Some(r) = records.next() {
            if let Err(e) = self.write_access(&r).await {
                // Kept for the next window: counted attempts are never dropped.
                for r in std::iter::once(r).chain(records) {
                    self.attempts.note(r);
                }
                return Err(e);
            }
        }
        Ok(written)
    }

    fn access_record(
        &self,
        actor: &Actor,
        action: Action,
        case: Option<CaseId>,
        outcome: Outcome,
    ) -> AccessRecord {
        let snapshot = actor.snapshot();
        AccessRecord {
            staff: (!actor.is_system()).then_some(snapshot.id),
            roles: snapshot.roles.iter().copied().collect(),
            token: actor.token().map(|(t, _)| t),
            token_issued_by: actor.token().and_then(|(_, by)| by),
            action: action.name().into(),
            route: actor.route().to_string(),
            case,
            outcome,
            purpose: actor
                .purpose()
                .unwrap_or_else(|| Purpose::implied_by(action))
                .as_str()
                .to_string(),
            at: self.now(),
            request_id: actor.request_id(),
            attempts: None,
        }
    }

    /// Records the outcome of a command that answered "not found": the call or case
    /// does not exist, or the actor may not see it (the same answer either way). An
    /// existing case the actor may not see is recorded under it, at once; anything
    /// else is counted (`note_attempt`).
    pub(crate) async fn record_not_found<T>(
        &self,
        actor: &Actor,
        action: Action,
        case: Option<CaseId>,
        result: Result<T, AppError>,
    ) -> Result<T, AppError> {
        if let Err(AppError::NotFound(_)) = &result {
            let hidden = match case {
                Some(id) => self.case_state(id).await?.is_some(),
                None => false,
            };
            if hidden {
                self.record(actor, action, case, Outcome::NotFound).await?;
            } else {
                self.note_attempt(actor, action);
            }
        }
        result
    }

    pub(crate) async fn write_access(&self, record: &AccessRecord) -> Result<(), AppError> {
        self.access_log.record(record).await?;
        self.metrics.access_record();
        Ok(())
    }
}
