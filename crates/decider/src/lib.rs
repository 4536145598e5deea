//! The shape of a pure decision: a state folded from a stream's events, and the
//! events a command records.
//!
//! A [`Decider`] is an entity that lives in one event stream and is decided by two
//! pure functions, in the style of cqrs-es's `Aggregate` and disintegrate's
//! `Decision`: [`Decider::evolve`] folds one event into the state, and
//! [`Decider::decide`] answers a command, given the state and a context (the time,
//! who asks, facts read elsewhere), with the events to record or the reason it is
//! refused. No I/O, no clock, no randomness: replaying a stream always gives the same
//! state, and a decision can be tested without a store.
//!
//! This crate has no dependency. The runner that loads, decides, appends and retries
//! lives in `ecoute-engine`; an application's event type that carries the events of
//! several deciders implements [`Envelope`] for each.
//!
//! ```
//! use ecoute_decider::Decider;
//!
//! /// A counter that refuses to go below zero.
//! struct Counter;
//!
//! enum Command { Add(u32), Take(u32) }
//! #[derive(Debug, PartialEq)]
//! enum Event { Added(u32), Taken(u32) }
//!
//! impl Decider for Counter {
//!     type Id = String;
//!     type State = u32;
//!     type Event = Event;
//!     type Command = Command;
//!     type Context = ();
//!     type Error = &'static str;
//!
//!     fn stream(id: &String) -> String { format!("counter-{id}") }
//!
//!     fn evolve(state: u32, event: &Event) -> u32 {
//!         match event { Event::Added(n) => state + n, Event::Taken(n) => state - n }
//!     }
//!
//!     fn decide(state: &u32, command: &Command, _: &()) -> Result<Vec<Event>, &'static str> {
//!         match *command {
//!             Command::Add(n) => Ok(vec![Event::Added(n)]),
//!             Command::Take(n) if n > *state => Err("not enough"),
//!             Command::Take(n) => Ok(vec![Event::Taken(n)]),
//!         }
//!     }
//! }
//!
//! let state = Counter::fold(&[Event::Added(3)]);
//! assert_eq!(Counter::decide(&state, &Command::Take(2), &()), Ok(vec![Event::Taken(2)]));
//! assert_eq!(Counter::decide(&state, &Command::Take(4), &()), Err("not enough"));
//! let (state, events) =
//!     Counter::decide_all(state, &[Command::Take(1), Command::Add(5)], &()).unwrap();
//! assert_eq!((state, events.len()), (7, 2));
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// An entity that lives in one stream, decided by pure functions.
pub trait Decider {
    /// What names one entity; its stream's name derives from it.
    type Id;
    /// The state folded from the stream's events; `Default` is the state of a stream
    /// that has no event yet.
    type State: Default;
    /// What the stream records.
    type Event;
    /// What may be asked of the entity.
    type Command;
    /// What a decision needs beyond the state: the time, who asks, facts read
    /// elsewhere. Given by the caller, so that the decider never reads a clock.
    type Context;
    /// Why a command is refused.
    type Error;

    /// The stream the entity with this id lives in.
    fn stream(id: &Self::Id) -> String;

    /// The state after one more event.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The events that `command` records on `state`, or why it is refused.
    fn decide(
        state: &Self::State,
        command: &Self::Command,
        ctx: &Self::Context,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    /// The state of a stream holding `events`, in order.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events
            .into_iter()
            .fold(Self::State::default(), |s, e| Self::evolve(s, e))
    }

    /// Decides several commands in turn, each on the state the ones before left:
    /// the state after all of them and every event, or the first refusal.
    fn decide_all<'c>(
        state: Self::State,
        commands: impl IntoIterator<Item = &'c Self::Command>,
        ctx: &Self::Context,
    ) -> Result<Decided<Self>, Self::Error>
    where
        Self::Command: 'c,
    {
        let mut state = state;
        let mut all = Vec::new();
        for command in commands {
            for event in Self::decide(&state, command, ctx)? {
                state = Self::evolve(state, &event);
                all.push(event);
            }
        }
        Ok((state, all))
    }
}

/// The state after a run of commands, and every event they recorded, in order.
pub type Decided<D> = (<D as Decider>::State, Vec<<D as Decider>::Event>);

/// An application's event type that carries the events of decider `D` among others
/// (one enum over every stream of the application, as the store keeps them).
pub trait Envelope<D: Decider>: From<D::Event> {
    /// The event as `D`'s, when it is one of `D`'s.
    fn as_event(&self) -> Option<&D::Event>;
}

/// The state of `D` folded from an application's events, skipping those of other
/// deciders.
pub fn fold_envelopes<'a, D, E>(events: impl IntoIterator<Item = &'a E>) -> D::State
where
    D: Decider,
    E: Envelope<D> + 'a,
{
    D::fold(events.into_iter().filter_map(|e| e.as_event()))
}
