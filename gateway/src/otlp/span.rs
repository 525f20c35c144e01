//! One finished span and its OTLP/JSON form (the protobuf JSON mapping, with the deviations
//! OTLP/HTTP specifies: trace and span ids as hex, enums as integers, 64-bit times as
//! strings).

use serde_json::{Value, json};

/// A span's kind (OTLP's `SpanKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Work inside the gateway.
    Internal = 1,
    /// The request the gateway served.
    Server = 2,
    /// The call it made to the vendor.
    Client = 3,
}

/// A finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The parent's span id, if any.
    pub parent: Option<String>,
    /// Its name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
    /// End, Unix nanoseconds.
    pub end_ns: u64,
    /// Attributes: string or integer values.
    pub attributes: Vec<(&'static str, Attr)>,
    /// An error status with its message (a refusal's code, the vendor's failure).
    pub error: Option<String>,
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// Text.
    Str(String),
    /// A number.
    Int(i64),
}

impl Span {
    fn to_json(&self) -> Value {
        let attributes: Vec<Value> = self
            .attributes
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Attr::Str(s) => json!({"stringValue": s}),
                    Attr::Int(i) => json!({"intValue": i.to_string()}),
                };
                json!({"key": k, "value": value})
            })
            .collect();
        let mut span = json!({
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "name": self.name,
            "kind": self.kind as i32,
            "startTimeUnixNano": self.start_ns.to_string(),
            "endTimeUnixNano": self.end_ns.to_string(),
            "attributes": attributes,
        });
        if let Some(p) = &self.parent {
            span["parentSpanId"] = json!(p);
        }
        // STATUS_CODE_ERROR is 2; unset (0) otherwise.
        if let Some(message) = &self.error {
            span["status"] = json!({"code": 2, "message": message});
        }
        span
    }
}

/// An `ExportTraceServiceRequest` for `spans`, from the service `service`.
pub fn request(service: &str, spans: &[Span]) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
            {"key": "service.version", "value": {"stringValue": env!("CARGO_PKG_VERSION")}},
        ]},
        "scopeSpans": [{
            "scope": {"name": "tiergate", "version": env!("CARGO_PKG_VERSION")},
            "spans": spans.iter().map(Span::to_json).collect::<Vec<_>>(),
        }],
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_hex_enums_as_numbers_times_as_strings() {
        let s = Span {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "b7ad6b7169203331".into(),
            parent: Some("00f067aa0ba902b7".into()),
            name: "request",
            kind: Kind::Server,
            start_ns: 1_700_000_000_000_000_000,
            end_ns: 1_700_000_000_001_000_000,
            attributes: vec![("http.response.status_code", Attr::Int(200))],
            error: Some("TG.2001".into()),
        };
        let r = request("tiergate", &[s]);
        let span = &r["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(span["kind"], 2);
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["attributes"][0]["value"]["intValue"], "200");
        assert_eq!(span["status"]["code"], 2);
    }
}
