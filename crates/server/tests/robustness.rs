//! Idempotent retries, concurrent commands, and bad input over real HTTP: each gets
//! its documented answer and a failed request appends nothing.

mod common;

use common::*;
use ecoute_store::EventStore;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_returns_the_first_answer_and_appends_nothing() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let key = [("idempotency-key", "call-2026-11-27-0001")];
    let first = h
        .send(
            Method::POST,
            Some(&listener.token),
            "/v1/calls",
            Some(json!({"door": "platform"})),
            &key,
        )
        .await;
    assert_eq!(first.status, 201);
    let head = h.head().await;
    let again = h
        .send(
            Method::POST,
            Some(&listener.token),
            "/v1/calls",
            Some(json!({"door": "platform"})),
            &key,
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["call_id"], first.body["call_id"]);
    assert_eq!(again.body["subject_id"], first.body["subject_id"]);
    assert_eq!(again.body["position"], first.body["position"]);
    assert_eq!(again.body["replayed"], true);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(h.head().await, head, "the retry appended nothing");

    // A command on the call, retried: the same answer, one event.
    let call = first.id("call_id");
    let note_key = [("idempotency-key", "note-1")];
    let path = format!("/v1/calls/{call}/notes");
    let n1 = h
        .send(
            Method::POST,
            Some(&listener.token),
            &path,
            Some(json!({"text": "first"})),
            &note_key,
        )
        .await;
    let n2 = h
        .send(
            Method::POST,
            Some(&listener.token),
            &path,
            Some(json!({"text": "first"})),
            &note_key,
        )
        .await;
    assert_eq!(n1.status, 200);
    assert_eq!(n2.status, 200);
    assert_eq!(n1.body["position"], n2.body["position"]);
    assert_eq!(h.head().await, head + 1);

    // The same key for another request is refused, and changes nothing.
    let other = h
        .send(
            Method::POST,
            Some(&listener.token),
            &format!("/v1/calls/{call}/end"),
            None,
            &note_key,
        )
        .await;
    other.problem(422, "idempotency-key-reused");
    assert_eq!(h.head().await, head + 1);

    // The same key on the same path with another body is refused too, and changes
    // nothing; the first body again is still answered from the first commit.
    let changed = h
        .send(
            Method::POST,
            Some(&listener.token),
            &path,
            Some(json!({"text": "something else"})),
            &note_key,
        )
        .await;
    changed.problem(422, "idempotency-key-reused");
    assert_eq!(h.head().await, head + 1);
    let n3 = h
        .send(
            Method::POST,
            Some(&listener.token),
            &path,
            Some(json!({"text": "first"})),
            &note_key,
        )
        .await;
    assert_eq!(n3.status, 200);
    assert_eq!(n3.headers["idempotent-replayed"], "true");
    assert_eq!(n3.body["position"], n1.body["position"]);

    // Keys are per member: another listener's same key is a new request.
    let other_listener = h.enrol(&["PlatformListener"], &[]).await;
    let head = h.head().await;
    let theirs = h
        .send(
            Method::POST,
            Some(&other_listener.token),
            "/v1/calls",
            Some(json!({"door": "platform"})),
            &key,
        )
        .await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.body["call_id"], first.body["call_id"]);
    assert_eq!(h.head().await, head + 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_sent_many_times_at_once_lands_once() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let head = h.head().await;
    let sends = (0..8).map(|_| {
        h.send(
            Method::POST,
            Some(&listener.token),
            "/v1/calls",
            Some(json!({"door": "platform"})),
            &[("idempotency-key", "burst")],
        )
    });
    let answers = futures::future::join_all(sends).await;
    let ids: std::collections::BTreeSet<String> = answers.iter().map(|a| a.id("call_id")).collect();
    assert_eq!(ids.len(), 1, "one call, whatever the race");
    assert_eq!(h.head().await, head + 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_one_stream_are_retried_on_fresh_state() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let (call, _) = {
        let call = h
            .post(&listener, "/v1/calls", json!({"door": "platform"}))
            .await
            .id("call_id");
        (call, ())
    };
    // Sixteen notes at once on one call: every one lands, each at its own version.
    let path = format!("/v1/calls/{call}/notes");
    let notes = (0..16).map(|i| h.post(&listener, &path, json!({"text": format!("note {i}")})));
    let answers = futures::future::join_all(notes).await;
    let mut versions: Vec<u64> = answers
        .iter()
        .map(|a| a.ok()["streams"][0]["first_version"].as_u64().unwrap())
        .collect();
    versions.sort();
    assert_eq!(versions, (1..=16).collect::<Vec<_>>());

    // Four "end"s at once: one wins; the others are decided again on fresh state and
    // refused by the rule, never silently applied twice.
    let end = format!("/v1/calls/{call}/end");
    let ends = (0..4).map(|_| h.post(&listener, &end, json!({})));
    let answers = futures::future::join_all(ends).await;
    let won = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(won, 1, "{answers:?}");
    for a in answers.iter().filter(|a| a.status != 200) {
        a.rule("CallAlreadyEnded");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_its_documented_status_and_appends_nothing() {
    let h = Harness::start_with(|c| c.http.max_body = 4096).await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let call = h
        .post(&listener, "/v1/calls", json!({"door": "platform"}))
        .await
        .id("call_id");
    let head = h.head().await;
    let url = |p: &str| format!("{}{p}", h.base);
    let raw = |path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut r = h
            .http
            .post(url(path))
            .bearer_auth(&listener.token)
            .body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, ct, body)
        }
    };
    let notes = format!("/v1/calls/{call}/notes");
    let json_ct = Some("application/json");
    // (what, content type, body, status, problem kind, field named)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "not JSON",
            json_ct,
            b"{\"text\": ".to_vec(),
            400,
            "bad-input",
            "",
        ),
        (
            "trailing bytes",
            json_ct,
            b"{\"text\": \"a\"} x".to_vec(),
            400,
            "bad-input",
            "",
        ),
        (
            "unknown field",
            json_ct,
            br#"{"text": "a", "colour": "red"}"#.to_vec(),
            400,
            "bad-input",
            "colour",
        ),
        (
            "wrong type",
            json_ct,
            br#"{"text": 5}"#.to_vec(),
            400,
            "bad-input",
            "text",
        ),
        (
            "missing field",
            json_ct,
            br#"{}"#.to_vec(),
            400,
            "bad-input",
            "body",
        ),
        (
            "bad subject id",
            json_ct,
            br#"{"text": "a", "about": "nope"}"#.to_vec(),
            400,
            "bad-input",
            "about",
        ),
        (
            "no content type",
            None,
            br#"{"text": "a"}"#.to_vec(),
            400,
            "bad-input",
            "Content-Type",
        ),
        (
            "oversize",
            json_ct,
            format!("{{\"text\": \"{}\"}}", "a".repeat(5000)).into_bytes(),
            413,
            "too-large",
            "body",
        ),
    ];
    for (what, ct, body, status, kind, field) in cases {
        let (got, content_type, problem) = raw(&notes, ct, body).await;
        assert_eq!(got, status, "{what}: {problem}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{what}"
        );
        assert_eq!(
            problem["type"],
            format!("urn:ecoute:problem:{kind}"),
            "{what}"
        );
        if kind == "bad-input" {
            let f = problem["field"].as_str().unwrap_or_default();
            assert!(
                f.contains(field),
                "{what}: field {f:?}, wanted {field:?}: {problem}"
            );
        }
    }
    // Wrong enum value, wrong nested type: the field is named.
    let (status, _, p) = raw(
        &format!("/v1/calls/{call}/facts"),
        json_ct,
        br#"{"abuse_kinds": ["Financial", "Nasty"], "setting": "Home", "since": "MoreThanAYear", "frequency": "Weekly", "evolution": "Stable"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(p["field"], "abuse_kinds[1]", "{p}");
    // A bad path id, an unknown case, a bad centre, a bad time.
    let a = h
        .post(&listener, "/v1/calls/not-a-uuid/end", json!({}))
        .await;
    a.problem(400, "bad-input");
    assert_eq!(a.body["field"], "id");
    h.post(
        &listener,
        &format!("/v1/cases/{}/close", uuid::Uuid::new_v4()),
        json!({"reason": "Other"}),
    )
    .await
    .problem(404, "not-found");
    h.get(&listener, "/v1/centres/99/queue")
        .await
        .problem(400, "bad-input");
    h.get(&listener, "/v1/statistics?from=yesterday")
        .await
        .problem(400, "bad-input");
    h.get(&listener, "/v1/nothing-here")
        .await
        .problem(404, "not-found");
    // A rule refused: 422 with the rule's name and its explanation.
    let a = h
        .post(
            &listener,
            &format!("/v1/calls/{call}/facts"),
            json!({
        "abuse_kinds": [], "setting": "Home", "since": "MoreThanAYear",
        "frequency": "Weekly", "evolution": "Stable"}),
        )
        .await;
    a.rule("NoAbuseKind");
    assert!(!a.body["detail"].as_str().unwrap().is_empty());
    // A bad purpose header (it could carry personal data) is refused too.
    let a = h
        .send(
            Method::GET,
            Some(&listener.token),
            "/v1/statistics",
            None,
            &[("x-purpose", "call Mme Dupont")],
        )
        .await;
    a.problem(400, "bad-input");
    assert_eq!(h.head().await, head, "no failed request appended anything");
    h.stop().await;
}

/// What is kept to compare a retried request's body is keyed by the keys of the
/// persons the request named: once one of them is erased it can no longer be
/// compared (nor confirm a guess of what was said), and a retry is answered from
/// the first commit.
#[tokio::test]
async fn a_body_fingerprint_does_not_outlive_the_erasure_of_its_person() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let call = h
        .post(&listener, "/v1/calls", json!({"door": "platform"}))
        .await
        .id("call_id");
    let path = format!("/v1/calls/{call}/persons");
    let key = [("idempotency-key", "person-1")];
    let body = |name: &str| json!({"role": "Victim", "relation": "Themself", "age_band": "From80To89", "name": name});
    let first = h
        .send(
            Method::POST,
            Some(&listener.token),
            &path,
            Some(body("Jeanne Martin")),
            &key,
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let victim = first.id("subject_id");
    // What the log keeps is not a plain digest of the body (which would confirm a
    // guess of the name for ever), and is there to compare.
    let position = first.body["position"].as_u64().unwrap();
    let stored = h.app().store().read_all(position, 1).await.unwrap();
    let kept = stored[0].metadata.extra.get("fingerprint").expect("kept");
    let body_bytes = body("Jeanne Martin").to_string();
    let plain = blake3::hash(body_bytes.as_bytes()).to_hex().to_string();
    assert_ne!(kept, &plain);
    assert!(!kept.contains("Jeanne"));
    h.send(
        Method::POST,
        Some(&listener.token),
        &path,
        Some(body("Someone Else")),
        &key,
    )
    .await
    .problem(422, "idempotency-key-reused");

    h.post(&dpo, &format!("/v1/subjects/{victim}/erasure"), json!({}))
        .await
        .ok();
    let head = h.head().await;
    let after = h
        .send(
            Method::POST,
            Some(&listener.token),
            &path,
            Some(body("Someone Else")),
            &key,
        )
        .await;
    assert_eq!(after.status, first.status, "{:?}", after.body);
    assert_eq!(after.headers["idempotent-replayed"], "true");
    assert_eq!(after.id("subject_id"), victim);
    assert_eq!(h.head().await, head, "the retry appended nothing");
    h.stop().await;
}
