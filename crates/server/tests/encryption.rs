//! Personal values in → ciphertext on disk → clear for an entitled reader → refused to
//! others. A test greps every file of the data directory for the values it wrote.

mod common;

use common::*;
use serde_json::json;

const SECRETS: [&str; 6] = [
    "Philomène Lagarde",
    "3 impasse des Glycines",
    "0699887766",
    "son voisin la menace",
    "isolement et dettes",
    "assistante sociale de Villeurbanne",
];

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_value_reaches_the_disk_in_clear() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let other = h.enrol(&["Volunteer"], &["13"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;

    let call = h
        .post(&listener, "/v1/calls", json!({"door": "platform"}))
        .await
        .id("call_id");
    let c = |p: &str| format!("/v1/calls/{call}/{p}");
    let victim = h
        .post(
            &listener,
            &c("persons"),
            json!({"role": "Victim", "relation": "Themself", "age_band": "From90",
                   "name": SECRETS[0], "address": SECRETS[1]}),
        )
        .await
        .id("subject_id");
    h.post(
        &listener,
        &c("callback-number"),
        json!({"number": SECRETS[2]}),
    )
    .await
    .ok();
    h.post(&listener, &c("notes"), json!({"text": SECRETS[3]}))
        .await
        .ok();
    h.post(&listener, &c("end"), json!({})).await.ok();
    let case = h
        .post(&listener, &c("transfer"), json!({"centre": "69"}))
        .await
        .id("case_id");
    assign_referent(&h, &volunteer, &case, &referent).await;
    h.post(
        &referent,
        &format!("/v1/cases/{case}/analysis"),
        json!({"text": SECRETS[4], "about": victim}),
    )
    .await
    .ok();
    h.post(
        &referent,
        &format!("/v1/cases/{case}/solutions"),
        json!({"kind": "ContactService", "description": SECRETS[5]}),
    )
    .await
    .ok();

    // Clear for an entitled reader …
    let history = h.get(&referent, &format!("/v1/cases/{case}/history")).await;
    let text = history.ok().to_string();
    for s in SECRETS {
        assert!(text.contains(s), "{s} missing from the history");
    }
    // … refused to others, as if the case did not exist.
    h.get(&other, &format!("/v1/cases/{case}/history"))
        .await
        .problem(404, "not-found");

    // The log holds the six values sealed: no event carries them in clear.
    let events = h
        .app()
        .read_stream(&format!("case-{case}"))
        .await
        .unwrap()
        .unwrap();
    for e in &events {
        for s in SECRETS {
            assert!(!e.payload.windows(s.len()).any(|w| w == s.as_bytes()));
        }
    }

    // Nowhere on disk: log, read models, access log, keys.
    let dir = h.stop().await;
    let mut all = Vec::new();
    files(dir.path(), &mut all);
    assert!(all.len() > 8, "{all:?}");
    for path in all {
        let bytes = std::fs::read(&path).unwrap();
        for s in SECRETS {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s:?} found in clear in {}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_the_caller_then_refuses_to_leave_is_destroyed() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let call = h
        .post(&listener, "/v1/calls", json!({"door": "platform"}))
        .await
        .id("call_id");
    let c = |p: &str| format!("/v1/calls/{call}/{p}");
    h.post(
        &listener,
        &c("callback-number"),
        json!({"number": "0611223344"}),
    )
    .await
    .ok();
    h.post(
        &listener,
        &c("notes"),
        json!({"text": "finalement, pas de rappel"}),
    )
    .await
    .ok();
    h.post(&listener, &c("number-refusal"), json!({}))
        .await
        .ok();
    // Refused first, a number is never written at all.
    h.post(
        &listener,
        &c("callback-number"),
        json!({"number": "0655667788"}),
    )
    .await
    .rule("NumberRetentionRefused");
    h.post(&listener, &c("end"), json!({})).await.ok();
    let case = h
        .post(&listener, &c("transfer"), json!({"centre": "69"}))
        .await
        .id("case_id");
    let history = h.get(&listener, &format!("/v1/cases/{case}/history")).await;
    let events = history.ok()["events"].as_array().unwrap().clone();
    let number = events
        .iter()
        .find(|e| e["type"] == "CallbackNumberRecorded")
        .expect("the event stays in the log");
    assert_eq!(number["data"]["number"]["value"], "Erased", "{number}");
    let text = history.body.to_string();
    assert!(!text.contains("0611223344"));
    // The caller's other data stays readable: only the number's key was destroyed.
    assert!(text.contains("finalement, pas de rappel"));
    let dir = h.stop().await;
    let mut all = Vec::new();
    files(dir.path(), &mut all);
    for path in all {
        let bytes = std::fs::read(&path).unwrap();
        for s in ["0611223344", "0655667788"] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} in {}",
                path.display()
            );
        }
    }
}
