//! The retention rules over real HTTP, with a manual clock (no test sleeps): a call
//! that joined no case is erased after its own period; a case without activity is
//! flagged to its centre, then closed and erased unless someone keeps it; a callback
//! number goes once its case is closed or its call back is long overdue, the rest
//! kept. Nothing is erased early, a refused step changes nothing, each erasure is
//! in the events, the access log and the person's access answer with its rule.

mod common;

use std::sync::Arc;

use common::*;
use ecoute_store::{EventStore, ManualClock};
use serde_json::{json, Value};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("2026-03-02T08:00:00Z".parse().unwrap()))
}

async fn start(clock: &Arc<ManualClock>) -> Harness {
    let c = clock.clone();
    Harness::start_with(move |cfg| cfg.app.clock = c).await
}

/// An ended platform call: a caller who leaves a number, a victim named; returns
/// (call, caller, victim).
async fn call(h: &Harness, listener: &Member, name: &str) -> (String, String, String) {
    let received = h
        .post(listener, "/v1/calls", json!({"door": "platform"}))
        .await;
    let (call, caller) = (received.id("call_id"), received.id("subject_id"));
    let c = |p: &str| format!("/v1/calls/{call}/{p}");
    let victim = h
        .post(
            listener,
            &c("persons"),
            json!({"role": "Victim", "relation": "Themself", "age_band": "From80To89",
                   "name": name}),
        )
        .await
        .id("subject_id");
    h.post(
        listener,
        &c("callback-number"),
        json!({"number": "04 78 11 22 33"}),
    )
    .await
    .ok();
    h.post(listener, &c("end"), json!({})).await.ok();
    (call, caller, victim)
}

async fn transfer(h: &Harness, listener: &Member, call: &str) -> String {
    h.post(
        listener,
        &format!("/v1/calls/{call}/transfer"),
        json!({"centre": "69"}),
    )
    .await
    .id("case_id")
}

async fn history(h: &Harness, who: &Member, case: &str) -> String {
    h.get(who, &format!("/v1/cases/{case}/history"))
        .await
        .ok()
        .to_string()
}

async fn access(h: &Harness, dpo: &Member, subject: &str) -> Value {
    h.get(dpo, &format!("/v1/subjects/{subject}/access"))
        .await
        .ok()
        .clone()
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_joined_no_case_is_erased_after_its_own_period() {
    let clock = clock();
    let h = start(&clock).await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let (lone, lone_caller, lone_victim) = call(&h, &listener, "Lucienne Faure").await;
    let (other, _, _) = call(&h, &listener, "Odette Marchal").await;
    let case = transfer(&h, &listener, &other).await;

    // Nothing early: a day short of the period, a pass changes nothing.
    clock.advance(days(89));
    let head = h.head().await;
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!((report.calls, report.subjects), (0, 0), "{report:?}");
    assert_eq!(h.head().await, head, "nothing appended");
    assert!(access(&h, &dpo, &lone_victim).await["erased"].is_null());

    clock.advance(days(2));
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!(report.calls, 1, "{report:?}");
    assert_eq!(report.subjects, 2, "the caller and the victim: {report:?}");
    let again = h.app().apply_retention().await.unwrap();
    assert_eq!(
        (again.calls, again.subjects),
        (0, 0),
        "each once: {again:?}"
    );

    // The access answer says which rule, and holds no value any more.
    let a = access(&h, &dpo, &lone_victim).await;
    assert_eq!(a["erased"]["reason"], "Retention");
    assert_eq!(a["erased"]["rule"], "UnattachedCall");
    assert!(!a.to_string().contains("Lucienne"), "{a}");
    let a = access(&h, &dpo, &lone_caller).await;
    assert_eq!(a["erased"]["rule"], "UnattachedCall");
    assert!(!a.to_string().contains("04 78 11 22 33"), "{a}");
    // The access log has each erasure with its rule (no case: the call joined none).
    let other_log = h
        .app()
        .access_log()
        .store()
        .read_stream(
            &ecoute_store::StreamId::new("access-other").unwrap(),
            ecoute_store::ReadFrom::Edge,
            ecoute_store::Direction::Forward,
            usize::MAX,
        )
        .await
        .unwrap();
    let erasures = other_log
        .iter()
        .filter(|e| {
            String::from_utf8_lossy(&e.payload)
                .contains("retention period over: rule unattached-call")
        })
        .count();
    assert_eq!(erasures, 2);

    // The call that joined a case keeps its persons; the erased call joins none now.
    assert!(history(&h, &volunteer, &case)
        .await
        .contains("Odette Marchal"));
    let head = h.head().await;
    h.post(
        &listener,
        &format!("/v1/calls/{lone}/transfer"),
        json!({"centre": "69"}),
    )
    .await
    .rule("CallErasedByRetention");
    assert_eq!(h.head().await, head, "a refused command appends nothing");
    let report = h.app().store().verify().await.unwrap();
    assert!(report.first_fault.is_none(), "{report:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_case_is_flagged_then_closed_and_erased_unless_kept() {
    let clock = clock();
    let h = start(&clock).await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let (first, _, _) = call(&h, &listener, "Marcel Leroy").await;
    let kept = transfer(&h, &listener, &first).await;
    let (second, _, victim) = call(&h, &listener, "Odette Marchal").await;
    let dropped = transfer(&h, &listener, &second).await;

    // Keeping a case not flagged is refused, and changes nothing.
    let head = h.head().await;
    h.post(
        &volunteer,
        &format!("/v1/cases/{kept}/keep"),
        json!({"reason": "FollowUpUnderWay"}),
    )
    .await
    .rule("NotFlaggedInactive");
    assert_eq!(h.head().await, head);

    clock.advance(days(364));
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!(report.flagged, 0, "not yet: {report:?}");
    assert_eq!(h.head().await, head, "nothing appended early");
    clock.advance(days(2));
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!(report.flagged, 2, "{report:?}");
    assert_eq!(report.subjects, 0, "flagged, nothing erased: {report:?}");

    // Flagged to the centre: in the summary and in the queue, with the closing date.
    let summary = h.get(&volunteer, &format!("/v1/cases/{dropped}")).await;
    let closes_at = summary.ok()["inactivity"]["closes_at"].clone();
    assert_eq!(closes_at, "2027-04-02T08:00:00Z");
    let queue = h.get(&volunteer, "/v1/centres/69/queue").await;
    let review = queue.ok()["awaiting_review"].as_array().unwrap().clone();
    assert_eq!(review.len(), 2, "{review:?}");
    assert!(review.iter().all(|w| w["closes_at"] == closes_at));
    assert_eq!(queue.body["awaiting_referent"], json!([]));

    // One is kept, with a reason from the closed list; a reason outside it is refused.
    h.post(
        &volunteer,
        &format!("/v1/cases/{kept}/keep"),
        json!({"reason": "BecauseISaySo"}),
    )
    .await
    .problem(400, "bad-input");
    h.post(
        &volunteer,
        &format!("/v1/cases/{kept}/keep"),
        json!({"reason": "FollowUpUnderWay"}),
    )
    .await
    .ok();
    let summary = h.get(&volunteer, &format!("/v1/cases/{kept}")).await;
    assert!(summary.ok()["inactivity"].is_null());

    // Nothing closes before the grace period is over.
    clock.advance(days(29));
    let head = h.head().await;
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!((report.closed, report.subjects), (0, 0), "{report:?}");
    assert_eq!(h.head().await, head, "nothing appended early");
    assert!(history(&h, &volunteer, &dropped)
        .await
        .contains("Odette Marchal"));
    clock.advance(days(2));
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!(report.closed, 1, "{report:?}");
    assert_eq!(
        report.subjects, 2,
        "its caller and victim, nobody else: {report:?}"
    );

    // The one not kept: closed as inactive, its persons erased.
    let summary = h.get(&volunteer, &format!("/v1/cases/{dropped}")).await;
    assert_eq!(summary.ok()["status"], "Closed");
    assert_eq!(summary.body["closed_reason"], "Inactive");
    let text = history(&h, &volunteer, &dropped).await;
    assert!(
        !text.contains("Odette") && !text.contains("04 78 11 22 33"),
        "{text}"
    );
    let a = access(&h, &dpo, &victim).await;
    assert_eq!(a["erased"]["rule"], "InactiveCase");
    let log = h
        .app()
        .access_log()
        .of_case(ecoute_domain::CaseId::from_uuid(dropped.parse().unwrap()))
        .await
        .unwrap();
    assert!(log.iter().any(|r| r.action == "subject.erasure"
        && r.purpose == "retention period over: rule inactive-case"));
    // The kept one: open, readable, and the reason is in its history.
    let text = history(&h, &volunteer, &kept).await;
    assert!(
        text.contains("Marcel Leroy") && text.contains("FollowUpUnderWay"),
        "{text}"
    );
    let timeline = h
        .get(&volunteer, &format!("/v1/cases/{kept}/timeline"))
        .await;
    assert!(timeline
        .ok()
        .to_string()
        .contains("kept despite inactivity: follow up under way"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_number_goes_when_its_case_closes_or_its_call_back_is_long_overdue() {
    let clock = clock();
    let h = start(&clock).await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let (first, caller, _) = call(&h, &listener, "Marcel Leroy").await;
    let closed = transfer(&h, &listener, &first).await;
    let (second, _, _) = call(&h, &listener, "Odette Marchal").await;
    let overdue = transfer(&h, &listener, &second).await;
    for case in [&closed, &overdue] {
        assign_referent(&h, &volunteer, case, &referent).await;
    }

    // Closed: the number goes at the next pass, the rest of the case is kept.
    h.post(
        &referent,
        &format!("/v1/cases/{closed}/close"),
        json!({"reason": "Resolved"}),
    )
    .await
    .ok();
    // Nobody closes a case as inactive by hand.
    h.post(
        &referent,
        &format!("/v1/cases/{overdue}/close"),
        json!({"reason": "Inactive"}),
    )
    .await
    .rule("ClosedAsInactiveOnlyByRetention");
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!((report.numbers, report.subjects), (1, 0), "{report:?}");
    let text = history(&h, &referent, &closed).await;
    assert!(
        !text.contains("04 78 11 22 33"),
        "the number is gone: {text}"
    );
    assert!(text.contains("Marcel Leroy"), "the rest is kept: {text}");
    let a = access(&h, &dpo, &caller).await;
    assert_eq!(a["number_erased"]["rule"], "CallbackNumber");
    assert!(a["erased"].is_null(), "the caller is not erased: {a}");
    let log = h
        .app()
        .access_log()
        .of_case(ecoute_domain::CaseId::from_uuid(closed.parse().unwrap()))
        .await
        .unwrap();
    assert!(log
        .iter()
        .any(|r| r.purpose
            == "retention period over: rule callback-number (the callback number alone)"));

    // Open, its call back never made: the number goes 30 days after the deadline.
    clock.advance(chrono::Duration::hours(73));
    assert_eq!(
        h.app().fire_due().await.unwrap(),
        1,
        "the call back is overdue"
    );
    clock.advance(days(29));
    let head = h.head().await;
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!(report.numbers, 0, "not yet: {report:?}");
    assert_eq!(h.head().await, head, "nothing appended early");
    assert!(history(&h, &referent, &overdue)
        .await
        .contains("04 78 11 22 33"));
    clock.advance(days(2));
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!(report.numbers, 1, "{report:?}");
    let summary = h.get(&referent, &format!("/v1/cases/{overdue}")).await;
    assert_eq!(summary.ok()["can_recontact"], false);
    assert_eq!(summary.body["status"], "Open", "the case is kept");
    assert_eq!(
        summary.body["overdue"],
        json!([]),
        "no call back is owed any more"
    );
    let text = history(&h, &referent, &overdue).await;
    assert!(!text.contains("04 78 11 22 33") && text.contains("Odette Marchal"));
    h.stop().await;
}
