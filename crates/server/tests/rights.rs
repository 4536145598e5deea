//! The right of access and erasure over real HTTP: the answer holds all of a
//! person's data and the consultations of it, and nothing about anyone else; after
//! erasure no value of theirs can be read, the log verifies and the statistics are
//! unchanged.

mod common;

use common::*;
use ecoute_store::EventStore;
use serde_json::{json, Value};

struct Story {
    case: String,
    victim: String,
    son: String,
}

async fn story(h: &Harness, listener: &Member, volunteer: &Member, referent: &Member) -> Story {
    let call = h
        .post(listener, "/v1/calls", json!({"door": "platform"}))
        .await
        .id("call_id");
    let c = |p: &str| format!("/v1/calls/{call}/{p}");
    let victim = h
        .post(
            listener,
            &c("persons"),
            json!({"role": "Victim", "relation": "Themself", "age_band": "From80To89",
                   "name": "Odette Marchal", "address": "9 rue du Puits, Lyon"}),
        )
        .await
        .id("subject_id");
    let son = h
        .post(
            listener,
            &c("persons"),
            json!({"role": "Implicated", "relation": "Child", "age_band": "Under60",
                   "description": "Bernard, takes her pension"}),
        )
        .await
        .id("subject_id");
    h.post(
        listener,
        &c("callback-number"),
        json!({"number": "0478112233"}),
    )
    .await
    .ok();
    h.post(
        listener,
        &c("notes"),
        json!({"text": "the caller fears reprisals"}),
    )
    .await
    .ok();
    h.post(
        listener,
        &c("notes"),
        json!({"text": "Odette no longer goes out", "about": victim}),
    )
    .await
    .ok();
    h.post(
        listener,
        &c("facts"),
        json!({"abuse_kinds": ["Financial"], "setting": "Home", "since": "MoreThanAYear",
               "frequency": "Weekly", "evolution": "Worsening"}),
    )
    .await
    .ok();
    h.post(listener, &c("end"), json!({})).await.ok();
    let case = h
        .post(listener, &c("transfer"), json!({"centre": "69"}))
        .await
        .id("case_id");
    h.post(
        volunteer,
        &format!("/v1/cases/{case}/referent"),
        json!({"referent": referent.id}),
    )
    .await
    .ok();
    h.send(
        reqwest::Method::GET,
        Some(&referent.token),
        &format!("/v1/cases/{case}/history"),
        None,
        &[("x-purpose", "call-back")],
    )
    .await
    .ok();
    Story { case, victim, son }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_answer_holds_the_persons_data_and_consultations_and_nobody_elses() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let s = story(&h, &listener, &volunteer, &referent).await;

    let a = h
        .get(&dpo, &format!("/v1/subjects/{}/access", s.victim))
        .await;
    let text = a.ok().to_string();
    for mine in [
        "Odette Marchal",
        "9 rue du Puits, Lyon",
        "Odette no longer goes out",
        "From80To89",
    ] {
        assert!(text.contains(mine), "{mine} missing: {text}");
    }
    for theirs in ["Bernard", "reprisals", "0478112233"] {
        assert!(!text.contains(theirs), "{theirs} is someone else's: {text}");
    }
    assert!(a.body["recipients"].to_string().contains("69"));
    assert!(a.body["purposes"].as_array().unwrap().len() >= 2);
    assert!(a.body["automated_decision"]
        .as_str()
        .unwrap()
        .starts_with("none"));
    assert!(!a.body["retention"].as_str().unwrap().is_empty());
    let consultations = a.body["consultations"].as_array().unwrap();
    assert!(
        consultations
            .iter()
            .any(|c| c["purpose"] == "call-back" && c["by_roles"] == json!(["Referent"])),
        "{consultations:?}"
    );
    assert!(!text.contains(&referent.id), "no staff id in the answer");

    // The son's answer holds his description and nothing of Odette's.
    let son = h.get(&dpo, &format!("/v1/subjects/{}/access", s.son)).await;
    let text = son.ok().to_string();
    assert!(text.contains("Bernard, takes her pension"));
    assert!(!text.contains("Odette"));

    // As a document to send.
    let md = h
        .http
        .get(format!(
            "{}/v1/subjects/{}/access?format=markdown",
            h.base, s.victim
        ))
        .bearer_auth(&dpo.token)
        .send()
        .await
        .unwrap();
    assert_eq!(md.headers()["content-type"], "text/markdown; charset=utf-8");
    let md = md.text().await.unwrap();
    assert!(md.contains("# What the helpline holds about person"));
    assert!(md.contains("Odette Marchal") && md.contains("## Consultations"));

    // Only the data-protection officer; an unknown person is a 404.
    h.get(&referent, &format!("/v1/subjects/{}/access", s.victim))
        .await
        .problem(403, "forbidden");
    h.get(
        &dpo,
        &format!("/v1/subjects/{}/access", uuid::Uuid::new_v4()),
    )
    .await
    .problem(404, "not-found");
    // The answer itself is a consultation, on record.
    let again = h
        .get(&dpo, &format!("/v1/subjects/{}/access", s.victim))
        .await;
    assert!(again.ok()["consultations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["action"] == "subject.rights"));
    let _ = s.case;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_erasure_nothing_of_the_person_can_be_read_and_the_rest_is_intact() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let auditor = h.enrol(&["Auditor"], &[]).await;
    let s = story(&h, &listener, &volunteer, &referent).await;
    let before: Value = h.get(&auditor, "/v1/statistics").await.ok()["report"].clone();

    h.post(
        &referent,
        &format!("/v1/subjects/{}/erasure", s.victim),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    let erased = h
        .post(
            &dpo,
            &format!("/v1/subjects/{}/erasure", s.victim),
            json!({}),
        )
        .await;
    assert_eq!(erased.ok()["events"], json!(["SubjectErased"]));
    h.post(
        &dpo,
        &format!("/v1/subjects/{}/erasure", s.victim),
        json!({}),
    )
    .await
    .rule("SubjectAlreadyErased");

    // The history shows her values erased, the others as they were.
    let history = h
        .get(&referent, &format!("/v1/cases/{}/history", s.case))
        .await;
    let text = history.ok().to_string();
    for gone in [
        "Odette Marchal",
        "9 rue du Puits",
        "Odette no longer goes out",
    ] {
        assert!(!text.contains(gone), "{gone} still readable");
    }
    assert!(text.contains("\"Erased\""));
    assert!(text.contains("Bernard, takes her pension") && text.contains("reprisals"));

    // An export made now holds no value of hers either.
    let export = h
        .send(
            reqwest::Method::GET,
            Some(&auditor.token),
            &format!("/v1/cases/{}/export", s.case),
            None,
            &[("x-purpose", "audit-values")],
        )
        .await;
    let text = export.ok().to_string();
    assert!(!text.contains("Odette") && text.contains("Bernard, takes her pension"));

    // The access answer says so, with no value left.
    let a = h
        .get(&dpo, &format!("/v1/subjects/{}/access", s.victim))
        .await;
    assert_eq!(a.ok()["erased"]["reason"], "Request");
    assert!(!a.body.to_string().contains("Odette"));

    // The erasure is in the access log, under the case.
    let log = h
        .app()
        .access_log()
        .of_case(ecoute_domain::CaseId::from_uuid(s.case.parse().unwrap()))
        .await
        .unwrap();
    assert!(log
        .iter()
        .any(|r| r.action == "subject.erasure" && r.purpose == "erasure requested by the person"));

    // Statistics unchanged; the log (its hash chain covers the ciphertext) verifies.
    assert_eq!(
        h.get(&auditor, "/v1/statistics").await.ok()["report"],
        before
    );
    let report = h.app().store().verify().await.unwrap();
    assert!(report.first_fault.is_none(), "{report:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_rule_erases_cases_closed_long_enough_ago() {
    use std::sync::Arc;
    let clock = Arc::new(ecoute_store::ManualClock::new(
        "2026-01-05T09:00:00Z".parse().unwrap(),
    ));
    let c = clock.clone();
    let h = Harness::start_with(move |cfg| {
        cfg.app.clock = c;
        cfg.app.retention.closed_case = Some(chrono::Duration::days(365));
    })
    .await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let closed = story(&h, &listener, &volunteer, &referent).await;
    h.post(
        &referent,
        &format!("/v1/cases/{}/close", closed.case),
        json!({"reason": "Other"}),
    )
    .await
    .ok();
    // Another case, still open.
    let open = story(&h, &listener, &volunteer, &referent).await;

    clock.advance(chrono::Duration::days(200));
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!(report.subjects, 0, "not yet: {report:?}");
    clock.advance(chrono::Duration::days(200));
    let report = h.app().apply_retention().await.unwrap();
    assert_eq!(report.cases_erased, 1, "{report:?}");
    assert!(
        report.subjects >= 3,
        "the caller, the victim and the son: {report:?}"
    );
    let again = h.app().apply_retention().await.unwrap();
    assert_eq!(again.subjects, 0, "each once: {again:?}");

    let gone = h
        .get(&referent, &format!("/v1/cases/{}/history", closed.case))
        .await;
    let text = gone.ok().to_string();
    assert!(!text.contains("Odette") && !text.contains("Bernard") && !text.contains("reprisals"));
    let kept = h
        .get(&referent, &format!("/v1/cases/{}/history", open.case))
        .await;
    assert!(kept.ok().to_string().contains("Odette Marchal"));
    let a = h
        .get(&dpo, &format!("/v1/subjects/{}/access", closed.victim))
        .await;
    assert_eq!(a.ok()["erased"]["reason"], "Retention");
    assert_eq!(a.body["erased"]["rule"], "ClosedCase");
    h.stop().await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_erased_after_a_backup_stays_unreadable_in_it() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let s = story(&h, &listener, &volunteer, &referent).await;

    // A backup while the server runs; only administrators take one.
    let backups = tempfile::tempdir().unwrap();
    let dest = backups.path().join("monday");
    let body = json!({"dir": dest.to_str().unwrap()});
    h.post(&dpo, "/v1/backup", body.clone())
        .await
        .problem(403, "forbidden");
    let b = h.post(&h.admin, "/v1/backup", body.clone()).await;
    assert!(b.ok()["log_records"].as_u64().unwrap() > 10);
    h.post(&h.admin, "/v1/backup", body)
        .await
        .problem(400, "bad-input");
    assert!(!dest.join("keys").exists(), "keys are never in a backup");

    // Then the person is erased.
    h.post(
        &dpo,
        &format!("/v1/subjects/{}/erasure", s.victim),
        json!({}),
    )
    .await
    .ok();
    let master = h.master.clone();
    let live = h.stop().await;

    // The Monday backup, restored beside the live key store: her values are gone
    // from it too, everyone else's are there.
    let restored = tempfile::tempdir().unwrap();
    copy_dir(&dest.join("log"), &restored.path().join("log"));
    copy_dir(
        &dest.join("access-log"),
        &restored.path().join("access-log"),
    );
    copy_dir(&live.path().join("keys"), &restored.path().join("keys"));
    let server = ecoute_server::Server::start(config(restored.path(), master))
        .await
        .unwrap();
    assert!(
        server.first_admin().is_none(),
        "the staff came back with the log"
    );
    let base = format!("http://{}", server.addr());
    let history: Value = reqwest::Client::new()
        .get(format!("{base}/v1/cases/{}/history", s.case))
        .bearer_auth(&referent.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = history.to_string();
    assert!(text.contains("Bernard, takes her pension"), "{text}");
    assert!(
        !text.contains("Odette"),
        "erased after the backup, unreadable in it"
    );
    let report = server.app().store().verify().await.unwrap();
    assert!(report.first_fault.is_none());
    assert_eq!(
        report.chain_head_hex(),
        b.body["log_chain_head"].as_str().unwrap()
    );
    server.shutdown().await.unwrap();
}
