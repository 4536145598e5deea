//! Where a call is answered and a case is followed: the national platform or a
//! departmental centre, named by its validated département code.

use crate::error::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every département code that has a centre: `01`–`95` without `20`, Corsica's `2A` and
/// `2B`, and the overseas `971`–`974` and `976`.
const CODES: [&str; 101] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "2A", "2B", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
    "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46", "47",
    "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "60", "61", "62", "63",
    "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74", "75", "76", "77", "78", "79",
    "80", "81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93", "94", "95",
    "971", "972", "973", "974", "976",
];

/// The code of a département that has a departmental centre (centre départemental).
/// It can only hold a valid code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DepartementCode(&'static str);

impl Serialize for DepartementCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for DepartementCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl DepartementCode {
    /// Parses a code such as `"69"`, `"2A"` or `"974"`; anything else is refused.
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        CODES
            .iter()
            .find(|c| **c == code)
            .map(|c| Self(c))
            .ok_or_else(|| DomainError::InvalidCentre {
                code: code.chars().take(8).collect(),
            })
    }

    /// The code as written: `"01"`, `"2A"`, `"974"`.
    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// All valid codes, in the usual administrative order.
    pub fn all() -> impl Iterator<Item = DepartementCode> {
        CODES.iter().map(|c| DepartementCode(c))
    }
}

impl TryFrom<String> for DepartementCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DepartementCode> for String {
    fn from(c: DepartementCode) -> String {
        c.0.to_string()
    }
}

impl fmt::Display for DepartementCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for DepartementCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DepartementCode({})", self.0)
    }
}

/// A place of the service: the national platform (3977) or a departmental centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CentreId {
    /// The national platform, where professional listeners answer the 3977.
    NationalPlatform,
    /// The centre of one département, where volunteers answer in pairs and referents
    /// follow the cases.
    Departement(DepartementCode),
}

impl CentreId {
    /// Parses `"national"` or a département code.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if s == "national" {
            Ok(CentreId::NationalPlatform)
        } else {
            DepartementCode::parse(s).map(CentreId::Departement)
        }
    }

    /// The département code, if this is a departmental centre.
    pub fn departement(&self) -> Option<DepartementCode> {
        match self {
            CentreId::NationalPlatform => None,
            CentreId::Departement(d) => Some(*d),
        }
    }
}

impl fmt::Display for CentreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CentreId::NationalPlatform => f.write_str("national"),
            CentreId::Departement(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, valid: bool) {
        assert_eq!(
            DepartementCode::parse(input).is_ok(),
            valid,
            "département code {input:?}"
        );
    }

    #[test]
    fn departement_codes() {
        for ok in [
            "01", "09", "19", "2A", "2B", "21", "69", "95", "971", "974", "976",
        ] {
            check(ok, true);
        }
        for bad in [
            "", "0", "00", "1", "20", "96", "99", "975", "977", "2C", "2a", " 69", "69 ", "069",
            "national", "١٢",
        ] {
            check(bad, false);
        }
        assert_eq!(DepartementCode::all().count(), 101);
    }

    #[test]
    fn centre_ids_parse_and_print() {
        assert_eq!(CentreId::parse("national"), Ok(CentreId::NationalPlatform));
        let lyon = CentreId::parse("69").unwrap();
        assert_eq!(lyon.to_string(), "69");
        assert_eq!(lyon.departement().map(|d| d.as_str()), Some("69"));
        assert!(CentreId::parse("20").is_err());
    }

    #[test]
    fn decoding_refuses_an_invalid_code() {
        let bytes = bincode::serde::encode_to_vec("20", bincode::config::standard()).unwrap();
        let r: Result<(DepartementCode, usize), _> =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard());
        assert!(r.is_err());
        let bytes = bincode::serde::encode_to_vec("2B", bincode::config::standard()).unwrap();
        let (d, _): (DepartementCode, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(d.as_str(), "2B");
    }
}
