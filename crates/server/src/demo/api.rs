//! The demo's HTTP client: readiness, requests with idempotency keys, retries of
//! what is safe to retry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

#[derive(Clone)]
pub(super) struct Api {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) requests: Arc<AtomicU64>,
}

impl Api {
    pub(super) fn new(base_url: &str) -> Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Waits until `/readyz` answers 200 (the projections caught up).
    pub(super) async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = self.http.get(format!("{}/readyz", self.base)).send().await;
            match answer {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if Instant::now() > deadline => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    bail!("the server is not ready after 60 s: {status}: {text}")
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(e).context(format!("reaching {}/readyz", self.base))
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Sends one request; a write carries `key` as its `Idempotency-Key`, so that a
    /// lost answer, a timeout or a lost race is tried again safely.
    pub(super) async fn send(
        &self,
        method: Method,
        token: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        const TRIES: u32 = 4;
        let url = format!("{}{path}", self.base);
        let safe = key.is_some() || method == Method::GET;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut req = self.http.request(method.clone(), &url).bearer_auth(token);
            if let Some(k) = key {
                req = req.header("Idempotency-Key", k);
            }
            if method == Method::GET {
                req = req.header("X-Purpose", "case-follow-up");
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let error = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp
                        .text()
                        .await
                        .with_context(|| format!("{method} {path}: reading the answer"))?;
                    if status.is_success() {
                        if text.is_empty() {
                            return Ok(Value::Null);
                        }
                        return serde_json::from_str(&text).with_context(|| {
                            format!("{method} {path}: the answer is not JSON: {text}")
                        });
                    }
                    let error = anyhow!("{method} {path} answered {status}: {text}");
                    let transient = status == reqwest::StatusCode::CONFLICT
                        || status == reqwest::StatusCode::SERVICE_UNAVAILABLE;
                    if !(transient && safe) {
                        return Err(error);
                    }
                    error
                }
                Err(e) if !safe => return Err(e).context(format!("{method} {path}")),
                Err(e) => anyhow::Error::new(e).context(format!("{method} {path}")),
            };
            if attempt >= TRIES {
                return Err(error.context(format!("gave up after {TRIES} tries")));
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
    }

    pub(super) async fn post(
        &self,
        token: &str,
        path: &str,
        key: &str,
        body: &Value,
    ) -> Result<Value> {
        self.send(Method::POST, token, path, Some(key), Some(body))
            .await
    }

    pub(super) async fn get(&self, token: &str, path: &str) -> Result<Value> {
        self.send(Method::GET, token, path, None, None).await
    }
}

/// A UUID field of an answer.
pub(super) fn uuid_of(answer: &Value, field: &str) -> Result<Uuid> {
    answer
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| anyhow!("the answer has no `{field}`: {answer}"))
}
