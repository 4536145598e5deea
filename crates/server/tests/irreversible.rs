//! Nothing irreversible happens before the decision that allows it is committed: a
//! request the domain refuses destroys no key (on disk included), and a destruction
//! whose decision is in the log is carried out even if the process stopped in between.

mod common;

use common::*;
use ecoute_domain::SubjectId;
use ecoute_server::keys::number_slot;
use serde_json::{json, Value};
use uuid::Uuid;

const NUMBER: &str = "0611223344";

/// The callback number of a case's call, as the case's history shows it to `reader`.
async fn number_of(h: &Harness, reader: &Member, case: &str) -> Value {
    let history = h.get(reader, &format!("/v1/cases/{case}/history")).await;
    history.ok()["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "CallbackNumberRecorded")
        .map(|e| e["data"]["number"]["value"].clone())
        .unwrap_or(Value::Null)
}

/// A platform call with a number left, still open: its id and the caller's.
async fn call_with_number(h: &Harness, listener: &Member) -> (String, SubjectId) {
    let received = h
        .post(listener, "/v1/calls", json!({"door": "platform"}))
        .await;
    let call = received.id("call_id");
    let caller = SubjectId::from_uuid(received.id("subject_id").parse().unwrap());
    h.post(
        listener,
        &format!("/v1/calls/{call}/callback-number"),
        json!({"number": NUMBER}),
    )
    .await
    .ok();
    (call, caller)
}

/// Sends a number refusal that the domain must refuse, and checks that nothing was
/// appended.
async fn refused(h: &Harness, who: &Member, call: &str, rule: &str) {
    let before = h.head().await;
    h.post(who, &format!("/v1/calls/{call}/number-refusal"), json!({}))
        .await
        .rule(rule);
    assert_eq!(h.head().await, before, "a refused request appended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_number_refusal_destroys_no_number() {
    let h = Harness::start().await;
    let taker = h.enrol(&["PlatformListener"], &[]).await;
    let other_listener = h.enrol(&["PlatformListener"], &[]).await;
    let v1 = h.enrol(&["Volunteer"], &["69"]).await;
    let v2 = h.enrol(&["Volunteer"], &["69"]).await;
    let v3 = h.enrol(&["Volunteer"], &["69"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;

    // A platform call with a number left, ended.
    let (platform_call, _) = platform_call(&h, &taker, true).await;
    // A listener who did not take the call may see it, not record on it.
    refused(&h, &other_listener, &platform_call, "ActorNotAnswerer").await;
    let case1 = h
        .post(
            &taker,
            &format!("/v1/calls/{platform_call}/transfer"),
            json!({"centre": "69"}),
        )
        .await
        .id("case_id");
    // The taker, once the call joined a case.
    refused(&h, &taker, &platform_call, "CallAlreadyAttached").await;

    // A centre call answered by v1 and v2, with a number left.
    let centre_call = h
        .post(
            &v1,
            "/v1/calls",
            json!({"door": "centre", "centre": "69", "partner": v2.id}),
        )
        .await
        .id("call_id");
    h.post(
        &v2,
        &format!("/v1/calls/{centre_call}/callback-number"),
        json!({"number": NUMBER}),
    )
    .await
    .ok();
    // A volunteer of the centre who was not of the pair.
    refused(&h, &v3, &centre_call, "ActorNotAnswerer").await;
    h.post(&v1, &format!("/v1/calls/{centre_call}/end"), json!({}))
        .await
        .ok();
    let case2 = h
        .post(&v1, &format!("/v1/calls/{centre_call}/case"), json!({}))
        .await
        .id("case_id");
    refused(&h, &v2, &centre_call, "CallAlreadyAttached").await;

    // Both numbers are still there, for the referent who will call back …
    assert_eq!(
        number_of(&h, &referent, &case1).await,
        json!({"Clear": "06 12 34 56 78"})
    );
    assert_eq!(
        number_of(&h, &referent, &case2).await,
        json!({"Clear": NUMBER})
    );
    // … and on disk: after a restart, the keys still open them.
    let h = h.restart().await;
    assert_eq!(
        number_of(&h, &referent, &case1).await,
        json!({"Clear": "06 12 34 56 78"})
    );
    assert_eq!(
        number_of(&h, &referent, &case2).await,
        json!({"Clear": NUMBER})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_number_refusal_destroys_the_number_once_recorded() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let (call, caller) = call_with_number(&h, &listener).await;
    let keys = &h.app().keys();
    assert!(!keys.is_erased(number_slot(caller)).unwrap());
    let before = h.head().await;
    h.post(
        &listener,
        &format!("/v1/calls/{call}/number-refusal"),
        json!({}),
    )
    .await
    .ok();
    assert_eq!(h.head().await, before + 1, "the refusal is recorded");
    assert!(keys.is_erased(number_slot(caller)).unwrap());
    assert!(!keys.is_erased(caller).unwrap(), "only the number's key");
    assert!(
        keys.pending().unwrap().is_empty(),
        "nothing left to carry out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destruction_whose_decision_is_in_the_log_is_finished_at_the_next_start() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let (call, caller) = call_with_number(&h, &listener).await;
    h.post(&listener, &format!("/v1/calls/{call}/end"), json!({}))
        .await
        .ok();
    let case = h
        .post(
            &listener,
            &format!("/v1/calls/{call}/transfer"),
            json!({"centre": "69"}),
        )
        .await
        .id("case_id");
    // What a process stopped between a commit and its destruction leaves behind: an
    // intent naming a commit that is in the log (here, the call's last event) …
    let last = h
        .app()
        .read_stream(&format!("call-{call}"))
        .await
        .unwrap()
        .unwrap()
        .pop()
        .unwrap();
    let keys = h.app().keys().clone();
    keys.intend(last.id, &[number_slot(caller)]).unwrap();
    // … and one naming a commit that never landed.
    let other = SubjectId::from_uuid(Uuid::new_v4());
    keys.ensure(&[other]).unwrap();
    keys.intend(Uuid::new_v4(), &[other]).unwrap();
    drop(keys);
    assert_eq!(
        number_of(&h, &referent, &case).await,
        json!({"Clear": NUMBER})
    );

    let h = h.restart().await;
    assert_eq!(number_of(&h, &referent, &case).await, json!("Erased"));
    let keys = &h.app().keys();
    assert!(keys.is_erased(number_slot(caller)).unwrap());
    assert!(!keys.is_erased(other).unwrap(), "a commit not in the log");
    assert!(keys.pending().unwrap().is_empty());
}
