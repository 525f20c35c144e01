//! Prices: on-demand and yearly/monthly ratings from the product catalogue, renewal quotes
//! for the caller's resources, and the caller's business discounts.

use super::errors::{ApiError, codes};
use super::payment::cents;
use super::request::{Call, OpResult, Reply, money_json, paged};
use super::resources::{money_str, quotable};
use super::trade::Product;
use super::world::World;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

fn products(c: &Call) -> Result<Vec<Value>, ApiError> {
    let items = c
        .body
        .get("product_infos")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() || items.len() > 100 {
        return Err(ApiError::param(
            "product_infos",
            "must hold 1 to 100 products",
        ));
    }
    Ok(items)
}

fn text<'a>(v: &'a Value, f: &str) -> Result<&'a str, ApiError> {
    v.get(f)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::param(&format!("product_infos.{f}"), "is required"))
}

fn int(v: &Value, f: &str, default: i64) -> i64 {
    v.get(f).and_then(Value::as_i64).unwrap_or(default)
}

/// The product the four keys name (the vendor matches all four).
fn product<'w>(w: &'w World, v: &Value) -> Result<&'w Product, ApiError> {
    let (s, t, spec, r) = (
        text(v, "cloud_service_type")?,
        text(v, "resource_type")?,
        text(v, "resource_spec")?,
        text(v, "region")?,
    );
    w.products
        .values()
        .find(|p| {
            p.service_type_code == s
                && p.resource_type_code == t
                && p.resource_spec_code == spec
                && p.region_code == r
        })
        .ok_or_else(|| ApiError::bad(codes::PRODUCT_NOT_FOUND, "The product was not found."))
}

/// The caller's business discount ratio for a service and charging mode.
fn ratio(w: &World, c: &Call, service: &str, mode: &str) -> Option<Decimal> {
    let me = c.customer_id().ok()?;
    w.customers
        .get(me)?
        .business_discounts
        .iter()
        .find(|d| d.cloud_service_type == service && d.charging_mode == mode)
        .map(|d| d.discount_ratio)
}

/// POST /v2/bills/ratings/on-demand-resources (usage in hours: `usage_measure_id` 4).
pub fn on_demand(w: &mut World, c: &Call) -> OpResult {
    c.req_str("project_id")?;
    let (mut results, mut total, mut official_total) = (Vec::new(), Decimal::ZERO, Decimal::ZERO);
    for v in products(c)? {
        let p = product(w, &v)?;
        let hours = v
            .get("usage_value")
            .map(|u| u.to_string().trim_matches('"').to_owned())
            .and_then(|s| Decimal::from_str(&s).ok())
            .ok_or_else(|| ApiError::param("product_infos.usage_value", "is required"))?;
        let qty = Decimal::from(int(&v, "subscription_num", 1));
        let official = cents(p.hourly * hours * qty);
        let amount = cents(
            official * ratio(w, c, &p.service_type_code, "ON_DEMAND").unwrap_or(Decimal::ONE),
        );
        total += amount;
        official_total += official;
        results.push(json!({"id": v.get("id"), "product_id": p.product_id, "amount": money_json(amount),
            "discount_amount": money_json(official - amount), "official_website_amount": money_json(official),
            "measure_id": 1, "discount_rating_results": []}));
    }
    Ok(Reply::ok(
        json!({"amount": money_json(total), "discount_amount": money_json(official_total - total),
        "official_website_amount": money_json(official_total), "measure_id": 1, "currency": "CNY",
        "product_rating_results": results}),
    ))
}

/// POST /v2/bills/ratings/period-resources/subscribe-rate
pub fn period(w: &mut World, c: &Call) -> OpResult {
    c.req_str("project_id")?;
    let (mut official, mut discounted) = (Vec::new(), Vec::new());
    let (mut off_total, mut total) = (Decimal::ZERO, Decimal::ZERO);
    let mut any_discount = false;
    for v in products(c)? {
        let p = product(w, &v)?;
        let price = p
            .period_price(int(&v, "period_type", 0), int(&v, "period_num", 0))
            .ok_or_else(|| {
                ApiError::param(
                    "product_infos.period_type",
                    "the product is not sold by this period",
                )
            })?;
        let o = cents(price * Decimal::from(int(&v, "subscription_num", 1)));
        let r = ratio(w, c, &p.service_type_code, "PERIOD");
        any_discount |= r.is_some();
        let a = cents(o * r.unwrap_or(Decimal::ONE));
        off_total += o;
        total += a;
        official.push(json!({"id": v.get("id"), "product_id": p.product_id, "official_website_amount": money_json(o), "measure_id": 1}));
        discounted.push(json!({"id": v.get("id"), "product_id": p.product_id, "amount": money_json(a),
            "official_website_amount": money_json(o), "discount_amount": money_json(o - a), "measure_id": 1}));
    }
    let optional = if any_discount {
        json!([{"discount_id": "business", "discount_type": 2, "discount_name": "business discount", "best_offer": 1,
            "amount": money_json(total), "official_website_amount": money_json(off_total),
            "discount_amount": money_json(off_total - total), "measure_id": 1, "product_rating_results": discounted}])
    } else {
        json!([])
    };
    Ok(Reply::ok(
        json!({"official_website_rating_result": {"official_website_amount": money_json(off_total),
        "measure_id": 1, "product_rating_results": official},
        "optional_discount_rating_results": optional, "currency": "CNY"}),
    ))
}

/// POST /v2/bills/ratings/period-resources/renew-rate: the caller's own resources.
pub fn renewal(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?.to_owned();
    let ids = c.str_list("resource_ids")?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::param("resource_ids", "must hold 1 to 100 ids"));
    }
    let (pt, num) = (
        c.opt_int("period_type")?.unwrap_or(0),
        c.opt_int("period_num")?.unwrap_or(0),
    );
    let (mut ok, mut fails, mut total) = (Vec::new(), Vec::new(), Decimal::ZERO);
    for id in &ids {
        let price = quotable(w, &me, id).and_then(|r| {
            w.products
                .get(&r.product_id)
                .and_then(|p| p.period_price(pt, num))
                .ok_or_else(|| {
                    ApiError::param("period_type", "the resource is not sold by this period")
                })
        });
        match price {
            Ok(p) => {
                total += p;
                ok.push(json!({"resource_id": id, "amount": money_str(p)}));
            }
            Err(e) => {
                fails.push(json!({"error_code": e.code, "error_msg": e.msg, "resource_id": id}))
            }
        }
    }
    Ok(Reply::ok(
        json!({"currency": "CNY", "renew_inquiry_results": ok,
        "official_website_rating_result": {"official_website_amount": money_str(total)},
        "optional_discount_rating_results": [], "fail_resource_infos": fails}),
    ))
}

/// POST /v2/promotions/business/discount-info: the caller's business discounts.
pub fn business_discounts(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?;
    let services = c.str_list("cloud_service_types")?;
    let modes = c.str_list("charging_modes")?;
    let page = c.page_within(10, 100)?;
    let all: Vec<Value> = w.customers.get(me).map(|x| x.business_discounts.as_slice()).unwrap_or_default()
        .iter()
        .filter(|d| services.is_empty() || services.contains(&d.cloud_service_type))
        .filter(|d| modes.is_empty() || modes.contains(&d.charging_mode))
        .enumerate()
        .map(|(i, d)| json!({"item_id": format!("{me}-{i}"), "cloud_service_type": d.cloud_service_type,
            "cloud_service_type_name": super::reference::service_name(&d.cloud_service_type),
            "charging_mode": d.charging_mode, "discount_ratio": money_json(d.discount_ratio), "site_code": "CN"}))
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "commerce_id": format!("BD-{me}"),
        "category_quoting_items": paged(all, page), "product_quoting_items": []}),
    ))
}
