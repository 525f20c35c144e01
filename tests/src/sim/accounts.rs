//! Account change records (partner and customer), customers' balances for their partner,
//! and voucher lists and changes.

use super::books::AccountChange;
use super::errors::ApiError;
use super::request::{Call, Caller, OpResult, Reply, money_json, paged, parse_time};
use super::resources::money_str;
use super::scope;
use super::world::World;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn within(c: &Call, t: &str, from: &str, to: &str) -> Result<bool, ApiError> {
    let t = parse_time(t);
    let b = |f: &str| -> Result<Option<time::OffsetDateTime>, ApiError> {
        Ok(c.opt_str(f)?.as_deref().and_then(parse_time))
    };
    let (f, e) = (b(from)?, b(to)?);
    Ok(f.is_none_or(|f| t.is_some_and(|t| t >= f)) && e.is_none_or(|e| t.is_some_and(|t| t <= e)))
}

/// Changes of `owner`'s cash (or, with `coupons`, voucher) balances matching the filters.
fn changes<'w>(
    w: &'w World,
    c: &Call,
    owner: &str,
    coupons: bool,
) -> Result<Vec<&'w AccountChange>, ApiError> {
    let trade = c.opt_str("trade_type")?;
    let trade_id = c.opt_str("trade_id")?;
    let rev = c.opt_str("revenue_expense_type")?;
    let coupon = c.opt_str("coupon_id")?;
    let mut out = Vec::new();
    for r in w
        .account_changes
        .iter()
        .filter(|r| r.owner == owner && r.coupon_id.is_some() == coupons)
    {
        let revenue = r.amount >= Decimal::ZERO;
        if trade.as_ref().is_some_and(|t| *t != r.trade_type)
            || trade_id.as_ref().is_some_and(|t| *t != r.trade_id)
            || coupon
                .as_ref()
                .is_some_and(|x| r.coupon_id.as_ref() != Some(x))
            || rev.as_deref().is_some_and(|v| (v == "REVENUE") != revenue)
            || !within(c, &r.trade_time, "trade_time_begin", "trade_time_end")?
        {
            continue;
        }
        out.push(r);
    }
    out.reverse();
    Ok(out)
}

/// GET /v2/accounts/partner-accounts/account-change-records
pub fn partner_changes(w: &mut World, c: &Call) -> OpResult {
    let page = c.page()?;
    let all: Vec<Value> = changes(w, c, &c.acting, false)?
        .into_iter()
        .map(|r| {
            json!({
                "account_change_id": r.id, "trade_detail_type": format!("SOURCE_OPERATION_{}", r.trade_type),
                "trade_time": r.trade_time, "trade_id": r.trade_id,
                "change_amount": money_str(r.amount), "balance_after_change": money_str(r.balance_after),
                "type": if r.amount >= Decimal::ZERO { "1" } else { "2" },
                "customer_id": r.counterpart,
                "account_name": r.counterpart.as_ref().and_then(|id| w.customers.get(id)).map(|x| x.login().to_owned()),
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "currency": "CNY", "records": paged(all, page)}),
    ))
}

fn customer_record(r: &AccountChange, login: &str) -> Value {
    json!({
        "account_change_id": r.id, "coupon_id": r.coupon_id,
        "trade_detail_type": r.trade_type, "trade_time": r.trade_time, "trade_id": r.trade_id,
        "change_amount": money_str(r.amount), "balance_after_change": money_str(r.balance_after),
        "revenue_expense_type": if r.amount >= Decimal::ZERO { "REVENUE" } else { "EXPENSE" },
        "bill_cycle": r.trade_time.get(..7), "account_name": login,
        "cloud_service_type_name": r.service_type_code.as_deref().map(super::reference::service_name),
    })
}

/// GET /v2/accounts/customer-accounts/account-change-records
pub fn customer_changes(w: &mut World, c: &Call) -> OpResult {
    own_changes(w, c, false)
}

/// GET /v2/promotions/benefits/account-change-records
pub fn coupon_changes(w: &mut World, c: &Call) -> OpResult {
    own_changes(w, c, true)
}

/// The calling customer's own change records: of its vouchers, or of its cash account.
fn own_changes(w: &mut World, c: &Call, vouchers: bool) -> OpResult {
    let me = c.customer_id()?;
    let login = w
        .customers
        .get(me)
        .map(|x| x.login().to_owned())
        .unwrap_or_default();
    let page = c.page()?;
    let all: Vec<Value> = changes(w, c, me, vouchers)?
        .into_iter()
        .map(|r| customer_record(r, &login))
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "currency": "CNY", "records": paged(all, page)}),
    ))
}

/// POST /v2/accounts/customer-accounts/balances/batch-query: resale customers only (an
/// advisory customer pays the vendor itself, so its partner cannot see its balance).
pub fn customers_balances(w: &mut World, c: &Call) -> OpResult {
    let ids: Vec<String> = c
        .body
        .get("customer_infos")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("customer_id")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::param(
            "customer_infos",
            "must hold 1 to 100 customers",
        ));
    }
    let mut out = Vec::new();
    for id in &ids {
        let x = scope::resale_customer(w, c, id)?;
        out.push(json!({"customer_id": x.id, "amount": money_json(x.balance),
            "debt_amount": 0, "currency": "CNY", "measure_id": 1}));
    }
    Ok(Reply::ok(json!({"customer_balances": out})))
}

/// GET /v2/promotions/benefits/coupons: the caller's own vouchers (a customer's are those
/// its partner issued to it). Customer statuses: 2 usable, 3 used up, 4 expired, 5 reclaimed.
pub fn customer_coupons(w: &mut World, c: &Call) -> OpResult {
    let owner = match &c.caller {
        Caller::Customer { id } => id.clone(),
        Caller::Partner { .. } => c.acting.clone(),
    };
    let coupon_id = c.opt_str("coupon_id")?;
    let status = c.opt_int("status")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .coupons
        .values()
        .filter(|x| x.customer_id == owner)
        .map(|x| {
            let st = match x.status {
                4 => 5,
                _ if x.balance.is_zero() => 3,
                _ if parse_time(&x.expire_time).is_some_and(|t| t <= c.now) => 4,
                _ => 2,
            };
            (st, x)
        })
        .filter(|(_, x)| coupon_id.as_ref().is_none_or(|v| *v == x.coupon_id))
        .filter(|(st, _)| status.is_none_or(|s| s == *st))
        .map(|(st, x)| {
            json!({
                "coupon_id": x.coupon_id, "status": st, "customer_id": x.customer_id,
                "coupon_type": 1, "measure_id": 1, "face_value": money_json(x.face_value),
                "valid_time": x.effective_time, "expire_time": x.expire_time,
                "create_time": x.create_time, "balance": money_json(x.balance),
                "coupon_usage": x.memo, "currency": "CNY", "source_id": x.issuer,
                "use_limits": x.cloud_service_types.iter().map(|s| json!({"limit_key": "cloud_service_types", "value1": s})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"count": all.len(), "user_coupons": paged(all, page)}),
    ))
}
