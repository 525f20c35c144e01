//! Customer and reseller lists, customer creation, and reference data.

use super::errors::ApiError;
use super::request::{Call, OpResult, Reply, paged};
use super::world::{Customer, World};
use serde_json::{Value, json};

/// POST /v2/partners/sub-customers/query
pub fn customers(w: &mut World, c: &Call) -> OpResult {
    let id = c.opt_str("customer_id")?;
    let name = c.opt_str("account_name")?;
    let assoc = c.opt_str("association_type")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .customers
        .values()
        .filter(|x| x.partner == c.acting)
        .filter(|x| id.as_ref().is_none_or(|v| *v == x.id))
        .filter(|x| name.as_ref().is_none_or(|v| x.id.contains(v.as_str())))
        .filter(|x| {
            assoc
                .as_ref()
                .is_none_or(|v| *v == x.association_type.to_string())
        })
        .map(|x| {
            json!({
                "customer": x.name, "account_name": x.id, "customer_id": x.id,
                "association_type": x.association_type.to_string(), "customer_type": 0,
                "is_frozen": 0,
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
    let page = c.page()?;
    let all: Vec<Value> = w
        .partners
        .values()
        .filter(|p| w.is_reseller_of(&p.id, &c.acting))
        .filter(|p| only.as_ref().is_none_or(|v| *v == p.id))
        .map(|p| json!({"indirect_partner_id": p.id, "account_name": p.id, "name": p.name}))
        .collect();
    Ok(Reply::ok(
        json!({"count": all.len(), "indirect_partners": paged(all, page)}),
    ))
}

/// POST /v2/partners/sub-customers: a new resale customer of the acting partner.
pub fn create_customer(w: &mut World, c: &Call) -> OpResult {
    let name = c.req_str("domain_name")?;
    if w.customers.values().any(|x| x.name == name) {
        return Err(ApiError::param("domain_name", "already exists"));
    }
    let id = w.new_id("CU");
    w.customers.insert(
        id.clone(),
        Customer {
            id: id.clone(),
            name: name.clone(),
            partner: c.acting.clone(),
            association_type: 2,
            access_key: None,
            secret_key: None,
            balance: Default::default(),
        },
    );
    Ok(Reply::ok(json!({"domain_id": id, "domain_name": name})))
}

/// Reference data: service types, resource types, incentive policies.
pub fn reference(_: &mut World, c: &Call) -> OpResult {
    Ok(Reply::ok(match c.route.operation {
        "list_service_types" => json!({"total_count": 2, "service_types": [
            {"service_type_name": "Elastic Cloud Server", "service_type_code": "hws.service.type.ec2"},
            {"service_type_name": "Object Storage Service", "service_type_code": "hws.service.type.obs"}]}),
        "list_resource_types" => json!({"total_count": 1, "resource_types": [
            {"resource_type_code": "hws.resource.type.vm", "resource_type_name": "VM"}]}),
        _ => json!({"incentive_discount_policies": []}),
    }))
}
