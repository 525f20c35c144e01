//! The partner API pipeline's spine: each Pingora hook calls the stages of
//! [`crate::filters`] in their order and does none of their work. Read it top to bottom to
//! follow a request; open a stage's file for what it does.

use crate::answer::{self, Listener};
use crate::audit::Audit;
use crate::credentials::{Credentials, UpstreamKey};
use crate::ctx::{Ctx, Refused, Stage};
use crate::filters::idempotency::Claimed;
use crate::filters::money::records::Caller;
use crate::filters::{
    answered, authn, body, forward, idempotency, log, money, ratelimit, resign, response, route,
    unknown,
};
use crate::graph::LiveGraph;
use crate::graph::lookup::Lookup;
use crate::guard::{self, Door, Guard};
use crate::limiter::Limiter;
use crate::metrics::Metrics;
use crate::rejection::Rejection;
use crate::store::Store;
use crate::upstream::UpstreamClient;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::FailToProxy;
use std::net::SocketAddr;
use std::sync::Arc;
use tiergate_config::Upstream;
use tiergate_policy::Rules;
use time::OffsetDateTime;

/// Everything the pipeline needs, shared by all requests.
pub struct Gateway {
    /// What unauthenticated callers may cost.
    pub guard: Arc<Guard>,
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
    /// The audit log (and the delegation ledger, fund caps and idempotency keys, kept in the
    /// same database so a hold and its audit intent commit together).
    pub audit: Audit,
    /// Wakes the ledger's reconciliation (a reclaim to credit).
    pub reconcile: Arc<tokio::sync::Notify>,
    /// Rate limits.
    pub limiter: Arc<Limiter>,
    /// Asks the vendor about a customer the graph does not know.
    pub lookup: Arc<Lookup>,
    /// The vendor, for calls whose answers Tiergate checks before returning them.
    pub direct: Arc<UpstreamClient>,
    /// Where request spans go (none: no OTLP endpoint).
    pub spans: Option<crate::otlp::Exporter>,
}

/// What the stages before forwarding decided, when they did not refuse.
enum Admitted {
    /// Forward it.
    Forward,
    /// An idempotent retry: give the first answer (status, body) again.
    Replay(u16, String),
}

impl Gateway {
    /// Stages 1 to 7, in order; each refusal ends the request where it is.
    async fn admit(&self, session: &mut Session, ctx: &mut Ctx) -> Result<Admitted, Rejection> {
        ctx.trace = Some(crate::trace::Trace::of(
            session.req_header(),
            &ctx.request_id,
        ));
        ctx.enter(Stage::Route);
        let route = route::route(session.req_header())?;
        ctx.route = Some(route);

        ctx.enter(Stage::Body);
        ctx.body = body::read(session).await?;

        ctx.enter(Stage::Authn);
        let req = session.req_header();
        let now = OffsetDateTime::now_utc();
        let door = Door {
            guard: &self.guard,
            addr: guard::ip(session.client_addr()),
            on: Listener::Partner,
        };
        let verified =
            authn::authenticate(&self.credentials, &door, req, &ctx.body, now, self.skew).await?;
        let credential = verified.credential.clone();
        ctx.credential = Some(credential.clone());

        ctx.enter(Stage::RateLimit);
        let limited = ratelimit::check(&self.limiter, &credential, route, req, self.skew);
        let (verdict, deadline) = limited.await?;
        (ctx.limit, ctx.deadline) = (Some(verdict), Some(deadline));

        ctx.enter(Stage::Authz);
        let query = req.uri.query().unwrap_or("");
        let learning = unknown::Learning {
            lookup: &self.lookup,
            store: &self.store,
            deadline: ctx.budget_deadline(),
        };
        let (permit, forward) = unknown::authorize(
            &credential.principal,
            route,
            query,
            ctx.body.clone(),
            &self.graph,
            &self.rules,
            learning,
        )
        .await?;

        ctx.enter(Stage::Idempotency);
        let (store, id) = (self.audit.store(), &ctx.request_id);
        let window = self.skew * 2;
        match idempotency::claim(store, req, &verified, &permit, &ctx.body, id, window).await? {
            Claimed::Replay(status, body) => return Ok(Admitted::Replay(status, body)),
            Claimed::Fresh(keys) => ctx.idempotency = keys,
        }

        ctx.enter(Stage::Money);
        let caller = Caller::new(&ctx.request_id, &credential, money::source(session));
        let held = money::reserve(&self.audit, &caller, &credential, &permit, &forward).await?;
        ctx.money = held;

        ctx.permit = Some(permit);
        ctx.forward = Some(forward);
        Ok(Admitted::Forward)
    }

    /// Stage 8 for an answer checked before it is returned ([`answered`]).
    async fn checked(&self, session: &mut Session, ctx: &mut Ctx) -> Result<()> {
        ctx.enter(Stage::Resign);
        let checker = answered::Checker {
            client: &self.direct,
            key: &self.distributor_key,
            graph: &self.graph,
            lookup: &self.lookup,
            store: &self.store,
            limiter: &self.limiter,
        };
        let path = session.req_header().uri.path().to_owned();
        match answered::exchange(checker, &path, ctx).await {
            Ok((status, body)) => {
                let id = &ctx.request_id;
                let a = answer::checked(
                    Listener::Partner,
                    status,
                    body.to_vec(),
                    id,
                    ctx.limit.as_ref(),
                );
                answer::write(session, a).await
            }
            Err(r) => {
                if let Some(caller) = money::caller(ctx, session) {
                    answered::audit_refusal(&self.audit, &caller, ctx, &r).await;
                }
                self.refuse(session, ctx, r, true).await
            }
        }
    }

    /// Answers a refusal. `keep`: the connection may serve another request (the whole
    /// request was read and nothing went upstream); else it is closed, as the caller may not
    /// have sent all of it.
    async fn refuse(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        r: Rejection,
        keep: bool,
    ) -> Result<()> {
        if ctx.credential.is_none() {
            guard::behind_the_rest().await;
        }
        let a = answer::refusal(&r, Listener::Partner, &ctx.request_id, ctx.limit.as_ref());
        ctx.refused = Some(Refused::of(&r, Bytes::from(a.body().clone())));
        if !keep {
            session.set_keepalive(None);
        }
        answer::write(session, a).await
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx::new(answer::request_id())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        match self.admit(session, ctx).await {
            Ok(Admitted::Forward) if answered::applies(ctx) => {
                self.checked(session, ctx).await?;
                Ok(true)
            }
            Ok(Admitted::Forward) => Ok(false),
            Ok(Admitted::Replay(status, body)) => {
                self.metrics.vendor.replayed();
                answer::write(
                    session,
                    answer::replay(Listener::Partner, status, body, &ctx.request_id),
                )
                .await?;
                Ok(true)
            }
            Err(r) => {
                if let Some(caller) = money::caller(ctx, session) {
                    money::refused(&self.audit, &caller, ctx, &r).await;
                }
                // From authentication on, the body was read whole: a refused caller (junk
                // included) keeps its connection and costs no new handshake.
                let keep = ctx.reached() >= Some(Stage::Authn);
                self.refuse(session, ctx, r, keep).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(&self, _: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        forward::peer(ctx, &self.upstream, self.upstream_addr)
    }

    async fn upstream_request_filter(
        &self,
        _: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        ctx.enter(Stage::Resign);
        let now = OffsetDateTime::now_utc();
        resign::sign(req, ctx, &self.upstream, &self.distributor_key, now)?;
        if let Some(t) = &ctx.trace {
            req.insert_header("traceparent", t.header())?;
        }
        ctx.upstream_sent = Some(std::time::Instant::now());
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        forward::body(ctx, body)
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if let Some(sent) = ctx.upstream_sent {
            ctx.upstream_answer = Some((resp.status.as_u16(), sent.elapsed()));
        }
        let again = ratelimit::Again {
            client: &self.direct,
            key: &self.distributor_key,
            path: session.req_header().uri.path(),
        };
        ratelimit::vendor_refused(&self.limiter, again, ctx, resp).await
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        _: &mut Ctx,
        client_reused: bool,
    ) -> Box<Error> {
        forward::while_proxying(peer, session, e, client_reused)
    }

    async fn response_filter(
        &self,
        _: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        response::headers(ctx, resp)?;
        ratelimit::vendor_answered(&self.limiter, ctx, resp).await
    }

    fn response_body_filter(
        &self,
        _: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<Option<std::time::Duration>> {
        ratelimit::retried_body(&self.limiter, ctx, body, end_of_stream);
        response::chunk(ctx, body, end_of_stream, &self.graph, &self.store);
        ratelimit::throttled_body(&self.limiter, ctx, body, end_of_stream);
        Ok(None)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        tracing::warn!(request_id = %ctx.request_id, error = %e, "proxy failure");
        let Some(r) = forward::failure(e, ctx) else {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        };
        let status = r.answer().status;
        if self.refuse(session, ctx, r, false).await.is_err() {
            tracing::debug!(request_id = %ctx.request_id, "could not answer the failure");
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        let written = session.response_written().map_or(0, |r| r.status.as_u16());
        money::settle(&self.audit, &self.reconcile, ctx, session, written).await;
        idempotency::remember(self.audit.store(), ctx, written).await;
        log::request(&self.metrics, ctx, written, session);
        if let Some(spans) = &self.spans {
            spans.export(log::spans(ctx, written, session));
        }
    }
}
