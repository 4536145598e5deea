//! A command engine that knows nothing of the helpline: pure deciders
//! ([`ecoute_decider::Decider`]) run by a [`Runner`] over any
//! [`ecoute_store::EventStore`].
//!
//! A command runs in four steps, retried on fresh state when it loses a race:
//! 1. load the streams it names and decode them with the application's [`Codec`];
//! 2. decide, purely, on the folded state and the time the runner's clock gives;
//! 3. let the application prepare the events ([`CommitHooks::prepare`]: sealing
//!    personal values, say), encode them and append them in one commit, each stream
//!    with the exact version it was read at;
//! 4. on a wrong expected version, start again (at most [`RunnerConfig::retries`]
//!    times), then answer [`EngineError::Conflict`].
//!
//! Irreversible work a commit allows is carried out only once the commit is in the
//! log, and finished at the next start if a stop came in between (see
//! [`CommitHooks`] and [`Runner::settle`]).
//!
//! `examples/library.rs` is a whole application on it: a lending library with its
//! own events, a decider, a projection on the projection runtime, and the store —
//! `cargo run -p ecoute-engine --example library`.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod hooks;
mod ids;
mod runner;
mod turns;

pub use async_trait::async_trait;
pub use ecoute_decider::{Decider, Envelope};
pub use error::{BoxError, EngineError};
pub use hooks::{Codec, CommitHooks, Encoded, Never, NoHooks};
pub use ids::Ids;
pub use runner::{Append, Loaded, Outcome, Request, Runner, RunnerConfig};
