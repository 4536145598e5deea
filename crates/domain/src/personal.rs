//! Personal data, marked in the types.
//!
//! A [`Personal`] value says whose data it is (a [`Subject`]) and cannot leak by accident:
//! its `Debug` and `Display` print a redaction, and it does not implement `Serialize`, so
//! an event field of type `Personal<T>` only compiles when it names [`codec`] explicitly
//! (`#[serde(with = "crate::personal::codec")]`). The codec is the single place where
//! personal values become bytes.
//!
//! A value is held as [`Protected`]: in clear (as a command gives it), sealed (encrypted
//! with its subject's key), or erased (the key was destroyed). The domain does no
//! cryptography and no I/O: whoever stores events seals every clear value first, through
//! [`Personal::seal`] and [`HasPersonalData::personal_values_mut`], and whoever shows
//! them to an entitled reader opens them with [`Personal::open`].
//!
//! Forgetting the codec fails to compile:
//!
//! ```compile_fail
//! use ecoute_domain::personal::Personal;
//! #[derive(serde::Serialize)]
//! struct Leaky {
//!     name: Personal<String>,
//! }
//! ```
//!
//! Naming the codec compiles:
//!
//! ```
//! use ecoute_domain::personal::Personal;
//! #[derive(serde::Serialize)]
//! struct Explicit {
//!     #[serde(with = "ecoute_domain::personal::codec")]
//!     name: Personal<String>,
//! }
//! ```

use crate::ids::SubjectId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which kind of person a data subject is, within one call or case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Whose {
    /// The person who called the helpline (who may also be the victim).
    Caller,
    /// The older person suffering the abuse, when not the caller.
    Victim,
    /// Anyone else: a person of the close circle, a professional, an implicated person.
    OtherPerson,
}

/// A data subject: a random id that carries no personal data, and what kind of person
/// they are. Each person of a call is a separate subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Subject {
    /// The random id of the subject.
    pub id: SubjectId,
    /// Whether the subject is the caller, the victim or another person.
    pub whose: Whose,
}

impl Subject {
    /// A subject that is the caller.
    pub fn caller(id: SubjectId) -> Self {
        Subject {
            id,
            whose: Whose::Caller,
        }
    }
}

/// A personal value (a name, a phone number, an address, a free-text note) and the
/// subject it belongs to. It prints as a redaction and has no `Serialize` of its own.
#[derive(Clone, PartialEq, Eq)]
pub struct Personal<T> {
    subject: Subject,
    value: Protected<T>,
}

/// How a personal value is held.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protected<T> {
    /// In clear: as a command gives it, or once opened for an entitled reader. Never
    /// stored by the server.
    Clear(T),
    /// Encrypted with the subject's key.
    Sealed(Sealed),
    /// The subject's key was destroyed: the value can never be read again.
    Erased,
    /// Held, but not opened for this reader (an auditor reviewing what was done
    /// sees values only when they ask for them with their purpose). Only ever in
    /// an answer: never stored.
    Withheld,
}

/// A value encrypted with an AEAD under its subject's key: the nonce, and the
/// ciphertext with its tag. The domain never looks inside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The nonce it was sealed with (24 bytes for XChaCha20-Poly1305).
    pub nonce: Vec<u8>,
    /// The ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

impl<T> Personal<T> {
    /// Marks `value` as personal data of `subject`.
    pub fn new(subject: Subject, value: T) -> Self {
        Personal {
            subject,
            value: Protected::Clear(value),
        }
    }

    /// Whose data this is.
    pub fn subject(&self) -> Subject {
        self.subject
    }

    /// The value in clear, when it is held in clear. Call it only where the value is
    /// shown to someone entitled to see it; never to log it.
    pub fn reveal(&self) -> Option<&T> {
        match &self.value {
            Protected::Clear(v) => Some(v),
            _ => None,
        }
    }

    /// How the value is held.
    pub fn protected(&self) -> &Protected<T> {
        &self.value
    }

    /// Whether the value is held in clear.
    pub fn is_clear(&self) -> bool {
        matches!(self.value, Protected::Clear(_))
    }
}

impl Personal<String> {
    /// Seals a clear value with `encrypt(subject, plaintext)`; a sealed or erased value
    /// is left as it is.
    pub fn seal<E>(
        &mut self,
        encrypt: impl FnOnce(Subject, &[u8]) -> Result<Sealed, E>,
    ) -> Result<(), E> {
        if let Protected::Clear(v) = &self.value {
            self.value = Protected::Sealed(encrypt(self.subject, v.as_bytes())?);
        }
        Ok(())
    }

    /// Withholds a sealed or clear value from a reader who may not see it; an erased
    /// value stays erased (that it was erased is not personal).
    pub fn withhold(&mut self) {
        if !matches!(self.value, Protected::Erased) {
            self.value = Protected::Withheld;
        }
    }

    /// Opens a sealed value with `decrypt(subject, sealed)`: `Some(text)` puts it in
    /// clear, `None` (the key is gone) marks it erased. A clear or erased value is left
    /// as it is.
    pub fn open<E>(
        &mut self,
        decrypt: impl FnOnce(Subject, &Sealed) -> Result<Option<String>, E>,
    ) -> Result<(), E> {
        if let Protected::Sealed(s) = &self.value {
            self.value = match decrypt(self.subject, s)? {
                Some(v) => Protected::Clear(v),
                None => Protected::Erased,
            };
        }
        Ok(())
    }
}

impl<T> fmt::Debug for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Personal(<redacted> of {:?} {})",
            self.subject.whose, self.subject.id
        )
    }
}

impl<T> fmt::Display for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One personal value found in an event: the field that holds it and its subject. The
/// subject index and the erasure of a subject's data start from this list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersonalField {
    /// The name of the event field, such as `"name"` or `"callback_number"`.
    pub field: &'static str,
    /// Whose value it is.
    pub subject: Subject,
}

impl PersonalField {
    /// The entry for `value`, held in the field named `field`.
    pub fn of<T>(field: &'static str, value: &Personal<T>) -> Self {
        PersonalField {
            field,
            subject: value.subject,
        }
    }
}

/// Something that can list the personal values it holds, with their subjects.
pub trait HasPersonalData {
    /// Every personal value held, in field order.
    fn personal_fields(&self) -> Vec<PersonalField>;

    /// Every personal value held, to seal or open them, in field order.
    fn personal_values_mut(&mut self) -> Vec<&mut Personal<String>>;
}

/// The only place where personal values are turned into bytes and back: the subject,
/// then the value as [`Protected`] (clear, sealed or erased).
pub mod codec {
    use super::{Personal, Protected, Subject};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Out<'a, T> {
        subject: Subject,
        value: &'a Protected<T>,
    }

    #[derive(Deserialize)]
    struct In<T> {
        subject: Subject,
        value: Protected<T>,
    }

    /// Writes a personal value; use with `#[serde(with = "crate::personal::codec")]`.
    pub fn serialize<T: Serialize, S: Serializer>(
        p: &Personal<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        Out {
            subject: p.subject,
            value: &p.value,
        }
        .serialize(s)
    }

    /// Reads a personal value written by [`serialize`].
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Personal<T>, D::Error> {
        let In { subject, value } = In::deserialize(d)?;
        Ok(Personal { subject, value })
    }

    /// The same codec for an optional personal value; use with
    /// `#[serde(with = "crate::personal::codec::option")]`.
    pub mod option {
        use super::{In, Out};
        use crate::personal::Personal;
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        /// Writes an optional personal value.
        pub fn serialize<T: Serialize, S: Serializer>(
            p: &Option<Personal<T>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            p.as_ref()
                .map(|p| Out {
                    subject: p.subject,
                    value: &p.value,
                })
                .serialize(s)
        }

        /// Reads an optional personal value.
        pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Personal<T>>, D::Error> {
            Ok(Option::<In<T>>::deserialize(d)?
                .map(|In { subject, value }| Personal { subject, value }))
        }
    }
}

/// The codec of the first schema versions, which wrote the value in clear next to its
/// subject; kept to read those versions back (as clear values).
pub(crate) mod codec_v1 {
    use super::{Personal, Subject};
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    struct In<T> {
        subject: Subject,
        value: T,
    }

    /// Reads a personal value written in clear.
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Personal<T>, D::Error> {
        let In { subject, value } = In::deserialize(d)?;
        Ok(Personal::new(subject, value))
    }

    /// The same for an optional value.
    pub mod option {
        use super::In;
        use crate::personal::Personal;
        use serde::{Deserialize, Deserializer};

        /// Reads an optional personal value written in clear.
        pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Personal<T>>, D::Error> {
            Ok(Option::<In<T>>::deserialize(d)?
                .map(|In { subject, value }| Personal::new(subject, value)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn debug_and_display_redact() {
        let p = Personal::new(
            Subject::caller(SubjectId::from_uuid(Uuid::from_u128(7))),
            "Jeanne Martin".to_string(),
        );
        let debug = format!("{p:?}");
        assert!(!debug.contains("Jeanne"), "{debug}");
        assert!(debug.contains("redacted"));
        assert!(debug.contains("Caller"));
        assert_eq!(p.to_string(), "<redacted>");
        assert_eq!(p.reveal().map(String::as_str), Some("Jeanne Martin"));
    }
}
