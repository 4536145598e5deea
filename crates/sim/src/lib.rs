//! Generates realistic, valid helpline histories, for tests, benchmarks and demos.
//!
//! [`Sim`] drives the domain the way the server does: it folds staff streams into the
//! snapshots of the [`Context`](ecoute_domain::Context), passes call summaries to the
//! case commands, decides every command with the domain's `decide` (it never makes an
//! event up) and yields, one [`Commit`](ecoute_store::Commit) per command, the events
//! encoded with [`ecoute_domain::encode`] with the exact expected versions to append them
//! with. Time is simulated (the wall clock is never read) and every id, choice and text
//! comes from [`SimConfig::seed`]: the same configuration always gives the same commits.
//!
//! The default configuration follows the helpline's public volumes for a year (2024):
//! about 60,000 calls and 13,000 cases, 97% of cases opened by the national platform and
//! transferred to one of 52 departmental centres, about 600 volunteers. Calls open a case
//! (22%), join an existing one (18%; a closed case reopens) or end without one; callers
//! may ask for anonymity and refuse that their number be kept; people are described with
//! names, addresses and notes wrapped in [`Personal`](ecoute_domain::Personal); about 73%
//! of situations are at home and the implicated person is most often family. Cases are
//! transferred, given a referent who did not take their calls, recontacted (reached, no
//! answer, wrong number) or left awaiting the caller's call-back, offered solutions that
//! the caller consents to, refuses or withdraws from, acted on, closed and sometimes
//! reopened. Some accreditations are revoked along the way, and the staff replaced.
//!
//! What calls and cases look like, in what proportions and with which words, is not
//! the simulator's own: it draws them from [`traffic`], the one model of the helpline's
//! traffic that `ecoute demo` and the HTTP load benchmark draw from too.
//!
//! [`load`] and [`load_batched`] append a whole history to an
//! [`EventStore`](ecoute_store::EventStore).
//!
//! ```
//! use ecoute_sim::{Sim, SimConfig};
//!
//! let config = SimConfig { days: 2, ..SimConfig::default() };
//! let commits: Vec<_> = Sim::new(config.clone()).unwrap().collect();
//! let again: Vec<_> = Sim::new(config).unwrap().collect();
//! assert_eq!(commits, again);
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod load;
pub mod rng;
mod sim;
pub mod traffic;

pub use config::SimConfig;
pub use load::{load, load_batched, LoadReport};
pub use sim::{Sim, SimStats};

use thiserror::Error;

/// Why a simulation could not run or be loaded.
#[derive(Debug, Error)]
pub enum SimError {
    /// The configuration cannot produce a valid history.
    #[error("invalid simulation config: {0}")]
    InvalidConfig(String),
    /// The store refused or failed an append.
    #[error("store error while loading the simulation: {0}")]
    Store(#[from] ecoute_store::StoreError),
}
