//! A real `ecoute serve` process, killed with SIGKILL while clients write: whatever it
//! acknowledged is there after a restart, the projections catch up, tokens still
//! work, and the log verifies. Then SIGTERM stops it cleanly (exit 0).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Running {
    child: Child,
    base: String,
    /// The first administrator's token, when this start created one.
    admin_token: Option<String>,
}

fn start(dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecoute"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--create-master-key",
            "--master-key-file",
        ])
        .arg(dir.join("master.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ecoute starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut admin_token = None;
    loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ecoute stopped before printing its address");
        };
        if let Some(t) = line.strip_prefix("their token, shown this once: ") {
            admin_token = Some(t.trim().to_string());
        }
        if let Some(addr) = line.strip_prefix("listening on ") {
            return Running {
                child,
                base: addr.trim().to_string(),
                admin_token,
            };
        }
    }
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "not ready within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Option<Value> {
    let r = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

/// A successful GET's JSON body.
async fn get_json(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    let r = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.json().await.unwrap()
}

/// One platform call transferred to a centre; the case id once acknowledged.
async fn one_case(http: &reqwest::Client, base: &str, token: &str) -> Option<String> {
    let call = post(http, base, token, "/v1/calls", json!({"door": "platform"})).await?;
    let call = call["call_id"].as_str()?.to_string();
    post(
        http,
        base,
        token,
        &format!("/v1/calls/{call}/notes"),
        json!({"text": "a note"}),
    )
    .await?;
    post(
        http,
        base,
        token,
        &format!("/v1/calls/{call}/end"),
        json!({}),
    )
    .await?;
    let t = post(
        http,
        base,
        token,
        &format!("/v1/calls/{call}/transfer"),
        json!({"centre": "69"}),
    )
    .await?;
    Some(t["case_id"].as_str()?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_projections_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let mut first = start(dir.path());
    let admin = first.admin_token.clone().expect("a first administrator");
    wait_ready(&http, &first.base).await;
    let listener = post(
        &http,
        &first.base,
        &admin,
        "/v1/staff",
        json!({"roles": ["PlatformListener"], "team": "00000000-0000-0000-0000-000000000001"}),
    )
    .await
    .expect("listener enrolled");
    let token = listener["token"].as_str().unwrap().to_string();

    // Eight clients write cases until the process is killed under them.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for _ in 0..8 {
        let (http, base, token, acked) = (
            http.clone(),
            first.base.clone(),
            token.clone(),
            acknowledged.clone(),
        );
        writers.push(tokio::spawn(async move {
            while let Some(case) = one_case(&http, &base, &token).await {
                acked.lock().unwrap().push(case);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 40 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.child.kill().expect("SIGKILL");
    first.child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(acked.len() >= 10, "only {} cases acknowledged", acked.len());

    // Restart: no new administrator, the old tokens work, every acknowledged case is
    // there and the read models caught up with it.
    let mut second = start(dir.path());
    assert!(second.admin_token.is_none(), "the store already had staff");
    wait_ready(&http, &second.base).await;
    for case in &acked {
        let r = http
            .get(format!("{}/v1/cases/{case}", second.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "case {case} acknowledged before the kill");
        let summary: Value = r.json().await.unwrap();
        assert_eq!(summary["centre"], "69");
        assert_eq!(summary["calls"].as_array().unwrap().len(), 1);
    }
    // The notes (sealed with keys made durable before each acknowledgement) open.
    let history = get_json(
        &http,
        &second.base,
        &token,
        &format!("/v1/cases/{}/history", acked[0]),
    )
    .await;
    assert!(history.to_string().contains("a note"), "{history}");
    let stats = get_json(&http, &second.base, &token, "/v1/statistics").await;
    let transferred: u64 = stats["report"]["cases_transferred_to_centre"]["69"]
        .as_u64()
        .unwrap_or(0);
    assert!(transferred >= acked.len() as u64, "{stats}");

    // SIGTERM: in-flight requests finish, the stores flush, exit 0.
    let status = Command::new("kill")
        .args(["-TERM", &second.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = second.child.wait().unwrap();
    assert!(exit.success(), "graceful stop exits 0, got {exit:?}");

    // The whole log verifies.
    let out = Command::new(env!("CARGO_BIN_EXE_ecoute"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("verify")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.matches("the log verifies").count(), 2, "{printed}");
    assert!(printed.contains("the access log:"), "{printed}");
}

/// Stops a server with SIGTERM and checks it exits 0.
fn stop(running: &mut Running) {
    let status = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = running.child.wait().unwrap();
    assert!(exit.success(), "graceful stop exits 0, got {exit:?}");
}

/// Defect 6 of issue 22: a damaged read-model database stopped the server,
/// though the models are derived from the log. It is moved aside, the
/// server starts, and the models are rebuilt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_models_database_is_moved_aside_and_the_server_starts() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let mut first = start(dir.path());
    let admin = first.admin_token.clone().expect("a first administrator");
    wait_ready(&http, &first.base).await;
    let listener = post(
        &http,
        &first.base,
        &admin,
        "/v1/staff",
        json!({"roles": ["PlatformListener"], "team": "00000000-0000-0000-0000-000000000001"}),
    )
    .await
    .expect("listener enrolled");
    let token = listener["token"].as_str().unwrap().to_string();
    let case = one_case(&http, &first.base, &token)
        .await
        .expect("a case written");
    stop(&mut first);

    let data = dir.path().join("data");
    let file = data.join("models").join("models.redb");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();

    let mut second = start(dir.path());
    wait_ready(&http, &second.base).await;
    let r = http
        .get(format!("{}/v1/cases/{case}", second.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the case, from the rebuilt models");
    let summary: Value = r.json().await.unwrap();
    assert_eq!(summary["centre"], "69");
    let kept: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("models-damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged database kept aside: {kept:?}");
    stop(&mut second);
}
