//! Voucher quota operations: query, issue to and reclaim from resellers, issued list, records.

use super::errors::{ApiError, codes};
use super::request::{Call, OpResult, Reply, money_json, paged};
use super::world::{Quota, QuotaRecord, World};
use serde_json::{Value, json};

/// `quota_status` 0: usable.
const NORMAL: u8 = 0;
/// `quota_status` 3: expired or invalidated.
const INVALIDATED: u8 = 3;

fn quota_json(q: &Quota) -> Value {
    json!({
        "quota_id": q.quota_id, "quota_type": q.quota_type, "create_time": q.create_time,
        "last_update_time": q.create_time, "quota_value": money_json(q.quota_value),
        "quota_status": q.quota_status, "balance": money_json(q.balance), "measure_id": 1,
        "currency": "CNY", "effective_time": q.effective_time, "expire_time": q.expire_time,
        "limit_infos": q.limit_infos,
    })
}

/// POST /v2/partners/coupon-quotas/query
pub fn query(w: &mut World, c: &Call) -> OpResult {
    let ids = c.str_list("quota_ids")?;
    let statuses: Vec<i64> = match c.body.get("quota_status_list") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    };
    let qtype = c.opt_int("quota_type")?;
    let created = c.window("create_time")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .quotas
        .values()
        .filter(|q| q.owner == c.acting)
        .filter(|q| ids.is_empty() || ids.contains(&q.quota_id))
        .filter(|q| statuses.is_empty() || statuses.contains(&i64::from(q.quota_status)))
        .filter(|q| qtype.is_none_or(|t| t == i64::from(q.quota_type)))
        .filter(|q| created.admits(Some(&q.create_time)))
        .map(quota_json)
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "quotas": paged(all, page)}),
    ))
}

/// POST /v2/partners/coupon-quotas/indirect-partner-adjust (distributor only).
pub fn issue_to_resellers(w: &mut World, c: &Call) -> OpResult {
    let parent_id = c.req_str("quota_id")?;
    let resellers = c.str_list("indirect_partner_ids")?;
    let amount = c.money("quota_amount")?;
    if resellers.is_empty() || resellers.len() > 100 {
        return Err(ApiError::param(
            "indirect_partner_ids",
            "must hold 1 to 100 ids",
        ));
    }
    let parent = usable_quota(w, &parent_id, &c.acting)?.clone();
    let (mut infos, mut errors) = (Vec::new(), Vec::new());
    for r in &resellers {
        if !w.is_reseller_of(r, &c.acting) {
            let e = ApiError::bad(
                codes::NOT_YOUR_RESELLER,
                "The indirect partner is not yours.",
            );
            errors.push(e.detail(r));
            continue;
        }
        let balance = w
            .quotas
            .get(&parent_id)
            .map(|q| q.balance)
            .unwrap_or_default();
        if balance < amount {
            let e = ApiError::bad(
                codes::INSUFFICIENT_QUOTA,
                "The quota balance is insufficient.",
            );
            errors.push(e.detail(r));
            continue;
        }
        let quota_id = w.new_id("QT");
        let record_id = w.new_id("QR");
        w.quotas.insert(
            quota_id.clone(),
            Quota {
                quota_id: quota_id.clone(),
                owner: r.clone(),
                quota_value: amount,
                balance: amount,
                quota_status: NORMAL,
                parent_quota_id: Some(parent_id.clone()),
                create_time: c.now_str(),
                ..parent.clone()
            },
        );
        if let Some(p) = w.quotas.get_mut(&parent_id) {
            p.balance -= amount;
        }
        w.quota_records.push(QuotaRecord {
            id: record_id,
            operator: c.acting.clone(),
            operation_type: "10".into(),
            quota_id: quota_id.clone(),
            parent_quota_id: parent_id.clone(),
            amount,
            operation_time: c.now_str(),
            indirect_partner_id: r.clone(),
            remark: String::new(),
        });
        infos.push(json!({"id": r, "quota_id": quota_id}));
    }
    Ok(Reply::ok(
        json!({"simple_quota_infos": infos, "error_details": errors}),
    ))
}

/// POST /v2/partners/coupon-quotas/indirect-partner-reclaim (distributor only).
pub fn reclaim_from_resellers(w: &mut World, c: &Call) -> OpResult {
    let ids = c.str_list("quota_ids")?;
    let remark = c.opt_str("remark")?.unwrap_or_default();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::param("quota_ids", "must hold 1 to 100 ids"));
    }
    let (mut infos, mut errors) = (Vec::new(), Vec::new());
    for id in &ids {
        let child = w
            .quotas
            .get(id)
            .cloned()
            .filter(|q| q.quota_status == NORMAL && w.is_reseller_of(&q.owner, &c.acting));
        let Some(child) = child else {
            let e = ApiError::bad(codes::QUOTA_NOT_FOUND, "No such reseller quota.");
            errors.push(e.detail(id));
            continue;
        };
        let parent_id = child.parent_quota_id.clone().unwrap_or_default();
        if let Some(p) = w.quotas.get_mut(&parent_id) {
            p.balance += child.balance;
        }
        if let Some(q) = w.quotas.get_mut(id) {
            q.balance = Default::default();
            q.quota_status = INVALIDATED;
        }
        let record_id = w.new_id("QR");
        w.quota_records.push(QuotaRecord {
            id: record_id,
            operator: c.acting.clone(),
            operation_type: "11".into(),
            quota_id: id.clone(),
            parent_quota_id: parent_id,
            amount: child.balance,
            operation_time: c.now_str(),
            indirect_partner_id: child.owner.clone(),
            remark: remark.clone(),
        });
        infos.push(json!({"quota_id": id, "quota_balance": money_json(child.balance)}));
    }
    Ok(Reply::ok(
        json!({"simple_quota_infos": infos, "error_details": errors}),
    ))
}

/// GET /v2/partners/issued-coupon-quotas (distributor only).
pub fn issued(w: &mut World, c: &Call) -> OpResult {
    let quota_id = c.opt_str("quota_id")?;
    let reseller = c.opt_str("indirect_partner_id")?;
    let parent = c.opt_str("parent_quota_id")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .quotas
        .values()
        .filter(|q| q.parent_quota_id.is_some() && w.is_reseller_of(&q.owner, &c.acting))
        .filter(|q| quota_id.as_ref().is_none_or(|id| *id == q.quota_id))
        .filter(|q| reseller.as_ref().is_none_or(|r| *r == q.owner))
        .filter(|q| {
            parent
                .as_ref()
                .is_none_or(|p| q.parent_quota_id.as_ref() == Some(p))
        })
        .map(|q| {
            let mut v = quota_json(q);
            let name = w.partners.get(&q.owner).map(|p| p.name.clone());
            v["indirect_partner_id"] = json!(q.owner);
            v["indirect_partner_name"] = json!(name);
            v["indirect_partner_account_name"] = json!(q.owner);
            v["parent_quota_id"] = json!(q.parent_quota_id);
            v
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "quotas": paged(all, page)}),
    ))
}

/// GET /v2/partners/coupon-quotas/records (distributor only).
pub fn records(w: &mut World, c: &Call) -> OpResult {
    let reseller = c.opt_str("indirect_partner_id")?;
    let quota_id = c.opt_str("quota_id")?;
    let parent = c.opt_str("parent_quota_id")?;
    let op = c.opt_str("operation_type")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .quota_records
        .iter()
        .filter(|r| r.operator == c.acting)
        .filter(|r| {
            reseller
                .as_ref()
                .is_none_or(|x| *x == r.indirect_partner_id)
        })
        .filter(|r| quota_id.as_ref().is_none_or(|x| *x == r.quota_id))
        .filter(|r| parent.as_ref().is_none_or(|x| *x == r.parent_quota_id))
        .filter(|r| op.as_ref().is_none_or(|x| *x == r.operation_type))
        .map(|r| {
            json!({
                "id": r.id, "operator": r.operator, "operation_type": r.operation_type,
                "quota_id": r.quota_id, "parent_quota_id": r.parent_quota_id,
                "amount": money_json(r.amount), "operation_time": r.operation_time,
                "result": "0", "indirect_partner_id": r.indirect_partner_id,
                "indirect_partner_account_name": r.indirect_partner_id, "remark": r.remark,
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "records": paged(all, page)}),
    ))
}

/// The acting partner's quota, usable now.
pub fn usable_quota<'w>(w: &'w World, id: &str, owner: &str) -> Result<&'w Quota, ApiError> {
    let q = w
        .quotas
        .get(id)
        .filter(|q| q.owner == owner)
        .ok_or_else(|| ApiError::bad(codes::QUOTA_NOT_FOUND, format!("No such quota: {id}.")))?;
    if q.quota_status != NORMAL {
        return Err(ApiError::bad(
            codes::QUOTA_NOT_USABLE,
            format!("The quota {id} is not usable (status {}).", q.quota_status),
        ));
    }
    Ok(q)
}
