use super::*;
use serde_json::Value;

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn it_is_openapi_3_1_with_every_operation_of_the_table() {
    let d = document();
    assert_eq!(d["openapi"], "3.1.0");
    assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));
    for o in OPERATIONS {
        let op = &d["paths"][o.path][o.method.to_lowercase()];
        assert_eq!(op["operationId"], o.id, "{} {}", o.method, o.path);
    }
    assert!(d.get("servers").is_none());
}

#[test]
fn every_reference_resolves_in_components_schemas() {
    let d = document();
    let mut all = Vec::new();
    refs(&d, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix(SCHEMAS).unwrap_or_default();
        assert!(d["components"]["schemas"].get(name).is_some(), "{r}");
    }
}

#[test]
fn a_type_read_differently_than_written_is_described_both_ways() {
    let d = document();
    let s = &d["components"]["schemas"];
    // Limits: sent with every field (null when unset), read with any left out.
    let sent = s["Limits"]["required"].as_array().map(Vec::len);
    assert!(sent.unwrap_or(0) > 1, "{}", s["Limits"]);
    assert_eq!(s["LimitsRequest"]["required"], serde_json::json!(["total"]));
    let grant = &s["GrantBody"]["properties"]["limits"]["$ref"];
    assert_eq!(grant, "#/components/schemas/LimitsRequest");
    assert_eq!(s["GrantBody"]["additionalProperties"], false);
}

#[test]
fn refusals_are_the_envelope_and_callers_are_named() {
    let d = document();
    let records = &d["paths"]["/audit/records"]["get"];
    let refused = &records["responses"]["4XX"]["content"]["application/json"]["schema"];
    assert_eq!(refused["$ref"], "#/components/schemas/Envelope");
    assert_eq!(
        records["security"],
        serde_json::json!([{"akSk": []}, {"bearer": []}])
    );
    assert!(d["paths"]["/healthz"]["get"].get("security").is_none());
    let schemes = &d["components"]["securitySchemes"];
    assert_eq!(schemes["akSk"]["name"], "Authorization");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let adjust = &d["paths"]["/delegations/{id}/adjust"]["post"]["parameters"][0];
    assert_eq!(adjust["in"], "path");
    assert_eq!(adjust["name"], "id");
}

#[test]
fn a_decimal_is_read_as_a_string_only() {
    let d = document();
    let total = &d["components"]["schemas"]["ChangeBody"]["properties"]["total"];
    assert_eq!(
        total["type"],
        serde_json::json!(["string", "null"]),
        "{total}"
    );
    assert_eq!(total["pattern"], DECIMAL);
    let adjust = &d["components"]["schemas"]["AdjustBody"];
    assert_eq!(adjust["properties"]["total"]["type"], "string");
    assert_eq!(adjust["required"], serde_json::json!(["quota_id", "total"]));
    assert!(!d.to_string().contains("[eE]"));
}

#[test]
fn a_json_answer_has_an_object_schema_and_a_text_one_a_string() {
    let d = document();
    let ok = |path: &str, media: &str| {
        d["paths"][path]["get"]["responses"]["200"]["content"][media]["schema"].clone()
    };
    assert_eq!(ok("/openapi.json", "application/json")["type"], "object");
    assert_eq!(ok("/healthz", "text/plain")["type"], "string");
    assert_eq!(ok("/audit/export", "text/csv")["type"], "string");
}
