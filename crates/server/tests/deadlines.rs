//! Deadlines over real HTTP, with a manual clock (no test sleeps): a transferred case
//! unassigned for 48 hours is flagged overdue in the centre's queue, once; keeping the
//! promise clears it; deadlines that fell due while the server was down fire when it
//! starts again, once.

mod common;

use std::sync::Arc;

use common::*;
use ecoute_store::ManualClock;
use serde_json::json;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("2026-03-02T08:00:00Z".parse().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unassigned_case_is_flagged_overdue_once_and_cleared_when_kept() {
    let clock = clock();
    let c = clock.clone();
    let h = Harness::start_with(move |cfg| cfg.app.clock = c).await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let case = transferred_case(&h, &listener, "69").await;

    let summary = h.get(&volunteer, &format!("/v1/cases/{case}")).await;
    assert_eq!(summary.ok()["deadlines"][0]["kind"], "referent");
    assert_eq!(summary.body["deadlines"][0]["due"], "2026-03-04T08:00:00Z");

    clock.advance(chrono::Duration::hours(47));
    assert_eq!(h.app().fire_due().await.unwrap(), 0, "not due yet");
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(h.app().fire_due().await.unwrap(), 1);
    assert_eq!(h.app().fire_due().await.unwrap(), 0, "fired once");

    let queue = h.get(&volunteer, "/v1/centres/69/queue").await;
    assert_eq!(queue.ok()["awaiting_referent"][0]["case_id"], case);
    assert_eq!(queue.body["awaiting_referent"][0]["overdue"], true);
    let summary = h.get(&volunteer, &format!("/v1/cases/{case}")).await;
    assert_eq!(summary.ok()["overdue"], json!(["referent"]));
    // The figures `/metrics` serves on the operations address.
    let metrics = h.app().metrics_text().await.unwrap();
    assert!(metrics.contains("ecoute_deadlines_overdue 1"), "{metrics}");
    assert!(metrics.contains("ecoute_deadlines_fired 1"), "{metrics}");

    // Naming a referent keeps the promise (late): the flag goes, a call back is due.
    assign_referent(&h, &volunteer, &case, &referent).await;
    let summary = h.get(&referent, &format!("/v1/cases/{case}")).await;
    assert_eq!(summary.ok()["overdue"], json!([]));
    assert_eq!(summary.body["deadlines"][0]["kind"], "recontact");
    let load = h
        .get(&referent, &format!("/v1/staff/{}/caseload", referent.id))
        .await;
    assert_eq!(load.ok()[0]["overdue"], json!([]));
    // The referent does not call back in 72 hours: the caseload shows it.
    clock.advance(chrono::Duration::hours(73));
    assert_eq!(h.app().fire_due().await.unwrap(), 1);
    let load = h
        .get(&referent, &format!("/v1/staff/{}/caseload", referent.id))
        .await;
    assert_eq!(load.ok()[0]["overdue"], json!(["recontact"]));
    // The timeline says it in plain words.
    let timeline = h
        .get(&referent, &format!("/v1/cases/{case}/timeline"))
        .await;
    assert!(timeline
        .ok()
        .to_string()
        .contains("overdue: a first call back"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_due_while_the_server_was_down_fire_at_start_once() {
    let clock = clock();
    let c = clock.clone();
    let h = Harness::start_with(move |cfg| cfg.app.clock = c).await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let case = transferred_case(&h, &listener, "69").await;
    let master = h.master.clone();
    let dir = h.stop().await;

    // Three days pass while it is down.
    clock.advance(chrono::Duration::days(3));
    let mut cfg = config(dir.path(), master);
    cfg.app.clock = clock.clone();
    cfg.app.scheduler_tick = std::time::Duration::from_millis(20);
    let server = ecoute_server::Server::start(cfg).await.unwrap();
    // The scheduler's first pass runs at start; wait for its event, no fixed sleep.
    let app = server.app().clone();
    let events = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let events = app
                .read_stream(&format!("case-{case}"))
                .await
                .unwrap()
                .unwrap();
            if events.iter().any(|e| e.event_type == "DeadlineMissed") {
                return events;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the due deadline fired at start");
    // More passes, and an explicit one, add nothing: fired once.
    assert_eq!(app.fire_due().await.unwrap(), 0);
    let later = app
        .read_stream(&format!("case-{case}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(later.len(), events.len());
    assert_eq!(
        later
            .iter()
            .filter(|e| e.event_type == "DeadlineMissed")
            .count(),
        1
    );
    server.shutdown().await.unwrap();
}
