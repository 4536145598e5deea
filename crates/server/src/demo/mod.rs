//! `ecoute demo`: a realistic, made-up demo set loaded *through the HTTP API*, with the
//! same requests any outside client sends.
//!
//! [`load`] enrols staff with the bootstrap administrator's token (platform listeners
//! in two teams; volunteers and referents accredited at five centres; an auditor; a
//! data-protection officer), then plays caller journeys:
//!
//! - about 97% of cases are opened by the national platform: a listener answers
//!   (`POST /v1/calls`), records anonymity, the callback number or its refusal, the
//!   people, the facts and notes, ends the call and transfers it to the centre of the
//!   caller's département (`POST /v1/calls/{id}/transfer`); a few stay at the platform,
//!   awaiting transfer;
//! - the others are answered at a centre by a pair of volunteers, who open the case
//!   there (`POST /v1/calls/{id}/case`);
//! - some calls lead to no case, and some callers call again about their case;
//! - then, for most cases, a referent of the centre who took none of its calls takes
//!   it, tries to call the caller back, proposes solutions, records the caller's
//!   consent or refusal, acts only on what was consented to, and sometimes closes it.
//!
//! What the journeys are, in what proportions and with which words, comes from the
//! one traffic model, `ecoute_sim::traffic`, which the simulator and the HTTP load
//! benchmark draw from too; this module plays it through the API (`journey.rs`), with
//! its HTTP client (`api.rs`), its staff (`staff.rs`) and its guide (`guide.rs`).
//!
//! Every choice comes from [`DemoConfig::seed`], one generator per journey, so the same
//! seed gives the same journeys whatever the order in which the concurrent journeys
//! land. Names, addresses and phone numbers are made up; the numbers are in the ranges
//! the French regulator (ARCEP) keeps for fiction. Every write carries an
//! `Idempotency-Key`, so a request whose answer was lost is retried safely.

mod api;
mod guide;
mod journey;
mod staff;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use ecoute_domain::Role;
use ecoute_sim::rng::Rng;
use ecoute_sim::traffic;
use futures::stream::{self, StreamExt, TryStreamExt};
use uuid::Uuid;

use api::Api;
use journey::{Journey, JourneyOutcome};
use staff::enrol_staff;

/// What to load.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// How many calls, split into journeys in the traffic model's shares
    /// (`ecoute_sim::traffic::shares`: 22 % open a case, 18 % come from a caller
    /// calling again, the rest inform or advise).
    pub calls: usize,
    /// The seed of every choice.
    pub seed: u64,
    /// How many journeys run at once.
    pub concurrency: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            calls: 300,
            seed: 3977,
            concurrency: 8,
        }
    }
}

/// A member of staff the demo enrolled, with the token it was given.
#[derive(Debug, Clone)]
pub struct DemoMember {
    /// Their staff id.
    pub staff_id: Uuid,
    /// Their bearer token.
    pub token: String,
    /// Their roles.
    pub roles: Vec<Role>,
    /// The centres (département codes) where they are accredited.
    pub centres: Vec<String>,
}

/// How much the demo recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoCounts {
    /// Calls answered.
    pub calls: u64,
    /// Calls answered by the national platform.
    pub platform_calls: u64,
    /// Calls answered at a centre by a pair of volunteers.
    pub centre_calls: u64,
    /// Calls that led to no case.
    pub calls_without_case: u64,
    /// Calls of a caller calling again, linked to their case.
    pub calls_linked: u64,
    /// Cases opened.
    pub cases: u64,
    /// Cases opened at a centre (the rest by the national platform).
    pub cases_opened_by_centres: u64,
    /// Cases transferred from the platform to a centre.
    pub transferred: u64,
    /// Cases still at the platform, awaiting transfer.
    pub awaiting_transfer: u64,
    /// Cases given a referent.
    pub referents_assigned: u64,
    /// Attempts to call a caller back.
    pub recontacts: u64,
    /// Solutions proposed.
    pub solutions: u64,
    /// Consents given.
    pub consents_given: u64,
    /// Consents refused.
    pub consents_refused: u64,
    /// Consents withdrawn after being given.
    pub consents_withdrawn: u64,
    /// Actions taken on consented solutions.
    pub actions: u64,
    /// Cases closed (and still closed at the end).
    pub closed: u64,
    /// Closed cases reopened by a new call.
    pub reopened: u64,
}

impl DemoCounts {
    fn add(&mut self, o: &DemoCounts) {
        self.calls += o.calls;
        self.platform_calls += o.platform_calls;
        self.centre_calls += o.centre_calls;
        self.calls_without_case += o.calls_without_case;
        self.calls_linked += o.calls_linked;
        self.cases += o.cases;
        self.cases_opened_by_centres += o.cases_opened_by_centres;
        self.transferred += o.transferred;
        self.awaiting_transfer += o.awaiting_transfer;
        self.referents_assigned += o.referents_assigned;
        self.recontacts += o.recontacts;
        self.solutions += o.solutions;
        self.consents_given += o.consents_given;
        self.consents_refused += o.consents_refused;
        self.consents_withdrawn += o.consents_withdrawn;
        self.actions += o.actions;
        self.closed += o.closed;
        self.reopened += o.reopened;
    }
}

/// What [`load`] did, and what a visitor needs to try the API.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// The server's base URL, such as `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The bootstrap administrator's token.
    pub admin_token: String,
    /// Every member the demo enrolled.
    pub staff: Vec<DemoMember>,
    /// How much was recorded.
    pub counts: DemoCounts,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// How long the load took.
    pub elapsed: Duration,
    /// The centre the guide shows (the one of [`DemoSummary::sample_case`]).
    pub sample_centre: String,
    /// An open case with a referent, solutions and consent, to show its history.
    pub sample_case: Option<Uuid>,
    /// The referent following the sample case.
    pub sample_referent: Option<Uuid>,
}

/// Loads the demo set through the API at `base_url` (such as `http://127.0.0.1:8080`),
/// as the administrator holding `admin_token`; returns what was loaded and the tokens
/// of the staff it enrolled.
pub async fn load(base_url: &str, admin_token: &str, config: DemoConfig) -> Result<DemoSummary> {
    let start = Instant::now();
    let api = Api::new(base_url)?;
    api.wait_ready().await?;
    let mut rng = Rng::new(config.seed);
    let staff = enrol_staff(&api, admin_token, &mut rng, config.seed).await?;
    let plans = traffic::journeys(&mut rng, config.calls);
    let total_calls = config.calls;
    let calls_done = Arc::new(AtomicUsize::new(0));
    let next_report = Arc::new(AtomicUsize::new(100));
    let outcomes: Vec<JourneyOutcome> = stream::iter(plans)
        .map(|p| {
            let api = api.clone();
            let staff = staff.clone();
            let calls_done = calls_done.clone();
            let next_report = next_report.clone();
            let seed = config.seed;
            async move {
                let index = p.index;
                let outcome = Journey::new(&api, &staff, &p, seed)
                    .run()
                    .await
                    .with_context(|| format!("demo journey {index}"))?;
                let done = calls_done.fetch_add(p.calls, Ordering::Relaxed) + p.calls;
                let mark = next_report.load(Ordering::Relaxed);
                if done >= mark
                    && next_report
                        .compare_exchange(mark, mark + 100, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::info!("demo: {done} of {total_calls} calls loaded");
                }
                Ok::<_, anyhow::Error>(outcome)
            }
        })
        .buffer_unordered(config.concurrency.max(1))
        .try_collect()
        .await?;
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|o| o.index);
    let mut counts = DemoCounts::default();
    for o in &outcomes {
        counts.add(&o.counts);
    }
    // The case to show: the richest open case with a referent, at the busiest centre.
    let mut per_centre: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        if let Some(c) = &o.case {
            *per_centre.entry(c.centre).or_default() += 1;
        }
    }
    let preferred = ["69", "75", "13", "33", "59"];
    let sample_centre = preferred
        .iter()
        .copied()
        .find(|c| per_centre.get(c).copied().unwrap_or(0) > 0)
        .unwrap_or("69");
    let sample = outcomes
        .iter()
        .filter_map(|o| o.case.as_ref())
        .filter(|c| c.centre == sample_centre && c.referent.is_some() && !c.closed)
        .max_by_key(|c| (c.richness, std::cmp::Reverse(c.case_id)));
    let members = staff.members();
    Ok(DemoSummary {
        base_url: api.base.clone(),
        admin_token: admin_token.to_string(),
        staff: members,
        counts,
        requests: api.requests.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        sample_centre: sample_centre.to_string(),
        sample_case: sample.map(|c| c.case_id),
        sample_referent: sample.and_then(|c| c.referent),
    })
}
