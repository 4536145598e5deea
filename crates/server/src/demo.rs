//! `ecoute demo`: a realistic, made-up demo set loaded *through the HTTP API*, with the
//! same requests any outside client sends.
//!
//! [`load`] enrols staff with the bootstrap administrator's token (platform listeners
//! in two teams; volunteers and referents accredited at five centres; an auditor; a
//! data-protection officer), then plays caller journeys:
//!
//! - about 97% of cases are opened by the national platform: a listener answers
//!   (`POST /v1/calls`), records anonymity, the callback number or its refusal, the
//!   people, the facts and notes, ends the call and transfers it to the centre of the
//!   caller's département (`POST /v1/calls/{id}/transfer`); a few stay at the platform,
//!   awaiting transfer;
//! - the others are answered at a centre by a pair of volunteers, who open the case
//!   there (`POST /v1/calls/{id}/case`);
//! - some calls lead to no case, and some callers call again about their case;
//! - then, for most cases, a referent of the centre who took none of its calls takes
//!   it, tries to call the caller back, proposes solutions, records the caller's
//!   consent or refusal, acts only on what was consented to, and sometimes closes it.
//!
//! Every choice comes from [`DemoConfig::seed`], one generator per journey, so the same
//! seed gives the same journeys whatever the order in which the concurrent journeys
//! land. Names, addresses and phone numbers are made up; the numbers are in the ranges
//! the French regulator (ARCEP) keeps for fiction. Every write carries an
//! `Idempotency-Key`, so a request whose answer was lost is retried safely.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use ecoute_domain::vocabulary::{
    AbuseKind, AgeBand, CloseCircle, CloseReason, Evolution, Frequency, PersonRole,
    RecontactOutcome, Relation, Setting, Since, SolutionKind,
};
use ecoute_domain::Role;
use ecoute_sim::rng::Rng;
use ecoute_sim::text::{FIRST_NAMES, STREETS, SURNAMES};
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

/// What to load.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// How many calls (as in the service, about one in five leads to a case; a quarter
    /// of those callers call again).
    pub calls: usize,
    /// The seed of every choice.
    pub seed: u64,
    /// How many journeys run at once.
    pub concurrency: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            calls: 300,
            seed: 3977,
            concurrency: 8,
        }
    }
}

/// A member of staff the demo enrolled, with the token it was given.
#[derive(Debug, Clone)]
pub struct DemoMember {
    /// Their staff id.
    pub staff_id: Uuid,
    /// Their bearer token.
    pub token: String,
    /// Their roles.
    pub roles: Vec<Role>,
    /// The centres (département codes) where they are accredited.
    pub centres: Vec<String>,
}

/// How much the demo recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoCounts {
    /// Calls answered.
    pub calls: u64,
    /// Calls answered by the national platform.
    pub platform_calls: u64,
    /// Calls answered at a centre by a pair of volunteers.
    pub centre_calls: u64,
    /// Calls that led to no case.
    pub calls_without_case: u64,
    /// Calls of a caller calling again, linked to their case.
    pub calls_linked: u64,
    /// Cases opened.
    pub cases: u64,
    /// Cases opened at a centre (the rest by the national platform).
    pub cases_opened_by_centres: u64,
    /// Cases transferred from the platform to a centre.
    pub transferred: u64,
    /// Cases still at the platform, awaiting transfer.
    pub awaiting_transfer: u64,
    /// Cases given a referent.
    pub referents_assigned: u64,
    /// Attempts to call a caller back.
    pub recontacts: u64,
    /// Solutions proposed.
    pub solutions: u64,
    /// Consents given.
    pub consents_given: u64,
    /// Consents refused.
    pub consents_refused: u64,
    /// Consents withdrawn after being given.
    pub consents_withdrawn: u64,
    /// Actions taken on consented solutions.
    pub actions: u64,
    /// Cases closed (and still closed at the end).
    pub closed: u64,
    /// Closed cases reopened by a new call.
    pub reopened: u64,
}

impl DemoCounts {
    fn add(&mut self, o: &DemoCounts) {
        self.calls += o.calls;
        self.platform_calls += o.platform_calls;
        self.centre_calls += o.centre_calls;
        self.calls_without_case += o.calls_without_case;
        self.calls_linked += o.calls_linked;
        self.cases += o.cases;
        self.cases_opened_by_centres += o.cases_opened_by_centres;
        self.transferred += o.transferred;
        self.awaiting_transfer += o.awaiting_transfer;
        self.referents_assigned += o.referents_assigned;
        self.recontacts += o.recontacts;
        self.solutions += o.solutions;
        self.consents_given += o.consents_given;
        self.consents_refused += o.consents_refused;
        self.consents_withdrawn += o.consents_withdrawn;
        self.actions += o.actions;
        self.closed += o.closed;
        self.reopened += o.reopened;
    }
}

/// What [`load`] did, and what a visitor needs to try the API.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// The server's base URL, such as `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The bootstrap administrator's token.
    pub admin_token: String,
    /// Every member the demo enrolled.
    pub staff: Vec<DemoMember>,
    /// How much was recorded.
    pub counts: DemoCounts,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// How long the load took.
    pub elapsed: Duration,
    /// The centre the guide shows (the one of [`DemoSummary::sample_case`]).
    pub sample_centre: String,
    /// An open case with a referent, solutions and consent, to show its history.
    pub sample_case: Option<Uuid>,
    /// The referent following the sample case.
    pub sample_referent: Option<Uuid>,
}

impl DemoSummary {
    fn first_with(&self, role: Role, centre: Option<&str>) -> Option<&DemoMember> {
        self.staff.iter().find(|m| {
            m.roles.contains(&role) && centre.is_none_or(|c| m.centres.iter().any(|x| x == c))
        })
    }

    /// A short guide: the base URL, a token per role and a few `curl` commands.
    pub fn guide(&self) -> String {
        let base = &self.base_url;
        let centre = &self.sample_centre;
        let referent = self
            .sample_referent
            .and_then(|id| self.staff.iter().find(|m| m.staff_id == id))
            .or_else(|| self.first_with(Role::Referent, Some(centre)));
        let volunteer = self
            .staff
            .iter()
            .find(|m| m.roles == [Role::Volunteer] && m.centres.iter().any(|c| c == centre));
        let mut g = String::new();
        let c = &self.counts;
        let _ = writeln!(g);
        let _ = writeln!(g, "ecoute demo — {base}");
        let _ = writeln!(
            g,
            "loaded {} calls ({} at the national platform, {} at centres; {} without a case, \
             {} from callers calling again) and {} cases ({} opened by the platform, {} by \
             centres) in {:.1} s, {} requests",
            c.calls,
            c.platform_calls,
            c.centre_calls,
            c.calls_without_case,
            c.calls_linked,
            c.cases,
            c.cases - c.cases_opened_by_centres,
            c.cases_opened_by_centres,
            self.elapsed.as_secs_f64(),
            self.requests
        );
        let _ = writeln!(
            g,
            "{} referents assigned, {} call-back attempts, {} solutions ({} consented, {} \
             refused, {} withdrawn), {} actions, {} cases closed, {} reopened by a new call, \
             {} awaiting transfer at the platform",
            c.referents_assigned,
            c.recontacts,
            c.solutions,
            c.consents_given,
            c.consents_refused,
            c.consents_withdrawn,
            c.actions,
            c.closed,
            c.reopened,
            c.awaiting_transfer
        );
        let _ = writeln!(g);
        let _ = writeln!(
            g,
            "bearer tokens, shown this once (the data directory keeps only their digests):"
        );
        let mut line = |var: &str, who: String, m: Option<&DemoMember>, token: Option<&str>| {
            if let Some(token) = token.or(m.map(|m| m.token.as_str())) {
                let id = m.map(|m| format!("  (staff id {})", m.staff_id));
                let _ = writeln!(
                    g,
                    "  # {who}{}\n  export {var}={token}",
                    id.unwrap_or_default()
                );
            }
        };
        line(
            "ECOUTE_ADMIN",
            "administrator".into(),
            None,
            Some(&self.admin_token),
        );
        line(
            "ECOUTE_LISTENER",
            "platform listener".into(),
            self.first_with(Role::PlatformListener, None),
            None,
        );
        line(
            "ECOUTE_VOLUNTEER",
            format!("volunteer, centre {centre}"),
            volunteer,
            None,
        );
        line(
            "ECOUTE_REFERENT",
            format!("referent, centre {centre}"),
            referent,
            None,
        );
        line(
            "ECOUTE_AUDITOR",
            "auditor".into(),
            self.first_with(Role::Auditor, None),
            None,
        );
        line(
            "ECOUTE_DPO",
            "data-protection officer".into(),
            self.first_with(Role::DataProtectionOfficer, None),
            None,
        );
        let _ = writeln!(g);
        let _ = writeln!(g, "try:");
        let _ = writeln!(
            g,
            "  curl -s -H \"Authorization: Bearer $ECOUTE_REFERENT\" {base}/v1/centres/{centre}/queue"
        );
        if let Some(r) = referent {
            let _ = writeln!(
                g,
                "  curl -s -H \"Authorization: Bearer $ECOUTE_REFERENT\" {base}/v1/staff/{}/caseload",
                r.staff_id
            );
        }
        if let Some(case) = self.sample_case {
            let _ = writeln!(
                g,
                "  curl -s -H \"Authorization: Bearer $ECOUTE_AUDITOR\" -H \"X-Purpose: audit\" \
                 {base}/v1/cases/{case}/history"
            );
            let _ = writeln!(
                g,
                "  curl -s -H \"Authorization: Bearer $ECOUTE_REFERENT\" {base}/v1/cases/{case}/timeline"
            );
        }
        let _ = writeln!(
            g,
            "  curl -s -H \"Authorization: Bearer $ECOUTE_DPO\" {base}/v1/statistics"
        );
        let _ = writeln!(g, "  curl -s {base}/v1/openapi.json   # every route");
        g
    }
}

/// Loads the demo set through the API at `base_url` (such as `http://127.0.0.1:8080`),
/// as the administrator holding `admin_token`; returns what was loaded and the tokens
/// of the staff it enrolled.
pub async fn load(base_url: &str, admin_token: &str, config: DemoConfig) -> Result<DemoSummary> {
    let start = Instant::now();
    let api = Api::new(base_url)?;
    api.wait_ready().await?;
    let mut rng = Rng::new(config.seed);
    let staff = enrol_staff(&api, admin_token, &mut rng, config.seed).await?;
    let plans = plan(&mut rng, config.calls);
    let total_calls = config.calls;
    let calls_done = Arc::new(AtomicUsize::new(0));
    let next_report = Arc::new(AtomicUsize::new(100));
    let outcomes: Vec<JourneyOutcome> = stream::iter(plans)
        .map(|p| {
            let api = api.clone();
            let staff = staff.clone();
            let calls_done = calls_done.clone();
            let next_report = next_report.clone();
            let seed = config.seed;
            async move {
                let index = p.index;
                let outcome = Journey::new(&api, &staff, &p, seed)
                    .run()
                    .await
                    .with_context(|| format!("demo journey {index}"))?;
                let done = calls_done.fetch_add(p.calls, Ordering::Relaxed) + p.calls;
                let mark = next_report.load(Ordering::Relaxed);
                if done >= mark
                    && next_report
                        .compare_exchange(mark, mark + 100, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::info!("demo: {done} of {total_calls} calls loaded");
                }
                Ok::<_, anyhow::Error>(outcome)
            }
        })
        .buffer_unordered(config.concurrency.max(1))
        .try_collect()
        .await?;
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|o| o.index);
    let mut counts = DemoCounts::default();
    for o in &outcomes {
        counts.add(&o.counts);
    }
    // The case to show: the richest open case with a referent, at the busiest centre.
    let mut per_centre: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        if let Some(c) = &o.case {
            *per_centre.entry(c.centre).or_default() += 1;
        }
    }
    let preferred = ["69", "75", "13", "33", "59"];
    let sample_centre = preferred
        .iter()
        .copied()
        .find(|c| per_centre.get(c).copied().unwrap_or(0) > 0)
        .unwrap_or("69");
    let sample = outcomes
        .iter()
        .filter_map(|o| o.case.as_ref())
        .filter(|c| c.centre == sample_centre && c.referent.is_some() && !c.closed)
        .max_by_key(|c| (c.richness, std::cmp::Reverse(c.case_id)));
    let members = staff.members();
    Ok(DemoSummary {
        base_url: api.base.clone(),
        admin_token: admin_token.to_string(),
        staff: members,
        counts,
        requests: api.requests.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        sample_centre: sample_centre.to_string(),
        sample_case: sample.map(|c| c.case_id),
        sample_referent: sample.and_then(|c| c.referent),
    })
}

// ---------------------------------------------------------------------------------
// The HTTP client.

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    requests: Arc<AtomicU64>,
}

impl Api {
    fn new(base_url: &str) -> Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Waits until `/readyz` answers 200 (the projections caught up).
    async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = self.http.get(format!("{}/readyz", self.base)).send().await;
            match answer {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if Instant::now() > deadline => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    bail!("the server is not ready after 60 s: {status}: {text}")
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(e).context(format!("reaching {}/readyz", self.base))
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Sends one request; a write carries `key` as its `Idempotency-Key`, so that a
    /// lost answer, a timeout or a lost race is tried again safely.
    async fn send(
        &self,
        method: Method,
        token: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        const TRIES: u32 = 4;
        let url = format!("{}{path}", self.base);
        let safe = key.is_some() || method == Method::GET;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut req = self.http.request(method.clone(), &url).bearer_auth(token);
            if let Some(k) = key {
                req = req.header("Idempotency-Key", k);
            }
            if method == Method::GET {
                req = req.header("X-Purpose", "demo");
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let error = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp
                        .text()
                        .await
                        .with_context(|| format!("{method} {path}: reading the answer"))?;
                    if status.is_success() {
                        if text.is_empty() {
                            return Ok(Value::Null);
                        }
                        return serde_json::from_str(&text).with_context(|| {
                            format!("{method} {path}: the answer is not JSON: {text}")
                        });
                    }
                    let error = anyhow!("{method} {path} answered {status}: {text}");
                    let transient = status == reqwest::StatusCode::CONFLICT
                        || status == reqwest::StatusCode::SERVICE_UNAVAILABLE;
                    if !(transient && safe) {
                        return Err(error);
                    }
                    error
                }
                Err(e) if !safe => return Err(e).context(format!("{method} {path}")),
                Err(e) => anyhow::Error::new(e).context(format!("{method} {path}")),
            };
            if attempt >= TRIES {
                return Err(error.context(format!("gave up after {TRIES} tries")));
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
    }

    async fn post(&self, token: &str, path: &str, key: &str, body: &Value) -> Result<Value> {
        self.send(Method::POST, token, path, Some(key), Some(body))
            .await
    }

    async fn get(&self, token: &str, path: &str) -> Result<Value> {
        self.send(Method::GET, token, path, None, None).await
    }
}

/// A UUID field of an answer.
fn uuid_of(answer: &Value, field: &str) -> Result<Uuid> {
    answer
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| anyhow!("the answer has no `{field}`: {answer}"))
}

// ---------------------------------------------------------------------------------
// Staff.

/// A centre of the demo: its département code, a city and its volunteers and referents.
struct CentreInfo {
    code: &'static str,
    city: &'static str,
    postcode: &'static str,
    /// Share of the platform's cases transferred there.
    weight: f64,
}

const CENTRES: [CentreInfo; 5] = [
    CentreInfo {
        code: "75",
        city: "Paris",
        postcode: "750",
        weight: 0.28,
    },
    CentreInfo {
        code: "69",
        city: "Lyon",
        postcode: "690",
        weight: 0.22,
    },
    CentreInfo {
        code: "13",
        city: "Marseille",
        postcode: "130",
        weight: 0.2,
    },
    CentreInfo {
        code: "59",
        city: "Lille",
        postcode: "590",
        weight: 0.17,
    },
    CentreInfo {
        code: "33",
        city: "Bordeaux",
        postcode: "330",
        weight: 0.13,
    },
];

#[derive(Debug, Clone)]
struct Member {
    id: Uuid,
    token: String,
}

#[derive(Clone)]
struct CentreStaff {
    info: &'static CentreInfo,
    /// Who may answer its calls in pairs (the volunteer who is also a referent too).
    volunteers: Vec<Member>,
    /// Who may follow its cases.
    referents: Vec<Member>,
}

#[derive(Clone)]
struct StaffSet {
    listeners: Arc<Vec<Member>>,
    centres: Arc<Vec<CentreStaff>>,
    all: Arc<Vec<DemoMember>>,
}

impl StaffSet {
    fn members(&self) -> Vec<DemoMember> {
        self.all.as_ref().clone()
    }

    fn centre(&self, code: &str) -> Result<&CentreStaff> {
        self.centres
            .iter()
            .find(|c| c.info.code == code)
            .ok_or_else(|| anyhow!("no demo centre {code}"))
    }
}

async fn enrol(
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
            // A replayed enrolment shows no token (only its digest was kept): issue one.
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

async fn enrol_staff(api: &Api, admin: &str, rng: &mut Rng, seed: u64) -> Result<StaffSet> {
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
    for info in &CENTRES {
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

// ---------------------------------------------------------------------------------
// Journeys.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A call that leads to no case (information, advice).
    Information,
    /// A case opened by the national platform.
    Platform,
    /// A case opened at a centre by a pair of volunteers.
    Centre,
}

#[derive(Debug, Clone)]
struct Plan {
    index: usize,
    seed: u64,
    kind: Kind,
    /// 1, or 2 when the caller calls again about their case.
    calls: usize,
}

/// Splits `calls` into journeys, deterministically.
fn plan(rng: &mut Rng, calls: usize) -> Vec<Plan> {
    let mut plans = Vec::new();
    let mut remaining = calls;
    while remaining > 0 {
        // As the service's own figures go (about 60,000 calls and 13,000 cases a
        // year): most calls inform or advise, and about one case in four hears from
        // its caller again.
        let kind = if rng.chance(0.76) {
            Kind::Information
        } else if rng.chance(0.03) {
            Kind::Centre
        } else {
            Kind::Platform
        };
        let n = if kind != Kind::Information && remaining >= 2 && rng.chance(0.25) {
            2
        } else {
            1
        };
        remaining -= n;
        plans.push(Plan {
            index: plans.len(),
            seed: rng.next_u64(),
            kind,
            calls: n,
        });
    }
    plans
}

/// A case a journey left, for choosing the one the guide shows.
#[derive(Debug, Clone)]
struct CaseNote {
    case_id: Uuid,
    centre: &'static str,
    referent: Option<Uuid>,
    closed: bool,
    richness: u32,
}

struct JourneyOutcome {
    index: usize,
    counts: DemoCounts,
    case: Option<CaseNote>,
}

/// The number situation a call left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    Left,
    NotLeft,
    Refused,
}

struct Journey<'a> {
    api: &'a Api,
    staff: &'a StaffSet,
    plan: &'a Plan,
    rng: Rng,
    key_prefix: String,
    step: u32,
    counts: DemoCounts,
}

impl<'a> Journey<'a> {
    fn new(api: &'a Api, staff: &'a StaffSet, plan: &'a Plan, seed: u64) -> Journey<'a> {
        Journey {
            api,
            staff,
            plan,
            rng: Rng::new(plan.seed),
            key_prefix: format!("demo-{seed}-j{}", plan.index),
            step: 0,
            counts: DemoCounts::default(),
        }
    }

    /// A new idempotency key for the journey's next write.
    fn key(&mut self) -> String {
        self.step += 1;
        format!("{}-{}", self.key_prefix, self.step)
    }

    async fn post(&mut self, token: &str, path: &str, body: Value) -> Result<Value> {
        let key = self.key();
        self.api.post(token, path, &key, &body).await
    }

    async fn run(mut self) -> Result<JourneyOutcome> {
        let centre_info = &CENTRES[{
            let weights: Vec<(usize, f64)> = CENTRES
                .iter()
                .enumerate()
                .map(|(i, c)| (i, c.weight))
                .collect();
            self.rng.weighted(&weights)
        }];
        let centre = self.staff.centre(centre_info.code)?.clone();
        let case = match self.plan.kind {
            Kind::Information => {
                if self.rng.chance(0.25) {
                    let (a, b) = self.pair(&centre);
                    let call = self.centre_call(&centre, &a, b.id, false).await?;
                    self.post(&a.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                        .await?;
                } else {
                    let l = self.listener();
                    let call = self.platform_call(&l, centre_info, false).await?;
                    self.post(&l.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                        .await?;
                }
                self.counts.calls_without_case += 1;
                None
            }
            Kind::Platform | Kind::Centre => Some(self.case_journey(&centre).await?),
        };
        Ok(JourneyOutcome {
            index: self.plan.index,
            counts: self.counts,
            case,
        })
    }

    fn listener(&mut self) -> Member {
        self.rng.choose(&self.staff.listeners).clone()
    }

    /// Two distinct volunteers of the centre.
    fn pair(&mut self, centre: &CentreStaff) -> (Member, Member) {
        let n = centre.volunteers.len();
        let a = self.rng.below(n);
        let b = (a + 1 + self.rng.below(n - 1)) % n;
        (centre.volunteers[a].clone(), centre.volunteers[b].clone())
    }

    async fn case_journey(&mut self, centre: &CentreStaff) -> Result<CaseNote> {
        let info = centre.info;
        let mut takers: Vec<Uuid> = Vec::new();
        let mut richness = 0u32;
        // The first call, and the case it opens.
        let (case_id, number, at_platform) = if self.plan.kind == Kind::Centre {
            let (a, b) = self.pair(centre);
            takers.extend([a.id, b.id]);
            let call = self.centre_call(centre, &a, b.id, true).await?;
            self.post(&a.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                .await?;
            let answer = self
                .post(&a.token, &format!("/v1/calls/{}/case", call.id), json!({}))
                .await?;
            self.counts.cases_opened_by_centres += 1;
            (uuid_of(&answer, "case_id")?, call.number, false)
        } else {
            let l = self.listener();
            takers.push(l.id);
            let call = self.platform_call(&l, info, true).await?;
            self.post(&l.token, &format!("/v1/calls/{}/end", call.id), json!({}))
                .await?;
            if self.rng.chance(0.03) {
                // The platform keeps the case for now: it waits in the national queue.
                let answer = self
                    .post(&l.token, &format!("/v1/calls/{}/case", call.id), json!({}))
                    .await?;
                (uuid_of(&answer, "case_id")?, call.number, true)
            } else {
                let answer = self
                    .post(
                        &l.token,
                        &format!("/v1/calls/{}/transfer", call.id),
                        json!({ "centre": info.code }),
                    )
                    .await?;
                self.counts.transferred += 1;
                (uuid_of(&answer, "case_id")?, call.number, false)
            }
        };
        self.counts.cases += 1;
        let case_path = format!("/v1/cases/{case_id}");
        let mut second_call_left = self.plan.calls > 1;
        let mut closed = false;
        let mut referent: Option<Member> = None;
        if at_platform {
            self.counts.awaiting_transfer += 1;
        } else if self.rng.chance(0.85) {
            // A fresh eye: a referent of the centre who took none of the case's calls.
            let free: Vec<&Member> = centre
                .referents
                .iter()
                .filter(|r| !takers.contains(&r.id))
                .collect();
            if !free.is_empty() {
                let r = (*self.rng.choose(&free)).clone();
                self.post(
                    &r.token,
                    &format!("{case_path}/referent"),
                    json!({ "referent": r.id }),
                )
                .await?;
                self.counts.referents_assigned += 1;
                richness += 1;
                referent = Some(r);
            }
        }
        if let Some(r) = referent.clone().filter(|_| self.rng.chance(0.9)) {
            if self.rng.chance(0.3) {
                self.api.get(&r.token, &case_path).await?;
            }
            if self.rng.chance(0.7) {
                let text = self.rng.choose(&ANALYSES).to_string();
                self.post(
                    &r.token,
                    &format!("{case_path}/analysis"),
                    json!({ "text": text }),
                )
                .await?;
                richness += 1;
            }
            let mut reachable = number == Number::Left;
            let mut reached = false;
            if reachable {
                (reached, reachable) = self.call_back(&r, &case_path).await?;
                if !reached && reachable && self.rng.chance(0.5) {
                    self.post(
                        &r.token,
                        &format!("{case_path}/awaiting-call-back"),
                        json!({}),
                    )
                    .await?;
                }
            }
            if !reached && second_call_left {
                // The caller calls the platform again, and this time may leave a number.
                second_call_left = false;
                let number = self.second_call(case_id, info).await?;
                if number == Number::Left {
                    (reached, _) = self.call_back(&r, &case_path).await?;
                }
            }
            if reached {
                richness += 2;
                let (consented, refused) = self.solutions(&r, &case_path).await?;
                richness += consented * 2 + refused;
                if self.rng.chance(0.45) {
                    let reason = if consented > 0 {
                        self.rng.weighted(&[
                            (CloseReason::Resolved, 0.6),
                            (CloseReason::Redirected, 0.4),
                        ])
                    } else {
                        CloseReason::CallerDeclined
                    };
                    self.post(
                        &r.token,
                        &format!("{case_path}/close"),
                        json!({ "reason": reason }),
                    )
                    .await?;
                    closed = true;
                }
            } else if number != Number::Left && self.rng.chance(0.3) {
                self.post(
                    &r.token,
                    &format!("{case_path}/close"),
                    json!({ "reason": CloseReason::NoFurtherContact }),
                )
                .await?;
                closed = true;
            }
        }
        if second_call_left {
            // The caller calls again: with news, or about a closed case, which reopens.
            self.second_call(case_id, info).await?;
            if closed {
                self.counts.reopened += 1;
                closed = false;
            }
        }
        if closed {
            self.counts.closed += 1;
        }
        Ok(CaseNote {
            case_id,
            centre: info.code,
            referent: referent.map(|r| r.id),
            closed,
            richness,
        })
    }

    /// Up to three attempts to call the caller back: (reached, still reachable).
    async fn call_back(&mut self, r: &Member, case_path: &str) -> Result<(bool, bool)> {
        for _ in 0..3 {
            let outcome = self.rng.weighted(&[
                (RecontactOutcome::Reached, 0.6),
                (RecontactOutcome::NoAnswer, 0.36),
                (RecontactOutcome::WrongNumber, 0.04),
            ]);
            self.post(
                &r.token,
                &format!("{case_path}/recontacts"),
                json!({ "outcome": outcome }),
            )
            .await?;
            self.counts.recontacts += 1;
            match outcome {
                RecontactOutcome::Reached => return Ok((true, true)),
                RecontactOutcome::WrongNumber => return Ok((false, false)),
                RecontactOutcome::NoAnswer => {
                    if self.rng.chance(0.4) {
                        break;
                    }
                }
            }
        }
        Ok((false, true))
    }

    /// Solutions, the caller's decisions, and actions on what was consented to:
    /// (consented, refused).
    async fn solutions(&mut self, r: &Member, case_path: &str) -> Result<(u32, u32)> {
        let n = if self.rng.chance(0.35) { 2 } else { 1 };
        let (mut consented, mut refused) = (0, 0);
        for _ in 0..n {
            let (kind, description, action) = *self.rng.choose(&SOLUTIONS);
            let answer = self
                .post(
                    &r.token,
                    &format!("{case_path}/solutions"),
                    json!({ "kind": kind, "description": description }),
                )
                .await?;
            self.counts.solutions += 1;
            let solution = uuid_of(&answer, "solution_id")?;
            let path = format!("{case_path}/solutions/{solution}");
            let decision = self.rng.f64();
            if decision < 0.68 {
                self.post(
                    &r.token,
                    &format!("{path}/consent"),
                    json!({ "decision": "given" }),
                )
                .await?;
                self.counts.consents_given += 1;
                consented += 1;
                // Only now may anything be done.
                let actions = 1 + usize::from(self.rng.chance(0.3));
                for i in 0..actions {
                    let note = if i == 0 {
                        action.to_string()
                    } else {
                        self.rng.choose(&FOLLOW_UPS).to_string()
                    };
                    self.post(
                        &r.token,
                        &format!("{path}/actions"),
                        json!({ "note": note }),
                    )
                    .await?;
                    self.counts.actions += 1;
                }
                if self.rng.chance(0.05) {
                    self.post(
                        &r.token,
                        &format!("{path}/consent"),
                        json!({ "decision": "withdrawn" }),
                    )
                    .await?;
                    self.counts.consents_withdrawn += 1;
                }
            } else if decision < 0.93 {
                self.post(
                    &r.token,
                    &format!("{path}/consent"),
                    json!({ "decision": "refused" }),
                )
                .await?;
                self.counts.consents_refused += 1;
                refused += 1;
            }
            // Otherwise the caller wants to think it over: no decision yet.
        }
        Ok((consented, refused))
    }

    /// The caller calls the platform again about their case; the listener links the
    /// call to it. Returns what the call says about the number.
    async fn second_call(&mut self, case_id: Uuid, info: &'static CentreInfo) -> Result<Number> {
        let l = self.listener();
        let call = self.platform_call(&l, info, false).await?;
        self.post(&l.token, &format!("/v1/calls/{}/end", call.id), json!({}))
            .await?;
        self.post(
            &l.token,
            &format!("/v1/calls/{}/case", call.id),
            json!({ "case_id": case_id }),
        )
        .await?;
        self.counts.calls_linked += 1;
        Ok(call.number)
    }

    async fn platform_call(
        &mut self,
        l: &Member,
        info: &'static CentreInfo,
        full: bool,
    ) -> Result<Call> {
        let answer = self
            .post(&l.token, "/v1/calls", json!({ "door": "platform" }))
            .await?;
        self.counts.calls += 1;
        self.counts.platform_calls += 1;
        let id = uuid_of(&answer, "call_id")?;
        self.listen(&l.token, id, info, full).await
    }

    async fn centre_call(
        &mut self,
        centre: &CentreStaff,
        a: &Member,
        partner: Uuid,
        full: bool,
    ) -> Result<Call> {
        let answer = self
            .post(
                &a.token,
                "/v1/calls",
                json!({ "door": "centre", "centre": centre.info.code, "partner": partner }),
            )
            .await?;
        self.counts.calls += 1;
        self.counts.centre_calls += 1;
        let id = uuid_of(&answer, "call_id")?;
        self.listen(&a.token, id, centre.info, full).await
    }

    /// What the answerer records while listening (the call is not ended here). A
    /// `full` call describes the situation; a short one (information, a caller calling
    /// again) records less.
    async fn listen(
        &mut self,
        token: &str,
        id: Uuid,
        info: &'static CentreInfo,
        full: bool,
    ) -> Result<Call> {
        let call = format!("/v1/calls/{id}");
        let anonymous = self.rng.chance(if full { 0.18 } else { 0.1 });
        if anonymous {
            self.post(token, &format!("{call}/anonymity"), json!({}))
                .await?;
        }
        let (leave, refuse) = if anonymous { (0.3, 0.5) } else { (0.75, 0.05) };
        let x = self.rng.f64();
        let number = if x < leave {
            let phone = self.phone(info);
            self.post(
                token,
                &format!("{call}/callback-number"),
                json!({ "number": phone }),
            )
            .await?;
            Number::Left
        } else if x < leave + refuse {
            self.post(token, &format!("{call}/number-refusal"), json!({}))
                .await?;
            Number::Refused
        } else {
            Number::NotLeft
        };
        // Who calls: the older person themself, or someone close, or a professional.
        let (role, relation, age) = self.rng.weighted(&CALLERS);
        let caller_is_victim = role == PersonRole::Victim;
        let victim_age = self.rng.weighted(&VICTIM_AGES);
        let caller_name = (!anonymous && self.rng.chance(0.7)).then(|| {
            if caller_is_victim {
                self.old_name()
            } else {
                self.name()
            }
        });
        let caller_address =
            (!anonymous && caller_is_victim && self.rng.chance(0.5)).then(|| self.address(info));
        let lives_with_victim = (!caller_is_victim).then(|| self.rng.chance(0.2));
        let body = json!({
            "is_caller": true,
            "role": role,
            "relation": relation,
            "age_band": if caller_is_victim { victim_age } else { age },
            "lives_with_victim": lives_with_victim,
            "name": caller_name,
            "address": caller_address,
            "description": self.rng.choose(&CALLER_WORDS),
        });
        let described = self.post(token, &format!("{call}/persons"), body).await?;
        let caller = uuid_of(&described, "subject_id")?;
        if !full {
            let text = self.rng.choose(&SHORT_NOTES).to_string();
            self.post(token, &format!("{call}/notes"), json!({ "text": text }))
                .await?;
            return Ok(Call { id, number });
        }
        let mut victim = caller;
        if !caller_is_victim {
            let name = self.rng.chance(0.8).then(|| self.old_name());
            let address = self.rng.chance(0.6).then(|| self.address(info));
            let body = json!({
                "role": PersonRole::Victim,
                "relation": Relation::Themself,
                "age_band": victim_age,
                "name": name,
                "address": address,
                "description": self.rng.choose(&VICTIM_WORDS),
            });
            let answer = self.post(token, &format!("{call}/persons"), body).await?;
            victim = uuid_of(&answer, "subject_id")?;
        }
        let setting = self
            .rng
            .weighted(&[(Setting::Home, 0.73), (Setting::Institution, 0.27)]);
        if self.rng.chance(0.88) {
            let (relation, age, lives, words) = if setting == Setting::Institution {
                *self.rng.choose(&IMPLICATED_IN_INSTITUTION)
            } else {
                self.rng.weighted(&IMPLICATED_AT_HOME)
            };
            let name = self.rng.chance(0.5).then(|| self.name());
            self.post(
                token,
                &format!("{call}/persons"),
                json!({
                    "role": PersonRole::Implicated,
                    "relation": relation,
                    "age_band": age,
                    "lives_with_victim": lives,
                    "name": name,
                    "description": words,
                }),
            )
            .await?;
        }
        if self.rng.chance(0.25) {
            let (role, relation, words) = *self.rng.choose(&OTHERS);
            self.post(
                token,
                &format!("{call}/persons"),
                json!({
                    "role": role,
                    "relation": relation,
                    "age_band": AgeBand::Unknown,
                    "description": words,
                }),
            )
            .await?;
        }
        let mut kinds = vec![self.rng.weighted(&ABUSE_KINDS)];
        while kinds.len() < 3 && self.rng.chance(0.35) {
            let k = self.rng.weighted(&ABUSE_KINDS);
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        let body = json!({
                "abuse_kinds": kinds,
                "setting": setting,
                "since": self.rng.weighted(&[
                    (Since::LessThanAMonth, 0.15),
                    (Since::MonthsToAYear, 0.35),
                    (Since::MoreThanAYear, 0.4),
                    (Since::Unknown, 0.1),
                ]),
                "frequency": self.rng.weighted(&[
                    (Frequency::Once, 0.08),
                    (Frequency::Occasional, 0.3),
                    (Frequency::Weekly, 0.27),
                    (Frequency::Daily, 0.27),
                    (Frequency::Unknown, 0.08),
                ]),
                "evolution": self.rng.weighted(&[
                    (Evolution::Worsening, 0.45),
                    (Evolution::Stable, 0.35),
                    (Evolution::Improving, 0.05),
                    (Evolution::Unknown, 0.15),
                ]),
        });
        self.post(token, &format!("{call}/facts"), body).await?;
        let notes = 1 + usize::from(self.rng.chance(0.4));
        for _ in 0..notes {
            let about_victim = victim != caller && self.rng.chance(0.4);
            let (text, about) = if about_victim {
                (self.rng.choose(&VICTIM_NOTES).to_string(), Some(victim))
            } else {
                (self.rng.choose(&CALLER_NOTES).to_string(), None)
            };
            self.post(
                token,
                &format!("{call}/notes"),
                json!({ "text": text, "about": about }),
            )
            .await?;
        }
        Ok(Call { id, number })
    }

    fn name(&mut self) -> String {
        let first = self.rng.choose(&FIRST_NAMES);
        let last = self.rng.choose(&SURNAMES);
        format!("{first} {last}")
    }

    fn old_name(&mut self) -> String {
        let (title, first) = *self.rng.choose(&OLD_FIRST_NAMES);
        let last = self.rng.choose(&SURNAMES);
        format!("{title} {first} {last}")
    }

    fn address(&mut self, info: &CentreInfo) -> String {
        let n = self.rng.between(1, 140);
        let street = self.rng.choose(&STREETS);
        let district = self.rng.between(1, 9);
        format!("{n} {street}, {}{district:02} {}", info.postcode, info.city)
    }

    /// A phone number from the ranges ARCEP keeps for fiction.
    fn phone(&mut self, info: &CentreInfo) -> String {
        let prefix = if self.rng.chance(0.45) {
            "06 39 98"
        } else {
            match info.code {
                "75" => "01 99 00",
                "59" => "03 53 01",
                "33" => "05 36 49",
                _ => "04 65 71",
            }
        };
        format!(
            "{prefix} {:02} {:02}",
            self.rng.between(0, 99),
            self.rng.between(0, 99)
        )
    }
}

struct Call {
    id: Uuid,
    number: Number,
}

// ---------------------------------------------------------------------------------
// Made-up words.

const ABUSE_KINDS: [(AbuseKind, f64); 7] = [
    (AbuseKind::Psychological, 0.40),
    (AbuseKind::Financial, 0.22),
    (AbuseKind::Physical, 0.14),
    (AbuseKind::Neglect, 0.12),
    (AbuseKind::DeprivationOfRights, 0.06),
    (AbuseKind::Medical, 0.03),
    (AbuseKind::Sexual, 0.03),
];

const VICTIM_AGES: [(AgeBand, f64); 5] = [
    (AgeBand::From60To69, 0.1),
    (AgeBand::From70To79, 0.25),
    (AgeBand::From80To89, 0.4),
    (AgeBand::From90, 0.2),
    (AgeBand::Unknown, 0.05),
];

/// Who calls: (role, relation to the victim, age band), weighted.
const CALLERS: [((PersonRole, Relation, AgeBand), f64); 7] = [
    (
        (PersonRole::Victim, Relation::Themself, AgeBand::Unknown),
        0.26,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Child,
            AgeBand::Under60,
        ),
        0.3,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Grandchild,
            AgeBand::Under60,
        ),
        0.06,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Sibling,
            AgeBand::From70To79,
        ),
        0.05,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Neighbour),
            Relation::Neighbour,
            AgeBand::From60To69,
        ),
        0.12,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Friend),
            Relation::Friend,
            AgeBand::From70To79,
        ),
        0.06,
    ),
    (
        (
            PersonRole::Professional,
            Relation::Professional,
            AgeBand::Under60,
        ),
        0.15,
    ),
];

/// An implicated person: (relation, age band, lives with the victim, words).
type Implicated = (Relation, AgeBand, Option<bool>, &'static str);

/// The implicated person at home.
const IMPLICATED_AT_HOME: [(Implicated, f64); 7] = [
    (
        (
            Relation::Child,
            AgeBand::Under60,
            Some(true),
            "le fils, revenu vivre chez sa mère depuis son licenciement",
        ),
        0.25,
    ),
    (
        (
            Relation::Child,
            AgeBand::From60To69,
            Some(false),
            "la fille, qui gère les comptes et ne laisse rien voir",
        ),
        0.2,
    ),
    (
        (
            Relation::Spouse,
            AgeBand::From80To89,
            Some(true),
            "le conjoint, épuisé, qui crie et bouscule",
        ),
        0.14,
    ),
    (
        (
            Relation::Grandchild,
            AgeBand::Under60,
            Some(false),
            "un petit-fils qui passe réclamer de l'argent",
        ),
        0.1,
    ),
    (
        (
            Relation::OtherFamily,
            AgeBand::Under60,
            Some(false),
            "une nièce qui a obtenu une procuration",
        ),
        0.08,
    ),
    (
        (
            Relation::Professional,
            AgeBand::Under60,
            Some(false),
            "l'aide à domicile, pressée, qui laisse la personne au lit",
        ),
        0.13,
    ),
    (
        (
            Relation::Neighbour,
            AgeBand::From60To69,
            Some(false),
            "un voisin qui fait les courses et garde la monnaie",
        ),
        0.1,
    ),
];

/// The implicated person in an institution.
const IMPLICATED_IN_INSTITUTION: [Implicated; 3] = [
    (
        Relation::Professional,
        AgeBand::Under60,
        Some(false),
        "un soignant de l'équipe de nuit, parle durement",
    ),
    (
        Relation::Professional,
        AgeBand::Under60,
        Some(false),
        "la direction de l'établissement, qui ne répond pas aux courriers",
    ),
    (
        Relation::Child,
        AgeBand::From60To69,
        Some(false),
        "le fils, qui a fait vendre la maison sans l'accord de sa mère",
    ),
];

const OTHERS: [(PersonRole, Relation, &str); 4] = [
    (
        PersonRole::Professional,
        Relation::Professional,
        "l'infirmière libérale qui passe chaque matin",
    ),
    (
        PersonRole::Professional,
        Relation::Professional,
        "le médecin traitant, pas encore informé",
    ),
    (
        PersonRole::CloseCircle(CloseCircle::Family),
        Relation::Child,
        "une autre fille, qui vit loin et s'inquiète",
    ),
    (
        PersonRole::CloseCircle(CloseCircle::Neighbour),
        Relation::Neighbour,
        "la voisine de palier, qui entend des cris",
    ),
];

const OLD_FIRST_NAMES: [(&str, &str); 16] = [
    ("Mme", "Jeanne"),
    ("Mme", "Monique"),
    ("Mme", "Simone"),
    ("Mme", "Denise"),
    ("Mme", "Paulette"),
    ("Mme", "Yvette"),
    ("Mme", "Colette"),
    ("Mme", "Odette"),
    ("Mme", "Germaine"),
    ("Mme", "Madeleine"),
    ("M.", "Marcel"),
    ("M.", "René"),
    ("M.", "Lucien"),
    ("M.", "Roger"),
    ("M.", "André"),
    ("M.", "Georges"),
];

const CALLER_WORDS: [&str; 6] = [
    "parle doucement, a peur d'être entendu",
    "appelle depuis le téléphone d'une voisine",
    "n'en a encore parlé à personne",
    "très inquiet, souhaite être conseillé avant d'agir",
    "hésite, craint les conséquences pour la famille",
    "appelle sur le conseil de son médecin",
];

const VICTIM_WORDS: [&str; 6] = [
    "vit seule depuis le décès de son mari",
    "ne sort plus de chez elle",
    "perd un peu la mémoire",
    "en établissement depuis deux ans",
    "très attachée à son fils, refuse de porter plainte",
    "se déplace avec un déambulateur",
];

const CALLER_NOTES: [&str; 6] = [
    "a pleuré pendant l'appel, veut réfléchir",
    "demande que personne ne vienne sans prévenir",
    "souhaite être rappelé plutôt le matin",
    "ne veut pas porter plainte",
    "veut des conseils avant de parler à la famille",
    "rassuré d'avoir pu en parler",
];

const VICTIM_NOTES: [&str; 6] = [
    "la carte bancaire lui a été retirée",
    "l'infirmière a remarqué des bleus la semaine dernière",
    "les repas ne sont pas toujours donnés",
    "inquiète pour sa maison",
    "la situation dure depuis des mois",
    "n'a plus accès à son courrier",
];

const SHORT_NOTES: [&str; 4] = [
    "demande des informations sur les mesures de protection juridique",
    "rappelle pour donner des nouvelles",
    "cherche les coordonnées d'une association locale",
    "veut savoir comment se passe un signalement",
];

const ANALYSES: [&str; 6] = [
    "abus financier par un proche, isolement ; proposer le service social",
    "épuisement de l'aidant ; un accueil de jour soulagerait",
    "pression psychologique d'un enfant vivant au domicile",
    "négligence en établissement ; la famille s'inquiète",
    "procuration peut-être détournée ; conseil juridique nécessaire",
    "solitude et peur ; l'appelant a besoin d'être soutenu pour agir",
];

/// (kind, proposal, first action once consented).
const SOLUTIONS: [(SolutionKind, &str, &str); 6] = [
    (
        SolutionKind::ContactService,
        "contacter le service social de la mairie",
        "courrier au service social avec l'accord de l'appelant",
    ),
    (
        SolutionKind::ContactProfessional,
        "en parler au médecin traitant",
        "appel au médecin traitant avec l'appelant",
    ),
    (
        SolutionKind::ContactProfessional,
        "consulter un avocat au sujet de la procuration",
        "liste des permanences d'avocats envoyée à l'appelant",
    ),
    (
        SolutionKind::ContactInstitution,
        "alerter l'agence régionale de santé sur l'établissement",
        "signalement transmis à l'agence régionale de santé",
    ),
    (
        SolutionKind::ContactService,
        "demander une aide à domicile au département",
        "aide au dossier de demande d'aide à domicile",
    ),
    (
        SolutionKind::ContactInstitution,
        "écrire au procureur de la République",
        "courrier au procureur rédigé avec l'appelant",
    ),
];

const FOLLOW_UPS: [&str; 3] = [
    "point avec l'appelant une semaine après",
    "relance du service sans réponse",
    "rendez-vous obtenu, l'appelant s'y rend accompagné",
];
