//! The ids a command creates: derived from an idempotency key, or random.

use uuid::Uuid;

/// Makes the ids a command creates (the events', and those of the entities it
/// opens): derived from (scope, idempotency key, label) when a key was given, so
/// that a retry names the same events and entities; random otherwise.
#[derive(Clone, Debug)]
pub struct Ids {
    seed: Option<[u8; 32]>,
}

impl Ids {
    /// Random ids.
    pub fn random() -> Self {
        Ids { seed: None }
    }

    /// Ids derived from an idempotency key given within `scope` (who gave it: two
    /// members' keys never collide).
    pub fn from_key(scope: &[u8], key: &str) -> Self {
        let mut h = blake3::Hasher::new_derive_key("ecoute 2026 idempotency key v1");
        h.update(scope);
        h.update(key.as_bytes());
        Ids {
            seed: Some(*h.finalize().as_bytes()),
        }
    }

    /// Whether these ids come from an idempotency key.
    pub fn keyed(&self) -> bool {
        self.seed.is_some()
    }

    /// The id named `label` (`"call"`, `"event/0"`, …): the same for the same key
    /// and label, random without a key.
    pub fn uuid(&self, label: &str) -> Uuid {
        match &self.seed {
            None => Uuid::new_v4(),
            Some(seed) => {
                let mut h = blake3::Hasher::new_keyed(seed);
                h.update(label.as_bytes());
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&h.finalize().as_bytes()[..16]);
                uuid::Builder::from_custom_bytes(bytes).into_uuid()
            }
        }
    }

    /// The id of the `n`-th event of the command's commit.
    pub fn event(&self, n: usize) -> Uuid {
        self.uuid(&format!("event/{n}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_ids_repeat_and_random_ones_do_not() {
        let a = Ids::from_key(b"member-1", "k");
        assert_eq!(a.uuid("call"), Ids::from_key(b"member-1", "k").uuid("call"));
        assert_ne!(a.uuid("call"), a.uuid("case"));
        assert_ne!(a.uuid("call"), Ids::from_key(b"member-2", "k").uuid("call"));
        assert_ne!(a.uuid("call"), Ids::from_key(b"member-1", "l").uuid("call"));
        let r = Ids::random();
        assert!(!r.keyed() && a.keyed());
        assert_ne!(r.uuid("call"), r.uuid("call"));
    }
}
