//! Personal data, marked in the types.
//!
//! A [`Personal`] value says whose data it is (a [`Subject`]) and cannot leak by accident:
//! its `Debug` and `Display` print a redaction, and it does not implement `Serialize`, so
//! an event field of type `Personal<T>` only compiles when it names [`codec`] explicitly
//! (`#[serde(with = "crate::personal::codec")]`). The codec is the single place where
//! personal values become bytes; a later issue swaps it for encryption per subject.
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
    value: T,
}

impl<T> Personal<T> {
    /// Marks `value` as personal data of `subject`.
    pub fn new(subject: Subject, value: T) -> Self {
        Personal { subject, value }
    }

    /// Whose data this is.
    pub fn subject(&self) -> Subject {
        self.subject
    }

    /// The value in clear. Call it only where the value is shown to someone entitled to
    /// see it; never to log it.
    pub fn reveal(&self) -> &T {
        &self.value
    }

    /// Takes the value out, in clear, with the same care as [`Personal::reveal`].
    pub fn into_revealed(self) -> T {
        self.value
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
}

/// The only place where personal values are turned into bytes and back. Today the value
/// is written in clear next to its subject; a later issue encrypts it with a key per
/// subject, here and nowhere else.
pub mod codec {
    use super::{Personal, Subject};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Out<'a, T> {
        subject: Subject,
        value: &'a T,
    }

    #[derive(Deserialize)]
    struct In<T> {
        subject: Subject,
        value: T,
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
        assert_eq!(p.reveal(), "Jeanne Martin");
    }
}
