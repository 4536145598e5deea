//! The demo's staff: its centres, and the members it enrols through the API (listeners
//! in teams, volunteers and referents per centre, an auditor, a data-protection officer).

use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use ecoute_domain::Role;
use ecoute_sim::rng::Rng;
use ecoute_sim::traffic::centres::{Centre, CENTRES as CENTRES_OF_THE_MODEL, DEMO_CENTRES};
use serde_json::{json, Value};
use uuid::Uuid;

use super::api::{uuid_of, Api};
use super::DemoMember;

/// The demo's centres: the first of the traffic model's named centres.
pub(super) const CENTRES: &[Centre] = CENTRES_OF_THE_MODEL.split_at(DEMO_CENTRES).0;

#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) id: Uuid,
    pub(super) token: String,
}

#[derive(Clone)]
pub(super) struct CentreStaff {
    pub(super) info: &'static Centre,
    /// Who may answer its calls in pairs (the volunteer who is also a referent too).
    pub(super) volunteers: Vec<Member>,
    /// Who may follow its cases.
    pub(super) referents: Vec<Member>,
}

#[derive(Clone)]
pub(super) struct StaffSet {
    pub(super) listeners: Arc<Vec<Member>>,
    pub(super) centres: Arc<Vec<CentreStaff>>,
    pub(super) all: Arc<Vec<DemoMember>>,
}

impl StaffSet {
    pub(super) fn members(&self) -> Vec<DemoMember> {
        self.all.as_ref().clone()
    }

    pub(super) fn centre(&self, code: &str) -> Result<&CentreStaff> {
        self.centres
            .iter()
            .find(|c| c.info.code == code)
            .ok_or_else(|| anyhow!("no demo centre {code}"))
    }
}

pub(super) async fn enrol(
    api: &Api,
    admin: &str,
    key: String,
    roles: &[Role],
    team: Option<Uuid>,
    centres: &[&str],
) -> Result<DemoMember> {
    let body = json!({ "roles": roles, "team": team, "accreditations": centres });
    let answer = api
        .post(admin, "/v1/staff", &key, &body)
        .await
        .context("enrolling staff")?;
    let staff_id = uuid_of(&answer, "staff_id")?;
    let token = match answer.get("token").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => {
            // A replayed enrolment shows no token (only its digest was kept). A token is
            // issued to its holder, or by an administrator to a member who holds none:
            // revoke the lost one, then issue a new one (a reset, as an operator would).
            let member = api.get(admin, &format!("/v1/staff/{staff_id}")).await?;
            for t in member["tokens"].as_array().into_iter().flatten() {
                let t = t.as_str().unwrap_or_default();
                api.send(
                    reqwest::Method::DELETE,
                    admin,
                    &format!("/v1/staff/{staff_id}/tokens/{t}"),
                    Some(&format!("{key}-revoke-{t}")),
                    None,
                )
                .await?;
            }
            let issued = api
                .post(
                    admin,
                    &format!("/v1/staff/{staff_id}/tokens"),
                    &format!("{key}-token"),
                    &json!({}),
                )
                .await?;
            issued
                .get("token")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("no token issued for {staff_id}: {issued}"))?
                .to_string()
        }
    };
    Ok(DemoMember {
        staff_id,
        token,
        roles: roles.to_vec(),
        centres: centres.iter().map(|c| c.to_string()).collect(),
    })
}

pub(super) async fn enrol_staff(
    api: &Api,
    admin: &str,
    rng: &mut Rng,
    seed: u64,
) -> Result<StaffSet> {
    let key = |what: String| format!("demo-{seed}-staff-{what}");
    let mut all = Vec::new();
    let teams = [rng.uuid(), rng.uuid()];
    let mut listeners = Vec::new();
    for i in 0..4 {
        let m = enrol(
            api,
            admin,
            key(format!("listener-{i}")),
            &[Role::PlatformListener],
            Some(teams[i % 2]),
            &[],
        )
        .await?;
        listeners.push(Member {
            id: m.staff_id,
            token: m.token.clone(),
        });
        all.push(m);
    }
    let mut centres = Vec::new();
    for info in CENTRES {
        let code = info.code;
        let mut volunteers = Vec::new();
        let mut referents = Vec::new();
        for i in 0..4 {
            let m = enrol(
                api,
                admin,
                key(format!("{code}-volunteer-{i}")),
                &[Role::Volunteer],
                None,
                &[code],
            )
            .await?;
            volunteers.push(Member {
                id: m.staff_id,
                token: m.token.clone(),
            });
            all.push(m);
        }
        for i in 0..3 {
            // The first referent also answers calls as a volunteer: the fresh-eye rule
            // keeps them off the cases whose calls they took.
            let roles: &[Role] = if i == 0 {
                &[Role::Volunteer, Role::Referent]
            } else {
                &[Role::Referent]
            };
            let m = enrol(
                api,
                admin,
                key(format!("{code}-referent-{i}")),
                roles,
                None,
                &[code],
            )
            .await?;
            let member = Member {
                id: m.staff_id,
                token: m.token.clone(),
            };
            if i == 0 {
                volunteers.push(member.clone());
            }
            referents.push(member);
            all.push(m);
        }
        centres.push(CentreStaff {
            info,
            volunteers,
            referents,
        });
    }
    all.push(
        enrol(
            api,
            admin,
            key("auditor".into()),
            &[Role::Auditor],
            None,
            &[],
        )
        .await?,
    );
    all.push(
        enrol(
            api,
            admin,
            key("dpo".into()),
            &[Role::DataProtectionOfficer],
            None,
            &[],
        )
        .await?,
    );
    Ok(StaffSet {
        listeners: Arc::new(listeners),
        centres: Arc::new(centres),
        all: Arc::new(all),
    })
}
