//! A serde form for timestamps held in derived state (a case's folded state,
//! read-model records): text (RFC 3339) for human-readable formats such as
//! JSON, and a compact `(seconds, nanoseconds)` pair for binary ones such as
//! the read models' bincode — which then need no date parsing on each read.
//!
//! Not for event payloads: their stored form is fixed by their schema version.
//!
//! ```
//! use chrono::{DateTime, TimeZone, Utc};
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Held {
//!     #[serde(with = "ecoute_domain::time")]
//!     at: DateTime<Utc>,
//! }
//! let held = Held { at: Utc.with_ymd_and_hms(2026, 11, 28, 9, 30, 0).unwrap() };
//! assert_eq!(serde_json::to_string(&held).unwrap(), r#"{"at":"2026-11-28T09:30:00Z"}"#);
//! ```

use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serializes a timestamp: text if the format is human-readable, else `(seconds, nanoseconds)`.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        at.serialize(s)
    } else {
        (at.timestamp(), at.timestamp_subsec_nanos()).serialize(s)
    }
}

/// Deserializes what [`serialize`] wrote; an out-of-range pair is an error.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    if d.is_human_readable() {
        DateTime::<Utc>::deserialize(d)
    } else {
        let (secs, nanos) = <(i64, u32)>::deserialize(d)?;
        DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| D::Error::custom("timestamp out of range"))
    }
}

/// A timestamp in this form, for places `with` cannot reach (inside tuples, say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct At(#[serde(with = "self")] pub DateTime<Utc>);

/// The same for an optional timestamp: `#[serde(with = "ecoute_domain::time::option")]`.
pub mod option {
    use super::*;

    /// Serializes an optional timestamp.
    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        at.map(At).serialize(s)
    }

    /// Deserializes an optional timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<At>::deserialize(d)?.map(|a| a.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Held {
        #[serde(with = "crate::time")]
        at: DateTime<Utc>,
        #[serde(with = "crate::time::option")]
        maybe: Option<DateTime<Utc>>,
    }

    proptest! {
        #[test]
        fn round_trips_in_binary_and_text(secs in -100_000_000_000i64..100_000_000_000, nanos in 0u32..1_000_000_000, some in any::<bool>()) {
            let at = DateTime::from_timestamp(secs, nanos).unwrap();
            let held = Held { at, maybe: some.then_some(at) };
            let cfg = bincode::config::standard();
            let bytes = bincode::serde::encode_to_vec(&held, cfg).unwrap();
            let (back, _): (Held, usize) = bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
            prop_assert_eq!(&back, &held);
            let json = serde_json::to_string(&held).unwrap();
            prop_assert_eq!(serde_json::from_str::<Held>(&json).unwrap(), held);
        }
    }

    #[test]
    fn an_out_of_range_pair_is_an_error() {
        let cfg = bincode::config::standard();
        let bytes =
            bincode::serde::encode_to_vec((i64::MAX, 0u32, None::<(i64, u32)>), cfg).unwrap();
        assert!(bincode::serde::decode_from_slice::<Held, _>(&bytes, cfg).is_err());
    }
}
