//! The admin API as data: one table ([`OPERATIONS`], in `api/table.rs`) says, for every
//! operation, its method and path, who may call it, what it reads and what it answers.
//! [`super::Admin`] routes through the table and [`super::openapi`] describes it, so an
//! endpoint that answers is documented and a documented endpoint answers.
//!
//! Adding an endpoint: a variant of [`Op`], an entry in the table, and its arm in the admin
//! listener's dispatch (the match is exhaustive, so the compiler asks for it).

mod table;

use schemars::{JsonSchema, Schema, SchemaGenerator};

pub use table::OPERATIONS;

/// Every admin API operation: what the dispatch matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /metrics`.
    Metrics,
    /// `GET /healthz`.
    Health,
    /// `GET /readyz`.
    Ready,
    /// `GET /openapi.json`.
    Document,
    /// `GET /audit/records`.
    AuditRecords,
    /// `GET /audit/export`.
    AuditExport,
    /// `POST /tokens`.
    IssueToken,
    /// `GET /.well-known/jwks.json`.
    Jwks,
    /// `GET /delegations`.
    DelegationTree,
    /// `POST /delegations`.
    DelegationGrant,
    /// `POST /delegations/{id}/adjust`.
    DelegationAdjust,
    /// `POST /delegations/{id}/suspend`.
    DelegationSuspend,
    /// `POST /delegations/{id}/resume`.
    DelegationResume,
    /// `POST /delegations/{id}/revoke`.
    DelegationRevoke,
    /// `GET /overview`.
    Overview,
    /// `GET /tls`.
    Tls,
    /// `GET /federation`.
    Federation,
    /// `GET /money`.
    Money,
    /// `GET /credentials`.
    Credentials,
    /// `POST /credentials`.
    IssueCredential,
    /// `POST /credentials/{access_key}/revoke`.
    RevokeCredential,
    /// `POST /audit/verify`.
    VerifyAudit,
}

/// A schema for a Rust type, made by the document's generator (which hoists named types into
/// `components.schemas`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as derived from the type.
pub const fn schema<T: JsonSchema>() -> SchemaFn {
    SchemaGenerator::subschema_for::<T>
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Anyone (probes, metrics, public keys, this document).
    Anyone,
    /// A request signed with a Tiergate credential (SDK-HMAC-SHA256) only.
    Signed,
    /// A signed request or, in token mode, a bearer token.
    SignedOrBearer,
}

/// A query parameter.
pub struct Param {
    /// Its name in the query string.
    pub name: &'static str,
    /// Its value's schema.
    pub schema: SchemaFn,
    /// Whether a request without it is refused.
    pub required: bool,
    /// What it does.
    pub description: &'static str,
}

/// What a successful answer carries.
pub enum Body {
    /// JSON of a Rust type.
    Json(SchemaFn),
    /// Another media type, described in words (text, CSV, JSON Lines).
    Other {
        /// The media type, without parameters.
        media: &'static str,
        /// What is in it.
        description: &'static str,
    },
}

/// One admin API operation.
pub struct Operation {
    /// What the dispatch calls.
    pub op: Op,
    /// The HTTP method.
    pub method: &'static str,
    /// The path, with `{name}` for one path segment.
    pub path: &'static str,
    /// The OpenAPI `operationId`.
    pub id: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Who may call it, and what it does.
    pub description: &'static str,
    /// Who may call it.
    pub caller: Caller,
    /// Its query parameters.
    pub query: &'static [Param],
    /// Its JSON request body, if it reads one.
    pub request: Option<SchemaFn>,
    /// Its successful answer (status 200), in each media type it may take.
    pub ok: &'static [Body],
    /// The statuses or ranges (`4XX`) it may refuse with, in the vendor's envelope.
    pub refusals: &'static [&'static str],
}

/// A request matched to an operation, with the path segments its template names.
#[derive(Debug)]
pub struct Found {
    /// The operation.
    pub op: Op,
    params: Vec<(&'static str, String)>,
}

impl Found {
    /// The path segment the template names `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The operation `method` and `path` ask for, if the table has one.
pub fn find(method: &str, path: &str) -> Option<Found> {
    OPERATIONS
        .iter()
        .filter(|o| o.method == method)
        .find_map(|o| matches(o.path, path).map(|params| Found { op: o.op, params }))
}

/// The segments `{name}` stands for, when `path` fits `template`. A `{name}` segment is one
/// whole, non-empty segment: `/delegations//revoke` fits nothing.
fn matches(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut given = path.split('/');
    for want in template.split('/') {
        let got = given.next()?;
        match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(name) if !got.is_empty() => params.push((name, got.to_owned())),
            Some(_) => return None,
            None if want == got => {}
            None => return None,
        }
    }
    given.next().is_none().then_some(params)
}

#[cfg(test)]
mod tests;
