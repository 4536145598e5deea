//! `/v1/subjects`: the right of access and erasure, for the data-protection officer.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ecoute_domain::subject::ErasureReason;
use ecoute_domain::{CentreId, RetentionRule, Role, SubjectId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{answer, parse_id, Accepted, ApiState, Params};
use crate::app::rights::SubjectData;
use crate::app::Actor;
use crate::error::AppError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/subjects/{id}/access", get(access))
        .route("/v1/subjects/{id}/erasure", post(erase))
}

/// What the helpline does with the data, as the access answer states it.
pub const PURPOSES: [&str; 3] = [
    "listening to people who report the abuse of an older or disabled person, and \
     keeping the file of the situation (the case) so that it can be followed",
    "passing the case to the centre of the département, whose referents analyse it, \
     call back when a number was left, and propose solutions — acted on only with \
     the caller's consent",
    "anonymous statistics of the service (no personal data)",
];

/// The data an item holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldView {
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Where (`call-…`, `case-…`).
    pub stream: String,
    /// What was recorded (`PersonDescribed`, `ListeningNoteRecorded`, …).
    pub event_type: String,
    /// What the person is there: `Caller`, `Victim`, `OtherPerson`.
    pub whose: String,
    /// The person's values, by field (`name`, `note`, …); `null` once erased.
    pub values: BTreeMap<String, Option<String>>,
    /// Other facts about the person (role, age band, the door called).
    pub facts: BTreeMap<String, String>,
}

/// One consultation of the person's case.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationView {
    /// When.
    pub at: DateTime<Utc>,
    /// The roles of who consulted (never a name or an id).
    pub by_roles: Vec<Role>,
    /// What (`case.read`, …).
    pub action: String,
    /// Why.
    pub purpose: String,
    /// Whether it was allowed or refused.
    pub outcome: String,
}

/// The answer to a right-of-access request (GDPR Art. 15).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessAnswer {
    /// The person.
    pub subject_id: Uuid,
    /// When and why their data was erased, if it was.
    pub erased: Option<ErasedView>,
    /// When and by which retention rule their callback number alone was erased (the
    /// rest kept), if it was.
    pub number_erased: Option<NumberErasedView>,
    /// The data held, in the order it was recorded; other people's data left out.
    pub data: Vec<HeldView>,
    /// The categories of data held.
    pub categories: Vec<String>,
    /// Why it is held.
    pub purposes: Vec<String>,
    /// Who it is shared with.
    pub recipients: Vec<String>,
    /// How long it is kept.
    pub retention: String,
    /// Where it came from.
    pub sources: Vec<String>,
    /// Every consultation of the cases holding it: when, why, by which role.
    pub consultations: Vec<ConsultationView>,
    /// Whether any decision is made about the person by automated means.
    pub automated_decision: String,
}

/// An erasure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedView {
    /// When.
    pub at: DateTime<Utc>,
    /// `Request` or `Retention`.
    pub reason: ErasureReason,
    /// For a retention erasure, the rule (`ClosedCase`, `UnattachedCall`,
    /// `InactiveCase`).
    pub rule: Option<RetentionRule>,
}

/// An erasure of the callback number alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumberErasedView {
    /// When.
    pub at: DateTime<Utc>,
    /// The retention rule (`CallbackNumber`).
    pub rule: RetentionRule,
}

/// How to render the answer.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Format {
    /// `json` (the default) or `markdown`.
    pub format: Option<String>,
}

fn category(field: &str) -> &'static str {
    match field {
        "name" => "identity (name)",
        "address" => "postal address",
        "callback_number" => "phone number",
        "call" => "the calls made (date, service called)",
        "profile" => "description of the person (role, relation to the victim, age band)",
        _ => "free-text notes on the situation (listening notes, analysis, solutions, actions)",
    }
}

fn answer_of(data: SubjectData, retention: &str) -> AccessAnswer {
    let mut categories: Vec<String> = data
        .items
        .iter()
        .flat_map(|i| {
            i.values
                .keys()
                .map(String::as_str)
                .chain(i.facts.keys().map(|_| "profile"))
        })
        .map(|f| category(f).to_string())
        .collect();
    if data.items.iter().any(|i| i.event_type == "CallReceived") {
        categories.push(category("call").into());
    }
    categories.sort();
    categories.dedup();
    let recipients = data
        .centres
        .iter()
        .map(|c| match c {
            CentreId::NationalPlatform => {
                "the professional listeners of the national platform (3977)".to_string()
            }
            CentreId::Departement(d) => {
                format!("the accredited volunteers and referents of the centre of département {d}")
            }
        })
        .collect();
    AccessAnswer {
        subject_id: *data.subject.as_uuid(),
        erased: data.erased.map(|e| ErasedView {
            at: e.at,
            reason: e.reason,
            rule: e.rule,
        }),
        number_erased: data
            .number_erased
            .map(|(at, rule)| NumberErasedView { at, rule }),
        data: data
            .items
            .into_iter()
            .map(|i| HeldView {
                recorded_at: i.recorded_at,
                stream: i.stream,
                event_type: i.event_type,
                whose: format!("{:?}", i.whose),
                values: i.values,
                facts: i.facts,
            })
            .collect(),
        categories,
        purposes: PURPOSES.iter().map(|p| p.to_string()).collect(),
        recipients,
        retention: retention.to_string(),
        sources: data.sources,
        consultations: data
            .consultations
            .into_iter()
            .map(|c| ConsultationView {
                at: c.at,
                by_roles: c.roles,
                action: c.action,
                purpose: c.purpose,
                outcome: c.outcome.as_str().to_string(),
            })
            .collect(),
        automated_decision: "none: no decision about the person is made by automated means; \
                             people listen, analyse and propose, and the caller decides"
            .into(),
    }
}

/// The answer as a document a person can read.
pub fn markdown(a: &AccessAnswer) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# What the helpline holds about person {}\n\n",
        a.subject_id
    ));
    if let Some(e) = &a.erased {
        out.push_str(&format!(
            "**Erased** on {} ({}): every value below reads as erased, for good.\n\n",
            e.at.format("%Y-%m-%d %H:%M UTC"),
            match e.rule {
                Some(rule) => format!("retention rule {}", rule.name()),
                None => format!("{:?}", e.reason),
            }
        ));
    }
    if let Some(n) = &a.number_erased {
        out.push_str(&format!(
            "**Callback number erased** on {} (retention rule {}).\n\n",
            n.at.format("%Y-%m-%d %H:%M UTC"),
            n.rule.name()
        ));
    }
    out.push_str("## The data\n\n");
    if a.data.is_empty() {
        out.push_str("Nothing.\n\n");
    }
    for d in &a.data {
        out.push_str(&format!(
            "- {} — {} (as {})\n",
            d.recorded_at.format("%Y-%m-%d %H:%M UTC"),
            d.event_type,
            d.whose
        ));
        for (k, v) in &d.values {
            let v = v.as_deref().unwrap_or("(erased)");
            out.push_str(&format!("  - {k}: {v}\n"));
        }
        for (k, v) in &d.facts {
            out.push_str(&format!("  - {k}: {v}\n"));
        }
    }
    let list = |title: &str, items: &[String], out: &mut String| {
        out.push_str(&format!("\n## {title}\n\n"));
        for i in items {
            out.push_str(&format!("- {i}\n"));
        }
    };
    list("Categories of data", &a.categories, &mut out);
    list("Purposes", &a.purposes, &mut out);
    list("Recipients", &a.recipients, &mut out);
    out.push_str(&format!("\n## Retention\n\n{}\n", a.retention));
    list("Where the data came from", &a.sources, &mut out);
    out.push_str("\n## Consultations\n\n");
    if a.consultations.is_empty() {
        out.push_str("None.\n");
    }
    for c in &a.consultations {
        out.push_str(&format!(
            "- {} — {} by {:?}, purpose: {} ({})\n",
            c.at.format("%Y-%m-%d %H:%M UTC"),
            c.action,
            c.by_roles,
            c.purpose,
            c.outcome
        ));
    }
    out.push_str(&format!(
        "\n## Automated decisions\n\n{}\n",
        a.automated_decision
    ));
    out
}

#[utoipa::path(get, path = "/v1/subjects/{id}/access", tag = "subjects",
    params(("id" = Uuid, Path, description = "The data subject"), Format),
    responses((status = 200, body = AccessAnswer), (status = 403, body = super::Problem),
        (status = 404, body = super::Problem)),
    security(("bearer" = [])))]
/// What is held about a person, for the data-protection officer to answer their
/// right of access: the data (decrypted), purposes, categories, recipients,
/// retention, sources, consultations, and that no automated decision is made. Other
/// people's data is left out. `?format=markdown` gives a document to send.
pub async fn access(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Params(f): Params<Format>,
) -> Result<Response, AppError> {
    let app = &state.app;
    let subject = SubjectId::from_uuid(parse_id("id", &id)?);
    let md = match f.format.as_deref() {
        None | Some("json") => false,
        Some("markdown") => true,
        Some(_) => return Err(AppError::bad("format", "json or markdown")),
    };
    let data = app.subject_access(&actor, subject).await?;
    let a = answer_of(data, &app.retention_rule());
    if md {
        let mut r = (StatusCode::OK, markdown(&a)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/markdown; charset=utf-8"),
        );
        return Ok(r);
    }
    Ok(answer(StatusCode::OK, false, a))
}

#[utoipa::path(post, path = "/v1/subjects/{id}/erasure", tag = "subjects",
    params(("id" = Uuid, Path, description = "The data subject")),
    responses((status = 200, body = Accepted), (status = 403, body = super::Problem),
        (status = 404, body = super::Problem), (status = 422, body = super::Problem)),
    security(("bearer" = [])))]
/// Erases a person's data (GDPR Art. 17): the erasure is recorded, then their keys
/// destroyed. Every read shows their values as erased from then on; the log still
/// verifies and the statistics do not change.
pub async fn erase(
    State(state): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let subject = SubjectId::from_uuid(parse_id("id", &id)?);
    let outcome = state.app.erase_subject(&actor, subject).await?;
    let accepted = Accepted {
        subject_id: Some(*subject.as_uuid()),
        ..Accepted::of(&outcome)
    };
    Ok(answer(StatusCode::OK, outcome.replayed, accepted))
}
