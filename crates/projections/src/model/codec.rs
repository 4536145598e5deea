//! The values and keys of read models: bincode with a size limit, keys held inline.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ProjectionError, Result};

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 16 << 20 }>()
}

/// Encodes a read-model value (into a reused buffer, then one allocation of
/// the exact size: a growing `Vec` would reallocate several times per value).
pub fn encode_value<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        let mut buf = scratch.try_borrow_mut().map_err(|_| {
            ProjectionError::Model("value encoding re-entered on one thread".into())
        })?;
        buf.clear();
        encode_into(value, &mut buf)?;
        let out = buf.to_vec();
        // Do not keep a rare huge buffer alive on the thread.
        if buf.capacity() > 1 << 20 {
            *buf = Vec::new();
        }
        Ok(out)
    })
}

/// Appends a value's encoding to `out`; on failure `out` is left as it was.
pub(super) fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    let len = out.len();
    bincode::serde::encode_into_std_write(value, &mut *out, config())
        .map(|_| ())
        .map_err(|e| {
            out.truncate(len);
            ProjectionError::caused(format!("value cannot be encoded: {e}"), e)
        })
}

/// Decodes the value at the start of `bytes`, and how many bytes it took.
fn decode_first<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize)> {
    bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| ProjectionError::caused(format!("stored value cannot be decoded: {e}"), e))
}

/// Decodes a value made of values appended one after the other
/// ([`ModelTx::append`](crate::ModelTx::append)); a damaged value is an error, never a panic.
pub fn decode_appended<T: DeserializeOwned>(mut bytes: &[u8]) -> Result<Vec<T>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (v, used) = decode_first(bytes)?;
        out.push(v);
        bytes = bytes.get(used..).unwrap_or_default();
    }
    Ok(out)
}

/// Decodes a read-model value; a damaged value is an error, never a panic.
pub fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    decode_first(bytes).map(|(v, _)| v)
}

/// A read-model key, held inline up to 64 bytes (about every key the
/// helpline's models use): building one, looking it up or keeping it among a
/// chunk's changes allocates nothing.
pub type Key = smallvec::SmallVec<[u8; 64]>;

/// A key made of text, without an allocation for the usual sizes.
pub fn text_key(args: std::fmt::Arguments<'_>) -> Key {
    struct Out(Key);
    impl std::fmt::Write for Out {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let mut out = Out(Key::new());
    // Writing into a buffer fails only if a `Display` does: none of the keys' parts do.
    let _ = std::fmt::Write::write_fmt(&mut out, args);
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_cannot_be_decoded_keeps_why() {
        let err = decode_value::<String>(&[0xff]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("read model: stored value cannot be decoded: "),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    }

    #[test]
    fn text_keys_are_their_text_however_long() {
        assert_eq!(&text_key(format_args!("c/{}", 42))[..], b"c/42");
        let long = "x".repeat(200);
        assert_eq!(
            &text_key(format_args!("n/{long}/y"))[..],
            format!("n/{long}/y").as_bytes()
        );
    }
}
