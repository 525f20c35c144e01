//! The admin API's operations, one entry each. The listener routes by this table and the
//! OpenAPI document is built from it: an entry here is the whole description of an endpoint.

use super::{Body, Caller, Op, Operation, Param, schema};
use crate::admin::answers::{Changed, Records, TokenIssued};
use crate::admin::delegations::{AdjustBody, ChangeBody, GrantBody};
use crate::admin::reads::Verified;
use crate::chain::record::Kind;
use crate::ledger::view::Tree;
use crate::reads::credentials::{IssueRequest, IssuedCredential, Listed, Revoked};
use crate::reads::federation::Federation;
use crate::reads::money::Money;
use crate::reads::overview::Overview;
use crate::reads::tls::Report;
use schemars::{Schema, SchemaGenerator, json_schema};
use tiergate_broker::tokens::KeySet;

/// Refusals a caller's request may meet: bad input, authentication, authorization, limits,
/// and the stores or the vendor being unavailable.
const ANY_REFUSAL: &[&str] = &["4XX", "5XX"];

/// An RFC 3339 time.
fn date_time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "date-time"})
}

/// An exact decimal amount (`12.50`).
fn decimal(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"})
}

/// An OpenAPI document (described by the OpenAPI specification's own schema, not here).
fn openapi_document(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "required": ["openapi", "info", "paths"],
                  "description": "An OpenAPI 3.1 document."})
}

/// The export's formats ([`crate::audit::export::Format`]).
fn export_format(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": ["csv", "jsonl"], "default": "jsonl"})
}

const fn text(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        schema: schema::<String>(),
        required: false,
        description,
    }
}

/// The filters `GET /audit/records` and `GET /audit/export` share
/// ([`crate::audit::read::matching`]).
macro_rules! audit_filters {
    ($($extra:expr),*) => {
        &[
            Param { name: "from", schema: date_time, required: false,
                description: "Records at or after this time (default: the retention window)." },
            Param { name: "until", schema: date_time, required: false,
                description: "Records before this time." },
            Param { name: "kind", schema: schema::<Kind>(), required: false,
                description: "What the records are about." },
            text("principal", "The partner (or auditor) that acted."),
            text("tier", "The acting principal's tier."),
            text("reseller", "The reseller acted for."),
            text("customer", "A customer the record names."),
            text("operation", "The operation (`voucher_issue`, `grant`, `token_issued`...)."),
            text("outcome", "The outcome (`ok`, `refused`...)."),
            text("request_id", "The request the records belong to."),
            Param { name: "amount_min", schema: decimal, required: false,
                description: "Records moving at least this amount." },
            Param { name: "amount_max", schema: decimal, required: false,
                description: "Records moving at most this amount." },
            Param { name: "offset", schema: schema::<u32>(), required: false,
                description: "Records to skip, newest first." },
            Param { name: "limit", schema: schema::<u32>(), required: false,
                description: "Records to return (1 to 10000; 100 when not given)." },
            Param { name: "unmasked", schema: schema::<bool>(), required: false,
                description: "Personal data in clear: only for the `unmasked` role, and audited." },
            $($extra),*
        ]
    };
}

/// The answer to every change of a delegation.
const CHANGED: &[Body] = &[Body::Json(schema::<Changed>())];

/// A change to one slice, `POST /delegations/{id}/<action>`.
const fn slice_change(
    op: Op,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    description: &'static str,
    request: super::SchemaFn,
) -> Operation {
    Operation {
        op,
        method: "POST",
        path,
        id,
        summary,
        description,
        caller: Caller::SignedOrBearer,
        query: &[],
        request: Some(request),
        ok: CHANGED,
        refusals: ANY_REFUSAL,
    }
}

/// Every admin API operation.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        op: Op::Metrics,
        method: "GET",
        path: "/metrics",
        id: "metrics",
        summary: "Prometheus metrics",
        description: "Every metric, in the Prometheus text format.",
        caller: Caller::Anyone,
        query: &[],
        request: None,
        ok: &[Body::Other {
            media: "text/plain",
            description: "The Prometheus text exposition format, version 0.0.4.",
        }],
        refusals: &[],
    },
    Operation {
        op: Op::Health,
        method: "GET",
        path: "/healthz",
        id: "health",
        summary: "Liveness",
        description: "The process answers.",
        caller: Caller::Anyone,
        query: &[],
        request: None,
        ok: &[Body::Other {
            media: "text/plain",
            description: "`ok`.",
        }],
        refusals: &[],
    },
    Operation {
        op: Op::Ready,
        method: "GET",
        path: "/readyz",
        id: "ready",
        summary: "Readiness",
        description: "Storage answers and the relationship graph is loaded from the partner API.",
        caller: Caller::Anyone,
        query: &[],
        request: None,
        ok: &[Body::Other {
            media: "text/plain",
            description: "`ready`.",
        }],
        refusals: &["503"],
    },
    Operation {
        op: Op::Document,
        method: "GET",
        path: "/openapi.json",
        id: "openapi",
        summary: "This document",
        description: "The admin API's OpenAPI 3.1 document, generated from the gateway's own \
                      endpoint table and types.",
        caller: Caller::Anyone,
        query: &[],
        request: None,
        ok: &[Body::Json(openapi_document)],
        refusals: &[],
    },
    Operation {
        op: Op::AuditRecords,
        method: "GET",
        path: "/audit/records",
        id: "auditRecords",
        summary: "Audit records",
        description: "The records the filters select, newest first: auditors and the \
                      distributor all, a reseller and its staff their own subtree. Masked \
                      unless the credential's role is `unmasked` and `unmasked=true` is asked.",
        caller: Caller::SignedOrBearer,
        query: audit_filters!(),
        request: None,
        ok: &[Body::Json(schema::<Records>())],
        refusals: ANY_REFUSAL,
    },
    Operation {
        op: Op::AuditExport,
        method: "GET",
        path: "/audit/export",
        id: "auditExport",
        summary: "Audit export",
        description: "Every record the filters select (`limit` caps it), newest first, as a \
                      download written while it is read (chunked): CSV or JSON Lines. Scoped \
                      as the records are.",
        caller: Caller::SignedOrBearer,
        query: audit_filters!(Param {
            name: "format",
            schema: export_format,
            required: false,
            description: "`csv` or `jsonl` (the default).",
        }),
        request: None,
        ok: &[
            Body::Other {
                media: "application/x-ndjson",
                description: "One audit record per line (`format=jsonl`).",
            },
            Body::Other {
                media: "text/csv",
                description: "A header row, then one record per row (`format=csv`); cells a \
                              spreadsheet would read as formulas are made plain text.",
            },
        ],
        refusals: ANY_REFUSAL,
    },
    Operation {
        op: Op::IssueToken,
        method: "POST",
        path: "/tokens",
        id: "issueToken",
        summary: "Issue a bearer token",
        description: "Token mode: partner staff and auditors trade a signed request for a \
                      short-lived bearer token for the same credential. Each signed request \
                      yields one token; the body is ignored. 404 when token mode is off.",
        caller: Caller::Signed,
        query: &[],
        request: None,
        ok: &[Body::Json(schema::<TokenIssued>())],
        refusals: ANY_REFUSAL,
    },
    Operation {
        op: Op::Jwks,
        method: "GET",
        path: "/.well-known/jwks.json",
        id: "jwks",
        summary: "Token verification keys",
        description: "Token mode: the public keys that verify Tiergate's tokens (the current \
                      one and, during a rotation, the previous). 404 when token mode is off.",
        caller: Caller::Anyone,
        query: &[],
        request: None,
        ok: &[Body::Json(schema::<KeySet>())],
        refusals: &["404"],
    },
    Operation {
        op: Op::DelegationTree,
        method: "GET",
        path: "/delegations",
        id: "delegationTree",
        summary: "A quota's delegation tree",
        description: "Distributors see every slice of the quota, resellers their own slices \
                      and what lies below them.",
        caller: Caller::SignedOrBearer,
        query: &[Param {
            name: "quota_id",
            schema: schema::<String>(),
            required: true,
            description: "The vendor quota.",
        }],
        request: None,
        ok: &[Body::Json(schema::<Tree>())],
        refusals: ANY_REFUSAL,
    },
    Operation {
        op: Op::DelegationGrant,
        method: "POST",
        path: "/delegations",
        id: "delegationGrant",
        summary: "Grant a slice",
        description: "Cut a slice from the quota (or from `parent`) for a grantee. A reseller \
                      grants only below its own slice, to its own staff. With `issue_upstream` \
                      the distributor also issues the slice to the reseller at the vendor, in \
                      the same step.",
        caller: Caller::SignedOrBearer,
        query: &[],
        request: Some(schema::<GrantBody>()),
        ok: CHANGED,
        refusals: ANY_REFUSAL,
    },
    slice_change(
        Op::DelegationAdjust,
        "/delegations/{id}/adjust",
        "delegationAdjust",
        "Change a slice's total",
        "A reseller changes only slices strictly below its own.",
        schema::<AdjustBody>(),
    ),
    slice_change(
        Op::DelegationSuspend,
        "/delegations/{id}/suspend",
        "delegationSuspend",
        "Suspend a slice",
        "Nothing new is reserved below it until it is resumed.",
        schema::<ChangeBody>(),
    ),
    slice_change(
        Op::DelegationResume,
        "/delegations/{id}/resume",
        "delegationResume",
        "Resume a suspended slice",
        "The slice is in force again.",
        schema::<ChangeBody>(),
    ),
    slice_change(
        Op::DelegationRevoke,
        "/delegations/{id}/revoke",
        "delegationRevoke",
        "Revoke a slice",
        "Closed for good; what it had not spent goes back to its parent.",
        schema::<ChangeBody>(),
    ),
    read(
        Op::Overview,
        "/overview",
        "overview",
        "The last hour at a glance",
        "Auditors and the distributor. Requests by tier, route and outcome, refusals by \
         code, per minute; vendor budget use per API; the limiter; the audit chain's last \
         verification and checkpoint; certificates; the graph's sync. The console's overview.",
        &[],
        &[Body::Json(schema::<Overview>())],
    ),
    read(
        Op::Tls,
        "/tls",
        "tls",
        "TLS report",
        "Auditors and the distributor. The running gateway's `tiergate tls report`.",
        &[],
        &[Body::Json(schema::<Report>())],
    ),
    read(
        Op::Federation,
        "/federation",
        "federation",
        "Sign-in federation",
        "Registered reseller IdPs with their pinned certificates, recent sign-ins and \
         refusals, bindings; a reseller sees its own.",
        &[],
        &[Body::Json(schema::<Federation>())],
    ),
    read(
        Op::Money,
        "/money",
        "money",
        "Money moved over a period",
        "Per operation, reseller and customer, totalled from the audit log (calls whose \
         outcome is `ok`; the rest listed apart). A reseller sees its own subtree.",
        &[
            Param {
                name: "from",
                schema: date_time,
                required: false,
                description: "From this time (default: the retention window).",
            },
            Param {
                name: "until",
                schema: date_time,
                required: false,
                description: "Until this time (default: now).",
            },
        ],
        &[Body::Json(schema::<Money>())],
    ),
    read(
        Op::Credentials,
        "/credentials",
        "credentials",
        "Who holds which credential",
        "Never a secret. Auditors and the distributor see all; a reseller its own and its \
         staff's.",
        &[],
        &[Body::Json(schema::<Listed>())],
    ),
    Operation {
        op: Op::IssueCredential,
        method: "POST",
        path: "/credentials",
        id: "issueCredential",
        summary: "Issue a credential",
        description: "The distributor issues resellers' and their staff's credentials; a \
                      reseller its own staff's. The secret key is in this answer only.",
        caller: Caller::SignedOrBearer,
        query: &[],
        request: Some(schema::<IssueRequest>()),
        ok: &[Body::Json(schema::<IssuedCredential>())],
        refusals: ANY_REFUSAL,
    },
    Operation {
        op: Op::RevokeCredential,
        method: "POST",
        path: "/credentials/{access_key}/revoke",
        id: "revokeCredential",
        summary: "Revoke a credential",
        description: "Auditors revoke any credential but an auditor's (incident response); the \
                      distributor its resellers' and their staff's; a reseller its staff's. \
                      Calls and sessions with it are refused from then on. The body is ignored.",
        caller: Caller::SignedOrBearer,
        query: &[],
        request: None,
        ok: &[Body::Json(schema::<Revoked>())],
        refusals: ANY_REFUSAL,
    },
    Operation {
        op: Op::VerifyAudit,
        method: "POST",
        path: "/audit/verify",
        id: "verifyAudit",
        summary: "Verify the audit chain now",
        description: "Auditors only. Every record's hash, link and signature and every \
                      checkpoint; the first broken record. The run is itself audited.",
        caller: Caller::SignedOrBearer,
        query: &[],
        request: None,
        ok: &[Body::Json(schema::<Verified>())],
        refusals: ANY_REFUSAL,
    },
];

/// A read the console also shows, answered as JSON.
const fn read(
    op: Op,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    description: &'static str,
    query: &'static [Param],
    ok: &'static [Body],
) -> Operation {
    Operation {
        op,
        method: "GET",
        path,
        id,
        summary,
        description,
        caller: Caller::SignedOrBearer,
        query,
        request: None,
        ok,
        refusals: ANY_REFUSAL,
    }
}
