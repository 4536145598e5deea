//! The HTTP load's call-takers, against a real server: every request they send, drawn
//! from the traffic model, is accepted, and some calls become cases.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ecoute_bench::http_load::{self, CallTaker};
use ecoute_bench::stats::Writer;
use ecoute_server::{AppConfig, HttpConfig, MasterKey, ServeConfig, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_takers_requests_are_accepted_and_some_calls_become_cases() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(ServeConfig {
        app: AppConfig::new(dir.path(), MasterKey::generate().expect("a key")),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        http: HttpConfig::default(),
        ops_addr: None,
    })
    .await
    .expect("the server starts");
    let (_, admin) = server.first_admin().cloned().expect("an administrator");
    let base = format!("http://{}", server.addr());
    let tokens = http_load::enrol_listeners(&base, &admin, 2)
        .await
        .expect("listeners enrolled");
    let sent = Arc::new(AtomicU64::new(0));
    for (i, token) in tokens.into_iter().enumerate() {
        let mut taker =
            CallTaker::new(&base, token, i as u64 + 1, sent.clone()).expect("a call-taker");
        for seq in 0..150 {
            taker.write(seq).await.expect("the request is accepted");
        }
    }
    assert_eq!(sent.load(Ordering::Relaxed), 300);
    server.shutdown().await.expect("a clean stop");

    let written = http_load::written(&dir.path().join("log"))
        .await
        .expect("the log reads back");
    // 300 requests: about 55 calls, a fifth of them transferred (two streams, one
    // commit), so more events than commits.
    assert!(written.events > 250, "{written:?}");
    assert!(written.commits < written.events, "{written:?}");
}
