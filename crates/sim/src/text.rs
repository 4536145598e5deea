//! Made-up personal values: names, addresses, phone numbers and the free text that
//! listeners and referents write. Every value is wrapped in [`Personal`] with its subject.

use crate::rng::Rng;
use ecoute_domain::{Personal, Subject};

/// First names, for made-up people.
pub const FIRST_NAMES: [&str; 24] = [
    "Jeanne",
    "Marie",
    "Monique",
    "Simone",
    "Denise",
    "Paulette",
    "Yvette",
    "Colette",
    "Odette",
    "Suzanne",
    "Germaine",
    "Madeleine",
    "Jean",
    "Pierre",
    "Michel",
    "André",
    "René",
    "Marcel",
    "Louis",
    "Robert",
    "Roger",
    "Henri",
    "Lucien",
    "Georges",
];

/// Surnames, for made-up people.
pub const SURNAMES: [&str; 24] = [
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
];

/// Street names, for made-up addresses.
pub const STREETS: [&str; 10] = [
    "rue des Lilas",
    "avenue Jean Jaurès",
    "rue de la République",
    "chemin des Vignes",
    "place de l'Église",
    "rue Victor Hugo",
    "boulevard Pasteur",
    "impasse des Tilleuls",
    "rue du Moulin",
    "allée des Peupliers",
];

const NOTES: [&str; 12] = [
    "speaks slowly, afraid of being overheard",
    "calls from a neighbour's phone",
    "has not told anyone else yet",
    "worried about what will happen to the house",
    "says the situation has lasted for months",
    "cried during the call, wants to think about it",
    "asks that nobody comes to the house without warning",
    "the son comes every day at noon",
    "the bank card was taken away",
    "the nurse noticed bruises last week",
    "does not want to press charges",
    "wants advice before speaking to the family",
];

const ANALYSES: [&str; 8] = [
    "financial abuse by a relative, isolation; propose the social services",
    "exhaustion of the carer spouse; respite care could help",
    "psychological pressure from a child living at home",
    "neglect in the care home; the family is worried",
    "possible abuse of power of attorney; legal advice needed",
    "conflict within the family over the inheritance",
    "physical violence reported by a neighbour; urgency to assess",
    "loneliness and fear; the caller needs support to act",
];

const SOLUTIONS: [&str; 8] = [
    "contact the social services of the town",
    "speak to the attending doctor",
    "see a lawyer about the power of attorney",
    "alert the regional health agency about the care home",
    "ask for home help through the department",
    "contact the bank about the accounts",
    "meet the care home's director with the family",
    "write to the public prosecutor",
];

const ACTIONS: [&str; 6] = [
    "wrote to the social services with the caller's agreement",
    "called the attending doctor together with the caller",
    "sent the caller the list of lawyers of the bar",
    "informed the regional health agency",
    "helped the caller fill in the home help request",
    "arranged a meeting with the care home's director",
];

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    rng.pick(items).unwrap_or("…")
}

/// A name such as "Mme Jeanne Durand".
pub(crate) fn name(rng: &mut Rng, subject: Subject) -> Personal<String> {
    let title = if rng.chance(0.6) { "Mme" } else { "M." };
    let value = format!(
        "{title} {} {}",
        pick(rng, &FIRST_NAMES),
        pick(rng, &SURNAMES)
    );
    Personal::new(subject, value)
}

/// A postal address.
pub(crate) fn address(rng: &mut Rng, subject: Subject, departement: &str) -> Personal<String> {
    let code = if departement.len() == 2 {
        format!("{departement}{:03}", rng.between(0, 999))
    } else {
        format!("{departement}{:02}", rng.between(0, 99))
    };
    let value = format!("{} {}, {code}", rng.between(1, 120), pick(rng, &STREETS));
    Personal::new(subject, value)
}

/// A French phone number, written with spaces.
pub(crate) fn phone(rng: &mut Rng, subject: Subject) -> Personal<String> {
    let prefix = pick(rng, &["01", "02", "03", "04", "05", "06", "06", "07"]);
    let value = format!(
        "{prefix} {:02} {:02} {:02} {:02}",
        rng.between(0, 99),
        rng.between(0, 99),
        rng.between(0, 99),
        rng.between(0, 99)
    );
    Personal::new(subject, value)
}

/// What the caller says of someone.
pub(crate) fn description(rng: &mut Rng, subject: Subject) -> Personal<String> {
    Personal::new(subject, pick(rng, &NOTES).to_string())
}

/// A listening note.
pub(crate) fn note(rng: &mut Rng, subject: Subject) -> Personal<String> {
    Personal::new(subject, pick(rng, &NOTES).to_string())
}

/// A referent's analysis.
pub(crate) fn analysis(rng: &mut Rng, subject: Subject) -> Personal<String> {
    Personal::new(subject, pick(rng, &ANALYSES).to_string())
}

/// A proposed solution.
pub(crate) fn solution(rng: &mut Rng, subject: Subject) -> Personal<String> {
    Personal::new(subject, pick(rng, &SOLUTIONS).to_string())
}

/// A step taken.
pub(crate) fn action(rng: &mut Rng, subject: Subject) -> Personal<String> {
    Personal::new(subject, pick(rng, &ACTIONS).to_string())
}
