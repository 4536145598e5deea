//! Health, readiness, metrics and the OpenAPI document over real HTTP; and the
//! process's own logs, which never carry a personal value.

mod common;

use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_openapi() {
    let h = Harness::start_with(|c| c.ops_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    let http = &h.http;
    let get = |p: &str| http.get(format!("{}{p}", h.base)).send();
    let ops = format!(
        "http://{}",
        h.server
            .as_ref()
            .unwrap()
            .ops_addr()
            .expect("an ops address")
    );
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while get("/readyz").await.unwrap().status() != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let case = transferred_case(&h, &listener, "69").await;
    let read = h.get(&listener, &format!("/v1/cases/{case}")).await;
    read.ok();
    // No cache on the way keeps an answer.
    assert_eq!(read.headers["cache-control"], "no-store");

    // The metrics are on the operations address only.
    assert_eq!(get("/metrics").await.unwrap().status(), 404);
    let ops_get = |p: &str| http.get(format!("{ops}{p}")).send();
    assert_eq!(ops_get("/readyz").await.unwrap().status(), 200);
    let metrics = ops_get("/metrics").await.unwrap().text().await.unwrap();
    for needle in [
        "ecoute_http_requests_total{",
        "route=\"/v1/cases/{id}\"",
        "ecoute_http_request_duration_seconds_bucket",
        "ecoute_commits_total",
        "ecoute_events_appended_total",
        "ecoute_access_records_total",
        "ecoute_projection_lag_events{projection=\"cases\"}",
        "ecoute_log_head",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from:\n{metrics}"
        );
    }
    assert!(!metrics.contains(&case), "metrics name routes, never ids");

    let doc: Value = get("/v1/openapi.json").await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/calls",
        "/v1/calls/{id}/transfer",
        "/v1/cases/{id}/history",
        "/v1/cases/{id}/solutions/{solution}/consent",
        "/v1/centres/{centre}/queue",
        "/v1/statistics",
        "/v1/staff",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "Problem",
        "Accepted",
        "CaseView",
        "HistoryView",
        "AbuseKind",
        "Role",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_carry_no_personal_value() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecoute"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--log-json",
            "--create-master-key",
        ])
        .arg("--master-key-file")
        .arg(dir.path().join("master.key"))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = String::new();
    let base = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no address printed");
        };
        if let Some(t) = line.strip_prefix("their token, shown this once: ") {
            token = t.to_string();
        }
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.to_string();
        }
    };
    let http = reqwest::Client::new();
    let post = |path: &str, token: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let listener: Value = post(
        "/v1/staff",
        &token,
        json!({"roles": ["PlatformListener"], "team": TEAM}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let lt = listener["token"].as_str().unwrap().to_string();
    let call: Value = post("/v1/calls", &lt, json!({"door": "platform"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let call = call["call_id"].as_str().unwrap();
    for (path, body) in [
        (
            "persons",
            json!({"role": "Victim", "relation": "Themself", "age_band": "From80To89",
                           "name": "Philomène Lagarde", "address": "3 impasse des Glycines"}),
        ),
        ("callback-number", json!({"number": "0699887766"})),
        ("notes", json!({"text": "son voisin la menace"})),
        ("notes", json!({"text": 42})), // a bad request is logged too
        (
            "callback-number",
            json!({"number": "0699887766", "x": "Philomène"}),
        ),
    ] {
        post(&format!("/v1/calls/{call}/{path}"), &lt, body)
            .await
            .unwrap();
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("/v1/calls/{id}/persons"),
        "requests are logged: {logs}"
    );
    for secret in [
        "Philomène",
        "Lagarde",
        "Glycines",
        "0699887766",
        "voisin",
        &lt,
        &token,
        call,
    ] {
        assert!(!logs.contains(secret), "{secret:?} found in the logs");
    }
}

/// `ecoute verify` on the data directory of a running server says so plainly, and
/// what to do instead.
#[tokio::test]
async fn verify_on_a_running_servers_directory_says_what_to_do() {
    let h = Harness::start().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecoute"))
        .arg("--data-dir")
        .arg(h.dir.path())
        .arg("verify")
        .output()
        .expect("ecoute runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is in use by a running server") && stderr.contains("verify a backup"),
        "{stderr}"
    );
    h.stop().await;
}
