//! Refused attempts that name nothing real — no valid token, a case or call that
//! does not exist — counted in memory and written as one access record per source,
//! route and window: every attempt is recorded, and the access log grows by at most
//! one record per source and route a window, whatever a client sends.

use std::collections::HashMap;
use std::sync::Mutex;

use ecoute_domain::{Role, StaffId};

use crate::access_log::{AccessRecord, Outcome};

/// What makes two attempts the same line of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Source {
    staff: Option<StaffId>,
    roles: Vec<Role>,
    action: String,
    route: String,
    outcome: Outcome,
}

/// The attempts noted since the last write.
#[derive(Default)]
pub(crate) struct Attempts {
    noted: Mutex<HashMap<Source, AccessRecord>>,
}

impl Attempts {
    /// Counts an attempt (or the attempts a record already stands for, put back
    /// after a failed write); the first of its source keeps its time, purpose and
    /// request id.
    pub(crate) fn note(&self, record: AccessRecord) {
        let n = record.attempts.unwrap_or(1);
        let source = Source {
            staff: record.staff,
            roles: record.roles.clone(),
            action: record.action.clone(),
            route: record.route.clone(),
            outcome: record.outcome,
        };
        let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
        noted
            .entry(source)
            .and_modify(|r| r.attempts = Some(r.attempts.unwrap_or(1) + n))
            .or_insert(AccessRecord {
                attempts: Some(n),
                ..record
            });
    }

    /// Takes the records to write: one per source, with its count.
    pub(crate) fn take(&self) -> Vec<AccessRecord> {
        let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
        let mut records: Vec<AccessRecord> = noted.drain().map(|(_, r)| r).collect();
        records.sort_by_key(|r| r.at);
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn attempt(route: &str, second: u32) -> AccessRecord {
        AccessRecord {
            staff: None,
            roles: Vec::new(),
            token: None,
            token_issued_by: None,
            action: "authenticate".into(),
            route: route.into(),
            case: None,
            outcome: Outcome::Unauthenticated,
            purpose: String::new(),
            at: Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, second).unwrap(),
            request_id: uuid::Uuid::new_v4(),
            attempts: None,
        }
    }

    #[test]
    fn attempts_of_one_source_make_one_record_with_their_count() {
        let a = Attempts::default();
        for s in 0..5 {
            a.note(attempt("GET /v1/statistics", s));
        }
        a.note(attempt("GET /v1/me", 9));
        let records = a.take();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].route, "GET /v1/statistics");
        assert_eq!(records[0].attempts, Some(5));
        assert_eq!(
            records[0].at.timestamp() % 60,
            0,
            "the first attempt's time"
        );
        assert_eq!(records[1].attempts, Some(1));
        assert!(a.take().is_empty(), "taken once");
    }
}
