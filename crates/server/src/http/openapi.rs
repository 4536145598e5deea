//! The OpenAPI document, generated from the handlers and their types.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, calls, cases, exports, queries, staff, subjects};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ecoute",
        description = "The HTTP API of ecoute, an event-sourced case engine for an elder-abuse helpline. \
Every write accepts an `Idempotency-Key` header; errors are RFC 9457 problem details.",
    ),
    paths(
        calls::receive, calls::anonymity, calls::number_refusal, calls::callback_number,
        calls::person, calls::facts, calls::note, calls::end, calls::transfer, calls::attach,
        cases::summary, cases::history, cases::timeline, cases::referent, cases::analysis,
        cases::recontact, cases::await_call_back, cases::propose, cases::consent, cases::action,
        cases::transfer, cases::reassign, cases::close, cases::reopen, cases::keep,
        queries::queue, queries::caseload, queries::statistics,
        staff::me, staff::member, staff::enrol, staff::grant_role, staff::revoke_role,
        staff::join_team, staff::accredit, staff::withdraw, staff::issue_token,
        staff::revoke_token, subjects::access, subjects::erase, admin::backup,
        exports::export, exports::verify,
    ),
    modifiers(&Bearer),
    tags(
        (name = "calls", description = "Receiving a call and recording what the caller says"),
        (name = "cases", description = "The case: summary, history, and the referent's work"),
        (name = "queries", description = "Queues, caseloads and statistics"),
        (name = "staff", description = "Staff, roles, accreditations and tokens"),
        (name = "subjects", description = "The data subjects' rights: access and erasure"),
        (name = "operations", description = "Backups"),
    )
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole document, as served at `/v1/openapi.json`: the handlers' own
/// declarations, completed with what every operation shares (see `complete`).
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    complete(&mut doc);
    doc
}

/// What every answer below the handlers may be, whatever the route: a header
/// or path part refused, no valid token, the server's own failure, too many
/// requests in flight or one that took too long.
const SHARED: [(&str, &str); 6] = [
    ("400", "Bad input: a malformed header (`Idempotency-Key`, `X-Purpose`), id, query or body, or a body that is not `application/json`"),
    ("401", "No valid bearer token"),
    ("414", "The request target is over the server's limit"),
    ("431", "The request line and headers are over the server's limit"),
    ("500", "The server failed; the request may or may not have been carried out when it was a write sent without `Idempotency-Key`"),
    ("503", "Not ready, stopping, too many requests in flight, the request took too long, or (`outcome-unknown`) a write failed on disk and may or may not be recorded: send it again with the same `Idempotency-Key` once the server is back"),
];

/// The routes that take a body or a method other than GET but run no command
/// (no idempotency, no retry): checking an export, taking a backup.
const NOT_COMMANDS: [&str; 2] = ["/v1/cases/{id}/export/verify", "/v1/backup"];

/// What a status means when a handler did not say more.
fn describe(status: &str) -> &'static str {
    match status {
        "200" => "Done; the answer says what was recorded or read",
        "201" => "Created; the answer names what was created",
        "403" => "Your roles do not allow this",
        "404" => "No such record, or none you may see",
        "409" => {
            "Other writers kept changing the same record; retry with the same `Idempotency-Key`"
        }
        "410" => "The person's data was erased",
        "413" => "The body is over the limit",
        "422" => "A rule refused the command (`rule` names it)",
        _ => "See the problem document",
    }
}

/// Completes the generated document so that it says exactly what the server
/// does: every error as `application/problem+json`; the statuses every route
/// shares; `413` where a body is read; the `X-Purpose` header on every operation
/// and `Idempotency-Key` on every write, with their exact shapes.
fn complete(doc: &mut serde_json::Value) {
    use serde_json::json;
    let problem =
        json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let purposes: Vec<&str> = crate::app::Purpose::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let has_path_params = path.contains('{');
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            // The writes that go through the command runner: idempotent, retried.
            let write = method != "get" && !NOT_COMMANDS.contains(&path.as_str());
            let has_body = op.get("requestBody").is_some();
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if !status.starts_with('2') {
                    response["content"] = problem.clone();
                }
                if response["description"].as_str().is_none_or(str::is_empty) {
                    response["description"] = json!(describe(status));
                }
            }
            let mut shared: Vec<(&str, &str)> = SHARED.to_vec();
            if has_path_params {
                shared.push(("404", "No such record, or none you may see"));
            }
            if write {
                shared.push((
                    "409",
                    "Other writers kept changing the same record; retry with the same `Idempotency-Key`",
                ));
                shared.push((
                    "422",
                    "A rule refused the command (`rule` names it), or the `Idempotency-Key` was used for another request",
                ));
            }
            if has_body {
                shared.push(("413", "The body is over the server's limit"));
            }
            for (status, description) in shared {
                responses.entry(status).or_insert_with(
                    || json!({"description": description, "content": problem.clone()}),
                );
            }
            let params = op
                .as_object_mut()
                .map(|o| o.entry("parameters").or_insert_with(|| json!([])));
            let Some(serde_json::Value::Array(params)) = params else {
                continue;
            };
            params.retain(|p| p["in"] != "header");
            params.push(json!({
                "name": "X-Purpose", "in": "header", "required": false,
                "description": "Why data is read, from a closed list; kept in the access log",
                "schema": {"type": "string", "enum": purposes},
            }));
            if write {
                params.push(json!({
                    "name": "Idempotency-Key", "in": "header", "required": false,
                    "description": "Makes the write idempotent: sent again with the same body, \
                        the first answer; with another body, 422 idempotency-key-reused",
                    "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
                }));
            }
        }
    }
}
