//! Every refusal Tiergate makes, and the one place where a refusal becomes an HTTP answer
//! in the vendor's envelope (`{"error_code", "error_msg"}`) with our `TG.` codes.

use tiergate_policy::Denied;
use tiergate_policy::aksk::AuthError;
use tiergate_policy::ledger::Refusal;

/// Why Tiergate answers a request itself instead of forwarding it.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// Method and path are not in the route catalogue.
    #[error("{method} {path} is not a partner API operation Tiergate forwards")]
    NoSuchRoute {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// The signature is missing, malformed or wrong.
    #[error("{0}")]
    Unauthenticated(AuthError),
    /// No active credential has this access key.
    #[error("unknown or revoked access key")]
    UnknownAccessKey,
    /// A bearer token that is not (or no longer) good.
    #[error("bearer token refused: {0}")]
    BadToken(String),
    /// Token mode is not configured on this gateway.
    #[error("token mode is off on this gateway (no [tokens] section)")]
    TokensOff,
    /// `X-Domain-Id` names another account than the credential's.
    #[error("X-Domain-Id does not match the credential's partner")]
    WrongDomain,
    /// Policy refused the request.
    #[error("{0}")]
    Denied(Denied),
    /// The caller's delegation does not allow this voucher request.
    #[error("{0}")]
    Delegation(Refusal),
    /// A rate limit refused the call.
    #[error("rate limit `{}` exceeded: retry after {} ms", .0.name, .0.retry_after.as_millis())]
    RateLimited(crate::limiter::Verdict),
    /// A fund adjustment over the caller's caps.
    #[error("{0}")]
    FundCap(tiergate_policy::ledger::funds::FundRefusal),
    /// A delegation change the ledger refuses (the message says why).
    #[error("{0}")]
    GrantRefused(String),
    /// The partner API refused a call Tiergate made itself.
    #[error("the partner API refused: {0}")]
    UpstreamRefused(String),
    /// The idempotency key header is unusable.
    #[error("{0}")]
    InvalidIdempotencyKey(String),
    /// A retry while the first request's outcome is not known yet.
    #[error(
        "a request with this idempotency key is in flight or its outcome is being reconciled; retry later"
    )]
    IdempotencyUnknown,
    /// The idempotency key was used for a different request.
    #[error("this idempotency key was used for a different request")]
    IdempotencyMismatch,
    /// The body is larger than Tiergate inspects.
    #[error("request body over {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not a JSON object.
    #[error("request body is not a JSON object: {0}")]
    InvalidBody(String),
    /// The relationship graph has not been loaded or synced yet.
    #[error("relationship graph not yet synced from the partner API")]
    GraphNotReady,
    /// The audit store did not take the intent of a money-moving call.
    #[error("audit store unavailable: money-moving calls are refused until it is back")]
    AuditUnavailable,
    /// The credential store did not answer.
    #[error("credential store unavailable")]
    StorageUnavailable,
    /// The partner API could not be reached or did not answer.
    #[error("partner API unavailable")]
    UpstreamUnavailable,
    /// The partner API did not answer in time.
    #[error("partner API timed out")]
    UpstreamTimeout,
    /// A bug: a stage ran without what the previous stage proves.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// How a rejection is answered.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Our `TG.` code.
    pub code: &'static str,
    /// Outcome label for metrics and logs.
    pub outcome: &'static str,
}

impl Rejection {
    /// Status, code and outcome: the single exhaustive mapping.
    pub fn answer(&self) -> Answer {
        let (status, code, outcome) = match self {
            Rejection::Unauthenticated(e) => (401, auth_code(e), "unauthenticated"),
            Rejection::UnknownAccessKey => (401, "TG.1003", "unauthenticated"),
            Rejection::WrongDomain => (401, "TG.1008", "unauthenticated"),
            Rejection::BadToken(_) => (401, "TG.1009", "unauthenticated"),
            Rejection::TokensOff => (404, "TG.1010", "unauthenticated"),
            Rejection::NoSuchRoute { .. } => (404, "TG.2001", "no_route"),
            Rejection::Denied(d) => (403, d.code(), "denied"),
            Rejection::Delegation(r) => (403, delegation_code(r), "over_delegation"),
            Rejection::InvalidIdempotencyKey(_) => (400, "TG.4003", "invalid"),
            Rejection::GrantRefused(_) => (409, "TG.3012", "refused"),
            Rejection::RateLimited(v) if v.upstream => (429, "TG.6002", "rate_limited"),
            Rejection::RateLimited(_) => (429, "TG.6001", "rate_limited"),
            Rejection::FundCap(r) => (403, fund_code(r), "over_delegation"),
            Rejection::UpstreamRefused(_) => (502, "TG.5007", "upstream_error"),
            Rejection::IdempotencyUnknown => (409, "TG.3010", "idempotency"),
            Rejection::IdempotencyMismatch => (422, "TG.3011", "idempotency"),
            Rejection::BodyTooLarge { .. } => (413, "TG.4001", "invalid"),
            Rejection::InvalidBody(_) => (400, "TG.4002", "invalid"),
            Rejection::Internal(_) => (500, "TG.5001", "error"),
            Rejection::UpstreamUnavailable => (502, "TG.5002", "upstream_unavailable"),
            Rejection::StorageUnavailable => (503, "TG.5003", "unavailable"),
            Rejection::GraphNotReady => (503, "TG.5005", "unavailable"),
            Rejection::AuditUnavailable => (503, "TG.5006", "unavailable"),
            Rejection::UpstreamTimeout => (504, "TG.5004", "upstream_unavailable"),
        };
        Answer {
            status,
            code,
            outcome,
        }
    }

    /// The JSON body in the vendor's envelope.
    pub fn body(&self) -> Vec<u8> {
        serde_json::json!({"error_code": self.answer().code, "error_msg": self.to_string()})
            .to_string()
            .into_bytes()
    }

    /// The policy rule behind a denial, for logs.
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            Rejection::Denied(d) => Some(d.rule()),
            _ => None,
        }
    }
}

fn fund_code(r: &tiergate_policy::ledger::funds::FundRefusal) -> &'static str {
    use tiergate_policy::ledger::funds::FundRefusal;
    match r {
        FundRefusal::OverOperation { .. } => "TG.3013",
        FundRefusal::OverPeriod { .. } => "TG.3014",
    }
}

fn delegation_code(r: &Refusal) -> &'static str {
    match r {
        Refusal::NoDelegation => "TG.3001",
        Refusal::OverSlice { .. } => "TG.3002",
        Refusal::OverPeriodCap { .. } => "TG.3003",
        Refusal::FaceValueTooHigh { .. } => "TG.3004",
        Refusal::NotAllowed { .. } => "TG.3005",
        Refusal::ValidityOutside { .. } => "TG.3006",
        Refusal::Expired { .. } => "TG.3007",
        Refusal::Inactive { .. } => "TG.3008",
    }
}

fn auth_code(e: &AuthError) -> &'static str {
    match e {
        AuthError::MissingAuthorization => "TG.1001",
        AuthError::MalformedAuthorization | AuthError::UnsupportedAlgorithm => "TG.1002",
        AuthError::SignatureMismatch => "TG.1004",
        AuthError::BadDate | AuthError::DateOutOfWindow { .. } => "TG.1005",
        AuthError::RequiredHeaderNotSigned(_) | AuthError::SignedHeaderMissing(_) => "TG.1006",
        AuthError::UnsignedPayload | AuthError::PayloadHashMismatch => "TG.1007",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_failures_have_distinct_codes() {
        let codes: Vec<&str> = [
            Rejection::Unauthenticated(AuthError::MissingAuthorization),
            Rejection::UnknownAccessKey,
            Rejection::Unauthenticated(AuthError::SignatureMismatch),
            Rejection::Unauthenticated(AuthError::DateOutOfWindow { skew_seconds: 900 }),
        ]
        .iter()
        .map(|r| {
            assert_eq!(r.answer().status, 401);
            r.answer().code
        })
        .collect();
        let mut unique = codes.clone();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
    }

    #[test]
    fn the_body_is_the_vendor_envelope() {
        let r = Rejection::BodyTooLarge { limit: 65536 };
        let v: serde_json::Value = serde_json::from_slice(&r.body()).unwrap_or_default();
        assert_eq!(v["error_code"], "TG.4001");
        assert_eq!(v["error_msg"], "request body over 65536 bytes");
    }
}
