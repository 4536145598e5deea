//! The one model of the helpline's traffic: what calls and cases look like, in what
//! proportions, with which words — as plain data drawn from a seeded [`Rng`](crate::rng::Rng), never
//! as events or HTTP requests.
//!
//! Every consumer draws from here and plays what it drew its own way:
//! - the simulator ([`Sim`](crate::Sim)) as commands decided by the domain and
//!   appended to a store, call by call on its agenda ([`sketch_call`] for what is
//!   said, [`follow_up`] for what the referent does);
//! - `ecoute demo` (in the server crate) as requests to the HTTP API, journey by
//!   journey ([`journeys`], then the same call sketches and follow-ups);
//! - the HTTP load benchmark (`bench-http`) as a short journey per call, with the same
//!   facts, centres and words.
//!
//! [`shares`] holds every proportion with where it comes from; [`texts`] the French
//! names and words; [`centres`] the named centres, addresses and phone numbers.
//!
//! ```
//! use ecoute_sim::rng::Rng;
//! use ecoute_sim::traffic::{self, Caller, Purpose};
//!
//! let mut rng = Rng::new(3977);
//! let caller = Caller::draw(&mut rng, traffic::shares::ANONYMOUS_NEW_CASE);
//! let call = traffic::sketch_call(&mut rng, Purpose::NewCase, &caller, "69");
//! assert!(call.facts.is_some() && call.caller.is_some());
//! ```

mod call;
pub mod centres;
pub mod follow_up;
mod journey;
pub mod shares;
pub mod texts;

pub use call::{
    facts, setting, sketch_call, About, CallSketch, Caller, Note, Number, Person, Purpose,
};
pub use journey::{journeys, Journey, JourneyKind};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn journeys_come_in_the_models_shares_and_the_seed_decides_them() {
        let calls = 200_000;
        let a = journeys(&mut Rng::new(1), calls);
        assert_eq!(a, journeys(&mut Rng::new(1), calls));
        assert_eq!(a.iter().map(|j| j.calls).sum::<usize>(), calls);
        let cases = a.iter().filter(|j| j.opens_a_case()).count() as f64;
        let again = a.iter().filter(|j| j.calls == 2).count() as f64;
        let at_platform = a
            .iter()
            .filter(|j| {
                matches!(
                    j.kind,
                    JourneyKind::Platform { .. } | JourneyKind::Information { at_centre: false }
                )
            })
            .count() as f64;
        let share = |x: f64| x / calls as f64;
        assert!(
            (share(cases) - shares::NEW_CASE).abs() < 0.01,
            "{}",
            share(cases)
        );
        assert!(
            (share(again) - shares::CALLING_AGAIN).abs() < 0.01,
            "{}",
            share(again)
        );
        assert!((at_platform / a.len() as f64 - shares::PLATFORM).abs() < 0.01);
    }

    #[test]
    fn an_anonymous_caller_is_never_named_and_notes_are_about_someone_described() {
        let mut rng = Rng::new(7);
        for i in 0..2_000 {
            let caller = Caller::draw(&mut rng, 0.5);
            let purpose = match i % 3 {
                0 => Purpose::NewCase,
                1 => Purpose::Again {
                    reachable: i % 2 == 0,
                },
                _ => Purpose::Information,
            };
            let call = sketch_call(&mut rng, purpose, &caller, "2A");
            if call.anonymous {
                let c = call.caller.as_ref();
                assert!(c.is_none_or(|c| c.name.is_none() && c.address.is_none()));
            }
            for note in &call.notes {
                assert!(note.about == About::Caller || call.victim.is_some());
            }
            if let Some(f) = &call.facts {
                assert!(!f.abuse_kinds.is_empty() && f.abuse_kinds.len() <= 3);
            }
            if purpose == Purpose::NewCase {
                assert!(call.caller.is_some() && call.facts.is_some());
                assert_eq!(call.victim.is_some(), !caller.is_victim());
            }
        }
    }
}
