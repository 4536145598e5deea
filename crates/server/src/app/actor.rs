//! Who asks: a member of staff as they stand now (or the system), and how they
//! asked — the route, the request's id, the purpose given, the idempotency key.

use ecoute_domain::{Role, StaffId, StaffSnapshot, TokenId};
use ecoute_engine::{Ids, Request};
use uuid::Uuid;

use super::Purpose;

/// The author of a request, as every application call takes it.
#[derive(Debug, Clone)]
pub struct Actor {
    fingerprint: FingerprintSlot,
    snapshot: StaffSnapshot,
    route: String,
    request_id: Uuid,
    purpose: Option<Purpose>,
    key: Option<String>,
    token: Option<(TokenId, Option<StaffId>)>,
    path: Option<String>,
}

/// Where the HTTP layer leaves the digest of a request's body, once it has read it
/// (after the member was authenticated): kept with the commit, keyed by the keys
/// of the persons it names, and compared when the idempotency key comes again.
/// Never shown by `Debug`.
#[derive(Clone, Default)]
pub struct FingerprintSlot(std::sync::Arc<std::sync::OnceLock<[u8; 32]>>);

impl FingerprintSlot {
    /// Records the digest of the body `bytes` (the first call only).
    pub fn fill(&self, bytes: &[u8]) {
        let _ = self.0.set(*blake3::hash(bytes).as_bytes());
    }

    fn get(&self) -> Option<[u8; 32]> {
        self.0.get().copied()
    }
}

impl std::fmt::Debug for FingerprintSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintSlot(..)")
    }
}

impl Actor {
    /// A member of staff, authenticated, asking through `route` (a template such as
    /// `POST /v1/calls/{id}/end`, never a path), with the purpose and idempotency key
    /// they gave (both already checked for shape).
    pub fn new(
        snapshot: StaffSnapshot,
        route: String,
        request_id: Uuid,
        purpose: Option<Purpose>,
        idempotency_key: Option<String>,
    ) -> Self {
        Actor {
            snapshot,
            route,
            request_id,
            purpose,
            key: idempotency_key,
            token: None,
            path: None,
            fingerprint: FingerprintSlot::default(),
        }
    }

    /// The same actor, asking through this method and path (`DELETE
    /// /v1/staff/…/tokens/…`): what a command records with its commit and compares
    /// on a retry, so that one idempotency key reused for another record of the same
    /// route is refused, not answered with the first one's result. Never logged.
    pub fn with_path(mut self, method_and_path: String) -> Self {
        self.path = Some(method_and_path);
        self
    }

    /// Where the request's body digest goes once the body is read.
    pub fn fingerprint_slot(&self) -> FingerprintSlot {
        self.fingerprint.clone()
    }

    /// The same actor, having shown `token`, issued by `issued_by` (`None`: the
    /// system).
    pub fn with_token(mut self, token: TokenId, issued_by: Option<StaffId>) -> Self {
        self.token = Some((token, issued_by));
        self
    }

    /// The token the request came with, and who issued it.
    pub fn token(&self) -> Option<(TokenId, Option<StaffId>)> {
        self.token
    }

    /// The system itself with these roles (the scheduler, the retention rule, the
    /// first enrolment), doing `what`; a key makes what it does idempotent.
    pub fn system(roles: impl IntoIterator<Item = Role>, what: &str, key: Option<String>) -> Self {
        Actor::new(
            super::system(roles),
            what.to_string(),
            Uuid::new_v4(),
            None,
            key,
        )
    }

    /// The member's id (nil for the system).
    pub fn id(&self) -> StaffId {
        self.snapshot.id
    }

    /// Their roles and accreditations, as authenticated.
    pub fn snapshot(&self) -> &StaffSnapshot {
        &self.snapshot
    }

    /// Whether this is the system rather than a member of staff.
    pub fn is_system(&self) -> bool {
        self.snapshot.id.as_uuid().is_nil()
    }

    /// The route (or the system's task) the request came through.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// The request's id, as in the server's logs.
    pub fn request_id(&self) -> Uuid {
        self.request_id
    }

    /// The purpose given with the request, if any.
    pub fn purpose(&self) -> Option<Purpose> {
        self.purpose
    }

    /// The ids the request creates: derived from (member, idempotency key) when a
    /// key was given, so that a retry names the same records.
    pub fn ids(&self) -> Ids {
        match &self.key {
            Some(key) => Ids::from_key(self.snapshot.id.as_uuid().as_bytes(), key),
            None => Ids::random(),
        }
    }

    /// The runner's request for a command on `target` (the route and the ids it
    /// names, recorded with the commit).
    pub(crate) fn request(&self, target: String) -> Request {
        Request {
            target,
            actor: Some(ecoute_domain::staff_stream(self.snapshot.id)),
            correlation_id: self.request_id,
            ids: self.ids(),
            fingerprint: self.fingerprint.get(),
        }
    }

    /// The target of a command on one record: the request's method and path, or
    /// (the system) the task and the record's id.
    pub(crate) fn target(&self, id: impl std::fmt::Display) -> String {
        match &self.path {
            Some(path) => path.clone(),
            None => format!("{} {}", self.route, id),
        }
    }

    /// The target of a command that names no existing record (a new call, a new
    /// member): the request's method and path, or the task.
    pub(crate) fn new_target(&self) -> String {
        self.path.clone().unwrap_or_else(|| self.route.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain digest of a body could confirm a guess of what it said for ever: it
    /// goes into the request for the engine to keep keyed, and never shows in a
    /// `Debug` rendering (of the actor or of the engine's request) a log line
    /// might print.
    #[test]
    fn the_body_digest_reaches_the_request_and_never_debug() {
        let actor = Actor::system([Role::Volunteer], "test", Some("key-1".into()));
        let body = br#"{"name":"Jeanne Martin"}"#;
        actor.fingerprint_slot().fill(body);
        let digest = *blake3::hash(body).as_bytes();
        let request = actor.request("POST /v1/calls/x/persons".into());
        assert_eq!(request.fingerprint, Some(digest));
        let hex = blake3::hash(body).to_hex().to_string();
        let shown: Vec<String> = digest.iter().map(|b| b.to_string()).collect();
        for rendering in [format!("{actor:?}"), format!("{request:?}")] {
            assert!(!rendering.contains(&hex), "{rendering}");
            assert!(!rendering.contains(&shown[..8].join(", ")), "{rendering}");
        }
    }
}
