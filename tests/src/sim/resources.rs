//! Customer resources: lists (the customer's own, or a partner's customers'), renewal,
//! unsubscription with refund, changes to on-demand, and auto-renewal settings.

use super::books::{BILL_REFUND, BILL_REFUND_TO_ON_DEMAND, Charge};
use super::errors::{ApiError, codes};
use super::payment::{self, Choice, cents};
use super::request::{Call, OpResult, Reply, fmt_time, money_json, paged, parse_time};
use super::scope;
use super::trade::{
    CLOSED, COMPLETED, Charging, IN_USE, Order, OrderLine, PENDING_PAYMENT, POLICY_AUTO_RENEW,
    POLICY_TO_ON_DEMAND, RENEWAL, Resource, TO_ON_DEMAND, UNSUBSCRIBE,
};
use super::world::World;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn resource_json(w: &World, r: &Resource) -> Value {
    let p = w.products.get(&r.product_id);
    let service = p.map(|p| p.service_type_code.clone()).unwrap_or_default();
    json!({
        "id": r.resource_id, "resource_id": r.resource_id, "resource_name": r.name,
        "region_code": p.map(|p| p.region_code.clone()),
        "service_type_code": service,
        "service_type_name": super::reference::service_name(&service),
        "resource_type_code": p.map(|p| p.resource_type_code.clone()),
        "resource_spec_code": p.map(|p| p.resource_spec_code.clone()),
        "product_id": r.product_id, "is_main_resource": 1, "status": r.status,
        "effective_time": r.effective_time, "expire_time": r.expire_time,
        "expire_policy": r.expire_policy,
        "product_spec_desc": p.map(|p| p.spec_desc.clone()),
    })
}

/// POST /v2/orders/suscriptions/resources/query (the vendor's spelling): yearly/monthly
/// resources. A partner must name its customer.
pub fn list(w: &mut World, c: &Call) -> OpResult {
    let who = match c.customer_id() {
        Ok(me) => me.to_owned(),
        Err(_) => scope::customer(w, c, &c.req_str("customer_id")?)?
            .id
            .clone(),
    };
    let ids = c.str_list("resource_ids")?;
    let order = c.opt_str("order_id")?;
    let service = c.opt_str("service_type_code")?;
    let statuses: Vec<i64> = match c.body.get("status_list") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    };
    let (eb, ee) = (
        c.opt_str("expire_time_begin")?,
        c.opt_str("expire_time_end")?,
    );
    let page = c.page_within(10, 500)?;
    let all: Vec<Value> = w
        .resources
        .values()
        .filter(|r| r.customer_id == who && r.charging == Charging::Period)
        .filter(|r| ids.is_empty() || ids.contains(&r.resource_id))
        .filter(|r| {
            order
                .as_ref()
                .is_none_or(|o| r.order_id.as_ref() == Some(o))
        })
        .filter(|r| {
            service.as_ref().is_none_or(|s| {
                w.products
                    .get(&r.product_id)
                    .is_some_and(|p| p.service_type_code == *s)
            })
        })
        .filter(|r| statuses.is_empty() || statuses.contains(&i64::from(r.status)))
        .filter(|r| {
            let t = r.expire_time.as_deref().and_then(parse_time);
            let b = |x: &Option<String>| x.as_deref().and_then(parse_time);
            b(&eb).is_none_or(|b| t.is_some_and(|t| t >= b))
                && b(&ee).is_none_or(|e| t.is_some_and(|t| t <= e))
        })
        .map(|r| resource_json(w, r))
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "data": paged(all, page)}),
    ))
}

/// POST /v2/partners/sub-customers/on-demand-resources/query: a resale customer's
/// on-demand resources, for its partner.
pub fn on_demand(w: &mut World, c: &Call) -> OpResult {
    let who = scope::resale_customer(w, c, &c.req_str("customer_id")?)?
        .id
        .clone();
    let region = c.opt_str("region_code")?;
    let service = c.opt_str("service_type_code")?;
    let ids = c.str_list("resource_ids")?;
    let status = c.opt_int("status")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .resources
        .values()
        .filter(|r| r.customer_id == who && r.charging == Charging::OnDemand)
        .filter(|r| ids.is_empty() || ids.contains(&r.resource_id))
        .filter_map(|r| Some((r, w.products.get(&r.product_id)?)))
        .filter(|(_, p)| region.as_ref().is_none_or(|v| *v == p.region_code))
        .filter(|(_, p)| service.as_ref().is_none_or(|v| *v == p.service_type_code))
        .map(|(r, p)| {
            // On-demand statuses: 1 normal, 3 frozen, 6 closed.
            let st = match r.status {
                IN_USE => 1,
                CLOSED => 6,
                _ => 3,
            };
            (st, r, p)
        })
        .filter(|(st, ..)| status.is_none_or(|s| s == *st))
        .map(|(st, r, p)| {
            json!({
                "customer_id": r.customer_id, "region_code": p.region_code,
                "service_type_code": p.service_type_code,
                "resource_type_code": p.resource_type_code,
                "service_type_name": super::reference::service_name(&p.service_type_code),
                "resource_id": r.resource_id, "resource_name": r.name,
                "effective_time": r.effective_time, "expire_time": r.expire_time,
                "status": st, "resource_spec_code": p.resource_spec_code,
                "product_spec_desc": p.spec_desc,
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "resources": paged(all, page)}),
    ))
}

fn fail(e: &ApiError, id: &str) -> Value {
    json!({"error_code": e.code, "error_msg": e.msg, "resource_id": id})
}

fn not_found(id: &str) -> ApiError {
    ApiError::bad(
        codes::RESOURCE_NOT_FOUND,
        format!("The resource {id} does not exist."),
    )
}

/// The caller's own yearly/monthly resource, not closed.
fn own_period<'w>(w: &'w World, me: &str, id: &str) -> Result<&'w Resource, ApiError> {
    w.resources
        .get(id)
        .filter(|r| r.customer_id == me && r.charging == Charging::Period && r.status != CLOSED)
        .ok_or_else(|| not_found(id))
}

fn resource_ids(c: &Call) -> Result<Vec<String>, ApiError> {
    let ids = c.str_list("resource_ids")?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::param("resource_ids", "must hold 1 to 100 ids"));
    }
    Ok(ids)
}

/// POST /v2/orders/subscriptions/resources/renew: one renewal order per resource, paid from
/// the balance at once when `is_auto_pay` is 1 (else left pending for `pay_orders`).
pub fn renew(w: &mut World, c: &Call) -> OpResult {
    let me = scope::unfrozen(w, c)?.id.clone();
    let ids = resource_ids(c)?;
    let period_type = c
        .opt_int("period_type")?
        .ok_or_else(|| ApiError::param("period_type", "is required"))?;
    let num = c
        .opt_int("period_num")?
        .ok_or_else(|| ApiError::param("period_num", "is required"))?;
    let max = match period_type {
        2 => 11,
        3 => 3,
        _ => {
            return Err(ApiError::param(
                "period_type",
                "must be 2 (month) or 3 (year)",
            ));
        }
    };
    if !(1..=max).contains(&num) {
        return Err(ApiError::param(
            "period_num",
            &format!("must be between 1 and {max}"),
        ));
    }
    let auto_pay = c.opt_int("is_auto_pay")?.unwrap_or(0) == 1;
    let (mut orders, mut fails) = (Vec::new(), Vec::new());
    for id in &ids {
        let priced = own_period(w, &me, id).and_then(|r| {
            if w.orders.values().any(|o| {
                o.status == PENDING_PAYMENT
                    && o.lines.iter().any(|l| l.resource_id.as_ref() == Some(id))
            }) {
                return Err(ApiError::bad(
                    codes::RESOURCE_BUSY,
                    "The resource has a pending order.",
                ));
            }
            let p = w.products.get(&r.product_id).ok_or_else(|| not_found(id))?;
            let price = p.period_price(period_type, num).ok_or_else(|| {
                ApiError::param("period_type", "the product is not sold by this period")
            })?;
            Ok((p.service_type_code.clone(), p.product_id.clone(), price))
        });
        let (service, product, price) = match priced {
            Ok(x) => x,
            Err(e) => {
                fails.push(fail(&e, id));
                continue;
            }
        };
        let order_id = w.new_id("CS");
        let line_id = w.new_id("OL");
        w.orders.insert(
            order_id.clone(),
            Order {
                order_id: order_id.clone(),
                customer_id: me.clone(),
                service_type_code: service,
                order_type: RENEWAL,
                status: PENDING_PAYMENT,
                official_amount: price,
                amount: price,
                discount_amount: Decimal::ZERO,
                coupon_amount: Decimal::ZERO,
                cash_amount: Decimal::ZERO,
                create_time: c.now_str(),
                payment_time: None,
                lines: vec![OrderLine {
                    line_id,
                    product_id: product,
                    period_type: period_type as u8,
                    period_num: num as u32,
                    official_amount: price,
                    resource_id: Some(id.clone()),
                }],
                discounts: Vec::new(),
                applied_discount: None,
                coupons_used: Vec::new(),
                base_order_id: None,
            },
        );
        if auto_pay && let Err(e) = payment::pay(w, &me, &order_id, &Choice::default(), c.now) {
            // An unpaid renewal stays pending; the caller learns why.
            fails.push(fail(&e, id));
        }
        orders.push(order_id);
    }
    Ok(Reply::ok(
        json!({"order_ids": orders, "fail_resource_infos": fails}),
    ))
}

/// The unused share of what was paid in cash for the current term, as of now.
fn unused_cash(r: &Resource, now: time::OffsetDateTime) -> Decimal {
    let from = parse_time(&r.effective_time);
    let to = r.expire_time.as_deref().and_then(parse_time);
    match (from, to) {
        (Some(f), Some(t)) if t > now && t > f => {
            let left = (t - now.max(f)).whole_seconds();
            let total = (t - f).whole_seconds();
            cents(r.paid_cash * Decimal::from(left) / Decimal::from(total))
        }
        _ => Decimal::ZERO,
    }
}

/// Refunds `r`'s unused cash to its owner with a completed refund order; returns its id.
fn refund(
    w: &mut World,
    r: &Resource,
    order_type: u8,
    bill_type: u8,
    now: time::OffsetDateTime,
) -> String {
    let amount = unused_cash(r, now);
    let stamp = fmt_time(now);
    let order_id = w.new_id("CS");
    let line_id = w.new_id("OL");
    let product = w.products.get(&r.product_id).cloned();
    let service = product
        .as_ref()
        .map(|p| p.service_type_code.clone())
        .unwrap_or_default();
    w.orders.insert(
        order_id.clone(),
        Order {
            order_id: order_id.clone(),
            customer_id: r.customer_id.clone(),
            service_type_code: service.clone(),
            order_type,
            status: COMPLETED,
            official_amount: amount,
            amount,
            discount_amount: Decimal::ZERO,
            coupon_amount: Decimal::ZERO,
            cash_amount: amount,
            create_time: stamp.clone(),
            payment_time: Some(stamp.clone()),
            lines: vec![OrderLine {
                line_id,
                product_id: r.product_id.clone(),
                period_type: 0,
                period_num: 0,
                official_amount: amount,
                resource_id: Some(r.resource_id.clone()),
            }],
            discounts: Vec::new(),
            applied_discount: None,
            coupons_used: Vec::new(),
            base_order_id: r.order_id.clone(),
        },
    );
    if let Some(x) = w.customers.get_mut(&r.customer_id) {
        x.balance += amount;
    }
    if amount > Decimal::ZERO {
        w.post_change(
            &r.customer_id,
            None,
            "REFUND",
            &order_id,
            amount,
            &stamp,
            Some(&service),
        );
    }
    if let Some(p) = &product {
        let charge = Charge {
            customer_id: &r.customer_id,
            trade_id: &order_id,
            resource_id: &r.resource_id,
            product: p,
            charging: Charging::Period,
            bill_type,
        };
        w.post_fee(&charge, &stamp, amount, amount, Decimal::ZERO);
    }
    order_id
}

/// POST /v2/orders/subscriptions/resources/unsubscribe: closes the resources and refunds the
/// unused cash to the balance through a refund order.
pub fn unsubscribe(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?.to_owned();
    let ids = resource_ids(c)?;
    match c.opt_int("unsubscribe_type")? {
        Some(1) => {}
        Some(2) => {
            return Err(ApiError::param(
                "unsubscribe_type",
                "2 (renewed periods only) applies only to resources with renewed periods not yet started",
            ));
        }
        _ => return Err(ApiError::param("unsubscribe_type", "is required: 1 or 2")),
    }
    let (mut orders, mut fails) = (Vec::new(), Vec::new());
    for id in &ids {
        let r = match own_period(w, &me, id) {
            Ok(r) => r.clone(),
            Err(e) => {
                fails.push(fail(&e, id));
                continue;
            }
        };
        orders.push(refund(w, &r, UNSUBSCRIBE, BILL_REFUND, c.now));
        if let Some(x) = w.resources.get_mut(id) {
            x.status = CLOSED;
            x.paid_cash = Decimal::ZERO;
            x.expire_time = Some(c.now_str());
        }
    }
    Ok(Reply::ok(
        json!({"order_ids": orders, "fail_resource_infos": fails}),
    ))
}

/// POST /v2/orders/subscriptions/resources/to-on-demand: set or cancel "to on-demand at
/// expiry" (`SET_UP` / `CANCEL`); per-resource failures in `error_details`.
pub fn to_on_demand(w: &mut World, c: &Call) -> OpResult {
    let me = scope::unfrozen(w, c)?.id.clone();
    let set = match c.req_str("operation")?.as_str() {
        "SET_UP" => true,
        "CANCEL" => false,
        _ => return Err(ApiError::param("operation", "must be SET_UP or CANCEL")),
    };
    let mut errors = Vec::new();
    for id in resource_ids(c)? {
        if let Err(e) = own_period(w, &me, &id) {
            errors.push(e.detail(&id));
            continue;
        }
        if let Some(r) = w.resources.get_mut(&id) {
            if set {
                r.expire_policy = POLICY_TO_ON_DEMAND;
            } else if r.expire_policy == POLICY_TO_ON_DEMAND {
                r.expire_policy = 0;
            }
        }
    }
    Ok(Reply::ok(json!({"error_details": errors})))
}

/// POST /v2/orders/subscriptions/resources/to-on-demand/instantly: the resource becomes
/// on-demand now; the unused cash comes back to the balance.
pub fn to_on_demand_now(w: &mut World, c: &Call) -> OpResult {
    let me = scope::unfrozen(w, c)?.id.clone();
    let mut results = Vec::new();
    for id in resource_ids(c)? {
        let r = match own_period(w, &me, &id) {
            Ok(r) => r.clone(),
            Err(e) => {
                results.push(json!({"resource_id": id, "result": "FAIL",
                    "error_code": e.code, "error_msg": e.msg}));
                continue;
            }
        };
        let order = refund(w, &r, TO_ON_DEMAND, BILL_REFUND_TO_ON_DEMAND, c.now);
        if let Some(x) = w.resources.get_mut(&id) {
            x.charging = Charging::OnDemand;
            x.expire_time = None;
            x.expire_policy = 0;
            x.paid_cash = Decimal::ZERO;
            x.status = IN_USE;
        }
        results.push(json!({"resource_id": id, "result": "SUCCESS", "order_id": order}));
    }
    Ok(Reply::ok(json!({"to_ondemand_service_results": results})))
}

/// POST /v2/orders/subscriptions/resources/renew/config
pub fn renew_config(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?.to_owned();
    let name = c.req_str("config_name")?;
    let value = c.req_str("config_value")?;
    let n: i64 = value
        .parse()
        .map_err(|_| ApiError::param("config_value", "must be a number"))?;
    let ok = match name.as_str() {
        "DEDUCTION_DATE" => (2..=7).contains(&n),
        "EXPIRE_DATE" => (1..=28).contains(&n) || n == -1,
        _ => {
            return Err(ApiError::param(
                "config_name",
                "must be DEDUCTION_DATE or EXPIRE_DATE",
            ));
        }
    };
    if !ok {
        return Err(ApiError::param("config_value", "out of range"));
    }
    if let Some(x) = w.customers.get_mut(&me) {
        x.renew_config.insert(name, value);
    }
    Ok(Reply::ok(json!({})))
}

/// POST /v2/orders/subscriptions/resources/autorenew/{resource_id} (answers 204).
pub fn auto_renew(w: &mut World, c: &Call) -> OpResult {
    let me = scope::unfrozen(w, c)?.id.clone();
    let id = c.path_param("resource_id")?;
    let times = c.opt_int("auto_renew_times")?;
    if times.is_some_and(|t| !(0..=99).contains(&t)) {
        return Err(ApiError::param(
            "auto_renew_times",
            "must be between 0 and 99",
        ));
    }
    let r = own_period(w, &me, &id)?;
    if r.status != IN_USE {
        return Err(ApiError::bad(
            codes::RESOURCE_NOT_RENEWABLE,
            "The resource has expired or is frozen: auto-renewal is not allowed.",
        ));
    }
    if let Some(r) = w.resources.get_mut(&id) {
        r.expire_policy = POLICY_AUTO_RENEW;
        r.auto_renew_times = Some(times.unwrap_or(0) as u32);
    }
    Ok(Reply::no_content())
}

/// DELETE /v2/orders/subscriptions/resources/autorenew/{resource_id} (answers 204).
pub fn cancel_auto_renew(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?.to_owned();
    let id = c.path_param("resource_id")?;
    own_period(w, &me, &id)?;
    if let Some(r) = w.resources.get_mut(&id)
        && r.expire_policy == POLICY_AUTO_RENEW
    {
        r.expire_policy = 0;
        r.auto_renew_times = None;
    }
    Ok(Reply::no_content())
}

/// Whether a resource's renewal price can be quoted: the caller's own, in use or expired.
pub fn quotable<'w>(w: &'w World, me: &str, id: &str) -> Result<&'w Resource, ApiError> {
    own_period(w, me, id)
}

/// An amount as the vendor's string-typed amount fields carry it.
pub fn money_str(d: Decimal) -> String {
    money_json(d).to_string()
}
