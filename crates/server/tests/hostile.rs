//! The server under hostile use, over real HTTP and raw TCP (127.0.0.1 only):
//! slow clients, connection floods, oversized headers, odd methods. Every limit
//! holds and every refusal is a problem document. Every loop is bounded in count
//! and in time.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer read off a raw connection.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

fn addr(h: &Harness) -> SocketAddr {
    h.server.as_ref().expect("running").addr()
}

async fn connect(h: &Harness) -> TcpStream {
    let a = addr(h);
    assert!(a.ip().is_loopback(), "tests only talk to 127.0.0.1");
    TcpStream::connect(a).await.expect("connect")
}

/// Sends `bytes` and reads until the server closes (at most 10 s).
async fn raw(h: &Harness, bytes: &[u8]) -> Raw {
    let mut s = connect(h).await;
    // The server may answer and close before it has read everything.
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Raw {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Waits until the server closes `s` (EOF or reset), reading what it sends; the
/// time it took, or `None` after `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        let left = limit.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
    None
}

fn is_problem(r: &Raw, status: u16, kind: &str) {
    assert_eq!(r.status, status, "{}\n{}", r.head, r.body);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{}",
        r.head
    );
    let doc: serde_json::Value = serde_json::from_str(&r.body).expect("a JSON problem");
    assert_eq!(
        doc["type"],
        format!("urn:ecoute:problem:{kind}"),
        "{}",
        r.body
    );
    assert_eq!(doc["status"], status);
}

// 1. Slow clients and connection exhaustion.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_slow_to_send_its_headers_is_dropped() {
    let h = Harness::start_with(|c| c.http.header_read_timeout = Duration::from_secs(1)).await;
    let mut s = connect(&h).await;
    let start = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut dropped = false;
    // One byte every 100 ms, for at most 5 s.
    for byte in request.iter().take(50) {
        if s.write_all(&[*byte]).await.is_err() {
            dropped = true;
            break;
        }
        if closed_within(&mut s, Duration::from_millis(100))
            .await
            .is_some()
        {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "still connected after {:?}", start.elapsed());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_on_which_nothing_moves_is_closed() {
    let h = Harness::start_with(|c| c.http.idle_timeout = Duration::from_secs(1)).await;
    let mut s = connect(&h).await;
    // A request whose body never comes (authenticated, so the handler waits for it).
    let head = format!(
        "POST /v1/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        h.admin.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let closed = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(
        closed.is_some_and(|t| t < Duration::from_secs(3)),
        "{closed:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_do_not_stop_a_normal_request() {
    let h = Harness::start().await;
    let mut idle = Vec::new();
    for i in 0..500 {
        let mut s = connect(&h).await;
        if i % 2 == 0 {
            // Half of them start a request and stop.
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHo").await;
        }
        idle.push(s);
    }
    let start = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(2),
        reqwest::Client::new()
            .get(format!("{}/healthz", h.base))
            .send(),
    )
    .await
    .expect("answered within 2 s")
    .expect("answered");
    assert_eq!(r.status(), 200);
    assert!(start.elapsed() < Duration::from_secs(2));
    drop(idle);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_for_a_free_one() {
    let h = Harness::start_with(|c| c.http.max_connections = 2).await;
    let a = connect(&h).await;
    let _b = connect(&h).await;
    let client = || {
        reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap()
    };
    let url = format!("{}/healthz", h.base);
    assert!(
        client().get(&url).send().await.is_err(),
        "a third connection is not served while two are open"
    );
    drop(a);
    let mut answered = false;
    for _ in 0..20 {
        if let Ok(r) = client().get(&url).send().await {
            assert_eq!(r.status(), 200);
            answered = true;
            break;
        }
    }
    assert!(answered, "served once a connection closed");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_cap_get_503() {
    let h = Harness::start_with(|c| c.http.max_in_flight = 1).await;
    // A request in flight: its body never ends.
    let mut s = connect(&h).await;
    let head = format!(
        "POST /v1/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{{\"door\":",
        h.admin.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let url = format!("{}/healthz", h.base);
    let mut refused = None;
    for _ in 0..50 {
        let a = h
            .send(reqwest::Method::GET, None, "/healthz", None, &[])
            .await;
        if a.status == 503 {
            refused = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a second request in flight is refused");
    refused.problem(503, "overloaded");
    // Once the first request is done, the next is served.
    s.write_all(b"\"platform\"}").await.unwrap();
    let mut first = [0u8; 12];
    s.read_exact(&mut first).await.unwrap();
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_while_a_slow_client_is_connected() {
    let h = Harness::start_with(|c| {
        c.http.header_read_timeout = Duration::from_secs(60);
        c.http.shutdown_grace = Duration::from_secs(1);
    })
    .await;
    let mut s = connect(&h).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        .await
        .unwrap();
    // Let the server read what was sent.
    let _ = h
        .send(reqwest::Method::GET, None, "/healthz", None, &[])
        .await;
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), h.stop())
        .await
        .expect("shutdown completes within its bound");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(closed_within(&mut s, Duration::from_secs(1))
        .await
        .is_some());
}

// 2. Oversized headers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused_with_431() {
    let h = Harness::start().await;
    let big = "a".repeat(100 * 1024);
    let many: String = (0..1000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let wide: String = (0..17)
        .map(|i| format!("X-W{i}: {}\r\n", "b".repeat(1000)))
        .collect();
    for (what, headers) in [
        ("a 100 KB Host", format!("Host: {big}\r\n")),
        ("a 100 KB value", format!("Host: x\r\nX-Big: {big}\r\n")),
        ("1,000 headers", format!("Host: x\r\n{many}")),
        ("17 headers of 1 KB", format!("Host: x\r\n{wide}")),
    ] {
        let r = raw(
            &h,
            format!("GET /healthz HTTP/1.1\r\n{headers}Connection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(r.status, 431, "{what}: {}", r.head);
        is_problem(&r, 431, "headers-too-large");
    }
    // Far beyond the limit (16 times it), hyper's parser answers 431 itself, with
    // no body, before any of our code runs.
    let huge = "c".repeat(300 * 1024);
    let r = raw(
        &h,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: {huge}\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 431, "{}", r.head);
    // Under the limit, the same request is answered.
    let fine: String = (0..14)
        .map(|i| format!("X-W{i}: {}\r\n", "b".repeat(1000)))
        .collect();
    let r = raw(
        &h,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{fine}Connection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.head);
    h.stop().await;
}

// 3. Every 4xx and 5xx is a problem document.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_below_the_handlers_is_a_problem_document() {
    let h = Harness::start_with(|c| c.http.timeout = Duration::from_secs(1)).await;
    let token = h.admin.token.clone();
    let auth = format!("Authorization: Bearer {token}\r\n");
    let long_id = "a".repeat(20 * 1024);
    let huge_id = "a".repeat(100 * 1024);
    let many: String = (0..1000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let big_body = format!("{{\"door\":\"{}\"}}", "x".repeat(100 * 1024));
    let check = |status: u16, kind: &'static str| (status, kind);
    let cases: Vec<(&str, String, (u16, &str))> = vec![
        (
            "a 20 KB path id",
            format!("GET /v1/cases/{long_id} HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
            check(414, "uri-too-long"),
        ),
        (
            "1,000 headers",
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n"),
            check(431, "headers-too-large"),
        ),
        (
            "an Idempotency-Key with a tab (the one control byte hyper lets through)",
            format!("POST /v1/calls HTTP/1.1\r\nHost: x\r\n{auth}Idempotency-Key: a\tb\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"),
            check(400, "bad-input"),
        ),
        (
            "a path that is not UTF-8",
            format!("GET /v1/cases/%FF HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
            check(400, "bad-input"),
        ),
        (
            "PUT on a POST route",
            format!("PUT /v1/calls HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\n\r\n"),
            check(405, "method-not-allowed"),
        ),
        (
            "a body over the limit",
            format!("POST /v1/calls HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{big_body}", big_body.len()),
            check(413, "too-large"),
        ),
        (
            "a request over its time",
            format!("POST /v1/calls HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"),
            check(503, "timeout"),
        ),
        (
            "an unknown route",
            "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            check(404, "not-found"),
        ),
    ];
    for (what, request, (status, kind)) in cases {
        // Closed by the client's half of the test after the answer: one request per
        // connection.
        let request = request.replacen("\r\n", "\r\nConnection: close\r\n", 1);
        let r = raw(&h, request.as_bytes()).await;
        assert_eq!(r.status, status, "{what}: {}\n{}", r.head, r.body);
        assert!(r.body.starts_with('{'), "{what}: {}", r.head);
        is_problem(&r, status, kind);
        if status == 405 {
            assert_eq!(r.header("allow").as_deref(), Some("POST"), "{what}");
        }
    }
    // What hyper answers itself, before any of our code runs: a status with no
    // body, and the connection closed (docs/operations.md lists them).
    for (what, request, status) in [
        ("a malformed request line", "GET\r\n\r\n".to_string(), 400),
        (
            "Content-Length: -1",
            "POST /v1/calls HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_string(),
            400,
        ),
        (
            "a header value with any other control byte",
            format!("POST /v1/calls HTTP/1.1\r\nHost: x\r\n{auth}Idempotency-Key: a\x01b\r\n\r\n"),
            400,
        ),
        (
            "a 100 KB path id (over the http crate's 65,534 bytes for a URI)",
            format!("GET /v1/cases/{huge_id} HTTP/1.1\r\nHost: x\r\n\r\n"),
            414,
        ),
    ] {
        let r = raw(&h, request.as_bytes()).await;
        assert_eq!(r.status, status, "{what}: {}", r.head);
        assert_eq!(r.body, "", "{what}");
    }
    h.stop().await;
}

// 4. Metrics labels come from a closed set.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_make_no_new_metrics_label() {
    let h = Harness::start_with(|c| c.ops_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    let ops = h
        .server
        .as_ref()
        .unwrap()
        .ops_addr()
        .expect("an ops address");
    for method in ["FOO", "BARBAZ", "X-MADE-UP", "get"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        for path in ["/healthz", "/v1/calls", "/nowhere"] {
            let _ = h.send(m.clone(), None, path, None, &[]).await;
        }
    }
    let text = reqwest::get(format!("http://{ops}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let methods: std::collections::BTreeSet<&str> = text
        .match_indices("method=\"")
        .filter_map(|(i, m)| text[i + m.len()..].split('"').next())
        .collect();
    let allowed = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
    ];
    assert!(
        methods.iter().all(|m| allowed.contains(m)),
        "labels: {methods:?}"
    );
    assert!(methods.contains("OTHER"), "labels: {methods:?}");
    h.stop().await;
}
