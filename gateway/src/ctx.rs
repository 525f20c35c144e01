//! What a partner API request has proved so far, stage by stage ([`crate::filters`]), and
//! what its answer left for the stages after it.

use crate::credentials::Credential;
use crate::limiter::Verdict;
use crate::rejection::Rejection;
use crate::store::ledger::requests::Hold;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Instant;
use tiergate_policy::{Permit, Route};

/// A second try after the vendor's own 429 (calls that move no money, once).
#[derive(Debug)]
pub enum VendorRetry {
    /// Not (yet) refused by the vendor.
    No,
    /// Refused, and sent again by Tiergate's own client: the second answer replaces the
    /// first, whose body (the vendor's code, for the count and the log) is read as it comes.
    Tried {
        /// The first answer's body, so far.
        first: BytesMut,
        /// The second answer's body, sent in its place.
        second: Bytes,
    },
    /// Refused, and not sent again (its turn did not come in time, or the vendor refused the
    /// second try too): the first 429 is answered as `TG.6002`.
    Refused,
}

/// The stages before forwarding, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// 1: the route catalogue.
    Route,
    /// 2: the body.
    Body,
    /// 3: authentication.
    Authn,
    /// 4: rate limits.
    RateLimit,
    /// 5: authorization and scoping.
    Authz,
    /// 6: idempotency keys.
    Idempotency,
    /// 7: reservations and the audit intent.
    Money,
    /// 8: re-signing for the vendor.
    Resign,
}

/// The request as it will be forwarded: query and body after injection.
pub struct Forward {
    /// The raw query string to send.
    pub query: String,
    /// The body to send.
    pub body: Bytes,
    /// Whether the body has been handed to Pingora already.
    pub body_sent: bool,
}

/// What the money stage holds for a request.
#[derive(Debug, Default)]
pub enum Money {
    /// Nothing reserved: not a money-moving call, or refused before the money stage.
    #[default]
    Untouched,
    /// A money-moving call with nothing to hold (an undelegated quota, an uncapped partner):
    /// its audit intent is written.
    Audited,
    /// A reservation on a delegation slice, written with the audit intent.
    Voucher(Hold),
    /// Holds on these grantees' fund caps, written with the audit intent.
    Funds(Vec<String>),
}

impl Money {
    /// Whether the call's intent is in the audit log (its outcome must follow).
    pub fn audited(&self) -> bool {
        !matches!(self, Money::Untouched)
    }
}

/// Tiergate's own answer to a request it refused.
pub struct Refused {
    /// The `TG.` code.
    pub code: &'static str,
    /// The outcome label.
    pub outcome: &'static str,
    /// The policy rule behind a denial.
    pub rule: Option<&'static str>,
    /// The body sent.
    pub body: Bytes,
}

impl Refused {
    /// What is kept of a rejection answered with `body`.
    pub fn of(r: &Rejection, body: Bytes) -> Self {
        let a = r.answer();
        Self {
            code: a.code,
            outcome: a.outcome,
            rule: r.rule(),
            body,
        }
    }
}

/// Per-request state: each stage's proof, in stage order, then what the answer left.
pub struct Ctx {
    /// The request's id (sent upstream and back as `X-Request-Id`).
    pub(crate) request_id: String,
    /// When it arrived.
    pub(crate) started: Instant,
    /// Its place in a trace (W3C `traceparent`), read first.
    pub(crate) trace: Option<crate::trace::Trace>,
    /// When it went to the vendor, and the vendor's status and time to answer.
    pub(crate) upstream_sent: Option<Instant>,
    pub(crate) upstream_answer: Option<(u16, std::time::Duration)>,
    /// The furthest stage entered.
    pub(crate) reached: Option<Stage>,
    /// Route: the catalogued operation.
    pub(crate) route: Option<&'static Route>,
    /// Body: the whole body as received.
    pub(crate) body: Bytes,
    /// Authn: the verified credential.
    pub(crate) credential: Option<Arc<Credential>>,
    /// Ratelimit: the limit closest to refusing (for the headers).
    pub(crate) limit: Option<Verdict>,
    /// Ratelimit: until when the call may wait for its turn in the vendor budget.
    pub(crate) deadline: Option<Instant>,
    /// A vendor 429 on a call that moves no money is tried again once.
    pub(crate) vendor_retry: VendorRetry,
    /// Authz: the decision ...
    pub(crate) permit: Option<Permit>,
    /// ... and exactly what goes upstream.
    pub(crate) forward: Option<Forward>,
    /// Idempotency: the keys this request claimed (its signature's, its idempotency key's).
    pub(crate) idempotency: Vec<String>,
    /// Money: what is held.
    pub(crate) money: Money,
    /// Tiergate's own answer, when it refused.
    pub(crate) refused: Option<Refused>,
    /// Whether the request may have reached the vendor (false: the connection was refused).
    pub(crate) sent: bool,
    /// The vendor's answer, kept when the audit log or the graph needs it.
    pub(crate) kept: Option<BytesMut>,
    /// Whether the answer teaches the graph something.
    pub(crate) learn: bool,
    /// The vendor refused with its own 429: the answer the caller gets instead (TG.6002).
    pub(crate) throttled: Option<bytes::Bytes>,
}

impl Ctx {
    /// A request just arrived.
    pub fn new(request_id: String) -> Self {
        Self {
            request_id,
            started: Instant::now(),
            trace: None,
            upstream_sent: None,
            upstream_answer: None,
            reached: None,
            route: None,
            body: Bytes::new(),
            credential: None,
            limit: None,
            deadline: None,
            vendor_retry: VendorRetry::No,
            permit: None,
            forward: None,
            idempotency: Vec::new(),
            money: Money::Untouched,
            refused: None,
            sent: true,
            kept: None,
            learn: false,
            throttled: None,
        }
    }

    /// Enters a stage (the spine runs them in [`Stage`] order; a test pins it).
    pub(crate) fn enter(&mut self, stage: Stage) {
        self.reached = Some(stage);
    }

    /// The furthest stage this request entered.
    pub fn reached(&self) -> Option<Stage> {
        self.reached
    }

    /// The request's id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// What the money stage holds.
    pub fn money(&self) -> &Money {
        &self.money
    }

    /// Until when the call may wait for the vendor (set at the rate-limit stage; before it,
    /// not at all).
    pub fn budget_deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(Instant::now)
    }
}
