//! A real server on a temporary directory, and a small HTTP client for it.
#![allow(dead_code)]

pub mod contract;

use std::sync::Arc;

use ecoute_server::{App, AppConfig, HttpConfig, MasterKey, ServeConfig, Server};
use ecoute_store::EventStore;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const TEAM: &str = "00000000-0000-0000-0000-0000000000aa";

/// A member of staff enrolled through the API.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: String,
    pub token: String,
}

pub struct Harness {
    pub master: MasterKey,
    pub server: Option<Server>,
    pub base: String,
    pub http: reqwest::Client,
    pub admin: Member,
    pub dir: tempfile::TempDir,
}

/// An answer: status, headers and JSON body (`Null` when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> &Value {
        assert!(
            self.status.is_success(),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        &self.body
    }

    pub fn id(&self, field: &str) -> String {
        self.ok()[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.body))
            .to_string()
    }

    /// Asserts a problem document with this status and type suffix.
    pub fn problem(&self, status: u16, kind: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        assert_eq!(
            self.body["type"],
            format!("urn:ecoute:problem:{kind}"),
            "{}",
            self.body
        );
        &self.body
    }

    /// Asserts a refused command naming this domain rule.
    pub fn rule(&self, rule: &str) {
        self.problem(422, "rule-refused");
        assert_eq!(self.body["rule"], rule, "{}", self.body);
    }
}

pub fn config(dir: &std::path::Path, master: MasterKey) -> ServeConfig {
    ServeConfig {
        app: AppConfig::new(dir, master),
        addr: "127.0.0.1:0".parse().unwrap(),
        http: HttpConfig::default(),
        ops_addr: None,
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServeConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let master = MasterKey::generate().expect("a master key");
        let mut config = config(dir.path(), master.clone());
        tune(&mut config);
        let server = Server::start(config).await.expect("server starts");
        let (id, token) = server
            .first_admin()
            .cloned()
            .expect("a first administrator");
        Harness {
            master,
            base: format!("http://{}", server.addr()),
            server: Some(server),
            http: reqwest::Client::new(),
            admin: Member {
                id: id.to_string(),
                token,
            },
            dir,
        }
    }

    pub fn app(&self) -> &Arc<App> {
        self.server.as_ref().expect("running").app()
    }

    /// The number of events in the log.
    pub async fn head(&self) -> u64 {
        self.app().store().head().await.unwrap()
    }

    /// Stops the server cleanly; the data directory lives on as long as the answer.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
        self.dir
    }

    /// Stops the server cleanly and starts it again on the same data directory and
    /// master key (what is on disk is all that carries over).
    pub async fn restart(mut self) -> Self {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
        let server = Server::start(config(self.dir.path(), self.master.clone()))
            .await
            .expect("server starts again");
        self.base = format!("http://{}", server.addr());
        self.server = Some(server);
        self
    }

    pub async fn send(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.send_raw(method, token, path, body, headers).await
    }

    /// Sends a request with a body of any bytes and content type; checks the
    /// answer against the OpenAPI document (see `contract`).
    pub async fn send_raw(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let asked = method.to_string();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        contract::contract().check(&asked, path, status.as_u16(), content_type, &text);
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, who: &Member, path: &str, body: Value) -> Answer {
        self.send(Method::POST, Some(&who.token), path, Some(body), &[])
            .await
    }

    pub async fn get(&self, who: &Member, path: &str) -> Answer {
        self.send(Method::GET, Some(&who.token), path, None, &[])
            .await
    }

    pub async fn delete(&self, who: &Member, path: &str) -> Answer {
        self.send(Method::DELETE, Some(&who.token), path, None, &[])
            .await
    }

    /// Enrols a member with these roles (by their API names), a team for listeners,
    /// and accreditations.
    pub async fn enrol(&self, roles: &[&str], centres: &[&str]) -> Member {
        let team = roles.contains(&"PlatformListener").then_some(TEAM);
        let a = self
            .post(
                &self.admin,
                "/v1/staff",
                json!({"roles": roles, "team": team, "accreditations": centres}),
            )
            .await;
        Member {
            id: a.id("staff_id"),
            token: a.id("token"),
        }
    }
}

/// Runs `ecoute recover-admin` on a stopped server's data directory.
pub fn recover_admin(dir: &std::path::Path, key_file: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ecoute"))
        .arg("--data-dir")
        .arg(dir)
        .arg("recover-admin")
        .arg("--master-key-file")
        .arg(key_file)
        .output()
        .expect("ecoute runs")
}

/// A platform call, ended, with a victim described and a number left; returns
/// (call id, victim subject id).
pub async fn platform_call(h: &Harness, listener: &Member, number: bool) -> (String, String) {
    let call = h
        .post(listener, "/v1/calls", json!({"door": "platform"}))
        .await
        .id("call_id");
    let victim = h
        .post(
            listener,
            &format!("/v1/calls/{call}/persons"),
            json!({"role": "Victim", "relation": "Themself", "age_band": "From80To89",
                   "name": "Jeanne Martin"}),
        )
        .await
        .id("subject_id");
    if number {
        h.post(
            listener,
            &format!("/v1/calls/{call}/callback-number"),
            json!({"number": "06 12 34 56 78"}),
        )
        .await
        .ok();
    }
    h.post(listener, &format!("/v1/calls/{call}/end"), json!({}))
        .await
        .ok();
    (call, victim)
}

/// `who` makes `referent` the referent of `case` (the answer must be a success).
pub async fn assign_referent(h: &Harness, who: &Member, case: &str, referent: &Member) {
    h.post(
        who,
        &format!("/v1/cases/{case}/referent"),
        json!({"referent": referent.id}),
    )
    .await
    .ok();
}

/// A platform call transferred to `centre`; returns the case id.
pub async fn transferred_case(h: &Harness, listener: &Member, centre: &str) -> String {
    let (call, _) = platform_call(h, listener, true).await;
    h.post(
        listener,
        &format!("/v1/calls/{call}/transfer"),
        json!({"centre": centre}),
    )
    .await
    .id("case_id")
}
