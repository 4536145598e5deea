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

    let export = h.get(&auditor, &format!("/v1/cases/{case}/export")).await;
    let doc = export.ok().clone();
    assert_eq!(doc["format"], "ecoute-case-export/1");
    assert!(doc["events"].as_array().unwrap().len() >= 5);
    assert_eq!(doc["log"]["chain_head"].as_str().unwrap().len(), 64);
    assert!(
        doc.to_string().contains("Jeanne Martin"),
        "values opened for the auditor"
    );

    // More writes after the export do not make it invalid.
    transferred_case(&h, &listener, "13").await;
    let check = h
        .post(
            &auditor,
            &format!("/v1/cases/{case}/export/verify"),
            doc.clone(),
        )
        .await;
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
        let c = h
            .post(&auditor, &format!("/v1/cases/{case}/export/verify"), bad)
            .await;
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
