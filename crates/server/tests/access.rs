//! The access matrix over real HTTP: every route × every role × own centre and
//! other centre. A refused read of a case answers exactly like an unknown case, and
//! every refusal is recorded in the access log.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// The people of the matrix, in this order.
const WHO: [&str; 9] = [
    "nobody",
    "listener",
    "volunteer (own centre)",
    "volunteer (other centre)",
    "referent (own centre)",
    "referent (other centre)",
    "auditor",
    "dpo",
    "admin",
];

struct Row {
    method: Method,
    path: String,
    body: Option<Value>,
    /// Allowed for each of WHO (after "nobody", who always gets 401).
    allowed: [bool; 8],
    /// The status of a refusal: 403, or 404 where existence is confidential.
    refused: u16,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_role_in_own_and_other_centre() {
    let h = Harness::start().await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let vol_own = h.enrol(&["Volunteer"], &["69"]).await;
    let vol_own2 = h.enrol(&["Volunteer"], &["69"]).await;
    let vol_other = h.enrol(&["Volunteer"], &["13"]).await;
    let ref_own = h.enrol(&["Referent"], &["69"]).await;
    let ref_other = h.enrol(&["Referent"], &["13"]).await;
    let auditor = h.enrol(&["Auditor"], &[]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    let target = h.enrol(&["Volunteer"], &["69"]).await;
    let members = [
        None,
        Some(&listener),
        Some(&vol_own),
        Some(&vol_other),
        Some(&ref_own),
        Some(&ref_other),
        Some(&auditor),
        Some(&dpo),
        Some(&h.admin),
    ];

    let case = transferred_case(&h, &listener, "69").await;
    let (call, _) = platform_call(&h, &listener, true).await;
    // A centre call of 69, still open.
    let centre_call = h
        .post(
            &vol_own,
            "/v1/calls",
            json!({"door": "centre", "centre": "69", "partner": vol_own2.id}),
        )
        .await
        .id("call_id");

    let t = true;
    let f = false;
    let row = |method: Method, path: String, body: Option<Value>, allowed, refused| Row {
        method,
        path,
        body,
        allowed,
        refused,
    };
    //            listener vol-own vol-other ref-own ref-other auditor dpo admin
    let rows = vec![
        row(
            Method::POST,
            "/v1/calls".into(),
            Some(json!({"door": "platform"})),
            [t, f, f, f, f, f, f, f],
            403,
        ),
        row(
            Method::POST,
            "/v1/calls".into(),
            Some(json!({"door": "centre", "centre": "69", "partner": vol_own2.id})),
            [f, t, f, f, f, f, f, f],
            403,
        ),
        row(
            Method::POST,
            format!("/v1/calls/{call}/notes"),
            Some(json!({"text": "x"})),
            [t, f, f, f, f, f, f, f],
            404,
        ),
        row(
            Method::POST,
            format!("/v1/calls/{centre_call}/notes"),
            Some(json!({"text": "x"})),
            [t, t, f, t, f, f, f, f],
            404,
        ),
        row(
            Method::GET,
            format!("/v1/cases/{case}"),
            None,
            [t, t, f, t, f, t, f, f],
            404,
        ),
        row(
            Method::GET,
            format!("/v1/cases/{case}/history"),
            None,
            [t, t, f, t, f, t, f, f],
            404,
        ),
        row(
            Method::GET,
            format!("/v1/cases/{case}/timeline"),
            None,
            [t, t, f, t, f, t, f, f],
            404,
        ),
        row(
            Method::POST,
            format!("/v1/cases/{case}/analysis"),
            Some(json!({"text": "x"})),
            [t, t, f, t, f, f, f, f],
            404,
        ),
        row(
            Method::POST,
            format!("/v1/cases/{case}/recontacts"),
            Some(json!({"outcome": "NoAnswer"})),
            [t, t, f, t, f, f, f, f],
            404,
        ),
        row(
            Method::POST,
            format!("/v1/cases/{case}/close"),
            Some(json!({"reason": "Other"})),
            [t, t, f, t, f, f, f, f],
            404,
        ),
        row(
            Method::GET,
            "/v1/centres/69/queue".into(),
            None,
            [t, t, f, t, f, f, f, f],
            403,
        ),
        row(
            Method::GET,
            "/v1/centres/national/queue".into(),
            None,
            [t, f, f, f, f, f, f, f],
            403,
        ),
        row(
            Method::GET,
            format!("/v1/staff/{}/caseload", ref_own.id),
            None,
            [t, f, f, t, f, f, f, f],
            403,
        ),
        row(
            Method::GET,
            "/v1/statistics".into(),
            None,
            [t, t, t, t, t, t, t, t],
            403,
        ),
        row(
            Method::POST,
            "/v1/staff".into(),
            Some(json!({"roles": ["Auditor"]})),
            [f, f, f, f, f, f, f, t],
            403,
        ),
        row(
            Method::GET,
            format!("/v1/staff/{}", target.id),
            None,
            [f, f, f, f, f, f, f, t],
            403,
        ),
        row(
            Method::POST,
            format!("/v1/staff/{}/accreditations", target.id),
            Some(json!({"centre": "13"})),
            [f, f, f, f, f, f, f, t],
            403,
        ),
        // A token is issued to its holder: an administrator issues one only to a
        // member who holds none (see tests/authority.rs).
        row(
            Method::POST,
            format!("/v1/staff/{}/tokens", target.id),
            None,
            [f, f, f, f, f, f, f, f],
            403,
        ),
        row(
            Method::GET,
            "/v1/me".into(),
            None,
            [t, t, t, t, t, t, t, t],
            403,
        ),
    ];

    for r in &rows {
        for (i, who) in members.iter().enumerate() {
            let head = h.head().await;
            let a = h
                .send(
                    r.method.clone(),
                    who.map(|m| m.token.as_str()),
                    &r.path,
                    r.body.clone(),
                    &[],
                )
                .await;
            let case_label = format!("{} {} as {}", r.method, r.path, WHO[i]);
            match i {
                0 => {
                    a.problem(401, "unauthenticated");
                }
                _ if r.allowed[i - 1] => assert!(
                    ![401, 403, 404].contains(&a.status.as_u16()),
                    "{case_label}: should be allowed, got {} {}",
                    a.status,
                    a.body
                ),
                _ => {
                    let kind = if r.refused == 404 {
                        "not-found"
                    } else {
                        "forbidden"
                    };
                    a.problem(r.refused, kind);
                }
            }
            if !a.status.is_success() {
                assert_eq!(
                    h.head().await,
                    head,
                    "{case_label}: a refusal appends nothing"
                );
            }
        }
    }

    // An unknown case answers exactly like a case one may not see.
    let unknown = uuid::Uuid::new_v4();
    let a = h.get(&vol_other, &format!("/v1/cases/{unknown}")).await;
    let b = h.get(&vol_other, &format!("/v1/cases/{case}")).await;
    a.problem(404, "not-found");
    b.problem(404, "not-found");
    assert_eq!(a.body, b.body);

    // Every refused read of the case is in the access log, with who tried.
    let records = h
        .app()
        .access_log()
        .of_case(ecoute_domain::CaseId::from_uuid(case.parse().unwrap()))
        .await
        .unwrap();
    use ecoute_server::access_log::Outcome;
    for m in [&vol_other, &ref_other, &dpo, &h.admin] {
        let refused = records
            .iter()
            .filter(|r| {
                r.staff.map(|s| s.to_string()) == Some(m.id.clone())
                    && r.outcome == Outcome::NotFound
            })
            .count();
        assert!(
            refused >= 3,
            "{} refused reads recorded for {}",
            refused,
            m.id
        );
    }
    h.stop().await;
}
