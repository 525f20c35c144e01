//! The request's one log event and its metrics, at the end.

use crate::ctx::Ctx;
use crate::metrics::Metrics;
use pingora::proxy::Session;
use tiergate_policy::Permit;

/// Records the request: `written` is the status of the answer that went out (0: none); its
/// method, path and client address as the session holds them.
pub fn request(metrics: &Metrics, ctx: &Ctx, written: u16, session: &Session) {
    let req = session.req_header();
    let route = ctx.route.map_or("unknown", |r| r.operation);
    let principal = ctx.credential.as_ref().map(|c| &c.principal);
    let tier = principal.map_or("unauthenticated", |p| p.tier.as_str());
    let (code, outcome, rule) = match &ctx.refused {
        Some(r) => (Some(r.code), r.outcome, r.rule),
        None if (200..300).contains(&written) => (None, "ok", None),
        None => (None, "upstream_error", None),
    };
    let rule = rule.or(ctx.permit.as_ref().map(Permit::rule));
    let elapsed = ctx.started.elapsed().as_secs_f64();
    metrics.observe(route, tier, outcome, elapsed);
    if let Some(code) = code {
        metrics.refused(code);
    }
    if let (Some((status, took)), Some(r)) = (ctx.upstream_answer, ctx.route) {
        let code = if (200..300).contains(&status) {
            "(none)".to_owned()
        } else {
            let kept = ctx.kept.as_deref().unwrap_or_default();
            crate::filters::ratelimit::vendor_code(kept)
        };
        metrics
            .vendor
            .answered(r.operation, status, &code, took.as_secs_f64());
    }
    let trace = ctx.trace.as_ref();
    let (upstream_status, upstream_ms) = match ctx.upstream_answer {
        Some((status, took)) => (Some(status), Some(took.as_secs_f64() * 1000.0)),
        None => (None, None),
    };
    tracing::info!(
        request_id = %ctx.request_id,
        method = req.method.as_str(),
        path = req.uri.path(),
        client = session.client_addr().map(tracing::field::display),
        trace_id = trace.map(|t| t.trace_id.as_str()),
        span_id = trace.map(|t| t.span.as_str()),
        parent_span_id = trace.and_then(|t| t.parent.as_deref()),
        upstream_status,
        upstream_ms,
        route,
        tier,
        partner = principal.map(|p| p.partner_id.as_str()),
        acting = ctx.permit.as_ref().map(Permit::acting),
        role = principal.and_then(|p| p.role.as_deref()),
        access_key = ctx.credential.as_ref().map(|c| c.access_key.as_str()),
        status = written,
        outcome,
        error_code = code,
        rule,
        latency_ms = elapsed * 1000.0,
        "request"
    );
}

/// The request's spans for the OTLP endpoint, with the request log's fields as attributes.
pub fn spans(ctx: &Ctx, written: u16, session: &Session) -> Vec<crate::otlp::span::Span> {
    use crate::otlp::span::Attr;
    let Some(trace) = ctx.trace.as_ref() else {
        return Vec::new();
    };
    let req = session.req_header();
    let text = |s: &str| Attr::Str(s.to_owned());
    let mut attributes = vec![
        ("http.request.method", text(req.method.as_str())),
        ("url.path", text(req.uri.path())),
        ("http.response.status_code", Attr::Int(i64::from(written))),
        ("tiergate.request_id", text(&ctx.request_id)),
        (
            "tiergate.route",
            text(ctx.route.map_or("unknown", |r| r.operation)),
        ),
    ];
    if let Some(a) = session.client_addr() {
        attributes.push(("client.address", Attr::Str(a.to_string())));
    }
    if let Some(p) = ctx.credential.as_ref().map(|c| &c.principal) {
        attributes.push(("tiergate.partner", text(&p.partner_id)));
        attributes.push(("tiergate.tier", text(p.tier.as_str())));
    }
    if let Some((status, _)) = ctx.upstream_answer {
        attributes.push(("tiergate.upstream_status", Attr::Int(i64::from(status))));
    }
    let error = match (&ctx.refused, ctx.upstream_answer) {
        (Some(r), _) => Some(r.code.to_owned()),
        (None, Some((status, _))) if !(200..300).contains(&status) => {
            Some(format!("the vendor answered {status}"))
        }
        _ => None,
    };
    let vendor = ctx
        .upstream_sent
        .zip(ctx.upstream_answer.map(|(_, took)| took));
    crate::otlp::spans::of(crate::otlp::spans::Finished {
        trace,
        started: ctx.started,
        vendor,
        attributes,
        error,
    })
}
