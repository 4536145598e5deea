//! A case reference the caller can quote: 8 characters read out on the phone and
//! written down by an elderly caller, such as `K7Q2-M9XD`.
//!
//! - **An alphabet without look-alikes**: Crockford's base 32 (digits and capitals
//!   without `I`, `L`, `O`, `U`); when read back, `I` and `L` are taken as `1` and
//!   `O` as `0`, case, spaces and dashes do not matter.
//! - **A check character** last: Luhn's algorithm over the 32 symbols (Luhn mod
//!   N), which catches every single misheard or mistyped character and every swap
//!   of two neighbours but one (`0` and `Z`, the first and last symbols), so that a
//!   wrong reference is answered "check the reference", not "not found".
//! - **Nothing personal**: the seven other characters are 35 random bits the caller
//!   of [`CaseReference::from_random`] draws (the domain draws nothing itself); a
//!   collision is drawn again by the decision that opens the case.

use std::fmt;

/// Crockford's base-32 symbols, in value order.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// How many characters a reference has, its check character included.
pub const LEN: usize = 8;

/// A case's reference: seven random symbols and a check symbol.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseReference([u8; LEN]);

/// Why a text is not a case reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Not 8 characters once spaces and dashes are left out.
    #[error("a case reference has 8 characters, such as K7Q2-M9XD")]
    Length,
    /// A character outside the alphabet.
    #[error("a case reference has only digits and letters other than U")]
    Character,
    /// The check character does not match: a character was misheard or swapped.
    #[error("check the reference: one of its characters was misheard or swapped")]
    Check,
}

/// The value of a symbol (Crockford's aliases taken), if it is one.
fn value(c: u8) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        b'I' | b'L' => b'1',
        b'O' => b'0',
        c => c,
    };
    ALPHABET.iter().position(|&a| a == c).map(|v| v as u8)
}

/// Luhn mod 32 over `values` (each below 32): the sum that a valid sequence, its
/// check symbol last, makes a multiple of 32.
fn luhn_sum(values: impl DoubleEndedIterator<Item = u8>, double_first: bool) -> u32 {
    let mut double = double_first;
    let mut sum = 0u32;
    for v in values.rev() {
        let mut addend = u32::from(v);
        if double {
            addend *= 2;
            addend = addend / 32 + addend % 32;
        }
        sum += addend;
        double = !double;
    }
    sum
}

impl CaseReference {
    /// The reference made of 35 bits of `random` (the last 5 bits are unused) and
    /// its check symbol.
    pub fn from_random(random: [u8; 5]) -> Self {
        let bits = random
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
            >> 5;
        let mut values = [0u8; LEN - 1];
        for (i, v) in values.iter_mut().enumerate() {
            *v = ((bits >> (5 * (LEN - 2 - i))) & 31) as u8;
        }
        let check = ((32 - luhn_sum(values.iter().copied(), true) % 32) % 32) as u8;
        let mut symbols = [0u8; LEN];
        for (s, v) in symbols.iter_mut().zip(values.iter().chain([&check])) {
            *s = ALPHABET[usize::from(*v)];
        }
        CaseReference(symbols)
    }

    /// Reads a reference as a caller or a listener types it: case, spaces and
    /// dashes do not matter, `I`/`L` read as `1` and `O` as `0`.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let kept: Vec<u8> = text
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'-' | b'\t'))
            .collect();
        if kept.len() != LEN {
            return Err(ReferenceError::Length);
        }
        let mut values = [0u8; LEN];
        for (v, &c) in values.iter_mut().zip(&kept) {
            *v = value(c).ok_or(ReferenceError::Character)?;
        }
        if luhn_sum(values.iter().copied(), false) % 32 != 0 {
            return Err(ReferenceError::Check);
        }
        let mut symbols = [0u8; LEN];
        for (s, v) in symbols.iter_mut().zip(values) {
            *s = ALPHABET[usize::from(v)];
        }
        Ok(CaseReference(symbols))
    }

    /// The reference as one word of 8 symbols (`K7Q2M9XD`), for index keys.
    pub fn compact(&self) -> &str {
        // Only ASCII symbols of the alphabet are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// As read to the caller: two groups of four (`K7Q2-M9XD`).
impl fmt::Display for CaseReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.compact();
        write!(f, "{}-{}", &s[..4], &s[4..])
    }
}

impl fmt::Debug for CaseReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseReference({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_reference_reads_back_however_it_is_typed(random in any::<[u8; 5]>()) {
            let r = CaseReference::from_random(random);
            let shown = r.to_string();
            prop_assert_eq!(shown.len(), 9);
            prop_assert_eq!(&shown[4..5], "-");
            prop_assert!(!shown.contains(['I', 'L', 'O', 'U']));
            prop_assert_eq!(CaseReference::parse(&shown), Ok(r));
            let typed = format!(" {} {} ", shown[..4].to_lowercase(), &shown[5..]);
            prop_assert_eq!(CaseReference::parse(&typed), Ok(r));
            let aliased = r.compact().replace('1', "l").replace('0', "o");
            prop_assert_eq!(CaseReference::parse(&aliased), Ok(r));
        }

        #[test]
        fn every_misheard_character_is_caught(
            random in any::<[u8; 5]>(),
            at in 0..LEN,
            other in 0u8..32,
        ) {
            let r = CaseReference::from_random(random);
            let mut wrong = r.0;
            prop_assume!(ALPHABET[usize::from(other)] != wrong[at]);
            wrong[at] = ALPHABET[usize::from(other)];
            let text = std::str::from_utf8(&wrong).unwrap();
            prop_assert_eq!(CaseReference::parse(text), Err(ReferenceError::Check));
        }
    }

    #[test]
    fn swapped_neighbours_are_caught_but_for_0_and_z() {
        let (mut caught, mut missed) = (0, 0);
        for seed in 0u64..2_000 {
            let bytes = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes();
            let r = CaseReference::from_random([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]]);
            for at in 0..LEN - 1 {
                let mut swapped = r.0;
                swapped.swap(at, at + 1);
                if swapped == r.0 {
                    continue;
                }
                let (a, b) = (value(r.0[at]).unwrap(), value(r.0[at + 1]).unwrap());
                match CaseReference::parse(std::str::from_utf8(&swapped).unwrap()) {
                    Err(ReferenceError::Check) => caught += 1,
                    _ => {
                        assert!(
                            (a, b) == (0, 31) || (a, b) == (31, 0),
                            "only a swap of 0 and Z may pass, not {a} and {b}"
                        );
                        missed += 1;
                    }
                }
            }
        }
        assert!(caught > 100 * missed, "{caught} caught, {missed} missed");
    }

    #[test]
    fn what_is_not_a_reference_says_why() {
        assert_eq!(
            CaseReference::parse("K7Q2-M9X"),
            Err(ReferenceError::Length)
        );
        assert_eq!(
            CaseReference::parse("K7Q2-M9XU"),
            Err(ReferenceError::Character)
        );
        assert_eq!(
            CaseReference::parse("K7Q2-M9X!"),
            Err(ReferenceError::Character)
        );
        assert_eq!(CaseReference::parse(""), Err(ReferenceError::Length));
        assert_eq!(
            CaseReference::parse("é7Q2-M9XD"),
            Err(ReferenceError::Length)
        );
    }
}
