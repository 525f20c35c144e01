//! Vouchers: issue to customers (batch, partial success), reclaim, list, records.

use super::errors::{ApiError, codes};
use super::quotas::usable_quota;
use super::request::{Call, OpResult, Reply, money_json, paged, parse_time};
use super::world::{Coupon, CouponRecord, World};
use serde_json::{Value, json};

/// Voucher status: usable.
const USABLE: u8 = 1;
/// Voucher status: reclaimed.
const RECLAIMED: u8 = 4;

/// POST /v2/promotions/benefits/partner-coupons
pub fn issue(w: &mut World, c: &Call) -> OpResult {
    let quota_id = c.req_str("quota_id")?;
    let customers = c.str_list("customer_ids")?;
    let face_value = c.money("face_value")?;
    let services = c.str_list("cloud_service_types")?;
    let products = c.str_list("product_ids")?;
    let memo = c.opt_str("memo")?.unwrap_or_default();
    if customers.is_empty() || customers.len() > 100 {
        return Err(ApiError::param("customer_ids", "must hold 1 to 100 ids"));
    }
    if services.len() > 10 {
        return Err(ApiError::param("cloud_service_types", "at most 10 values"));
    }
    if products.len() > 10 {
        return Err(ApiError::param("product_ids", "at most 10 values"));
    }
    let quota = usable_quota(w, &quota_id, &c.acting)?.clone();
    let valid = c
        .opt_str("valid_time")?
        .unwrap_or(quota.effective_time.clone());
    let expire = c
        .opt_str("expire_time")?
        .unwrap_or(quota.expire_time.clone());
    let window = |s: &str, f: &str| parse_time(s).ok_or_else(|| ApiError::param(f, "not a time"));
    let (q_from, q_to) = (
        window(&quota.effective_time, "quota")?,
        window(&quota.expire_time, "quota")?,
    );
    let (v_from, v_to) = (
        window(&valid, "valid_time")?,
        window(&expire, "expire_time")?,
    );
    if v_from < q_from || v_to > q_to || v_from >= v_to {
        return Err(ApiError::param(
            "valid_time/expire_time",
            "must lie within the quota's validity",
        ));
    }
    if c.now > q_to {
        return Err(ApiError::bad(
            codes::QUOTA_NOT_USABLE,
            "The quota has expired.",
        ));
    }
    for (key, asked) in [
        ("cloud_service_types", &services),
        ("product_ids", &products),
    ] {
        if let Some(limit) = quota.limit_infos.iter().find(|l| l.limit_key == key)
            && (asked.is_empty() || asked.iter().any(|a| !limit.limit_values.contains(a)))
        {
            return Err(ApiError::param(
                key,
                "may only narrow the quota's restriction",
            ));
        }
    }
    let (mut infos, mut errors) = (Vec::new(), Vec::new());
    for cust in &customers {
        let refusal = match w.customers.get(cust) {
            Some(x) if x.partner != c.acting => Some(not_yours()),
            None => Some(not_yours()),
            Some(x) if x.association_type != 2 => Some(ApiError::bad(
                codes::NOT_RESALE_CUSTOMER,
                "Vouchers can be issued only to resale customers.",
            )),
            Some(_) => {
                let balance = w
                    .quotas
                    .get(&quota_id)
                    .map(|q| q.balance)
                    .unwrap_or_default();
                (balance < face_value).then(|| {
                    ApiError::bad(
                        codes::INSUFFICIENT_QUOTA,
                        "The quota balance is insufficient.",
                    )
                })
            }
        };
        if let Some(e) = refusal {
            errors.push(e.detail(cust));
            continue;
        }
        let coupon_id = w.new_id("CP");
        let record_id = w.new_id("CR");
        if let Some(q) = w.quotas.get_mut(&quota_id) {
            q.balance -= face_value;
        }
        w.coupons.insert(
            coupon_id.clone(),
            Coupon {
                coupon_id: coupon_id.clone(),
                quota_id: quota_id.clone(),
                issuer: c.acting.clone(),
                customer_id: cust.clone(),
                face_value,
                balance: face_value,
                status: USABLE,
                effective_time: valid.clone(),
                expire_time: expire.clone(),
                create_time: c.now_str(),
                cloud_service_types: services.clone(),
                product_ids: products.clone(),
                memo: memo.clone(),
            },
        );
        w.coupon_records.push(CouponRecord {
            id: record_id,
            partner: c.acting.clone(),
            operation_type: "1".into(),
            quota_id: quota_id.clone(),
            coupon_id: coupon_id.clone(),
            customer_id: cust.clone(),
            operation_amount: face_value,
            operation_time: c.now_str(),
        });
        infos.push(json!({"id": cust, "coupon_id": coupon_id}));
    }
    Ok(Reply::ok(
        json!({"coupon_infos": infos, "error_details": errors}),
    ))
}

fn not_yours() -> ApiError {
    ApiError::bad(
        codes::NOT_YOUR_CUSTOMER,
        "The customer is not associated with the partner.",
    )
}

/// POST /v2/promotions/benefits/partner-coupons/reclaim (answers 204).
pub fn reclaim(w: &mut World, c: &Call) -> OpResult {
    let id = c.req_str("coupon_id")?;
    let coupon = w
        .coupons
        .get(&id)
        .filter(|x| x.issuer == c.acting && x.status == USABLE)
        .cloned()
        .ok_or_else(|| ApiError::bad(codes::COUPON_NOT_FOUND, format!("No such voucher: {id}.")))?;
    if let Some(q) = w.quotas.get_mut(&coupon.quota_id) {
        q.balance += coupon.balance;
    }
    if let Some(x) = w.coupons.get_mut(&id) {
        x.status = RECLAIMED;
        x.balance = Default::default();
    }
    let record_id = w.new_id("CR");
    w.coupon_records.push(CouponRecord {
        id: record_id,
        partner: c.acting.clone(),
        operation_type: "2".into(),
        quota_id: coupon.quota_id,
        coupon_id: id,
        customer_id: coupon.customer_id,
        operation_amount: coupon.balance,
        operation_time: c.now_str(),
    });
    Ok(Reply::no_content())
}

/// GET /v2/promotions/benefits/partner-coupons
pub fn list(w: &mut World, c: &Call) -> OpResult {
    let coupon_id = c.opt_str("coupon_id")?;
    let customer = c.opt_str("customer_id")?;
    let status = c.opt_int("status")?;
    let created = c.window("create_time")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .coupons
        .values()
        .filter(|x| x.issuer == c.acting)
        .filter(|x| coupon_id.as_ref().is_none_or(|v| *v == x.coupon_id))
        .filter(|x| customer.as_ref().is_none_or(|v| *v == x.customer_id))
        .filter(|x| status.is_none_or(|s| s == i64::from(x.status)))
        .filter(|x| created.admits(Some(&x.create_time)))
        .map(|x| {
            json!({
                "coupon_id": x.coupon_id, "status": x.status, "customer_id": x.customer_id,
                "coupon_type": 1, "measure_id": 1, "face_value": money_json(x.face_value),
                "effective_time": x.effective_time, "expire_time": x.expire_time,
                "create_time": x.create_time, "balance": money_json(x.balance),
                "use_limits": [],
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "user_coupons": paged(all, page)}),
    ))
}

/// GET /v2/promotions/benefits/partner-coupons/records/query
pub fn records(w: &mut World, c: &Call) -> OpResult {
    let quota_id = c.opt_str("quota_id")?;
    let customer = c.opt_str("customer_id")?;
    let ops = c.str_list("operation_types")?;
    let ids = c.str_list("coupon_ids")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .coupon_records
        .iter()
        .filter(|r| r.partner == c.acting)
        .filter(|r| quota_id.as_ref().is_none_or(|v| *v == r.quota_id))
        .filter(|r| customer.as_ref().is_none_or(|v| *v == r.customer_id))
        .filter(|r| ops.is_empty() || ops.contains(&r.operation_type))
        .filter(|r| ids.is_empty() || ids.contains(&r.coupon_id))
        .map(|r| {
            json!({
                "id": r.id, "operation_type": r.operation_type, "quota_id": r.quota_id,
                "quota_type": 0, "coupon_id": r.coupon_id, "customer_id": r.customer_id,
                "operation_amount": money_json(r.operation_amount),
                "operation_time": r.operation_time, "result": "0", "remark": "",
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "records": paged(all, page)}),
    ))
}
