//! Who may do what, under hostile use: a person id is new or of this call, the case
//! comes before any other check, purposes come from a closed list, every read of
//! queues and caseloads is recorded, and nobody can lock the administrators out.

mod common;

use common::*;
use ecoute_store::EventStore;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_id_is_new_or_of_this_call() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let (first_call, victim) = platform_call(&h, &listener, false).await;
    let _ = first_call;
    let second = h
        .post(&listener, "/v1/calls", json!({"door": "platform"}))
        .await
        .id("call_id");
    let describe = |person: &str| {
        json!({"person_id": person, "role": "Victim", "relation": "Themself",
               "age_band": "From80To89", "description": "invented"})
    };
    // A person of another call: refused, nothing appended.
    let before = h.head().await;
    h.post(
        &listener,
        &format!("/v1/calls/{second}/persons"),
        describe(&victim),
    )
    .await
    .problem(400, "bad-input");
    assert_eq!(h.head().await, before);
    // The same once that person is erased: the same answer, not a 410 telling so.
    h.post(&dpo, &format!("/v1/subjects/{victim}/erasure"), json!({}))
        .await
        .ok();
    let before = h.head().await;
    h.post(
        &listener,
        &format!("/v1/calls/{second}/persons"),
        describe(&victim),
    )
    .await
    .problem(400, "bad-input");
    assert_eq!(h.head().await, before);
    // A person of this call is described again; a new one gets a new id.
    let new = h
        .post(
            &listener,
            &format!("/v1/calls/{second}/persons"),
            json!({"role": "Victim", "relation": "Themself", "age_band": "From80To89"}),
        )
        .await
        .id("subject_id");
    h.post(
        &listener,
        &format!("/v1/calls/{second}/persons"),
        describe(&new),
    )
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_a_referent_checks_the_case_before_the_member() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let outsider = h.enrol(&["Volunteer"], &["13"]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let case = transferred_case(&h, &listener, "69").await;
    let path = format!("/v1/cases/{case}/referent");
    // A case the sender may not see: the same 404 whoever is named, so staff ids
    // cannot be probed through it.
    for named in [referent.id.clone(), uuid::Uuid::new_v4().to_string()] {
        h.post(&outsider, &path, json!({"referent": named}))
            .await
            .problem(404, "not-found");
    }
    // A case they may act on: an unknown member is a 400.
    h.post(&listener, &path, json!({"referent": uuid::Uuid::new_v4()}))
        .await
        .problem(400, "bad-input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purposes_come_from_a_closed_list() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let case = transferred_case(&h, &listener, "69").await;
    let path = format!("/v1/cases/{case}");
    // Free words (a name can be typed there, and would be kept for ever): refused.
    let a = h
        .send(
            reqwest::Method::GET,
            Some(&listener.token),
            &path,
            None,
            &[("x-purpose", "call mme dupont")],
        )
        .await;
    a.problem(400, "bad-input");
    for purpose in ["case-follow-up", "call-back", "audit"] {
        let a = h
            .send(
                reqwest::Method::GET,
                Some(&listener.token),
                &path,
                None,
                &[("x-purpose", purpose)],
            )
            .await;
        assert_eq!(a.status, 200, "{purpose}: {}", a.body);
    }
    let consultations = h
        .app()
        .access_log()
        .of_case(ecoute_domain::CaseId::from_uuid(case.parse().unwrap()))
        .await
        .unwrap();
    assert!(consultations.iter().any(|c| c.purpose == "call-back"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_and_caseload_reads_are_recorded() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let records = || async { h.app().access_log().store().head().await.unwrap() };
    let before = records().await;
    h.get(&referent, "/v1/centres/69/queue").await.ok();
    h.get(&referent, &format!("/v1/staff/{}/caseload", referent.id))
        .await
        .ok();
    h.get(&listener, "/v1/centres/69/queue").await.ok();
    assert_eq!(records().await, before + 3, "one record per read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_administrator_cannot_lock_everyone_out() {
    let h = Harness::start().await;
    let admin = h.admin.clone();
    let me = h.get(&admin, "/v1/me").await;
    let token = me.ok()["tokens"][0].as_str().unwrap().to_string();
    let before = h.head().await;
    // Their own role, then their last token: both refused while they are the last.
    h.delete(
        &admin,
        &format!("/v1/staff/{}/roles/Administrator", admin.id),
    )
    .await
    .rule("LastAdministrator");
    h.delete(&admin, &format!("/v1/staff/{}/tokens/{token}", admin.id))
        .await
        .rule("LastAdministrator");
    assert_eq!(h.head().await, before);
    // With a second administrator (who holds a token), the first may step down.
    let second = h.enrol(&["Administrator"], &[]).await;
    h.delete(
        &admin,
        &format!("/v1/staff/{}/roles/Administrator", admin.id),
    )
    .await
    .ok();
    // Now the second is the last one.
    h.delete(
        &second,
        &format!("/v1/staff/{}/roles/Administrator", second.id),
    )
    .await
    .rule("LastAdministrator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_recover_an_administrator_locally() {
    let h = Harness::start().await;
    let master = h.master.clone();
    let dir = h.stop().await;
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, master.to_hex()).unwrap();
    let out = recover_admin(dir.path(), &key_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("their token, shown this once: "))
        .expect("a token")
        .trim()
        .to_string();
    // The new administrator acts, and the recovery is in the access log.
    let server = ecoute_server::Server::start(config(dir.path(), master))
        .await
        .unwrap();
    let me = reqwest::Client::new()
        .get(format!("http://{}/v1/me", server.addr()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let access = server.app().access_log().store().clone();
    let all = access.read_all(0, usize::MAX).await.unwrap();
    assert!(all
        .iter()
        .any(|e| String::from_utf8_lossy(&e.payload).contains("staff.recovery")));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_parsed_only_for_who_may_read_its_case_and_is_bounded() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let auditor = h.enrol(&["Auditor"], &[]).await;
    let outsider = h.enrol(&["Volunteer"], &["13"]).await;
    let case = transferred_case(&h, &listener, "69").await;
    let other = transferred_case(&h, &listener, "69").await;
    let path = format!("/v1/cases/{case}/export/verify");
    // Someone who may not read the case gets the case's 404, whatever the body:
    // it is not even parsed.
    h.post(&outsider, &path, json!({"not": "an export"}))
        .await
        .problem(404, "not-found");
    // The reader's malformed body is a 400; an export of another case, a 400.
    h.post(&auditor, &path, json!({"not": "an export"}))
        .await
        .problem(400, "bad-input");
    let doc = h
        .get(&auditor, &format!("/v1/cases/{other}/export"))
        .await
        .ok()
        .clone();
    h.post(&auditor, &path, doc).await.problem(400, "bad-input");
    // Over 8 MiB: refused before it is parsed.
    let big = json!({"padding": "x".repeat(9 << 20)});
    h.post(&auditor, &path, big).await.problem(413, "too-large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_cannot_act_as_someone_else_unseen() {
    let h = Harness::start().await;
    let admin = h.admin.clone();
    let second = h.enrol(&["Administrator"], &[]).await;
    let referent = h.enrol(&["Referent"], &["69"]).await;
    let tokens = |who: &Member| format!("/v1/staff/{}/tokens", who.id);
    // A working token for a member who holds one: refused, nothing appended.
    let before = h.head().await;
    h.post(&admin, &tokens(&referent), json!({}))
        .await
        .problem(403, "forbidden");
    assert_eq!(h.head().await, before);
    // The holder asks for their own.
    h.post(&referent, &tokens(&referent), json!({})).await.ok();
    // Nobody grants themself a role or an accreditation; another administrator may.
    let roles = format!("/v1/staff/{}/roles", admin.id);
    h.post(&admin, &roles, json!({"role": "Referent"}))
        .await
        .rule("GrantToSelf");
    h.post(
        &admin,
        &format!("/v1/staff/{}/accreditations", admin.id),
        json!({"centre": "69"}),
    )
    .await
    .rule("GrantToSelf");
    h.post(&second, &roles, json!({"role": "Auditor"}))
        .await
        .ok();
    // A reset: once the member's tokens are revoked, an administrator issues one.
    let held = h.get(&admin, &format!("/v1/staff/{}", referent.id)).await;
    for t in held.ok()["tokens"].as_array().unwrap() {
        let t = t.as_str().unwrap();
        h.delete(&admin, &format!("{}/{t}", tokens(&referent)))
            .await
            .ok();
    }
    let reset = h.post(&admin, &tokens(&referent), json!({})).await;
    let reset_id = reset.id("token_id");
    let as_referent = Member {
        id: referent.id.clone(),
        token: reset.id("token"),
    };
    // What is done with it says which token, and that the administrator issued it.
    h.get(&as_referent, "/v1/centres/69/queue").await.ok();
    let access = h.app().access_log().store().clone();
    let head = access.head().await.unwrap();
    let last = &access.read_all(head - 1, 1).await.unwrap()[0];
    let record: serde_json::Value = serde_json::from_slice(&last.payload).unwrap();
    assert_eq!(record["token"], reset_id.as_str(), "{record}");
    assert_eq!(record["token_issued_by"], admin.id.as_str(), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_attempts_on_nothing_real_are_recorded_but_bounded() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let access = h.app().access_log().store().clone();
    let before = access.head().await.unwrap();
    // 200 requests without a valid token, 50 case ids that do not exist.
    for _ in 0..200 {
        h.send(
            reqwest::Method::GET,
            Some("not-a-token"),
            "/v1/statistics",
            None,
            &[],
        )
        .await
        .problem(401, "unauthenticated");
    }
    for _ in 0..50 {
        h.get(&listener, &format!("/v1/cases/{}", uuid::Uuid::new_v4()))
            .await
            .problem(404, "not-found");
    }
    assert_eq!(
        access.head().await.unwrap(),
        before,
        "counted, not yet written"
    );
    assert_eq!(h.app().flush_attempts().await.unwrap(), 2);
    let head = access.head().await.unwrap();
    assert_eq!(head, before + 2, "one record per source and route");
    let records = access.read_all(before, 2).await.unwrap();
    let counts: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.payload).unwrap()["attempts"].clone()
        })
        .collect();
    assert!(
        counts.contains(&json!(200)) && counts.contains(&json!(50)),
        "{counts:?}"
    );
    assert!(
        records
            .iter()
            .all(|r| r.stream_id.as_str() == "access-other"),
        "no stream per case id asked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_answer_is_recorded_even_without_a_case() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    // A call that joined no case.
    let (_, victim) = platform_call(&h, &listener, false).await;
    let access = h.app().access_log().store().clone();
    let before = access.head().await.unwrap();
    h.get(&dpo, &format!("/v1/subjects/{victim}/access"))
        .await
        .ok();
    assert_eq!(access.head().await.unwrap(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_reused_for_another_record_is_refused() {
    let h = Harness::start().await;
    let member = h.enrol(&["Referent"], &["69"]).await;
    let second = h
        .post(
            &member,
            &format!("/v1/staff/{}/tokens", member.id),
            json!({}),
        )
        .await;
    let (t2, t2_secret) = (second.id("token_id"), second.id("token"));
    let held = h.get(&h.admin, &format!("/v1/staff/{}", member.id)).await;
    let t1 = held.ok()["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .find(|t| *t != t2)
        .unwrap();
    let revoke = |t: &str| format!("/v1/staff/{}/tokens/{t}", member.id);
    let key = [("idempotency-key", "revoke-1")];
    let first = h
        .send(
            reqwest::Method::DELETE,
            Some(&h.admin.token),
            &revoke(&t1),
            None,
            &key,
        )
        .await;
    first.ok();
    // The same key for another token: refused, and that token still works.
    h.send(
        reqwest::Method::DELETE,
        Some(&h.admin.token),
        &revoke(&t2),
        None,
        &key,
    )
    .await
    .problem(422, "idempotency-key-reused");
    let still = Member {
        id: member.id.clone(),
        token: t2_secret,
    };
    h.get(&still, "/v1/me").await.ok();
}
