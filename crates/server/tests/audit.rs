//! The auditor's tools over real HTTP and through the `ecoute` command: replay, export
//! stamped with the chain head, and the check of an export against the log.

mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn ecoute(h: &Harness, token: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecoute"))
        .args(args)
        .env("ECOUTE_URL", &h.base)
        .env("ECOUTE_TOKEN", token)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_stamped_checked_and_tampering_is_found() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let auditor = h.enrol(&["Auditor"], &[]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let case = transferred_case(&h, &listener, "69").await;

    let export = h
        .send(
            reqwest::Method::GET,
            Some(&auditor.token),
            &format!("/v1/cases/{case}/export"),
            None,
            &[("x-purpose", "audit-values")],
        )
        .await;
    let doc = export.ok().clone();
    assert_eq!(doc["format"], "ecoute-case-export/1");
    assert!(doc["events"].as_array().unwrap().len() >= 5);
    assert_eq!(doc["log"]["chain_head"].as_str().unwrap().len(), 64);
    assert!(
        doc.to_string().contains("Jeanne Martin"),
        "values opened for the auditor who asked for them"
    );

    // Without that purpose, the values are withheld, and the export still checks.
    let bare = h.get(&auditor, &format!("/v1/cases/{case}/export")).await;
    let bare = bare.ok().clone();
    assert!(!bare.to_string().contains("Jeanne Martin"), "{bare}");
    let check = h
        .post(&auditor, &format!("/v1/cases/{case}/export/verify"), bare)
        .await;
    assert_eq!(check.ok()["valid"], true, "{}", check.body);
    assert!(
        check.body["withheld"].as_u64().unwrap() >= 1,
        "{}",
        check.body
    );
    // An auditor who may not see the values cannot use the check to confirm a
    // guess of one: an export with values is checked only with `audit-values`.
    let mut guess = doc.clone();
    guess["events"][1]["data"]["name"]["value"] = json!({"Clear": "Jeanne Martin"});
    let refused = h
        .post(&auditor, &format!("/v1/cases/{case}/export/verify"), guess)
        .await;
    assert_eq!(refused.problem(400, "bad-input")["field"], "X-Purpose");
    let verify_path = format!("/v1/cases/{case}/export/verify");
    let verify = |doc: Value| {
        h.send(
            reqwest::Method::POST,
            Some(&auditor.token),
            &verify_path,
            Some(doc),
            &[("x-purpose", "audit-values")],
        )
    };
    // An event exported twice is a fault.
    let mut twice = doc.clone();
    let first = twice["events"][0].clone();
    twice["events"].as_array_mut().unwrap().push(first);
    let c = verify(twice).await;
    assert_eq!(c.ok()["valid"], false, "{}", c.body);

    // More writes after the export do not make it invalid.
    transferred_case(&h, &listener, "13").await;
    let check = verify(doc.clone()).await;
    assert_eq!(check.ok()["valid"], true, "{}", check.body);
    assert_eq!(check.body["log_unaltered"], true);

    // A changed field, a changed hash, a removed event: each is found, by position.
    let mut changed = doc.clone();
    changed["events"][1]["data"]["name"]["value"] = json!("Someone Else");
    changed["events"][1]["data"]["caller"] = json!("00000000-0000-0000-0000-000000000000");
    let mut rehashed = doc.clone();
    rehashed["events"][0]["record_hash"] = json!("00".repeat(32));
    let mut removed = doc.clone();
    removed["events"].as_array_mut().unwrap().remove(2);
    let mut restamped = doc.clone();
    restamped["log"]["chain_head"] = json!("ab".repeat(32));
    for (what, bad) in [
        ("changed", changed),
        ("rehashed", rehashed),
        ("removed", removed),
        ("restamped", restamped),
    ] {
        let c = verify(bad).await;
        assert_eq!(c.ok()["valid"], false, "{what}: {}", c.body);
        assert!(
            c.body["faults"][0].as_str().unwrap().contains("position"),
            "{what}: {}",
            c.body
        );
    }

    // Through the command line, against the running server.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("case.json");
    let (ok, out) = ecoute(
        &h,
        &auditor.token,
        &["export", &case, "--out", file.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    let (ok, out) = ecoute(
        &h,
        &auditor.token,
        &["verify-export", file.to_str().unwrap()],
    );
    assert!(ok && out.contains("the export matches the log"), "{out}");
    let mut tampered: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    tampered["events"][0]["recorded_at"] = json!("2020-01-01T00:00:00Z");
    std::fs::write(&file, tampered.to_string()).unwrap();
    let (ok, out) = ecoute(
        &h,
        &auditor.token,
        &["verify-export", file.to_str().unwrap()],
    );
    assert!(!ok && out.contains("fault: position"), "{out}");

    let (ok, out) = ecoute(&h, &auditor.token, &["replay", "case", &case]);
    assert!(
        ok && out.contains("CaseTransferred") && out.contains("state:"),
        "{out}"
    );
    let (ok, out) = ecoute(
        &h,
        &auditor.token,
        &["replay", "case", &case, "--at", "2001-01-01T00:00:00Z"],
    );
    assert!(ok && !out.contains("CaseTransferred"), "{out}");

    // An access answer and a backup, from the command line too.
    let subject = h
        .get(&auditor, &format!("/v1/cases/{case}/history"))
        .await
        .ok()["events"][0]["data"]["caller"]
        .as_str()
        .unwrap()
        .to_string();
    let (ok, out) = ecoute(&h, &dpo.token, &["access", &subject]);
    assert!(
        ok && out.contains("# What the helpline holds about person"),
        "{out}"
    );
    let (ok, out) = ecoute(&h, &auditor.token, &["access", &subject]);
    assert!(!ok && out.contains("403"), "{out}");
    let target = dir.path().join("backup");
    let (ok, out) = ecoute(&h, &h.admin.token, &["backup", target.to_str().unwrap()]);
    assert!(ok && out.contains("keys are not in it"), "{out}");
    assert!(target.join("log").join("ecoute-head").exists());
    h.stop().await;
}

/// Auditors audit what was done and when: a case's history shows them its personal
/// values withheld, unless they ask with the purpose `audit-values`, which the
/// access log keeps and the person's access answer shows. Who works the case sees
/// the values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_see_values_only_when_they_ask_with_their_purpose() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let auditor = h.enrol(&["Auditor"], &[]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let (call, victim) = platform_call(&h, &listener, true).await;
    let case = h
        .post(
            &listener,
            &format!("/v1/calls/{call}/transfer"),
            json!({"centre": "69"}),
        )
        .await
        .id("case_id");
    let history = format!("/v1/cases/{case}/history");
    let with = |purpose: &'static str| [("x-purpose", purpose)];

    let audit = h
        .send(
            reqwest::Method::GET,
            Some(&auditor.token),
            &history,
            None,
            &with("audit"),
        )
        .await;
    let text = audit.ok().to_string();
    assert!(
        !text.contains("Jeanne Martin") && !text.contains("06 12"),
        "{text}"
    );
    assert!(text.contains("\"Withheld\""), "{text}");
    assert_eq!(
        audit.body["events"].as_array().unwrap().len(),
        h.get(&referent, &history).await.ok()["events"]
            .as_array()
            .unwrap()
            .len(),
        "every event is shown, only the values are withheld"
    );
    let worked = h.get(&referent, &history).await;
    assert!(worked.ok().to_string().contains("Jeanne Martin"));
    let opened = h
        .send(
            reqwest::Method::GET,
            Some(&auditor.token),
            &history,
            None,
            &with("audit-values"),
        )
        .await;
    assert!(opened.ok().to_string().contains("Jeanne Martin"));

    // The opening is in the person's access answer, with its purpose.
    let answer = h.get(&dpo, &format!("/v1/subjects/{victim}/access")).await;
    let consultations = answer.ok()["consultations"].as_array().unwrap().clone();
    assert!(
        consultations
            .iter()
            .any(|c| c["purpose"] == "audit-values" && c["by_roles"] == json!(["Auditor"])),
        "{consultations:?}"
    );
    h.stop().await;
}
