//! `ecoute demo`'s loader, run against a real server: what it loads shows in the
//! statistics and in the centres' queues and the referents' caseloads, and the same
//! seed loads the same set.

use std::net::SocketAddr;

use ecoute_domain::Role;
use ecoute_server::demo::{self, DemoConfig};
use ecoute_server::{AppConfig, HttpConfig, MasterKey, ServeConfig, Server};
use serde_json::Value;

async fn get(http: &reqwest::Client, token: &str, url: String) -> Value {
    let r = http
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status();
    let text = r.text().await.expect("a body");
    assert!(status.is_success(), "GET {url} answered {status}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

fn sum(v: &Value) -> u64 {
    v.as_object()
        .map(|o| o.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_set_loads_through_the_api_and_shows_in_the_read_models() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(ServeConfig {
        app: AppConfig::new(dir.path(), MasterKey::generate().unwrap()),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        http: HttpConfig::default(),
        ops_addr: None,
    })
    .await
    .expect("the server starts");
    let (_, admin) = server
        .first_admin()
        .cloned()
        .expect("a first administrator");
    let base = format!("http://{}", server.addr());

    let config = DemoConfig {
        calls: 30,
        seed: 7,
        concurrency: 4,
    };
    let summary = demo::load(&base, &admin, config)
        .await
        .expect("the demo loads");
    let c = &summary.counts;
    assert_eq!(c.calls, 30);
    assert_eq!(c.platform_calls + c.centre_calls, 30);
    assert!(c.cases > 0 && c.cases <= 30);
    assert!(c.cases_opened_by_centres < c.cases);

    let http = reqwest::Client::new();
    let listener = summary
        .staff
        .iter()
        .find(|m| m.roles.contains(&Role::PlatformListener))
        .expect("a platform listener");

    // Statistics count every call, by door, and the cases opened.
    let stats = get(&http, &listener.token, format!("{base}/v1/statistics")).await;
    let report = &stats["report"];
    assert_eq!(sum(&report["calls_per_day"]), 30, "{report}");
    assert_eq!(sum(&report["calls_by_door"]), 30, "{report}");
    assert_eq!(sum(&report["cases_opened_by_centre"]), c.cases, "{report}");
    assert_eq!(
        sum(&report["cases_transferred_to_centre"]),
        c.transferred,
        "{report}"
    );

    // The centres' queues and the referents' caseloads hold the open cases.
    let mut waiting = 0;
    for centre in ["national", "69", "13", "75", "33", "59"] {
        let q = get(
            &http,
            &listener.token,
            format!("{base}/v1/centres/{centre}/queue"),
        )
        .await;
        for kind in [
            "awaiting_transfer",
            "awaiting_referent",
            "awaiting_recontact",
            "awaiting_call_back",
        ] {
            waiting += q[kind].as_array().map_or(0, Vec::len);
        }
    }
    let mut followed = 0;
    for referent in summary
        .staff
        .iter()
        .filter(|m| m.roles.contains(&Role::Referent))
    {
        let load = get(
            &http,
            &referent.token,
            format!("{base}/v1/staff/{}/caseload", referent.staff_id),
        )
        .await;
        followed += load.as_array().map_or(0, Vec::len);
    }
    assert!(waiting + followed > 0, "no open case shows anywhere");
    assert!(followed > 0, "no referent follows a case");

    // The guide names the sample case, and the auditor may read its history.
    let guide = summary.guide();
    assert!(guide.contains(&base), "{guide}");
    assert!(guide.contains("export ECOUTE_REFERENT="), "{guide}");
    if let Some(case) = summary.sample_case {
        let auditor = summary
            .staff
            .iter()
            .find(|m| m.roles.contains(&Role::Auditor))
            .expect("an auditor");
        let history = get(
            &http,
            &auditor.token,
            format!("{base}/v1/cases/{case}/history"),
        )
        .await;
        assert!(
            history["events"].as_array().is_some_and(|e| e.len() > 5),
            "{history}"
        );
    }

    server.shutdown().await.expect("a clean stop");

    // The same seed plays the same journeys, whatever order the concurrent ones land in.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let again = Server::start(ServeConfig {
        app: AppConfig::new(dir.path(), MasterKey::generate().unwrap()),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        http: HttpConfig::default(),
        ops_addr: None,
    })
    .await
    .expect("the server starts");
    let (_, admin) = again.first_admin().cloned().expect("a first administrator");
    let replayed = demo::load(
        &format!("http://{}", again.addr()),
        &admin,
        DemoConfig {
            calls: 30,
            seed: 7,
            concurrency: 2,
        },
    )
    .await
    .expect("the demo loads again");
    assert_eq!(replayed.counts, summary.counts);
    again.shutdown().await.expect("a clean stop");
}
