//! The centres the demo and the HTTP load name, and the places and phone numbers of
//! any département.

use crate::rng::Rng;

/// A departmental centre with a city, for addresses that read true.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Centre {
    /// Its département code.
    pub code: &'static str,
    /// The city its made-up addresses are in.
    pub city: &'static str,
    /// The first three digits of the city's postcodes.
    pub postcode: &'static str,
    /// Its relative share of the cases transferred to the named centres. The demo's
    /// figures for its five centres; the last three are the HTTP load's extra centres,
    /// weighted as smaller départements. Not a published figure.
    pub weight: f64,
}

/// The named centres. The demo enrols staff at the first [`DEMO_CENTRES`]; the HTTP
/// load transfers cases to all of them (an overseas one and Corsica included, so the
/// three-character and lettered codes are exercised).
pub const CENTRES: [Centre; 8] = [
    Centre {
        code: "75",
        city: "Paris",
        postcode: "750",
        weight: 0.28,
    },
    Centre {
        code: "69",
        city: "Lyon",
        postcode: "690",
        weight: 0.22,
    },
    Centre {
        code: "13",
        city: "Marseille",
        postcode: "130",
        weight: 0.2,
    },
    Centre {
        code: "59",
        city: "Lille",
        postcode: "590",
        weight: 0.17,
    },
    Centre {
        code: "33",
        city: "Bordeaux",
        postcode: "330",
        weight: 0.13,
    },
    Centre {
        code: "44",
        city: "Nantes",
        postcode: "440",
        weight: 0.1,
    },
    Centre {
        code: "974",
        city: "Saint-Denis",
        postcode: "974",
        weight: 0.06,
    },
    Centre {
        code: "2A",
        city: "Ajaccio",
        postcode: "200",
        weight: 0.02,
    },
];

/// How many of [`CENTRES`] the demo staffs.
pub const DEMO_CENTRES: usize = 5;

/// One of `centres` (not empty), by weight.
pub fn pick<'a>(rng: &mut Rng, centres: &'a [Centre]) -> &'a Centre {
    let weighted: Vec<(usize, f64)> = centres
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.weight))
        .collect();
    &centres[rng.weighted(&weighted)]
}

/// The named centre of département `code`, if any.
pub fn named(code: &str) -> Option<&'static Centre> {
    CENTRES.iter().find(|c| c.code == code)
}

/// A made-up postal address in département `code`: in its city for a named centre.
pub fn address(rng: &mut Rng, code: &str) -> String {
    let n = rng.between(1, 140);
    let street = rng.choose(&super::texts::STREETS);
    match named(code) {
        Some(c) => {
            let district = rng.between(1, 9);
            format!("{n} {street}, {}{district:02} {}", c.postcode, c.city)
        }
        None if code.len() == 2 => format!("{n} {street}, {code}{:03}", rng.between(0, 999)),
        None => format!("{n} {street}, {code}{:02}", rng.between(0, 99)),
    }
}

/// A made-up phone number of département `code`, from the ranges the French
/// regulator (ARCEP) keeps for fiction: a mobile, or a landline of its region.
pub fn phone(rng: &mut Rng, code: &str) -> String {
    let prefix = if rng.chance(0.45) {
        "06 39 98"
    } else {
        landline(code)
    };
    format!(
        "{prefix} {:02} {:02}",
        rng.between(0, 99),
        rng.between(0, 99)
    )
}

/// ARCEP's fiction range for the region of département `code`.
fn landline(code: &str) -> &'static str {
    const PARIS: [&str; 8] = ["75", "77", "78", "91", "92", "93", "94", "95"];
    const NORTH_WEST: [&str; 24] = [
        "14", "18", "22", "27", "28", "29", "35", "36", "37", "41", "44", "45", "49", "50", "53",
        "56", "61", "72", "76", "85", "974", "976", "86", "79",
    ];
    const NORTH_EAST: [&str; 23] = [
        "02", "08", "10", "21", "25", "39", "51", "52", "54", "55", "57", "58", "59", "60", "62",
        "67", "68", "70", "71", "80", "88", "89", "90",
    ];
    const SOUTH_WEST: [&str; 23] = [
        "09", "11", "12", "16", "17", "19", "23", "24", "31", "32", "33", "40", "46", "47", "64",
        "65", "66", "81", "82", "87", "971", "972", "973",
    ];
    if PARIS.contains(&code) {
        "01 99 00"
    } else if NORTH_WEST.contains(&code) {
        "02 61 91"
    } else if NORTH_EAST.contains(&code) {
        "03 53 01"
    } else if SOUTH_WEST.contains(&code) {
        "05 36 49"
    } else {
        "04 65 71"
    }
}
