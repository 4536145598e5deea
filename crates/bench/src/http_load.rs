//! Write load over real HTTP: closed-loop clients, each a platform listener taking
//! calls one after the other through the `/v1` API.
//!
//! One client's loop, per call (every request is one command, timed and counted on
//! its own):
//!
//! 1. `POST /v1/calls {"door":"platform"}` — the call is answered;
//! 2. `POST /v1/calls/{id}/persons` — the victim described (name, address, a few words);
//! 3. `POST /v1/calls/{id}/facts` — kinds of abuse, setting, since when, how often;
//! 4. `POST /v1/calls/{id}/notes` — a note of the conversation (about 300 characters);
//! 5. `POST /v1/calls/{id}/end`;
//! 6. for 22 % of calls (the helpline's share of calls that open a case),
//!    `POST /v1/calls/{id}/transfer {"centre":…}` — a case opened and handed to a
//!    centre in one commit (two streams).
//!
//! A short journey, always the same requests, so that the figure measures the
//! server; what each request carries comes from the one traffic model
//! (`ecoute_sim::traffic`): its share of calls that open a case, its victims' ages,
//! facts (abuse kinds, setting, since when, how often, how they evolve), named
//! centres, addresses and French words.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ecoute_domain::vocabulary::{PersonRole, Relation};
use ecoute_sim::rng::Rng;
use ecoute_sim::traffic::centres::{self, CENTRES};
use ecoute_sim::traffic::{self, shares, texts};
use ecoute_store::{EventStore, SledStore, StoreConfig};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::stats::{BoxFut, Writer};

/// A client for one simulated listener: one connection, kept alive.
pub fn client() -> Result<Client> {
    Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")
}

/// Sends one request and checks its status; the error names the request and gives
/// the answer's body.
pub async fn send(
    client: &Client,
    token: &str,
    base: &str,
    path: &str,
    body: Option<&Value>,
    want: StatusCode,
) -> Result<Value> {
    let mut request = client.post(format!("{base}{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("reading the answer to POST {path}"))?;
    if status != want {
        bail!(
            "POST {path} {} answered {status} (expected {want}): {text}",
            body.map(Value::to_string).unwrap_or_default()
        );
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("POST {path} answered {text}"))
}

/// Enrols `n` platform listeners (in one platform team) with the administrator's
/// token; returns their bearer tokens.
pub async fn enrol_listeners(base: &str, admin_token: &str, n: usize) -> Result<Vec<String>> {
    let client = client()?;
    let team = Uuid::new_v4();
    let mut tokens = Vec::with_capacity(n);
    for _ in 0..n {
        let body = json!({ "roles": ["PlatformListener"], "team": team });
        let answer = send(
            &client,
            admin_token,
            base,
            "/v1/staff",
            Some(&body),
            StatusCode::CREATED,
        )
        .await?;
        let token = answer
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("POST /v1/staff answered without a token: {answer}"))?;
        tokens.push(token.to_string());
    }
    Ok(tokens)
}

/// One listener taking calls in a loop over HTTP.
pub struct CallTaker {
    client: Client,
    base: String,
    token: String,
    step: u8,
    call: String,
    calls: u64,
    transfer: bool,
    /// The centre of the caller's département (addresses, the transfer).
    centre: &'static str,
    rng: Rng,
    /// Requests answered, warm-up included, shared by all takers.
    sent: Arc<AtomicU64>,
}

impl CallTaker {
    /// A listener with its own connection; `seed` varies the facts and transfers.
    pub fn new(base: &str, token: String, seed: u64, sent: Arc<AtomicU64>) -> Result<Self> {
        Ok(CallTaker {
            client: client()?,
            base: base.to_string(),
            token,
            step: 0,
            call: String::new(),
            calls: 0,
            transfer: false,
            centre: CENTRES[0].code,
            rng: Rng::new(seed),
            sent,
        })
    }

    async fn post(&self, path: &str, body: Option<&Value>, want: StatusCode) -> Result<Value> {
        send(&self.client, &self.token, &self.base, path, body, want).await
    }

    async fn step(&mut self) -> Result<()> {
        match self.step {
            0 => {
                let answer = self
                    .post(
                        "/v1/calls",
                        Some(&json!({"door": "platform"})),
                        StatusCode::CREATED,
                    )
                    .await?;
                self.call = answer
                    .get("call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("POST /v1/calls answered without call_id: {answer}"))?
                    .to_string();
                self.calls += 1;
                self.transfer = self.rng.chance(shares::NEW_CASE);
                self.centre = centres::pick(&mut self.rng, &CENTRES).code;
            }
            1 => {
                let body = json!({
                    "role": PersonRole::Victim,
                    "relation": Relation::Themself,
                    "age_band": self.rng.weighted(&shares::VICTIM_AGES),
                    "lives_with_victim": false,
                    "name": texts::old_name(&mut self.rng),
                    "address": centres::address(&mut self.rng, self.centre),
                    "description": texts::any(&mut self.rng, &texts::VICTIM_WORDS),
                });
                let path = format!("/v1/calls/{}/persons", self.call);
                self.post(&path, Some(&body), StatusCode::CREATED).await?;
            }
            2 => {
                let setting = traffic::setting(&mut self.rng);
                let body = serde_json::to_value(traffic::facts(&mut self.rng, setting))?;
                let path = format!("/v1/calls/{}/facts", self.call);
                self.post(&path, Some(&body), StatusCode::OK).await?;
            }
            3 => {
                let path = format!("/v1/calls/{}/notes", self.call);
                self.post(
                    &path,
                    Some(&json!({ "text": texts::LONG_NOTE })),
                    StatusCode::OK,
                )
                .await?;
            }
            4 => {
                let path = format!("/v1/calls/{}/end", self.call);
                self.post(&path, None, StatusCode::OK).await?;
            }
            _ => {
                let centre = self.centre;
                let path = format!("/v1/calls/{}/transfer", self.call);
                self.post(
                    &path,
                    Some(&json!({ "centre": centre })),
                    StatusCode::CREATED,
                )
                .await?;
            }
        }
        self.step = match self.step {
            4 if self.transfer => 5,
            4 | 5 => 0,
            s => s + 1,
        };
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Writer for CallTaker {
    fn write(&mut self, _seq: u64) -> BoxFut<'_, Result<()>> {
        Box::pin(self.step())
    }
}

/// What the load wrote to the log, read back after the server stopped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    /// Events in `call-…` and `case-…` streams.
    pub events: u64,
    /// Their commits.
    pub commits: u64,
    /// Mean payload bytes per event.
    pub mean_payload: f64,
    /// Mean payload plus metadata bytes (correlation id, actor, extra key-values).
    pub mean_with_metadata: f64,
}

/// Reads the calls' and cases' events back from a stopped server's event log.
pub async fn written(log_dir: &std::path::Path) -> Result<Written> {
    let store = SledStore::open(log_dir, StoreConfig::default())
        .with_context(|| format!("opening {}", log_dir.display()))?;
    let mut w = Written::default();
    let mut payload = 0u64;
    let mut metadata = 0u64;
    let mut last_commit = None;
    let mut from = 0;
    loop {
        let page = store.read_all(from, 1024).await?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in &page {
            if !matches!(e.stream_id.category(), "call" | "case") {
                continue;
            }
            w.events += 1;
            if last_commit != Some(e.commit.first) {
                w.commits += 1;
                last_commit = Some(e.commit.first);
            }
            payload += e.payload.len() as u64;
            let m = &e.metadata;
            metadata += 16
                * (u64::from(m.correlation_id.is_some()) + u64::from(m.causation_id.is_some()))
                + m.actor.as_ref().map_or(0, |a| a.len() as u64)
                + m.extra
                    .iter()
                    .map(|(k, v)| (k.len() + v.len()) as u64)
                    .sum::<u64>();
        }
    }
    store.close().await?;
    if w.events > 0 {
        w.mean_payload = payload as f64 / w.events as f64;
        w.mean_with_metadata = (payload + metadata) as f64 / w.events as f64;
    }
    Ok(w)
}
