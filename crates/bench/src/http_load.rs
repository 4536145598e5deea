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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
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

const CENTRES: [&str; 8] = ["69", "75", "13", "59", "33", "2A", "974", "44"];
const KINDS: [&str; 7] = [
    "Psychological",
    "Physical",
    "Financial",
    "Sexual",
    "Medical",
    "Neglect",
    "DeprivationOfRights",
];
const NOTE: &str = "Appelle pour sa mère, 84 ans, qui vit seule depuis le décès de son mari. \
Le fils aîné passe chaque semaine, garde la carte bancaire et crie quand elle demande où va \
l'argent; elle n'ose plus sortir et dit avoir peur de lui. L'appelante habite loin, se sent \
impuissante et demande ce qu'elle peut faire sans que sa mère le sache.";

/// One listener taking calls in a loop over HTTP.
pub struct CallTaker {
    client: Client,
    base: String,
    token: String,
    step: u8,
    call: String,
    calls: u64,
    transfer: bool,
    rng: u64,
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
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            sent,
        })
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
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
                self.transfer = self.next() % 100 < 22;
            }
            1 => {
                let n = self.calls;
                let body = json!({
                    "role": "Victim",
                    "relation": "Themself",
                    "age_band": "From80To89",
                    "lives_with_victim": false,
                    "name": format!("Jeanne Martin-{n}"),
                    "address": format!("{} rue des Tilleuls, 69003 Lyon", n % 200 + 1),
                    "description": "Veuve, autonome mais fatiguée; ne sort plus seule.",
                });
                let path = format!("/v1/calls/{}/persons", self.call);
                self.post(&path, Some(&body), StatusCode::CREATED).await?;
            }
            2 => {
                let r = self.next();
                let first = KINDS[(r % 7) as usize];
                let second = KINDS[((r >> 8) % 7) as usize];
                let body = json!({
                    "abuse_kinds": [first, second],
                    "setting": if r % 100 < 73 { "Home" } else { "Institution" },
                    "since": "MonthsToAYear",
                    "frequency": "Weekly",
                    "evolution": "Worsening",
                });
                let path = format!("/v1/calls/{}/facts", self.call);
                self.post(&path, Some(&body), StatusCode::OK).await?;
            }
            3 => {
                let path = format!("/v1/calls/{}/notes", self.call);
                self.post(&path, Some(&json!({ "text": NOTE })), StatusCode::OK)
                    .await?;
            }
            4 => {
                let path = format!("/v1/calls/{}/end", self.call);
                self.post(&path, None, StatusCode::OK).await?;
            }
            _ => {
                let centre = CENTRES[(self.next() % CENTRES.len() as u64) as usize];
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
