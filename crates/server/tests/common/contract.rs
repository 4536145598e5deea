//! The OpenAPI document as the contract: every answer the tests receive through
//! the harness is checked against its operation — the status documented, the
//! content type documented, the body valid against the documented schema.
//!
//! `CONTRACT_REPORT=1` prints every undocumented status instead of failing at the
//! first (with the fuzz test, a way to list what the document misses).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

/// The document, and the validators compiled so far (by operation and status).
pub struct Contract {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// The server's own document, generated as the server serves it.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract {
        doc: serde_json::to_value(ecoute_server::http::openapi::document())
            .expect("the document serialises"),
        validators: Mutex::new(HashMap::new()),
    })
}

impl Contract {
    /// The document itself.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The path template of the document that `path` (query left out) matches,
    /// preferring the one with the most literal segments.
    pub fn template(&self, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let parts: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()?
            .keys()
            .filter_map(|t| {
                let tparts: Vec<&str> = t.split('/').collect();
                if tparts.len() != parts.len() {
                    return None;
                }
                let mut literal = 0;
                for (tp, p) in tparts.iter().zip(&parts) {
                    if tp.starts_with('{') {
                        if p.is_empty() {
                            return None;
                        }
                    } else if tp == p {
                        literal += 1;
                    } else {
                        return None;
                    }
                }
                Some((literal, t.clone()))
            })
            .max()
            .map(|(_, t)| t)
    }

    /// Checks one answer; panics with what differs from the document.
    pub fn check(&self, method: &str, path: &str, status: u16, content_type: &str, text: &str) {
        let is_problem = content_type.starts_with("application/problem+json");
        if status >= 400 {
            assert!(
                is_problem,
                "{method} {path}: {status} answered as {content_type:?}, not a problem document"
            );
        }
        let Some(template) = self.template(path) else {
            return; // not an operation of the document (an unknown route, say)
        };
        let method = method.to_ascii_lowercase();
        let Some(op) = self.doc["paths"][&template].get(&method) else {
            assert_eq!(
                status, 405,
                "{method} {template}: no such operation, yet {status}"
            );
            return;
        };
        let Some(response) = op["responses"].get(status.to_string()) else {
            if std::env::var_os("CONTRACT_REPORT").is_some() {
                eprintln!(
                    "UNDOCUMENTED {} {template} {status} {text}",
                    method.to_uppercase()
                );
                return;
            }
            panic!(
                "{} {template}: status {status} is not documented (documented: {:?})",
                method.to_uppercase(),
                op["responses"]
                    .as_object()
                    .map(|o| o.keys().collect::<Vec<_>>())
            );
        };
        let media = content_type.split(';').next().unwrap_or("").trim();
        let content = response.get("content").and_then(Value::as_object);
        let Some(content) = content.filter(|c| !c.is_empty()) else {
            assert!(
                text.is_empty(),
                "{} {template} {status}: documented without a body, answered {text}",
                method.to_uppercase()
            );
            return;
        };
        let Some(schema) = content.get(media).map(|m| m["schema"].clone()) else {
            panic!(
                "{} {template} {status}: answered as {media:?}, documented as {:?}",
                method.to_uppercase(),
                content.keys().collect::<Vec<_>>()
            );
        };
        let body: Value = serde_json::from_str(text).unwrap_or_else(|_| {
            panic!(
                "{} {template} {status}: not JSON: {text}",
                method.to_uppercase()
            )
        });
        let key = format!("{method} {template} {status} {media}");
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(key.clone())
                .or_insert_with(|| {
                    let root = json!({
                        "allOf": [schema],
                        "components": self.doc["components"],
                    });
                    Arc::new(
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft202012)
                            .should_validate_formats(true)
                            .build(&root)
                            .unwrap_or_else(|e| panic!("{key}: the schema does not compile: {e}")),
                    )
                })
                .clone()
        };
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{key}: the answer does not match the document:\n  {}\nbody: {body}",
            errors.join("\n  ")
        );
    }
}
