//! What is said during one call, as plain data: anonymity, the number, the people
//! described, the facts and the notes.

use std::collections::BTreeSet;

use ecoute_domain::call::Facts;
use ecoute_domain::vocabulary::{AgeBand, PersonRole, Relation, Setting};

use super::{centres, shares, texts};
use crate::rng::Rng;

/// Who calls about a situation, drawn once so that a caller who calls again is the
/// same person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The caller's role: the victim themself, the close circle, a professional.
    pub role: PersonRole,
    /// The caller's relation to the victim.
    pub relation: Relation,
    /// The caller's own age band.
    pub age_band: AgeBand,
    /// The victim's age band (the caller's, when they are the victim).
    pub victim_age: AgeBand,
    /// Whether the caller asks to stay anonymous.
    pub anonymous: bool,
}

impl Caller {
    /// A caller drawn from [`shares::CALLERS`], anonymous with the chance `anonymity`.
    pub fn draw(rng: &mut Rng, anonymity: f64) -> Caller {
        let (role, relation, age_band) = rng.weighted(&shares::CALLERS);
        let victim_age = rng.weighted(&shares::VICTIM_AGES);
        Caller {
            role,
            relation,
            age_band: if role == PersonRole::Victim {
                victim_age
            } else {
                age_band
            },
            victim_age,
            anonymous: rng.chance(anonymity),
        }
    }

    /// Whether the caller is the victim.
    pub fn is_victim(&self) -> bool {
        self.role == PersonRole::Victim
    }
}

/// What a call is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A situation the helpline hears of for the first time: it opens a case.
    NewCase,
    /// The caller of a case calls again; `reachable` when the centre can already call
    /// them back.
    Again {
        /// Whether a callback number is already kept for the case.
        reachable: bool,
    },
    /// Information or advice: no case.
    Information,
}

/// The number situation a call leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Number {
    /// The caller left this number to be called back on.
    Left(String),
    /// Nothing said about a number.
    NotLeft,
    /// The caller refused that their number be kept.
    Refused,
}

/// A person as the listener describes them; the consumer gives them an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Their role in the situation.
    pub role: PersonRole,
    /// Their relation to the victim.
    pub relation: Relation,
    /// Their age band.
    pub age_band: AgeBand,
    /// Whether they live with the victim, if said.
    pub lives_with_victim: Option<bool>,
    /// Their name, if given.
    pub name: Option<String>,
    /// Their address, if given.
    pub address: Option<String>,
    /// A few words about them.
    pub description: Option<String>,
}

/// Whom a listening note is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum About {
    /// The caller.
    Caller,
    /// The victim (only when described in the same call).
    Victim,
}

/// A listening note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The text.
    pub text: String,
    /// Whom it is about.
    pub about: About,
}

/// Everything recorded during one call, in the order it is recorded (anonymity, the
/// number, the caller, the victim, the implicated persons, the others, the facts, the
/// notes), before the call ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSketch {
    /// Whether the caller asks to stay anonymous (first thing recorded).
    pub anonymous: bool,
    /// The callback number, or its refusal.
    pub number: Number,
    /// The caller, described as the victim when they are. Never named when anonymous.
    pub caller: Option<Person>,
    /// The victim, when someone else calls for them.
    pub victim: Option<Person>,
    /// The implicated persons.
    pub implicated: Vec<Person>,
    /// Others around the victim.
    pub others: Vec<Person>,
    /// The facts.
    pub facts: Option<Facts>,
    /// The listening notes.
    pub notes: Vec<Note>,
}

fn number(rng: &mut Rng, (leave, refuse): (f64, f64), departement: &str) -> Number {
    let x = rng.f64();
    if x < leave {
        Number::Left(centres::phone(rng, departement))
    } else if x < leave + refuse {
        Number::Refused
    } else {
        Number::NotLeft
    }
}

/// Facts in `setting`: kinds of abuse from [`shares::ABUSE_KINDS`] (one to three),
/// since when, how often, how they evolve.
pub fn facts(rng: &mut Rng, setting: Setting) -> Facts {
    let mut abuse_kinds = BTreeSet::from([rng.weighted(&shares::ABUSE_KINDS)]);
    while abuse_kinds.len() < 3 && rng.chance(shares::MORE_KINDS) {
        abuse_kinds.insert(rng.weighted(&shares::ABUSE_KINDS));
    }
    Facts {
        abuse_kinds,
        setting,
        since: rng.weighted(&shares::SINCE),
        frequency: rng.weighted(&shares::FREQUENCY),
        evolution: rng.weighted(&shares::EVOLUTION),
    }
}

/// The setting of a situation: at home with [`shares::AT_HOME`], else an institution.
pub fn setting(rng: &mut Rng) -> Setting {
    if rng.chance(shares::AT_HOME) {
        Setting::Home
    } else {
        Setting::Institution
    }
}

/// What is said during a call for `purpose`, by `caller`, in département `departement`
/// (for addresses and phone numbers).
pub fn sketch_call(
    rng: &mut Rng,
    purpose: Purpose,
    caller: &Caller,
    departement: &str,
) -> CallSketch {
    match purpose {
        Purpose::NewCase => new_case(rng, caller, departement),
        Purpose::Again { reachable } => {
            let shares = if reachable {
                shares::NUMBER_AGAIN_REACHABLE
            } else {
                shares::NUMBER_AGAIN_UNREACHABLE
            };
            let number = number(rng, shares, departement);
            short(
                rng,
                caller,
                caller.anonymous,
                number,
                (
                    shares::AGAIN_DESCRIBED,
                    shares::AGAIN_FACTS,
                    shares::AGAIN_NOTE,
                ),
            )
        }
        Purpose::Information => {
            let anonymous = rng.chance(shares::ANONYMOUS_INFORMATION);
            let number = number(rng, shares::NUMBER_INFORMATION, departement);
            short(
                rng,
                caller,
                anonymous,
                number,
                (
                    shares::INFORMATION_DESCRIBED,
                    shares::INFORMATION_FACTS,
                    shares::INFORMATION_NOTE,
                ),
            )
        }
    }
}

fn new_case(rng: &mut Rng, caller: &Caller, departement: &str) -> CallSketch {
    let anonymous = caller.anonymous;
    let shares_of_number = if anonymous {
        shares::NUMBER_NEW_CASE_ANONYMOUS
    } else {
        shares::NUMBER_NEW_CASE_NAMED
    };
    let number = number(rng, shares_of_number, departement);
    let is_victim = caller.is_victim();
    let name = (!anonymous && rng.chance(shares::CALLER_NAMED)).then(|| {
        if is_victim {
            texts::old_name(rng)
        } else {
            texts::name(rng)
        }
    });
    let address =
        (!anonymous && is_victim && rng.chance(0.5)).then(|| centres::address(rng, departement));
    let lives_with_victim = (!is_victim).then(|| rng.chance(shares::CALLER_LIVES_WITH_VICTIM));
    let caller_person = Person {
        role: caller.role,
        relation: caller.relation,
        age_band: caller.age_band,
        lives_with_victim,
        name,
        address,
        description: Some(texts::any(rng, &texts::CALLER_WORDS)),
    };
    let victim = (!is_victim).then(|| Person {
        role: PersonRole::Victim,
        relation: Relation::Themself,
        age_band: caller.victim_age,
        lives_with_victim: None,
        name: rng
            .chance(shares::VICTIM_NAMED)
            .then(|| texts::old_name(rng)),
        address: rng
            .chance(shares::VICTIM_ADDRESS)
            .then(|| centres::address(rng, departement)),
        description: Some(texts::any(rng, &texts::VICTIM_WORDS)),
    });
    let setting = setting(rng);
    let mut implicated = Vec::new();
    if rng.chance(shares::IMPLICATED_DESCRIBED) {
        let (relation, age_band, lives_with_victim, words) = if setting == Setting::Institution {
            *rng.choose(&shares::IMPLICATED_IN_INSTITUTION)
        } else {
            rng.weighted(&shares::IMPLICATED_AT_HOME)
        };
        implicated.push(Person {
            role: PersonRole::Implicated,
            relation,
            age_band,
            lives_with_victim,
            name: rng
                .chance(shares::IMPLICATED_NAMED)
                .then(|| texts::name(rng)),
            address: None,
            description: Some(words.to_string()),
        });
    }
    let mut others = Vec::new();
    if rng.chance(shares::OTHER_DESCRIBED) {
        let (role, relation, words) = *rng.choose(&shares::OTHERS);
        others.push(Person {
            role,
            relation,
            age_band: AgeBand::Unknown,
            lives_with_victim: None,
            name: None,
            address: None,
            description: Some(words.to_string()),
        });
    }
    let facts = facts(rng, setting);
    let count = 1 + usize::from(rng.chance(shares::SECOND_NOTE));
    let notes = (0..count)
        .map(|_| {
            if victim.is_some() && rng.chance(shares::NOTE_ABOUT_VICTIM) {
                Note {
                    text: texts::any(rng, &texts::VICTIM_NOTES),
                    about: About::Victim,
                }
            } else {
                Note {
                    text: texts::any(rng, &texts::CALLER_NOTES),
                    about: About::Caller,
                }
            }
        })
        .collect();
    CallSketch {
        anonymous,
        number,
        caller: Some(caller_person),
        victim,
        implicated,
        others,
        facts: Some(facts),
        notes,
    }
}

/// A short call: a caller calling again, or asking for information.
fn short(
    rng: &mut Rng,
    caller: &Caller,
    anonymous: bool,
    number: Number,
    (described, with_facts, with_note): (f64, f64, f64),
) -> CallSketch {
    let caller_person = rng.chance(described).then(|| Person {
        role: caller.role,
        relation: caller.relation,
        age_band: caller.age_band,
        lives_with_victim: None,
        name: None,
        address: None,
        description: Some(texts::any(rng, &texts::CALLER_WORDS)),
    });
    let facts = rng.chance(with_facts).then(|| {
        let setting = setting(rng);
        facts(rng, setting)
    });
    let notes = if rng.chance(with_note) {
        vec![Note {
            text: texts::any(rng, &texts::SHORT_NOTES),
            about: About::Caller,
        }]
    } else {
        Vec::new()
    };
    CallSketch {
        anonymous,
        number,
        caller: caller_person,
        victim: None,
        implicated: Vec::new(),
        others: Vec::new(),
        facts,
        notes,
    }
}
