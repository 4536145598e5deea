//! The seed's whole journey over real HTTP, against a real server on a temporary
//! directory: a platform call to a consented action and a closed (then reopened) case,
//! and a centre call answered by a pair of volunteers.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_call_to_transfer_referent_call_back_consent_action_close_reopen() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let v1 = h.enrol(&["Volunteer"], &["69"]).await;
    let r1 = h.enrol(&["Referent"], &["69"]).await;
    let auditor = h.enrol(&["Auditor"], &[]).await;

    // A neighbour calls the 3977; a platform listener answers.
    let call1 = h
        .post(&listener, "/v1/calls", json!({"door": "platform"}))
        .await;
    assert_eq!(call1.status, 201);
    let call1 = call1.id("call_id");
    let at = |p: &str| format!("/v1/calls/{call1}/{p}");
    // Anonymity, and no number kept: "ce sera à moi d'appeler".
    h.post(&listener, &at("anonymity"), json!({})).await.ok();
    h.post(&listener, &at("number-refusal"), json!({}))
        .await
        .ok();
    h.post(
        &listener,
        &at("callback-number"),
        json!({"number": "0612345678"}),
    )
    .await
    .rule("NumberRetentionRefused");
    // The people and their links, without judging; the facts.
    let victim = h
        .post(
            &listener,
            &at("persons"),
            json!({"role": "Victim", "relation": "Themself", "age_band": "From80To89",
                   "name": "Jeanne Martin", "address": "12 rue des Lilas, Lyon"}),
        )
        .await
        .id("subject_id");
    h.post(
        &listener,
        &at("persons"),
        json!({"role": "Implicated", "relation": "Child", "age_band": "Under60",
               "lives_with_victim": true, "description": "takes her pension"}),
    )
    .await
    .ok();
    h.post(
        &listener,
        &at("facts"),
        json!({"abuse_kinds": ["Financial", "Psychological"], "setting": "Home",
               "since": "MoreThanAYear", "frequency": "Weekly", "evolution": "Worsening"}),
    )
    .await
    .ok();
    h.post(
        &listener,
        &at("notes"),
        json!({"text": "afraid to be recognised"}),
    )
    .await
    .ok();
    h.post(&listener, &at("end"), json!({})).await.ok();

    // "le relai sera pris ensuite par le centre de mon département".
    let transfer = h
        .post(&listener, &at("transfer"), json!({"centre": "69"}))
        .await;
    assert_eq!(transfer.status, 201);
    assert_eq!(
        transfer.body["events"],
        json!([
            "CallAttachedToCase",
            "CaseOpened",
            "CaseTransferred",
            "DeadlineArmed"
        ]),
        "one commit across the call and the case, with the referent's deadline"
    );
    let case = transfer.id("case_id");
    let c = |p: &str| format!("/v1/cases/{case}/{p}");

    // The centre's queue shows it awaiting a referent.
    let queue = h.get(&v1, "/v1/centres/69/queue").await;
    assert_eq!(queue.ok()["awaiting_referent"][0]["case_id"], case);

    // A fresh eye: a referent who took no call of the case.
    h.post(&v1, &c("referent"), json!({"referent": r1.id}))
        .await
        .ok();
    h.post(
        &r1,
        &c("analysis"),
        json!({"text": "financial abuse by the son, isolation", "about": victim}),
    )
    .await
    .ok();
    // No number: no recontact; the case awaits the caller's call-back.
    h.post(&r1, &c("recontacts"), json!({"outcome": "Reached"}))
        .await
        .rule("NoNumberToCall");
    let summary = h.get(&r1, &format!("/v1/cases/{case}")).await;
    assert_eq!(summary.ok()["awaiting_call_back"], true);
    h.post(&r1, &c("awaiting-call-back"), json!({})).await.ok();

    // The caller calls again and this time leaves a number.
    let (call2, _) = platform_call(&h, &listener, true).await;
    let linked = h
        .post(
            &listener,
            &format!("/v1/calls/{call2}/case"),
            json!({"case_id": case}),
        )
        .await;
    assert_eq!(linked.status, 200);
    let summary = h.get(&r1, &format!("/v1/cases/{case}")).await;
    assert_eq!(summary.ok()["awaiting_call_back"], false);
    assert_eq!(summary.body["can_recontact"], true);

    // The referent calls back and proposes a solution; nothing without consent.
    h.post(&r1, &c("recontacts"), json!({"outcome": "Reached"}))
        .await
        .ok();
    let solution = h
        .post(
            &r1,
            &c("solutions"),
            json!({"kind": "ContactService", "description": "social services of the town",
                   "about": victim}),
        )
        .await;
    assert_eq!(solution.status, 201);
    let solution = solution.id("solution_id");
    let s = |p: &str| format!("/v1/cases/{case}/solutions/{solution}/{p}");
    h.post(
        &r1,
        &s("actions"),
        json!({"note": "wrote to social services"}),
    )
    .await
    .rule("NoConsent");
    h.post(&r1, &s("consent"), json!({"decision": "given"}))
        .await
        .ok();
    h.post(
        &r1,
        &s("actions"),
        json!({"note": "wrote to social services"}),
    )
    .await
    .ok();
    // The referent's caseload holds the case while it is open.
    let load = h.get(&r1, &format!("/v1/staff/{}/caseload", r1.id)).await;
    assert_eq!(load.ok()[0]["case_id"], case);
    h.post(&r1, &c("close"), json!({"reason": "Redirected"}))
        .await
        .ok();
    h.post(&r1, &c("awaiting-call-back"), json!({}))
        .await
        .rule("CaseIsClosed");
    h.post(&r1, &c("reopen"), json!({})).await.ok();

    let summary = h.get(&r1, &format!("/v1/cases/{case}")).await;
    let s = summary.ok();
    assert_eq!(s["status"], "Open");
    assert_eq!(s["centre"], "69");
    assert_eq!(s["opened_by"], "national");
    assert_eq!(s["referent"], r1.id);
    assert_eq!(s["calls"].as_array().unwrap().len(), 2);
    assert_eq!(s["solutions"][0]["consent"], "Given");
    assert_eq!(s["solutions"][0]["actions"], 1);

    // The auditor replays the history exactly as recorded …
    let history = h.get(&auditor, &c("history")).await;
    let events = history.ok()["events"].as_array().unwrap().clone();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"CallReceived"));
    assert!(types.contains(&"ConsentGiven"));
    assert_eq!(types.last(), Some(&"CaseReopened"));
    let positions: Vec<u64> = events
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in global order");
    assert_eq!(history.body["state"]["status"], "Open");
    // … without the personal values (what was done and when) …
    assert!(!history.body.to_string().contains("Jeanne Martin"));
    assert!(history.body.to_string().contains("\"Withheld\""));
    // … unless they ask for them, with their purpose.
    let with_values = h
        .send(
            reqwest::Method::GET,
            Some(&auditor.token),
            &c("history"),
            None,
            &[("x-purpose", "audit-values")],
        )
        .await;
    assert!(with_values.ok().to_string().contains("Jeanne Martin"));

    // … and as it stood when the case was transferred.
    let transferred = events
        .iter()
        .find(|e| e["type"] == "CaseTransferred")
        .unwrap();
    let moment = transferred["recorded_at"].as_str().unwrap();
    let then = h
        .get(
            &auditor,
            &format!("{}?at={}", c("history"), moment.replace('+', "%2B")),
        )
        .await;
    let then_events = then.ok()["events"].as_array().unwrap();
    assert!(then_events.len() < events.len());
    assert!(then_events
        .iter()
        .all(|e| e["recorded_at"].as_str().unwrap() <= moment));
    assert_eq!(then.body["state"]["referent"], serde_json::Value::Null);
    assert_eq!(then.body["state"]["centre"], "69");

    // A call's events count only once it joined the case: as the second call ended,
    // before it was linked, it was not part of the case yet.
    let call2_stream = format!("call-{call2}");
    let ended = events
        .iter()
        .find(|e| e["stream"] == call2_stream && e["type"] == "CallEnded")
        .unwrap();
    let moment = ended["recorded_at"].as_str().unwrap();
    let before_link = h
        .get(
            &auditor,
            &format!("{}?at={}", c("history"), moment.replace('+', "%2B")),
        )
        .await;
    assert!(before_link.ok()["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["stream"] != call2_stream));
    assert_eq!(
        before_link.body["state"]["calls"].as_array().unwrap().len(),
        1
    );

    // The timeline, in plain words, names nobody.
    let timeline = h.get(&auditor, &c("timeline")).await;
    let text = timeline.ok().to_string();
    assert!(text.contains("transferred"), "{text}");
    assert!(!text.contains("Jeanne"), "{text}");

    // Every read of the case was recorded, with who and why.
    let reads = h
        .app()
        .access_log()
        .of_case(ecoute_domain::CaseId::from_uuid(case.parse().unwrap()))
        .await
        .unwrap();
    let by = |m: &Member| {
        reads
            .iter()
            .filter(|r| r.staff.map(|s| s.to_string()) == Some(m.id.clone()))
            .count()
    };
    assert!(by(&r1) >= 3, "{reads:?}");
    assert!(by(&auditor) >= 3, "{reads:?}");
    assert!(reads.iter().all(|r| !r.purpose.is_empty()));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn centre_call_answered_by_a_pair_and_a_revoked_volunteer_loses_access() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let v1 = h.enrol(&["Volunteer"], &["69"]).await;
    let v2 = h.enrol(&["Volunteer"], &["69"]).await;
    let r1 = h.enrol(&["Referent"], &["69"]).await;

    let call = h
        .post(
            &v1,
            "/v1/calls",
            json!({"door": "centre", "centre": "69", "partner": v2.id}),
        )
        .await
        .id("call_id");
    h.post(
        &v2,
        &format!("/v1/calls/{call}/callback-number"),
        json!({"number": "0478000000"}),
    )
    .await
    .ok();
    h.post(&v1, &format!("/v1/calls/{call}/end"), json!({}))
        .await
        .ok();
    let opened = h
        .post(&v1, &format!("/v1/calls/{call}/case"), json!({}))
        .await;
    assert_eq!(opened.status, 201);
    let case = opened.id("case_id");
    let summary = h.get(&v2, &format!("/v1/cases/{case}")).await;
    assert_eq!(summary.ok()["opened_by"], "69");
    // A centre's case is not transferred.
    h.post(
        &listener,
        &format!("/v1/cases/{case}/transfer"),
        json!({"centre": "13"}),
    )
    .await
    .rule("NotOpenedByPlatform");
    // The fresh eye: V1 answered, so V1 cannot become its referent even with the role.
    h.post(
        &h.admin,
        &format!("/v1/staff/{}/roles", v1.id),
        json!({"role": "Referent"}),
    )
    .await
    .ok();
    h.post(
        &r1,
        &format!("/v1/cases/{case}/referent"),
        json!({"referent": v1.id}),
    )
    .await
    .rule("ReferentTookACall");
    h.post(
        &v2,
        &format!("/v1/cases/{case}/referent"),
        json!({"referent": r1.id}),
    )
    .await
    .ok();

    // Revoking V1's accreditation takes effect at once: no more calls, no more reads.
    h.delete(&h.admin, &format!("/v1/staff/{}/accreditations/69", v1.id))
        .await
        .ok();
    h.post(
        &v1,
        "/v1/calls",
        json!({"door": "centre", "centre": "69", "partner": v2.id}),
    )
    .await
    .problem(403, "forbidden");
    h.get(&v1, &format!("/v1/cases/{case}"))
        .await
        .problem(404, "not-found");

    // A revoked token stops working at once; the member may revoke their own.
    let me = h.get(&v2, "/v1/me").await;
    let token_id = me.ok()["tokens"][0].as_str().unwrap().to_string();
    h.delete(&v2, &format!("/v1/staff/{}/tokens/{token_id}", v2.id))
        .await
        .ok();
    h.get(&v2, "/v1/me").await.problem(401, "unauthenticated");
    h.stop().await;
}
