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
        cases::transfer, cases::reassign, cases::close, cases::reopen,
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

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
