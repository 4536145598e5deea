//! Staff as the server sees them: every member's stream folded in memory, and the
//! bearer tokens that identify them.
//!
//! A token is 32 random bytes from the operating system, shown once as
//! `ecoute_<64 hex digits>`; the log keeps only its BLAKE3 digest (in a
//! `TokenIssued` event of the member's stream). Tokens carry 256 bits of entropy, so
//! a fast hash is the right one: there is nothing to brute-force. The lookup is by
//! digest, so its timing says nothing about the token.

use std::collections::HashMap;
use std::sync::RwLock;

use ecoute_domain::staff::{self, StaffState};
use ecoute_domain::{staff_stream, Event, StaffId, StaffSnapshot, TokenDigest, TokenId};
use ecoute_store::{Direction, EventStore, ReadFrom, RecordedEvent, StoreError, StreamId};

use crate::error::AppError;

/// The prefix of every token, so that a leaked one is recognisable in a scanner.
pub const TOKEN_PREFIX: &str = "ecoute_";

/// A freshly drawn bearer token: show it once, keep only its digest.
pub struct NewToken {
    /// The token, as the staff member will send it.
    pub secret: String,
    /// Its digest, for the log.
    pub digest: TokenDigest,
}

impl NewToken {
    /// Draws 256 random bits from the operating system.
    pub fn draw() -> Result<Self, AppError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| AppError::fault("no randomness for a token", e))?;
        let mut secret = String::with_capacity(TOKEN_PREFIX.len() + 64);
        secret.push_str(TOKEN_PREFIX);
        for b in bytes {
            secret.push_str(&format!("{b:02x}"));
        }
        let digest = digest(&secret);
        Ok(NewToken { secret, digest })
    }
}

/// The digest under which a token is recorded.
pub fn digest(token: &str) -> TokenDigest {
    TokenDigest(*blake3::hash(token.as_bytes()).as_bytes())
}

struct Member {
    state: StaffState,
    /// The stream version folded so far.
    version: u64,
}

#[derive(Default)]
struct Directory {
    members: HashMap<StaffId, Member>,
    tokens: HashMap<TokenDigest, (StaffId, TokenId, Option<StaffId>)>,
}

/// A token's holder as they stand now, which token it is, and who issued it (`None`:
/// the system, at the first start or a local recovery).
#[derive(Debug, Clone)]
pub struct Holder {
    /// The member, as they stand now.
    pub snapshot: StaffSnapshot,
    /// The token used.
    pub token: TokenId,
    /// Who issued it.
    pub issued_by: Option<StaffId>,
}

/// Every member of staff, folded from their streams, and their tokens.
///
/// Loaded from the `staff` category on start and refreshed from a member's stream
/// after every staff command, before the command is answered, so that a revoked
/// accreditation or token stops working at once.
#[derive(Default)]
pub struct StaffDirectory {
    inner: RwLock<Directory>,
    /// The position in the `staff` category read up to (exclusive), for `follow`.
    followed: std::sync::atomic::AtomicU64,
}

impl StaffDirectory {
    /// Reads every staff stream of the store.
    pub async fn load(store: &dyn EventStore) -> Result<Self, AppError> {
        let dir = StaffDirectory::default();
        dir.follow(store).await?;
        Ok(dir)
    }

    /// Takes in every staff event appended since the last call (or since the
    /// start): what a refresh missed — a request dropped between its commit and
    /// its refresh — is taken in here.
    pub async fn follow(&self, store: &dyn EventStore) -> Result<(), AppError> {
        use std::sync::atomic::Ordering;
        let mut from = self.followed.load(Ordering::SeqCst);
        loop {
            let page = store.read_category("staff", from, 4096).await?;
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            let mut by_member: HashMap<StaffId, Vec<RecordedEvent>> = HashMap::new();
            for e in page {
                by_member.entry(member_of(&e)?).or_default().push(e);
            }
            for (id, events) in by_member {
                self.apply(id, &events)?;
            }
            self.followed.fetch_max(from, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Re-reads one member's stream and applies what is new.
    pub async fn refresh(&self, store: &dyn EventStore, id: StaffId) -> Result<(), AppError> {
        let stream = StreamId::new(staff_stream(id)).map_err(AppError::from)?;
        let from = self
            .read()
            .members
            .get(&id)
            .map_or(0, |m| m.version.saturating_add(1));
        let events = match store
            .read_stream(
                &stream,
                ReadFrom::Version(from),
                Direction::Forward,
                usize::MAX,
            )
            .await
        {
            Ok(events) => events,
            Err(StoreError::StreamNotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        self.apply(id, &events)
    }

    fn apply(&self, id: StaffId, events: &[RecordedEvent]) -> Result<(), AppError> {
        let mut dir = self.write();
        let Directory { members, tokens } = &mut *dir;
        let member = members.entry(id).or_insert_with(|| Member {
            state: StaffState::default(),
            version: u64::MAX,
        });
        for e in events {
            // Already applied by a concurrent refresh.
            if member.version != u64::MAX && e.version <= member.version {
                continue;
            }
            let Event::Staff(event) = decode(e)? else {
                return Err(AppError::internal(format!(
                    "event at {} in a staff stream is not a staff event",
                    e.position
                )));
            };
            match &event {
                staff::StaffEvent::TokenIssued(t) => {
                    let issuer = e
                        .metadata
                        .actor
                        .as_deref()
                        .and_then(|a| a.strip_prefix("staff-"))
                        .and_then(|u| uuid::Uuid::parse_str(u).ok())
                        .filter(|u| !u.is_nil())
                        .map(StaffId::from_uuid);
                    tokens.insert(t.digest, (id, t.token_id, issuer));
                }
                staff::StaffEvent::TokenRevoked(t) => {
                    tokens.retain(|_, (_, token, _)| *token != t.token_id);
                }
                _ => {}
            }
            member.state = staff::evolve(std::mem::take(&mut member.state), &event);
            member.version = e.version;
        }
        Ok(())
    }

    /// Who holds this token, as they stand now; `None` for an unknown or revoked one.
    pub fn authenticate(&self, token: &str) -> Option<Holder> {
        let d = digest(token);
        let dir = self.read();
        let (id, token_id, issued_by) = *dir.tokens.get(&d)?;
        let snapshot = dir.members.get(&id)?.state.snapshot()?.clone();
        Some(Holder {
            snapshot,
            token: token_id,
            issued_by,
        })
    }

    /// A member as they stand now.
    pub fn snapshot(&self, id: StaffId) -> Option<StaffSnapshot> {
        self.read().members.get(&id)?.state.snapshot().cloned()
    }

    /// A member's folded stream and its version, if enrolled.
    pub fn state(&self, id: StaffId) -> Option<(StaffState, u64)> {
        let dir = self.read();
        let m = dir.members.get(&id)?;
        m.state.snapshot()?;
        Some((m.state.clone(), m.version))
    }

    /// The administrators who can act: the role, and at least one live token.
    pub fn acting_administrators(&self) -> Vec<StaffId> {
        self.read()
            .members
            .iter()
            .filter(|(_, m)| {
                m.state
                    .snapshot()
                    .is_some_and(|s| s.has(ecoute_domain::Role::Administrator))
                    && !m.state.tokens().is_empty()
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// How many members are enrolled.
    pub fn len(&self) -> usize {
        self.read()
            .members
            .values()
            .filter(|m| m.state.snapshot().is_some())
            .count()
    }

    /// Whether nobody is enrolled yet (a new store).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Directory> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Directory> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn member_of(e: &RecordedEvent) -> Result<StaffId, AppError> {
    e.stream_id
        .as_str()
        .strip_prefix("staff-")
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .map(StaffId::from_uuid)
        .ok_or_else(|| AppError::internal(format!("stream {} is not a staff stream", e.stream_id)))
}

/// Decodes one stored domain event.
pub fn decode(e: &RecordedEvent) -> Result<Event, AppError> {
    let version = u16::try_from(e.schema_version).map_err(|_| {
        AppError::internal(format!(
            "event at {} has schema version {}",
            e.position, e.schema_version
        ))
    })?;
    ecoute_domain::decode(&e.event_type, version, &e.payload)
        .map_err(|err| AppError::internal(format!("event at {}: {err}", e.position)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = NewToken::draw().unwrap();
        let b = NewToken::draw().unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(a.secret.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(digest(&a.secret), a.digest);
        assert_ne!(a.digest, b.digest);
    }
}
