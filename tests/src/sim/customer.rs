//! Customer-side account APIs: balances, stored-value cards, resource packages.

use super::errors::ApiError;
use super::request::{Call, OpResult, Reply, money_json, paged, parse_time};
use super::resources::money_str;
use super::world::World;
use serde_json::{Value, json};

/// GET /v2/accounts/customer-accounts/balances
pub fn balances(w: &mut World, c: &Call) -> OpResult {
    let x = w
        .customers
        .get(&c.acting)
        .ok_or_else(|| ApiError::denied("No such customer."))?;
    Ok(Reply::ok(json!({
        "account_balances": [{"account_id": format!("{}-cash", x.id), "account_type": 1,
            "amount": money_json(x.balance), "currency": "CNY", "designated_amount": 0,
            "credit_amount": 0, "measure_id": 1}],
        "debt_amount": 0, "measure_id": 1, "currency": "CNY",
    })))
}

/// GET /v2/promotions/benefits/stored-value-cards (status 1 usable, 2 used up).
pub fn stored_value_cards(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?;
    let status = c.opt_int("status")?;
    let card = c.opt_str("card_id")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .stored_value_cards
        .iter()
        .filter(|x| x.customer_id == me)
        .map(|x| (if x.balance.is_zero() { 2 } else { 1 }, x))
        .filter(|(st, _)| status.is_none_or(|s| s == *st))
        .filter(|(_, x)| card.as_ref().is_none_or(|v| *v == x.card_id))
        .map(|(st, x)| {
            json!({"card_id": x.card_id, "card_name": x.card_name, "status": st,
                "face_value": money_str(x.face_value), "balance": money_str(x.balance),
                "effective_time": x.effective_time, "expire_time": x.expire_time})
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "stored_value_cards": paged(all, page)}),
    ))
}

/// Package status: 0 not yet valid, 1 valid, 2 used up, 3 expired.
fn package_status(x: &super::trade::FreeResource, now: time::OffsetDateTime) -> i64 {
    match (parse_time(&x.effective_time), parse_time(&x.expire_time)) {
        (Some(f), _) if f > now => 0,
        (_, Some(e)) if e <= now => 3,
        _ if x.amount.is_zero() => 2,
        _ => 1,
    }
}

/// POST /v3/payments/free-resources/query
pub fn free_resources(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?;
    let region = c.opt_str("region_code")?;
    let order = c.opt_str("order_id")?;
    let product = c.opt_str("product_id")?;
    let status = c.opt_int("status")?;
    let services = c.str_list("service_type_code_list")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .free_resources
        .iter()
        .filter(|x| x.customer_id == me)
        .filter(|x| region.as_ref().is_none_or(|v| *v == x.region_code))
        .filter(|x| order.as_ref().is_none_or(|v| *v == x.order_id))
        .filter(|x| product.as_ref().is_none_or(|v| *v == x.product_id))
        .filter(|x| services.is_empty() || services.contains(&x.service_type_code))
        .map(|x| (package_status(x, c.now), x))
        .filter(|(st, _)| status.is_none_or(|s| s == *st))
        .map(|(st, x)| {
            json!({
                "order_instance_id": x.order_instance_id, "order_id": x.order_id,
                "product_id": x.product_id, "product_name": x.product_name,
                "effective_time": x.effective_time, "expire_time": x.expire_time, "status": st,
                "service_type_code": x.service_type_code, "region_code": x.region_code,
                "source_type": 1, "quota_reuse_mode": 2,
                "free_resources": [{"free_resource_id": x.free_resource_id,
                    "usage_type_name": x.usage_type_name, "amount": money_str(x.amount),
                    "original_amount": money_str(x.original_amount), "measure_id": x.measure_id}],
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "free_resource_packages": paged(all, page)}),
    ))
}

/// POST /v2/payments/free-resources/usages/details/query
pub fn free_resource_usages(w: &mut World, c: &Call) -> OpResult {
    // A customer's own packages, or a partner's (the fixture gives partners none).
    let me = c.customer_id().unwrap_or(c.acting.as_str());
    let ids = c.str_list("free_resource_ids")?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::param(
            "free_resource_ids",
            "must hold 1 to 100 ids",
        ));
    }
    let out: Vec<Value> = w
        .free_resources
        .iter()
        .filter(|x| x.customer_id == me && ids.contains(&x.free_resource_id))
        .map(|x| {
            json!({"free_resource_id": x.free_resource_id, "free_resource_type_name": x.usage_type_name,
                "usage_type_name": x.usage_type_name, "start_time": x.effective_time,
                "end_time": x.expire_time, "amount": money_json(x.amount),
                "original_amount": money_json(x.original_amount), "measure_id": x.measure_id})
        })
        .collect();
    Ok(Reply::ok(json!({"free_resources": out})))
}

/// GET /v2/bills/customer-bills/free-resources-usage-records
pub fn free_resource_records(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?;
    let id = c.opt_str("free_resource_id")?;
    let product = c.opt_str("product_id")?;
    let page = c.page_within(10, 1000)?;
    let mut all = Vec::new();
    for u in &w.free_resource_usages {
        let Some(x) = w
            .free_resources
            .iter()
            .find(|x| x.free_resource_id == u.free_resource_id)
        else {
            continue;
        };
        if x.customer_id != me
            || id.as_ref().is_some_and(|v| *v != x.free_resource_id)
            || product.as_ref().is_some_and(|v| *v != x.product_id)
        {
            continue;
        }
        all.push(json!({
            "deduct_time": u.deduct_time, "free_resource_id": u.free_resource_id,
            "resource_id": u.resource_id, "resource_type_code": x.resource_type_code,
            "product_id": x.product_id, "product_name": x.product_name,
            "used_amount": money_str(u.used_amount), "remaining_amount": money_str(x.amount),
            "available_amount": money_str(x.original_amount), "measure_id": x.measure_id,
            "effective_time": x.effective_time, "expire_time": x.expire_time,
        }));
    }
    Ok(Reply::ok(
        json!({"total_count": all.len(), "free_resource_records": paged(all, page)}),
    ))
}
