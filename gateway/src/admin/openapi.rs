//! The admin API's OpenAPI 3.1 document, built from the endpoint table ([`super::api`]) and
//! the schemas schemars derives from the request and answer types. Its JSON Schema dialect is
//! 2020-12, OpenAPI 3.1's own, so the derived schemas go in as they are.
//!
//! A type can read differently than it is written (optional fields with defaults, decimals
//! accepted as numbers but sent as strings), so requests and answers have a generator each.
//! Both hoist named types into `components.schemas`; a request type whose schema differs
//! from the answer type of the same name is kept apart as `<Name>Request`.

use super::api::{Body, Caller, OPERATIONS, Operation};
use crate::answer::Envelope;
use schemars::SchemaGenerator;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// The document, built once.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| document().to_string());

const SCHEMAS: &str = "#/components/schemas/";
/// Where the request generator points its references until they are settled.
const REQUESTS: &str = "#/components/x-requests/";

/// The two generators, one per direction.
struct Generators {
    requests: SchemaGenerator,
    answers: SchemaGenerator,
}

fn generator(path: &str, contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = path.to_owned().into();
            s.meta_schema = None;
            s.contract = contract;
        })
        .into_generator()
}

/// The admin API's OpenAPI document.
pub fn document() -> Value {
    let mut g = Generators {
        requests: generator("/components/x-requests", Contract::Deserialize),
        answers: generator("/components/schemas", Contract::Serialize),
    };
    let envelope = g.answers.subschema_for::<Envelope>().to_value();
    let mut paths = Map::new();
    for o in OPERATIONS {
        let item = paths
            .entry(o.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(o.method.to_lowercase(), operation(o, &mut g, &envelope));
        }
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tiergate admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The admin listener: probes and metrics, audit records for auditors, \
                            delegations for distributors and resellers, and token mode. Refusals \
                            are the vendor's envelope, `{\"error_code\", \"error_msg\"}`.",
        },
        "paths": paths,
        "components": {
            "schemas": {},
            "securitySchemes": security_schemes(),
        },
    });
    let answers = g.answers.take_definitions(true);
    let requests = g.requests.take_definitions(true);
    let (schemas, renamed) = merge(answers, requests);
    relink(&mut doc, &renamed);
    doc["components"]["schemas"] = Value::Object(schemas);
    decimals_as_strings(&mut doc);
    doc
}

/// A decimal is read from a string only: serde_json's `arbitrary_precision`, on in this
/// workspace so that amounts stay exact, hands rust_decimal a JSON number in a form it does
/// not take. schemars' deserialize schema for a decimal also allows a number and an
/// exponent, which every request would refuse; it is replaced with what is read.
fn decimals_as_strings(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let read = m.get("pattern").and_then(Value::as_str) == Some(DECIMAL_READ);
            if read {
                let nullable = m
                    .get("type")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|t| t == "null"));
                let ty = if nullable {
                    json!(["string", "null"])
                } else {
                    json!("string")
                };
                m.insert("type".into(), ty);
                m.insert("pattern".into(), DECIMAL.into());
            }
            m.values_mut().for_each(decimals_as_strings);
        }
        Value::Array(a) => a.iter_mut().for_each(decimals_as_strings),
        _ => {}
    }
}

/// schemars' pattern for a decimal being read ...
const DECIMAL_READ: &str = r"^-?\d+(\.\d+)?([eE]\d+)?$";
/// ... and for one being written, which is also what is read here.
const DECIMAL: &str = r"^-?\d+(\.\d+)?$";

fn operation(o: &Operation, g: &mut Generators, envelope: &Value) -> Value {
    let mut params: Vec<Value> = path_params(o.path)
        .map(|name| {
            json!({"name": name, "in": "path", "required": true,
                   "description": "One path segment.", "schema": {"type": "string"}})
        })
        .collect();
    params.extend(o.query.iter().map(|p| {
        json!({"name": p.name, "in": "query", "required": p.required,
               "description": p.description, "schema": (p.schema)(&mut g.requests).to_value()})
    }));
    let mut responses = Map::new();
    let ok: Map<String, Value> =
        o.ok.iter()
            .map(|b| match b {
                Body::Json(schema) => (
                    "application/json".to_owned(),
                    json!({"schema": schema(&mut g.answers).to_value()}),
                ),
                Body::Other { media, description } => (
                    (*media).to_owned(),
                    json!({"schema": {"type": "string", "description": description}}),
                ),
            })
            .collect();
    responses.insert("200".into(), json!({"description": "OK", "content": ok}));
    for status in o.refusals {
        responses.insert(
            (*status).to_owned(),
            json!({"description": "Refused, in the vendor's envelope.",
                   "content": {"application/json": {"schema": envelope}}}),
        );
    }
    let mut op = json!({
        "operationId": o.id,
        "summary": o.summary,
        "description": o.description,
        "responses": responses,
    });
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if let Some(schema) = o.request {
        op["requestBody"] = json!({"required": true, "content": {
            "application/json": {"schema": schema(&mut g.requests).to_value()}}});
    }
    let security = match o.caller {
        Caller::Anyone => None,
        Caller::Signed => Some(json!([{"akSk": []}])),
        Caller::SignedOrBearer => Some(json!([{"akSk": []}, {"bearer": []}])),
    };
    if let Some(s) = security {
        op["security"] = s;
    }
    op
}

/// The names `{name}` segments of a path template give.
pub fn path_params(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn security_schemes() -> Value {
    json!({
        "akSk": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A request signed with a Tiergate credential, as the vendor's SDK \
                signs: `Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<names>, \
                Signature=<hex>`, an HMAC-SHA256 with the SK over the canonical request \
                (method, path, query, signed headers, SHA-256 of the body). `X-Sdk-Date` \
                (`YYYYMMDDTHHMMSSZ`, within the clock-skew window) and `Host` must be signed. \
                A signed request is accepted once.",
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Token mode: a token from `POST /tokens` (EdDSA, keys at \
                `/.well-known/jwks.json`), honoured while its credential is active.",
        },
    })
}

/// One `components.schemas` from both generators' definitions, and the request names that
/// had to change.
fn merge(
    answers: Map<String, Value>,
    requests: Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut renamed = Map::new();
    let mut all = answers;
    let mut settled = Map::new();
    for (name, schema) in requests {
        let target = match all.get(&name) {
            Some(same) if *same == schema => name.clone(),
            Some(_) => format!("{name}Request"),
            None => name.clone(),
        };
        renamed.insert(name, Value::String(target.clone()));
        settled.insert(target, schema);
    }
    for (name, mut schema) in settled {
        relink(&mut schema, &renamed);
        all.entry(name).or_insert(schema);
    }
    (all, renamed)
}

/// Points the request generator's references at their place in `components.schemas`.
fn relink(v: &mut Value, renamed: &Map<String, Value>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref")
                && let Some(name) = r.strip_prefix(REQUESTS)
            {
                let target = renamed.get(name).and_then(Value::as_str).unwrap_or(name);
                *r = format!("{SCHEMAS}{target}");
            }
            m.values_mut().for_each(|x| relink(x, renamed));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| relink(x, renamed)),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
