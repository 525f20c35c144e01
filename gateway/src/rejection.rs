//! Every refusal Tiergate makes, on any of its three listeners, and its status, `TG.` code
//! and outcome label: one exhaustive match. [`crate::answer`] renders them.

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
    /// A signed token request sent again (its signature was accepted once already).
    #[error("this signed request was used already: sign each request anew")]
    SignatureReused,
    /// `X-Domain-Id` names another account than the credential's.
    #[error("X-Domain-Id does not match the credential's partner")]
    WrongDomain,
    /// Policy refused the request.
    #[error("{0}")]
    Denied(Denied),
    /// The vendor's answer names a customer that is not the acting reseller's: nothing of it
    /// is returned.
    #[error("the vendor's answer names customer `{0}`, which is not yours: it is not returned")]
    ForeignAnswer(String),
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
    /// The source address spent its budget of failed authentications.
    #[error("too many failed authentications from this address; retry later")]
    AddressLimited(crate::limiter::Verdict),
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
    /// The request could be read more than one way (Tiergate forwards only what it read
    /// exactly one way).
    #[error("the request cannot be read one way: {0}")]
    Ambiguous(#[from] tiergate_policy::reading::Ambiguous),
    /// The relationship graph has not been loaded or synced yet.
    #[error("relationship graph not yet synced from the partner API (for this partner)")]
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
    /// A call of unknown outcome that the vendor keeps no record of: its idempotency keys
    /// answer this instead of staying in flight.
    #[error(
        "the first request's outcome could not be established from the vendor's records (it keeps none of this operation): check the vendor console before retrying under a new idempotency key"
    )]
    OutcomeUnresolved,
    /// The request reached the partner API and its answer was lost: the outcome is settled
    /// from the vendor's records; a retry with the same idempotency key learns it.
    #[error(
        "the partner API's answer was lost ({0}); the outcome is settled from the vendor's records: retry with the same X-Idempotency-Key to learn it"
    )]
    OutcomeUnknown(String),
    /// The admin or sign-in listener has no endpoint at this method and path.
    #[error("{method} {path} is not an endpoint of this listener")]
    NoSuchEndpoint {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// A page that needs a browser session, without a live one.
    #[error("not signed in")]
    NotSignedIn,
    /// A sign-in refused: the reason is in the audit log under the reference, never in the
    /// answer (it can name customers and other resellers).
    #[error("sign-in refused (reference {reference})")]
    SignInRefused {
        /// The audit record's reference.
        reference: String,
    },
    /// A SAML message or a bind notification of the vendor's that does not verify.
    #[error("{0}")]
    SamlRefused(String),
    /// A login link whose `idp` or `service` is refused.
    #[error("{0}")]
    LoginLinkRefused(String),
    /// The login link needs `sso.vendor_login_url`.
    #[error("no vendor_login_url configured")]
    NoVendorLogin,
    /// The reseller IdP's metadata names no single sign-on endpoint.
    #[error("the reseller IdP has no SSO URL")]
    IdpWithoutSso,
    /// A single-use message of the sign-in chain (the vendor's AuthnRequest, a bind
    /// notification) arrived again: it is never answered twice, whichever gateway it reaches.
    #[error("this {0} was used already")]
    AlreadyUsed(&'static str),
    /// A store of the sign-in listener (single-use ids, sessions, bindings) did not answer.
    #[error("{0} unavailable")]
    SignInStoreUnavailable(&'static str),
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

impl From<Denied> for Rejection {
    fn from(d: Denied) -> Self {
        Rejection::Denied(d)
    }
}

impl Rejection {
    /// Status, code and outcome: the single exhaustive mapping.
    pub fn answer(&self) -> Answer {
        let (status, code, outcome) = match self {
            Rejection::Unauthenticated(e) => (401, auth_code(e), "unauthenticated"),
            Rejection::UnknownAccessKey => (401, "TG.1003", "unauthenticated"),
            Rejection::WrongDomain => (401, "TG.1008", "unauthenticated"),
            Rejection::SignatureReused => (401, "TG.1012", "unauthenticated"),
            Rejection::BadToken(_) => (401, "TG.1009", "unauthenticated"),
            Rejection::TokensOff => (404, "TG.1010", "unauthenticated"),
            Rejection::NoSuchRoute { .. } | Rejection::NoSuchEndpoint { .. } => {
                (404, "TG.2001", "no_route")
            }
            Rejection::Denied(d) => (403, d.code(), "denied"),
            Rejection::ForeignAnswer(_) => (403, "TG.2009", "denied"),
            Rejection::Delegation(r) => (403, delegation_code(r), "over_delegation"),
            Rejection::InvalidIdempotencyKey(_) => (400, "TG.4003", "invalid"),
            Rejection::GrantRefused(_) => (409, "TG.3012", "refused"),
            Rejection::RateLimited(v) if v.upstream => (429, "TG.6002", "rate_limited"),
            Rejection::RateLimited(_) => (429, "TG.6001", "rate_limited"),
            Rejection::AddressLimited(_) => (429, "TG.1011", "address_limited"),
            Rejection::FundCap(r) => (403, fund_code(r), "over_delegation"),
            Rejection::UpstreamRefused(_) => (502, "TG.5007", "upstream_error"),
            Rejection::IdempotencyUnknown => (409, "TG.3010", "idempotency"),
            Rejection::IdempotencyMismatch => (422, "TG.3011", "idempotency"),
            Rejection::BodyTooLarge { .. } => (413, "TG.4001", "invalid"),
            Rejection::InvalidBody(_) | Rejection::Ambiguous(_) => (400, "TG.4002", "invalid"),
            Rejection::Internal(_) => (500, "TG.5001", "error"),
            Rejection::UpstreamUnavailable => (502, "TG.5002", "upstream_unavailable"),
            Rejection::StorageUnavailable => (503, "TG.5003", "unavailable"),
            Rejection::GraphNotReady => (503, "TG.5005", "unavailable"),
            Rejection::AuditUnavailable => (503, "TG.5006", "unavailable"),
            Rejection::UpstreamTimeout => (504, "TG.5004", "upstream_unavailable"),
            Rejection::OutcomeUnresolved => (409, "TG.3015", "idempotency"),
            Rejection::OutcomeUnknown(_) => (504, "TG.5008", "upstream_unavailable"),
            Rejection::NotSignedIn => (401, "TG.7001", "unauthenticated"),
            Rejection::SignInRefused { .. } => (403, "TG.7002", "denied"),
            Rejection::SamlRefused(_) => (400, "TG.7003", "invalid"),
            Rejection::LoginLinkRefused(_) => (400, "TG.7004", "invalid"),
            Rejection::NoVendorLogin => (404, "TG.7005", "no_route"),
            Rejection::IdpWithoutSso => (502, "TG.7006", "upstream_error"),
            Rejection::SignInStoreUnavailable(_) => (503, "TG.7007", "unavailable"),
            Rejection::AlreadyUsed(_) => (403, "TG.7008", "denied"),
        };
        Answer {
            status,
            code,
            outcome,
        }
    }

    /// The rate limit that refused, for the headers.
    pub fn limit(&self) -> Option<&crate::limiter::Verdict> {
        match self {
            Rejection::RateLimited(v) | Rejection::AddressLimited(v) => Some(v),
            _ => None,
        }
    }

    /// The policy rule behind a denial, for logs.
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            Rejection::Denied(d) => Some(d.rule()),
            Rejection::ForeignAnswer(_) => Some("own-identifiers-only"),
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
}
