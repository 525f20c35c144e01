//! Customer orders: lists and details for a customer or its partner; payment and
//! cancellation by the customer only.

use super::errors::{ApiError, codes};
use super::payment::{self, Choice};
use super::request::{Call, OpResult, Reply, money_json, paged, parse_time};
use super::scope;
use super::trade::{CANCELLED, Order, PENDING_PAYMENT, UNSUBSCRIBE};
use super::world::World;
use serde_json::{Value, json};

fn service_name(code: &str) -> String {
    super::reference::service_name(code)
}

fn amount_info(o: &Order) -> Value {
    json!({
        "discounts": if o.discount_amount.is_zero() { json!([]) } else {
            json!([{"discount_type": "3", "discount_amount": money_json(o.discount_amount)}])
        },
        "flexipurchase_coupon_amount": 0, "coupon_amount": money_json(o.coupon_amount),
        "stored_card_amount": 0, "commission_amount": 0, "consumed_amount": money_json(o.cash_amount),
    })
}

fn order_json(w: &World, o: &Order) -> Value {
    json!({
        "order_id": o.order_id, "customer_id": o.customer_id,
        "service_type_code": o.service_type_code,
        "service_type_name": service_name(&o.service_type_code), "source_type": 1,
        "status": o.status, "order_type": o.order_type,
        "amount_after_discount": money_json(o.amount),
        "official_amount": money_json(o.official_amount), "measure_id": 1,
        "create_time": o.create_time, "payment_time": o.payment_time, "currency": "CNY",
        "amount_info": amount_info(o),
        "user_name": w.customers.get(&o.customer_id).map(|c| c.login().to_owned()),
    })
}

/// The order named, if the caller may see it (another partner's order does not exist for it).
fn visible_order<'w>(w: &'w World, c: &Call, id: &str) -> Result<&'w Order, ApiError> {
    if let Some(cust) = c.opt_str("customer_id")?.filter(|s| !s.is_empty()) {
        scope::customer(w, c, &cust)?;
    }
    w.orders
        .get(id)
        .filter(|o| scope::visible(w, c, &o.customer_id))
        .ok_or_else(|| {
            ApiError::bad(
                codes::ORDER_NOT_FOUND,
                format!("The order {id} does not exist."),
            )
        })
}

fn in_range(t: Option<&str>, from: &Option<String>, to: &Option<String>) -> bool {
    let t = t.and_then(parse_time);
    let bound = |b: &Option<String>| b.as_deref().and_then(parse_time);
    match (bound(from), bound(to)) {
        (None, None) => true,
        (f, e) => t.is_some_and(|t| f.is_none_or(|f| t >= f) && e.is_none_or(|e| t <= e)),
    }
}

/// GET /v2/orders/customer-orders
pub fn list(w: &mut World, c: &Call) -> OpResult {
    let customers = scope::customers(w, c, "customer_id")?;
    let id = c.opt_str("order_id")?;
    let service = c.opt_str("service_type_code")?;
    let status = c.opt_int("status")?;
    let kind = c.opt_str("order_type")?;
    let (cb, ce) = (
        c.opt_str("create_time_begin")?,
        c.opt_str("create_time_end")?,
    );
    let (pb, pe) = (
        c.opt_str("payment_time_begin")?,
        c.opt_str("payment_time_end")?,
    );
    let page = c.page()?;
    let mut all: Vec<&Order> = w
        .orders
        .values()
        .filter(|o| customers.contains(&o.customer_id))
        .filter(|o| id.as_ref().is_none_or(|v| *v == o.order_id))
        .filter(|o| service.as_ref().is_none_or(|v| *v == o.service_type_code))
        .filter(|o| status.is_none_or(|s| s == i64::from(o.status)))
        .filter(|o| kind.as_ref().is_none_or(|k| *k == o.order_type.to_string()))
        .filter(|o| in_range(Some(&o.create_time), &cb, &ce))
        .filter(|o| in_range(o.payment_time.as_deref(), &pb, &pe))
        .collect();
    // The vendor's default is newest first; `order_by=createTime` is oldest first.
    all.sort_by(|a, b| {
        b.create_time
            .cmp(&a.create_time)
            .then(b.order_id.cmp(&a.order_id))
    });
    if c.opt_str("order_by")?.as_deref() == Some("createTime") {
        all.reverse();
    }
    let total = all.len();
    let infos: Vec<Value> = paged(all, page)
        .into_iter()
        .map(|o| order_json(w, o))
        .collect();
    Ok(Reply::ok(
        json!({"total_count": total, "order_infos": infos}),
    ))
}

/// GET /v2/orders/customer-orders/details/{order_id}
pub fn details(w: &mut World, c: &Call) -> OpResult {
    let id = c.path_param("order_id")?;
    let o = visible_order(w, c, &id)?;
    let page = c.page()?;
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            let p = w.products.get(&l.product_id);
            json!({
                "order_line_item_id": l.line_id, "service_type_code": o.service_type_code,
                "service_type_name": service_name(&o.service_type_code),
                "product_id": l.product_id,
                "product_spec_desc": p.map(|p| p.spec_desc.clone()),
                "period_type": l.period_type, "period_num": l.period_num,
                "subscription_num": 1, "official_amount": money_json(l.official_amount),
                "currency": "CNY", "order_id": o.order_id,
                "category_code": p.map(|p| p.resource_type_code.clone()),
                "base_product_info": {"product_id": l.product_id,
                    "product_spec_desc": p.map(|p| p.spec_desc.clone())},
            })
        })
        .collect();
    Ok(Reply::ok(json!({
        "total_count": lines.len(), "order_info": order_json(w, o),
        "order_line_items": paged(lines, page),
    })))
}

/// GET /v2/orders/customer-orders/order-discounts: what a pending order may be paid with.
pub fn discounts(w: &mut World, c: &Call) -> OpResult {
    let id = c.req_str("order_id")?;
    let o = visible_order(w, c, &id)?;
    let offered = if o.status == PENDING_PAYMENT {
        o.discounts.as_slice()
    } else {
        &[]
    };
    let items: Vec<Value> = offered
        .iter()
        .map(|d| {
            let lines: Vec<Value> = o
                .lines
                .iter()
                .map(|l| json!({"order_line_item_ids": [l.line_id], "discount_mode": 1,
                    "discount_ratio": money_json(d.ratio),
                    "discount_amount": money_json(payment::cents(l.official_amount * (rust_decimal::Decimal::ONE - d.ratio)))}))
                .collect();
            json!({"discount_id": d.discount_id, "discount_value": d.ratio.to_string(),
                "discount_type": d.discount_type,
                "orders": [{"order_id": o.order_id, "order_line_items": lines}]})
        })
        .collect();
    Ok(Reply::ok(json!({"discounts": items})))
}

/// GET /v2/orders/customer-orders/order-coupons: the customer's vouchers usable on it.
pub fn coupons(w: &mut World, c: &Call) -> OpResult {
    let id = c.req_str("order_id")?;
    let o = visible_order(w, c, &id)?;
    let usable: Vec<Value> = if o.status != PENDING_PAYMENT {
        Vec::new()
    } else {
        w.coupons
            .values()
            .filter(|x| x.customer_id == o.customer_id && x.status == 1)
            .filter(|x| x.balance > rust_decimal::Decimal::ZERO)
            .filter(|x| parse_time(&x.expire_time).is_some_and(|t| t > c.now))
            .filter(|x| x.cloud_service_types.is_empty() || x.cloud_service_types.contains(&o.service_type_code))
            .map(|x| json!({
                "coupon_id": x.coupon_id, "status": 2, "coupon_type": 1, "measure_id": 1,
                "face_value": money_json(x.face_value), "balance": money_json(x.balance),
                "effective_time": x.effective_time, "expire_time": x.expire_time,
                "create_time": x.create_time, "coupon_usage": x.memo, "coupon_group": 1,
                "use_limits": x.cloud_service_types.iter().map(|s| json!({"limit_key": "cloud_service_types", "value1": s})).collect::<Vec<_>>(),
            }))
            .collect()
    };
    Ok(Reply::ok(
        json!({"count": usable.len(), "user_coupons": usable,
        "coupon_max_use_quantity": [{"coupon_type": 1, "coupon_group": 1, "use_quantity_value": 5}]}),
    ))
}

/// GET /v2/orders/customer-orders/refund-orders: what an unsubscription refunded.
pub fn refund_details(w: &mut World, c: &Call) -> OpResult {
    let id = c.req_str("order_id")?;
    if matches!(c.caller, super::request::Caller::Partner { .. }) {
        // The vendor needs the customer when a partner asks.
        c.req_str("customer_id")?;
    }
    let o = visible_order(w, c, &id)?;
    if o.order_type != UNSUBSCRIBE {
        return Err(ApiError::bad(
            codes::NOT_REFUND_ORDER,
            "The order is not an unsubscription or downgrade order.",
        ));
    }
    let infos: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            let p = w.products.get(&l.product_id);
            json!({
                "id": l.line_id, "amount": money_json(l.official_amount), "measure_id": "1",
                "customer_id": o.customer_id,
                "resource_type_code": p.map(|p| p.resource_type_code.clone()),
                "service_type_code": o.service_type_code,
                "service_type_name": service_name(&o.service_type_code),
                "region_code": p.map(|p| p.region_code.clone()),
                "base_order_id": o.base_order_id,
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": infos.len(), "refund_infos": infos}),
    ))
}

fn ids_of(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// POST /v3/orders/customer-orders/pay (answers 204).
pub fn pay(w: &mut World, c: &Call) -> OpResult {
    let order_id = c.req_str("order_id")?;
    let customer = scope::unfrozen(w, c)?.id.clone();
    let yes = |f: &str| -> Result<bool, ApiError> {
        match c.opt_str(f)?.as_deref() {
            None | Some("NO") => Ok(false),
            Some("YES") => Ok(true),
            Some(_) => Err(ApiError::param(f, "must be YES or NO")),
        }
    };
    let coupons = if yes("use_coupon")? {
        ids_of(c.body.get("coupon_infos"))
    } else {
        Vec::new()
    };
    let discounts = if yes("use_discount")? {
        ids_of(c.body.get("discount_infos"))
    } else {
        Vec::new()
    };
    if discounts.len() > 1 {
        return Err(ApiError::param(
            "discount_infos",
            "at most one discount per order",
        ));
    }
    let choice = Choice {
        discount: discounts.into_iter().next(),
        coupons,
    };
    payment::pay(w, &customer, &order_id, &choice, c.now)?;
    Ok(Reply::no_content())
}

/// PUT /v2/orders/customer-orders/cancel (answers 204): only pending orders.
pub fn cancel(w: &mut World, c: &Call) -> OpResult {
    let order_id = c.req_str("order_id")?;
    let me = c.customer_id()?;
    let o = w
        .orders
        .get_mut(&order_id)
        .filter(|o| o.customer_id == me)
        .ok_or_else(|| ApiError::bad(codes::INVALID_ORDER, "Invalid order: it does not exist."))?;
    if o.status != PENDING_PAYMENT {
        return Err(ApiError::bad(
            codes::ORDER_STATUS_CHANGED,
            "Only an order pending payment can be cancelled.",
        ));
    }
    o.status = CANCELLED;
    Ok(Reply::no_content())
}
