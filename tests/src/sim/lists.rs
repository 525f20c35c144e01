//! Customer and reseller lists.

use super::request::{Call, OpResult, Reply, paged};
use super::world::World;
use serde_json::{Value, json};

/// POST /v2/partners/sub-customers/query
pub fn customers(w: &mut World, c: &Call) -> OpResult {
    let id = c.opt_str("customer_id")?;
    let name = c.opt_str("account_name")?;
    let company = c.opt_str("customer")?;
    let assoc = c.opt_str("association_type")?;
    let since = c.window("associated_on")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .customers
        .values()
        .filter(|x| x.partner == c.acting)
        .filter(|x| id.as_ref().is_none_or(|v| *v == x.id))
        .filter(|x| name.as_ref().is_none_or(|v| x.login().contains(v.as_str())))
        .filter(|x| company.as_ref().is_none_or(|v| x.name.contains(v.as_str())))
        .filter(|x| {
            assoc
                .as_ref()
                .is_none_or(|v| *v == x.association_type.to_string())
        })
        .filter(|x| since.admits(x.associated_on.as_deref()))
        .map(|x| {
            let verified = x.realname.as_ref().map(|r| r.review_result.to_string());
            json!({
                "customer": x.name, "account_name": x.login(), "customer_id": x.id,
                "association_type": x.association_type.to_string(), "customer_type": 0,
                "is_frozen": u8::from(x.frozen.is_some()), "associated_on": x.associated_on,
                "verified_status": verified.unwrap_or_else(|| "-1".into()),
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"count": all.len(), "customer_infos": paged(all, page)}),
    ))
}

/// POST /v2/partners/indirect-partners/query (distributor only).
pub fn resellers(w: &mut World, c: &Call) -> OpResult {
    let only = c.opt_str("indirect_partner_id")?;
    let since = c.window("associated_on")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .partners
        .values()
        .filter(|p| w.is_reseller_of(&p.id, &c.acting))
        .filter(|p| only.as_ref().is_none_or(|v| *v == p.id))
        .filter(|p| since.admits(p.associated_on.as_deref()))
        .map(|p| {
            json!({"indirect_partner_id": p.id, "account_name": p.id, "name": p.name,
                   "associated_on": p.associated_on})
        })
        .collect();
    Ok(Reply::ok(
        json!({"count": all.len(), "indirect_partners": paged(all, page)}),
    ))
}
