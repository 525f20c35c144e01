//! The Pingora service: each hook only calls the stages in [`crate::filters`].

use crate::audit::Audit;
use crate::credentials::UpstreamKey;
use crate::credentials::{Credential, Credentials};
use crate::filters::idempotency;
use crate::filters::{audit, authn, authz, body, ledger, resign, route};
use crate::graph::{LiveGraph, learn};
use crate::metrics::Metrics;
use crate::rejection::Rejection;
use crate::store::Store;
use crate::store::funds::FundReserved;
use crate::store::idempotency::Claim;
use crate::store::ledger::requests::{Hold, Reserved};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::FailToProxy;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tiergate_config::Upstream;
use tiergate_policy::{Permit, Route, Rules};

/// Everything the gateway needs, shared by all requests.
pub struct Gateway {
    /// Credential lookups.
    pub credentials: Arc<Credentials>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The partner API.
    pub upstream: Upstream,
    /// Its resolved address.
    pub upstream_addr: SocketAddr,
    /// The distributor's vendor key, which signs every partner call upstream.
    pub distributor_key: UpstreamKey,
    /// Accepted clock skew.
    pub skew: time::Duration,
    /// What each tier may call.
    pub rules: Rules,
    /// Who owns what.
    pub graph: Arc<LiveGraph>,
    /// Where learned relationships are kept.
    pub store: Store,
    /// The audit log (and the delegation ledger, kept in the same database so a reservation
    /// and its audit intent commit together).
    pub audit: Audit,
    /// Wakes the ledger's reconciliation (a reclaim to credit).
    pub reconcile: Arc<tokio::sync::Notify>,
    /// Rate limits.
    pub limiter: Arc<crate::limiter::Limiter>,
}

/// Per-request state: what each stage proved so far.
pub struct Ctx {
    request_id: String,
    started: Instant,
    route: Option<&'static Route>,
    permit: Option<Permit>,
    forward: Option<authz::Forward>,
    credential: Option<Arc<Credential>>,
    request_body: Bytes,
    audited: bool,
    learn: bool,
    response_body: Option<BytesMut>,
    rejected: Option<(&'static str, &'static str, Option<&'static str>)>,
    hold: Option<Hold>,
    /// The grantees whose fund caps hold an amount for this request.
    fund_hold: Option<Vec<String>>,
    /// The idempotency key this request claimed.
    idempotency: Option<String>,
    /// The body of Tiergate's own answer, when it refused.
    rejected_body: Option<Bytes>,
    /// The rate limit closest to refusing (or the one that refused), for the headers.
    limit: Option<crate::limiter::Verdict>,
    /// Whether the request may have reached the vendor (false: the connection was refused).
    sent: bool,
}

impl Gateway {
    /// Admits a request for forwarding (`None`), or returns the stored first answer of an
    /// idempotent retry.
    async fn admit(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
    ) -> Result<Option<(u16, String)>, Rejection> {
        let (method, path, query) = {
            let req = session.req_header();
            let query = req.uri.query().unwrap_or("").to_owned();
            (
                req.method.as_str().to_owned(),
                req.uri.path().to_owned(),
                query,
            )
        };
        let route = route::route(&method, &path)?;
        ctx.route = Some(route);
        let body = body::read(session).await?;
        ctx.request_body = body.clone();
        let now = time::OffsetDateTime::now_utc();
        let credential = authn::authenticate(
            &self.credentials,
            session.req_header(),
            &body,
            now,
            self.skew,
        )
        .await?;
        ctx.credential = Some(credential.clone());
        let own_key = credential.upstream.is_some();
        let verdict = self
            .limiter
            .check(&credential.principal, route, own_key)
            .await;
        let admitted = verdict.allowed;
        ctx.limit = Some(verdict.clone());
        if !admitted {
            return Err(Rejection::RateLimited(verdict));
        }
        let (permit, forward) = authz::authorize(
            &credential.principal,
            route,
            &query,
            body,
            &self.graph,
            &self.rules,
        )?;
        if permit.route().money_moving {
            let fp = idempotency::fingerprint(&method, &path, &query, &ctx.request_body);
            if let Some(replay) = self.claim(session, ctx, &credential, fp).await? {
                return Ok(Some(replay));
            }
            let caller = self.caller(session, ctx, &credential);
            let intent = audit::intent(&caller, &permit, &forward.body);
            if permit.route().operation == ledger::ISSUE {
                // The reservation and the intent commit together, or neither does.
                let ask = ledger::ask(&credential, &permit, &forward.body, &ctx.request_id)?;
                let store = self.audit.store();
                match store
                    .ledger()
                    .reserve(ask, intent, self.audit.signer())
                    .await
                {
                    Ok(Reserved::Held(h)) => ctx.hold = Some(h),
                    Ok(Reserved::Undelegated) => {}
                    Ok(Reserved::Refused(r)) => return Err(Rejection::Delegation(r)),
                    Err(e) => {
                        tracing::error!(error = %e, "ledger store refused a reservation: call refused");
                        return Err(Rejection::AuditUnavailable);
                    }
                }
            } else if let Some(f) =
                ledger::fund_ask(&credential, permit.route().operation, &forward.body)?
            {
                let store = self.audit.store();
                let id = ctx.request_id.clone();
                let signer = self.audit.signer();
                match store
                    .funds()
                    .reserve(f.grantees, id, f.direction, f.amount, intent, signer)
                    .await
                {
                    Ok(FundReserved::Held(g)) => ctx.fund_hold = Some(g),
                    Ok(FundReserved::Uncapped) => {}
                    Ok(FundReserved::Refused(r)) => return Err(Rejection::FundCap(r)),
                    Err(e) => {
                        tracing::error!(error = %e, "ledger store refused a fund hold: call refused");
                        return Err(Rejection::AuditUnavailable);
                    }
                }
            } else if let Err(e) = self.audit.append(intent).await {
                tracing::error!(error = %e, "audit store refused an intent: call refused");
                return Err(Rejection::AuditUnavailable);
            }
            ctx.audited = true;
        }
        ctx.permit = Some(permit);
        ctx.forward = Some(forward);
        Ok(None)
    }

    /// Claims the request's idempotency key, if it has one.
    async fn claim(
        &self,
        session: &Session,
        ctx: &mut Ctx,
        cred: &Credential,
        fingerprint: String,
    ) -> Result<Option<(u16, String)>, Rejection> {
        let Some(key) = idempotency::key_of(&session.req_header().headers)
            .map_err(Rejection::InvalidIdempotencyKey)?
        else {
            return Ok(None);
        };
        let key = idempotency::scoped(&cred.principal.partner_id, &key);
        let store = self.audit.store();
        let claim = store
            .idempotency()
            .claim(key.clone(), fingerprint, ctx.request_id.clone())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "idempotency store unavailable: call refused");
                Rejection::AuditUnavailable
            })?;
        match claim {
            Claim::New => {
                ctx.idempotency = Some(key);
                Ok(None)
            }
            Claim::Replay(status, body) => Ok(Some((status, body))),
            Claim::Unknown => Err(Rejection::IdempotencyUnknown),
            Claim::Mismatch => Err(Rejection::IdempotencyMismatch),
        }
    }

    /// Records the first answer under the request's idempotency key (or frees the key when
    /// nothing reached the vendor; an unknown outcome keeps it for reconciliation).
    async fn remember(&self, session: &Session, ctx: &mut Ctx) {
        let Some(key) = ctx.idempotency.take() else {
            return;
        };
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let store = self.audit.store();
        let done = match (ctx.rejected_body.take(), status) {
            // Tiergate's own decision (a delegation refusal, a bad body) is the answer.
            (Some(body), 400..=499) => {
                let body = String::from_utf8_lossy(&body).into_owned();
                store.idempotency().answer(key, status, body).await
            }
            // Upstream timeout or dropped connection after sending: unknown until reconciled.
            (Some(_), 502 | 504) if ctx.sent => Ok(()),
            (Some(_), _) => store.idempotency().free(key).await,
            (None, 0) if ctx.sent => Ok(()),
            (None, 0) => store.idempotency().free(key).await,
            (None, _) => {
                let body = ctx.response_body.as_deref().unwrap_or_default();
                let body = String::from_utf8_lossy(body).into_owned();
                store.idempotency().answer(key, status, body).await
            }
        };
        if let Err(e) = done {
            tracing::error!(request_id = %ctx.request_id, error = %e, "could not record an idempotent answer");
        }
    }

    async fn replay(
        &self,
        session: &mut Session,
        ctx: &Ctx,
        status: u16,
        body: String,
    ) -> Result<()> {
        crate::answer::write(
            session,
            crate::answer::replay(status, body, &ctx.request_id),
        )
        .await
    }

    fn caller<'a>(
        &self,
        session: &Session,
        ctx: &'a Ctx,
        cred: &'a Credential,
    ) -> audit::Caller<'a> {
        audit::Caller {
            request_id: &ctx.request_id,
            principal: &cred.principal,
            credential: &cred.access_key,
            source: session.client_addr().map(|a| a.to_string()),
        }
    }

    /// A money-moving call refused by Tiergate is audited too (intent and outcome together).
    async fn audit_refusal(&self, session: &Session, ctx: &Ctx, r: &Rejection) {
        let (Some(route), Some(cred)) = (ctx.route, ctx.credential.as_ref()) else {
            return;
        };
        if !route.money_moving || ctx.audited || matches!(r, Rejection::AuditUnavailable) {
            return;
        }
        let caller = self.caller(session, ctx, cred);
        let entries = audit::refusal(
            &caller,
            route,
            &ctx.request_body,
            r.answer().code,
            &r.to_string(),
            r.rule(),
        );
        for e in entries {
            if let Err(err) = self.audit.append(e).await {
                tracing::error!(error = %err, "could not audit a refusal");
                return;
            }
        }
    }

    /// A voucher reclaimed: reconciliation credits its slice with what the vendor returned.
    async fn note_reclaim(&self, ctx: &Ctx) {
        let Some(coupon) = ctx
            .forward
            .as_ref()
            .and_then(|f| ledger::reclaimed_coupon(&f.body))
        else {
            return;
        };
        match self.audit.store().ledger().reclaim_seen(&coupon).await {
            Ok(true) => self.reconcile.notify_one(),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, coupon, "could not note a reclaim for the ledger"),
        }
    }

    async fn reject(&self, session: &mut Session, ctx: &mut Ctx, r: Rejection) -> Result<()> {
        let answer = r.answer();
        ctx.rejected = Some((answer.code, answer.outcome, r.rule()));
        let listener = crate::answer::Listener::Partner;
        let a = crate::answer::refusal(&r, listener, &ctx.request_id, ctx.limit.as_ref());
        ctx.rejected_body = Some(Bytes::from(a.body().clone()));
        session.set_keepalive(None);
        crate::answer::write(session, a).await
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            request_id: uuid::Uuid::new_v4().simple().to_string(),
            started: Instant::now(),
            route: None,
            permit: None,
            forward: None,
            credential: None,
            request_body: Bytes::new(),
            audited: false,
            learn: false,
            response_body: None,
            rejected: None,
            hold: None,
            fund_hold: None,
            idempotency: None,
            rejected_body: None,
            limit: None,
            sent: true,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        match self.admit(session, ctx).await {
            Ok(None) => Ok(false),
            Ok(Some((status, body))) => {
                self.replay(session, ctx, status, body).await?;
                Ok(true)
            }
            Err(r) => {
                self.audit_refusal(session, ctx, &r).await;
                self.reject(session, ctx, r).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(&self, _: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        if ctx.permit.is_none() {
            return Err(Error::explain(
                InternalError,
                "upstream_peer without a permit",
            ));
        }
        let mut peer = HttpPeer::new(
            self.upstream_addr,
            self.upstream.tls,
            self.upstream.host.clone(),
        );
        let t = Some(self.upstream.timeout);
        peer.options.connection_timeout = t;
        peer.options.read_timeout = t;
        peer.options.write_timeout = t;
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let (Some(fwd), Some(cred)) = (ctx.forward.as_ref(), ctx.credential.as_ref()) else {
            return Err(Error::explain(
                InternalError,
                "forwarding without a decision",
            ));
        };
        // Customers and solution providers call with their own vendor key; everyone else
        // through the distributor's.
        let key = cred.upstream.as_ref().unwrap_or(&self.distributor_key);
        let now = time::OffsetDateTime::now_utc();
        resign::resign(
            req,
            &self.upstream,
            key,
            &ctx.request_id,
            &fwd.query,
            &fwd.body,
            now,
        )
    }

    async fn request_body_filter(
        &self,
        _: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        // The caller's body was read (and replayed by Pingora); the decided one replaces it.
        let Some(fwd) = ctx.forward.as_mut() else {
            return Err(Error::explain(InternalError, "body without a decision"));
        };
        if fwd.body_sent {
            *body = None;
        } else {
            fwd.body_sent = true;
            *body = (!fwd.body.is_empty()).then(|| fwd.body.clone());
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if resp.headers.get("x-request-id").is_none() {
            resp.insert_header("x-request-id", &ctx.request_id)?;
        }
        for (name, value) in crate::answer::limit_headers(ctx.limit.as_ref(), false) {
            resp.insert_header(name, value)?;
        }
        if resp.status.as_u16() == 429
            && let Some(route) = ctx.route
        {
            // The vendor's own limit: hold this API back for every caller, in every gateway.
            self.limiter
                .vendor_throttled(route.operation, std::time::Duration::from_secs(1))
                .await;
        }
        ctx.learn =
            resp.status.is_success() && ctx.route.is_some_and(|r| learn::teaches(r.operation));
        if ctx.audited || ctx.learn {
            ctx.response_body = Some(BytesMut::new());
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<Option<std::time::Duration>> {
        let Some(buf) = ctx.response_body.as_mut() else {
            return Ok(None);
        };
        if let Some(b) = body {
            buf.extend_from_slice(b);
        }
        if end_of_stream
            && ctx.learn
            && let Some(permit) = ctx.permit.as_ref()
        {
            let edges = learn::edges(permit, buf);
            if !edges.is_empty() {
                self.graph.learn(&edges);
                self.store.graph().upsert_later(edges);
            }
        }
        Ok(None)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        let rejection = match (e.esource(), e.etype()) {
            (ErrorSource::Downstream, _) => None,
            (_, ConnectRefused | ConnectNoRoute | ConnectTimedout) => {
                ctx.sent = false;
                Some(Rejection::UpstreamUnavailable)
            }
            (_, ReadTimedout | WriteTimedout) => Some(Rejection::UpstreamTimeout),
            (ErrorSource::Upstream, _) => Some(Rejection::UpstreamUnavailable),
            _ => Some(Rejection::Internal("proxying failed")),
        };
        tracing::warn!(request_id = %ctx.request_id, error = %e, "proxy failure");
        let Some(r) = rejection else {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        };
        let status = r.answer().status;
        if self.reject(session, ctx, r).await.is_err() {
            tracing::debug!(request_id = %ctx.request_id, "could not answer the failure");
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        if ctx.audited
            && let (Some(permit), Some(cred)) = (ctx.permit.as_ref(), ctx.credential.as_ref())
        {
            // A vendor answer is one Tiergate did not write itself (502/504 mean none came).
            let status = match ctx.rejected {
                Some(_) => 0,
                None => session.response_written().map_or(0, |r| r.status.as_u16()),
            };
            let answer = ctx.response_body.as_deref().unwrap_or_default();
            let latency = ctx.started.elapsed().as_secs_f64() * 1000.0;
            let outcome = audit::outcome(
                &self.caller(session, ctx, cred),
                permit,
                status,
                answer,
                latency,
            );
            let written = match (ctx.hold.take(), ctx.fund_hold.take()) {
                (_, Some(grantees)) => {
                    let moved = ledger::funds_moved(status, ctx.sent);
                    let id = ctx.request_id.clone();
                    self.audit
                        .store()
                        .funds()
                        .settle(grantees, id, moved, outcome, self.audit.signer())
                        .await
                        .map_err(|e| e.to_string())
                }
                (Some(hold), None) => {
                    let settle = ledger::settlement(status, ctx.sent, answer);
                    let store = self.audit.store();
                    store
                        .ledger()
                        .settle(hold, settle, outcome, self.audit.signer())
                        .await
                        .map_err(|e| e.to_string())
                }
                (None, None) => self
                    .audit
                    .append(outcome)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
            };
            if let Err(e) = written {
                // The reservation stays held; reconciliation settles it from the vendor's records.
                tracing::error!(request_id = %ctx.request_id, error = %e, "could not audit an outcome");
            }
            if permit.route().operation == ledger::RECLAIM && (200..300).contains(&status) {
                self.note_reclaim(ctx).await;
            }
        }
        self.remember(session, ctx).await;
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let route = ctx.route.map_or("unknown", |r| r.operation);
        let principal = ctx.credential.as_ref().map(|c| &c.principal);
        let tier = principal.map_or("unauthenticated", |p| p.tier.as_str());
        let (code, outcome, rule) = match ctx.rejected {
            Some((code, outcome, rule)) => (Some(code), outcome, rule),
            None if (200..300).contains(&status) => (None, "ok", None),
            None => (None, "upstream_error", None),
        };
        let rule = rule.or(ctx.permit.as_ref().map(Permit::rule));
        let elapsed = ctx.started.elapsed().as_secs_f64();
        self.metrics.observe(route, tier, outcome, elapsed);
        tracing::info!(
            request_id = %ctx.request_id,
            route,
            tier,
            partner = principal.map(|p| p.partner_id.as_str()),
            acting = ctx.permit.as_ref().map(Permit::acting),
            role = principal.and_then(|p| p.role.as_deref()),
            access_key = ctx.credential.as_ref().map(|c| c.access_key.as_str()),
            status,
            outcome,
            error_code = code,
            rule,
            latency_ms = elapsed * 1000.0,
            "request"
        );
    }
}
