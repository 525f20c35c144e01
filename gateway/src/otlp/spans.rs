//! A finished request's spans: the request (server), the gateway's own work before the vendor
//! was called (or all of it, for a request answered without the vendor) and the vendor's
//! call (client). The request span is the one whose id the vendor got in `traceparent`.

use super::span::{Attr, Kind, Span};
use crate::trace::Trace;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a request's spans are made of.
pub struct Finished<'a> {
    /// Its trace.
    pub trace: &'a Trace,
    /// When it arrived.
    pub started: Instant,
    /// When its call went to the vendor, and how long the vendor took.
    pub vendor: Option<(Instant, Duration)>,
    /// Its attributes.
    pub attributes: Vec<(&'static str, Attr)>,
    /// Its refusal's code, or the vendor's failure.
    pub error: Option<String>,
}

/// A span id for a stage: the request's span id with its last digit turned, so the stage's
/// id is tied to the request's and distinct from it (`n` is 1 or 2).
fn stage_id(span: &str, n: u8) -> String {
    let mut id = span.to_owned();
    if let Some(last) = id.pop() {
        let d = last.to_digit(16).unwrap_or(0);
        let turned = (d ^ u32::from(n)) & 0xf;
        id.push(char::from_digit(turned, 16).unwrap_or('0'));
    }
    id
}

/// The spans of a finished request, timed against the wall clock now.
pub fn of(f: Finished<'_>) -> Vec<Span> {
    let now = Instant::now();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let ns = |at: Instant| {
        let ago = now.saturating_duration_since(at).as_nanos();
        u64::try_from(wall.saturating_sub(ago)).unwrap_or(u64::MAX)
    };
    let end = ns(now);
    let t = f.trace;
    let request = Span {
        trace_id: t.trace_id.clone(),
        span_id: t.span.clone(),
        parent: t.parent.clone(),
        name: "request",
        kind: Kind::Server,
        start_ns: ns(f.started),
        end_ns: end,
        attributes: f.attributes,
        error: f.error,
    };
    let gateway_end = f.vendor.map_or(end, |(sent, _)| ns(sent));
    let mut spans = vec![Span {
        trace_id: t.trace_id.clone(),
        span_id: stage_id(&t.span, 1),
        parent: Some(t.span.clone()),
        name: "gateway",
        kind: Kind::Internal,
        start_ns: request.start_ns,
        end_ns: gateway_end,
        attributes: Vec::new(),
        error: None,
    }];
    if let Some((sent, took)) = f.vendor {
        let start = ns(sent);
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        spans.push(Span {
            trace_id: t.trace_id.clone(),
            span_id: stage_id(&t.span, 2),
            parent: Some(t.span.clone()),
            name: "vendor",
            kind: Kind::Client,
            start_ns: start,
            end_ns: start.saturating_add(took),
            attributes: Vec::new(),
            error: None,
        });
    }
    spans.insert(0, request);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_ids_differ_from_the_request_and_each_other() {
        let span = "b7ad6b716920333f";
        let (a, b) = (stage_id(span, 1), stage_id(span, 2));
        assert_eq!(a, "b7ad6b716920333e");
        assert_eq!(b, "b7ad6b716920333d");
        assert!(a != span && b != span && a != b);
    }
}
