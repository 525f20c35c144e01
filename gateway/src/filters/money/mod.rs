//! Stage 7: money. A money-moving call's audit intent is written, durably, before it is
//! forwarded, in the same transaction as what it holds: a voucher reservation on the caller's
//! delegation slice ([`voucher`]) or holds on its fund caps ([`funds`]). If the audit store
//! cannot take it, the call is refused: nothing moves unaudited. After the answer, the
//! settlement is written with the audit outcome; a call Tiergate refused gets its intent and
//! a `refused` outcome together.

pub mod funds;
pub mod records;
pub mod voucher;

use crate::audit::{Audit, tally};
use crate::credentials::Credential;
use crate::ctx::Forward;
use crate::ctx::{Ctx, Money};
use crate::rejection::Rejection;
use crate::store::funds::FundReserved;
use crate::store::ledger::requests::Reserved;
use pingora::proxy::Session;
use records::Caller;
use std::time::Instant;
use tiergate_policy::Permit;
use tokio::sync::Notify;

/// Who asks, for the audit records of a request that got as far as a credential.
pub fn caller<'a>(ctx: &'a Ctx, session: &Session) -> Option<Caller<'a>> {
    let cred = ctx.credential.as_deref()?;
    Some(Caller::new(&ctx.request_id, cred, source(session)))
}

/// Where a request came from, as the audit log records it.
pub fn source(session: &Session) -> Option<String> {
    session.client_addr().map(ToString::to_string)
}

/// Holds what a money-moving call moves, with its audit intent.
pub async fn reserve(
    audit: &Audit,
    caller: &Caller<'_>,
    credential: &Credential,
    permit: &Permit,
    forward: &Forward,
) -> Result<Money, Rejection> {
    let route = permit.route();
    if !route.money_moving {
        return Ok(Money::Untouched);
    }
    let intent = records::intent(caller, permit, &forward.body);
    let (store, signer) = (audit.store(), audit.signer());
    let unavailable = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "audit store refused an intent: call refused");
        Rejection::AuditUnavailable
    };
    let started = Instant::now();
    if route.operation == voucher::ISSUE {
        // The reservation and the intent commit together, or neither does.
        let ask = voucher::ask(credential, permit, &forward.body, caller.request_id)?;
        let held = store.ledger().reserve(ask, intent, signer).await;
        audit.appended(started, &held);
        let money = match held {
            Ok(Reserved::Held(h)) => Ok(Money::Voucher(h)),
            Ok(Reserved::Undelegated) => Ok(Money::Audited),
            Ok(Reserved::Refused(r)) => Err(Rejection::Delegation(r)),
            Err(e) => Err(unavailable(e)),
        };
        return counted(audit, money);
    }
    if let Some(f) = funds::fund_ask(credential, route.operation, &forward.body)? {
        let id = caller.request_id.to_owned();
        let held = store
            .funds()
            .reserve(f.grantees, id, f.direction, f.amount, intent, signer)
            .await;
        audit.appended(started, &held);
        let money = match held {
            Ok(FundReserved::Held(g)) => Ok(Money::Funds(g)),
            Ok(FundReserved::Uncapped) => Ok(Money::Audited),
            Ok(FundReserved::Refused(r)) => Err(Rejection::FundCap(r)),
            Err(e) => Err(unavailable(e)),
        };
        return counted(audit, money);
    }
    audit.append(intent).await.map_err(|e| {
        tracing::error!(error = %e, "audit store refused an intent: call refused");
        Rejection::AuditUnavailable
    })?;
    Ok(Money::Audited)
}

/// Counts what the ledger decided: a hold made, or refused with its code (an audit store
/// that could not take the intent is counted as a failed write, not as the ledger's refusal).
fn counted(audit: &Audit, money: Result<Money, Rejection>) -> Result<Money, Rejection> {
    if let Some(m) = audit.metrics() {
        match &money {
            Ok(Money::Voucher(_) | Money::Funds(_)) => m.ledger.reserved(),
            Err(r @ (Rejection::Delegation(_) | Rejection::FundCap(_))) => {
                m.ledger.refused(r.answer().code);
            }
            _ => {}
        }
    }
    money
}

/// A money-moving call Tiergate refused before its intent was written: intent and outcome
/// together.
pub async fn refused(audit: &Audit, caller: &Caller<'_>, ctx: &Ctx, r: &Rejection) {
    let Some(route) = ctx.route else { return };
    if !route.money_moving || ctx.money.audited() || matches!(r, Rejection::AuditUnavailable) {
        return;
    }
    // A caller over its limit is counted, not recorded call by call (a storm must not take
    // the chain's lock from the calls that move money).
    if let Rejection::RateLimited(_) = r {
        let key = tally::Key {
            operation: route.operation.to_owned(),
            principal: Some(caller.principal.partner_id.clone()),
            code: r.answer().code.to_owned(),
            reason: "rate limited".into(),
        };
        audit.count(key, Some(caller.request_id.to_owned()));
        return;
    }
    let entries = records::refusal(
        caller,
        route,
        &ctx.body,
        r.answer().code,
        &r.to_string(),
        r.rule(),
    );
    for e in entries {
        if let Err(err) = audit.append(e).await {
            tracing::error!(error = %err, "could not audit a refusal");
            return;
        }
    }
}

/// After the answer: the audit outcome, with the settlement of what was held. `written` is
/// the status of the answer that went out; the vendor's is that, unless Tiergate wrote the
/// answer itself (then none came: 0). A reservation whose settlement cannot be written stays
/// held; reconciliation settles it from the vendor's records.
pub async fn settle(
    audit: &Audit,
    reconcile: &Notify,
    ctx: &mut Ctx,
    session: &Session,
    written: u16,
) {
    let money = std::mem::take(&mut ctx.money);
    let ctx = &*ctx;
    let (Some(permit), Some(caller)) = (ctx.permit.as_ref(), caller(ctx, session)) else {
        return;
    };
    let status = if ctx.refused.is_some() { 0 } else { written };
    let answer = ctx.kept.as_deref().unwrap_or_default();
    let latency = ctx.started.elapsed().as_secs_f64() * 1000.0;
    let outcome = records::outcome(&caller, permit, status, answer, latency);
    let (store, signer) = (audit.store(), audit.signer());
    let started = Instant::now();
    let written = match money {
        Money::Untouched => return,
        Money::Funds(grantees) => {
            let moved = funds::funds_moved(status, ctx.sent);
            let id = ctx.request_id.clone();
            let funds = store.funds();
            let settled = funds.settle(grantees, id, moved, outcome, signer).await;
            audit.appended(started, &settled);
            settled.map_err(|e| e.to_string())
        }
        Money::Voucher(hold) => {
            let settle = voucher::settlement(status, ctx.sent, answer);
            let ledger = store.ledger();
            let settled = ledger.settle(hold, settle, outcome, signer).await;
            audit.appended(started, &settled);
            settled.map_err(|e| e.to_string())
        }
        Money::Audited => audit
            .append(outcome)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
    };
    if let Err(e) = written {
        tracing::error!(request_id = %ctx.request_id, error = %e, "could not audit an outcome");
    }
    if permit.route().operation == voucher::RECLAIM && (200..300).contains(&status) {
        note_reclaim(audit, reconcile, ctx).await;
    }
}

/// A voucher reclaimed: reconciliation credits its slice with what the vendor returned.
async fn note_reclaim(audit: &Audit, reconcile: &Notify, ctx: &Ctx) {
    let forwarded = ctx
        .forward
        .as_ref()
        .map(|f| &f.body[..])
        .unwrap_or_default();
    let Some(coupon) = voucher::reclaimed_coupon(forwarded) else {
        return;
    };
    match audit.store().ledger().reclaim_seen(&coupon).await {
        Ok(true) => reconcile.notify_one(),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, coupon, "could not note a reclaim for the ledger"),
    }
}
