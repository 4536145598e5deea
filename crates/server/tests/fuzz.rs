//! Every route of the OpenAPI document, fuzzed: bodies drawn from the documented
//! schemas and then broken (fields dropped, wrong types, unknown fields, junk
//! bytes, wrong content types), path parameters from real ids and junk, query
//! parameters and headers valid or not, any member's token or none. Whatever is
//! sent: never a 5xx, never a panic, every answer as the document says (problem
//! documents for errors, checked by the harness), and a refused request appends
//! nothing to the log.
//!
//! Bounded for CI; `ECOUTE_FUZZ_CASES=20000 cargo test -p ecoute-server --test
//! fuzz` runs more. A case is a string of choices that proptest shrinks.

mod common;

use common::contract::contract;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Map, Value};

/// Draws choices from the bytes proptest generated; past their end, always the
/// first choice, so that shrinking the bytes simplifies the request.
struct Choices<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Whether to break what is sent (junk values, dropped fields); a careful
    /// request aims at success, to reach the routes' deeper paths.
    wild: bool,
}

impl Choices<'_> {
    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let b = self.bytes.get(self.at).copied().unwrap_or(0) as usize;
        self.at += 1;
        b % n
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 1
    }

    /// Like `one_in`, but never in a careful request.
    fn break_one_in(&mut self, n: usize) -> bool {
        let b = self.one_in(n);
        self.wild && b
    }

    fn pick<'v, T>(&mut self, items: &'v [T]) -> &'v T {
        &items[self.below(items.len())]
    }
}

/// What the fuzzer knows of the world: real ids of each kind and every role's
/// token.
struct World {
    ids: Vec<String>,
    calls: Vec<String>,
    cases: Vec<String>,
    staff: Vec<String>,
    subjects: Vec<String>,
    solutions: Vec<String>,
    tokens_ids: Vec<String>,
    tokens: Vec<String>,
}

impl World {
    /// The ids a path parameter names, by its place in the template.
    fn pool(&self, template: &str, param: &str) -> Vec<String> {
        let of = |v: &Vec<String>| v.clone();
        match param {
            "{solution}" => of(&self.solutions),
            "{token}" => of(&self.tokens_ids),
            "{centre}" => vec!["69".into(), "national".into(), "75".into()],
            "{role}" => vec!["Volunteer".into(), "Referent".into(), "Auditor".into()],
            _ if template.starts_with("/v1/calls/") => of(&self.calls),
            _ if template.starts_with("/v1/cases/") => of(&self.cases),
            _ if template.starts_with("/v1/subjects/") => of(&self.subjects),
            _ => of(&self.staff),
        }
    }
}

/// The seed of the requests CI sends (another: `ECOUTE_FUZZ_SEED`).
const DEFAULT_SEED: u64 = 20_261_202;

const JUNK: &[&str] = &[
    "",
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "national",
    "69",
    "2A",
    "Volunteer",
    "-1",
    "1e999",
    "🙂",
    "null",
];

fn junk_value(c: &mut Choices) -> Value {
    match c.below(8) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1.5e300),
        4 => json!(c.pick(JUNK)),
        5 => json!("x".repeat(20_000)),
        6 => json!([]),
        _ => json!({"unknown": 1}),
    }
}

fn resolve<'d>(doc: &'d Value, schema: &'d Value) -> &'d Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// A value shaped by `schema`, now and then broken.
fn value_of(doc: &Value, schema: &Value, c: &mut Choices, world: &World, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if c.break_one_in(12) || depth > 6 {
        return junk_value(c);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            return value_of(doc, c.pick(alts), c, world, depth + 1);
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        if let Some(first) = all.first() {
            return value_of(doc, first, c, world, depth + 1);
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return c.pick(values).clone();
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .get(c.below(ts.len()))
            .and_then(Value::as_str)
            .unwrap_or("null")
            .to_string(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "null".into(),
    };
    match ty.as_str() {
        "object" => {
            let mut out = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                for (name, s) in props {
                    let keep = if required.contains(&name.as_str()) {
                        !c.break_one_in(16)
                    } else {
                        c.one_in(2)
                    };
                    if keep {
                        out.insert(name.clone(), value_of(doc, s, c, world, depth + 1));
                    }
                }
            }
            if c.break_one_in(16) {
                out.insert("surplus".into(), json!(1));
            }
            Value::Object(out)
        }
        "array" => {
            let n = c.below(4);
            Value::Array(
                (0..n)
                    .map(|_| value_of(doc, &schema["items"], c, world, depth + 1))
                    .collect(),
            )
        }
        "string" => match schema["format"].as_str() {
            Some("uuid") => json!(c.pick(&world.ids)),
            Some("date") => {
                json!(c.pick(&["2026-11-01", "2026-11-30", "2026-12-02", "1900-02-30"]))
            }
            Some("date-time") => json!(c.pick(&["2026-12-02T10:00:00Z", "2099-01-01T00:00:00Z"])),
            _ if schema.get("pattern").is_some() => {
                json!(c.pick(&["06 12 34 56 78", "+33612345678", "12", "06-12"]))
            }
            _ => json!(c.pick(&["un mot", "Jeanne Martin", "   ", "abc\u{0}def"])),
        },
        "integer" | "number" => json!(c.pick(&[0i64, 1, 7, -3, i64::MAX])),
        "boolean" => json!(c.one_in(2)),
        _ => Value::Null,
    }
}

/// A path with its parameters filled from real ids (of the right kind when
/// careful) or junk.
fn fill_path(template: &str, c: &mut Choices, world: &World) -> String {
    template
        .split('/')
        .map(|part| {
            if !part.starts_with('{') {
                part.to_string()
            } else if c.break_one_in(4) {
                c.pick(JUNK).to_string()
            } else if c.wild {
                c.pick(&world.ids).clone()
            } else {
                c.pick(&world.pool(template, part)).clone()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Query parameters of the operation, some left out, some junk, perhaps one
/// unknown.
fn query(op: &Value, c: &mut Choices, world: &World) -> String {
    let mut pairs = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] != "query" || !c.one_in(2) {
            continue;
        }
        let v = match value_of(contract().doc(), &p["schema"], c, world, 0) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        pairs.push((p["name"].as_str().unwrap_or("x").to_string(), v));
    }
    if c.break_one_in(10) {
        pairs.push(("surplus".into(), "1".into()));
    }
    if pairs.is_empty() {
        return String::new();
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        q.append_pair(k, v);
    }
    format!("?{}", q.finish())
}

#[test]
fn every_route_answers_hostile_and_random_requests_as_documented() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(Harness::start());
    // A world to aim at: a member of every role, a call, a case with a solution.
    let world = rt.block_on(async {
        let listener = h.enrol(&["PlatformListener"], &[]).await;
        let volunteer = h.enrol(&["Volunteer"], &["69"]).await;
        let referent = h.enrol(&["Referent"], &["69"]).await;
        let auditor = h.enrol(&["Auditor"], &[]).await;
        let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
        let (call, victim) = platform_call(&h, &listener, true).await;
        // A call still open, for the commands of a call in progress.
        let open = h
            .post(&listener, "/v1/calls", json!({"door": "platform"}))
            .await
            .id("call_id");
        let case = transferred_case(&h, &listener, "69").await;
        assign_referent(&h, &referent, &case, &referent).await;
        h.post(
            &referent,
            &format!("/v1/cases/{case}/recontacts"),
            json!({"outcome": "Reached"}),
        )
        .await
        .ok();
        let solution = h
            .post(
                &referent,
                &format!("/v1/cases/{case}/solutions"),
                json!({"kind": "ContactService", "description": "un médecin"}),
            )
            .await
            .id("solution_id");
        // A spare token of the listener's for the fuzzer to revoke: revoking the one
        // the requests use would leave most of the run refused.
        let token_id = h
            .post(
                &listener,
                &format!("/v1/staff/{}/tokens", listener.id),
                json!({}),
            )
            .await
            .id("token_id");
        let members = [&listener, &volunteer, &referent, &auditor, &dpo, &h.admin];
        let staff: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
        let unknown = uuid::Uuid::new_v4().to_string();
        World {
            ids: [&call, &victim, &case, &solution, &token_id, &unknown]
                .into_iter()
                .cloned()
                .chain(staff.iter().cloned())
                .collect(),
            calls: vec![call, open, unknown.clone()],
            cases: vec![case, unknown.clone()],
            subjects: vec![victim, unknown.clone()],
            solutions: vec![solution, unknown.clone()],
            tokens_ids: vec![token_id, unknown],
            staff,
            tokens: members.iter().map(|m| m.token.clone()).collect(),
        }
    });
    let doc = contract().doc();
    let mut operations: Vec<(String, String, Value)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    let cases = std::env::var("ECOUTE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    // The same requests on every run (CI's verdict does not depend on luck);
    // `ECOUTE_FUZZ_SEED` for others.
    let seed: u64 = std::env::var("ECOUTE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 200,
            ..Config::default()
        },
        proptest::test_runner::TestRng::from_seed(
            proptest::test_runner::RngAlgorithm::ChaCha,
            &seed_bytes,
        ),
    );
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<String, u64>::new());
    let result = runner.run(&proptest::collection::vec(any::<u8>(), 0..96), |bytes| {
        let c = &mut Choices {
            bytes: &bytes,
            at: 0,
            wild: true,
        };
        c.wild = c.one_in(2);
        let (method, template, op) = c.pick(&operations).clone();
        let method = if c.break_one_in(24) {
            c.pick(&[Method::PUT, Method::PATCH, Method::GET, Method::DELETE])
                .clone()
        } else {
            Method::from_bytes(method.as_bytes()).unwrap()
        };
        let path = format!(
            "{}{}",
            fill_path(&template, c, &world),
            query(&op, c, &world)
        );
        let token = match c.below(if c.wild { 8 } else { 6 }) {
            6 => None,
            7 => Some("ecoute_not-a-token".to_string()),
            i => Some(world.tokens[i].clone()),
        };
        let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
        let body = match c.below(if c.wild { 10 } else { 6 }) {
            6 => None,
            7 => Some(("text/plain", b"{}".to_vec())),
            8 => Some(("application/json", b"{\"unterminated".to_vec())),
            9 => Some(("application/json", vec![0xff, 0xfe, 0x00])),
            _ if body.is_null() => None,
            _ => Some((
                "application/json",
                value_of(doc, &body, c, &world, 0).to_string().into_bytes(),
            )),
        };
        let mut headers: Vec<(&str, String)> = Vec::new();
        match c.below(6) {
            1 => headers.push(("idempotency-key", format!("fuzz-{}", c.below(4)))),
            2 if c.wild => headers.push(("idempotency-key", "two words".into())),
            _ => {}
        }
        match c.below(6) {
            1 => headers.push(("x-purpose", "case-work".into())),
            2 if c.wild => headers.push(("x-purpose", "call Mme Dupont".into())),
            _ => {}
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let asked = format!("{method} {path}");
        rt.block_on(async {
            let before = h.head().await;
            let answer = h
                .send_raw(method, token.as_deref(), &path, body, &headers)
                .await;
            let status = answer.status.as_u16();
            *seen
                .lock()
                .unwrap()
                .entry(format!(
                    "{} {template} {status}",
                    asked.split(' ').next().unwrap_or("")
                ))
                .or_default() += 1;
            prop_assert!(status < 500, "{asked}: {status} {}", answer.body);
            if status >= 400 {
                prop_assert_eq!(h.head().await, before, "{} was refused yet appended", asked);
            }
            Ok::<(), TestCaseError>(())
        })
    });
    rt.block_on(async { h.stop().await });
    // What the run reached, to see with --nocapture.
    for (answer, n) in seen.lock().unwrap().iter() {
        println!("{n:6} {answer}");
    }
    // The run reached the routes' deeper paths, not only their refusals.
    let succeeded: std::collections::BTreeSet<String> = seen
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.ends_with(" 200") || k.ends_with(" 201"))
        .map(|k| {
            k.rsplit_once(' ')
                .map_or(k.clone(), |(op, _)| op.to_string())
        })
        .collect();
    if result.is_ok() && cases >= 600 && seed == DEFAULT_SEED {
        assert!(
            succeeded.len() * 3 >= operations.len(),
            "only {} of {} operations ever succeeded: {succeeded:?}",
            succeeded.len(),
            operations.len()
        );
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}
