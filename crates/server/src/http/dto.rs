//! The JSON shapes of the API that several routes share.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::Outcome;

/// Where the stable problem types live: `urn:ecoute:problem:<kind>`.
pub const PROBLEM_BASE: &str = "urn:ecoute:problem:";

/// An error, as RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable per kind of error: `urn:ecoute:problem:bad-input`, `…:unauthenticated`,
    /// `…:forbidden`, `…:not-found`, `…:conflict`, `…:gone`, `…:too-large`,
    /// `…:rule-refused`, `…:idempotency-key-reused`, `…:not-ready`, `…:internal`,
    /// `…:method-not-allowed`, `…:uri-too-long`, `…:headers-too-large`,
    /// `…:overloaded`, `…:timeout`, `…:bad-request`, `…:outcome-unknown`.
    pub r#type: String,
    /// The HTTP reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for a person to read.
    pub detail: String,
    /// For bad input: the field, header or path part at fault (`persons[0].role`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a refused command: the domain rule's stable name (`NotTheReferent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// One stream a command wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamVersions {
    /// The stream, such as `case-…`.
    pub stream: String,
    /// The version of its first new event.
    pub first_version: u64,
    /// The version of its last new event.
    pub last_version: u64,
}

/// What a command recorded.
#[derive(Debug, Serialize, ToSchema, Default)]
pub struct Accepted {
    /// The call created or acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<Uuid>,
    /// The case created or acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<Uuid>,
    /// The data subject created (the caller of a new call, a person described).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<Uuid>,
    /// The solution proposed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution_id: Option<Uuid>,
    /// The member of staff created or changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<Uuid>,
    /// The token issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<Uuid>,
    /// A new bearer token, shown this once (absent when a retried request is
    /// answered again: only its digest was kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The global position of the commit's first event.
    pub position: u64,
    /// The global position of its last event.
    pub last_position: u64,
    /// The event types recorded, in order.
    pub events: Vec<String>,
    /// The streams written.
    pub streams: Vec<StreamVersions>,
    /// True when this answers a retried request: nothing new was recorded.
    pub replayed: bool,
}

impl Accepted {
    /// The shape of an engine outcome, ids to be filled by the route.
    pub fn of(outcome: &Outcome) -> Self {
        Accepted {
            position: outcome.first_position,
            last_position: outcome.last_position,
            events: outcome.events.clone(),
            streams: outcome
                .streams
                .iter()
                .map(|s| StreamVersions {
                    stream: s.stream.to_string(),
                    first_version: s.first_version,
                    last_version: s.last_version,
                })
                .collect(),
            replayed: outcome.replayed,
            ..Accepted::default()
        }
    }
}

/// The schema of a département code: exactly the codes of the service's centres.
pub fn departement_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            ecoute_domain::DepartementCode::all().map(|d| d.as_str()),
        ))
        .description(Some("A département code (`69`, `2A`, `974`)"))
        .build()
}

/// The schema of a list of département codes.
pub fn departements_schema() -> utoipa::openapi::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(departement_schema())
        .build()
}

/// The schema of a text a person writes: not blank, at most the domain's limit
/// in characters.
pub fn text_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(ecoute_domain::call::MAX_TEXT_CHARS))
        .pattern(Some(r"\S"))
        .build()
}
