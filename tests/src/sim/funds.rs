//! Funds: allocate to and reclaim from customers and resellers, adjust records, balances.

use super::errors::{ApiError, codes};
use super::request::{Call, OpResult, Reply, money_json, paged};
use super::world::{AdjustRecord, World};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const ALLOCATE: &str = "SOURCE_OPERATION_BEADJUST";
const RECLAIM: &str = "SOURCE_OPERATION_BERETRIEVE";

fn insufficient() -> ApiError {
    ApiError::bad(
        codes::INSUFFICIENT_BALANCE,
        "The account balance is insufficient.",
    )
}

fn available(w: &World, partner: &str) -> Decimal {
    w.partners
        .get(partner)
        .map(|p| p.account.amount - p.account.designated_amount)
        .unwrap_or_default()
}

fn own_resale_customer(w: &World, c: &Call, id: &str) -> Result<(), ApiError> {
    match w.customers.get(id) {
        Some(x) if x.partner == c.acting && x.association_type == 2 => Ok(()),
        Some(x) if x.partner == c.acting => Err(ApiError::bad(
            codes::NOT_RESALE_CUSTOMER,
            "Funds can be allocated only to resale customers.",
        )),
        _ => Err(ApiError::bad(
            codes::NOT_YOUR_CUSTOMER,
            "The customer is not associated with the partner.",
        )),
    }
}

fn record(
    w: &mut World,
    c: &Call,
    customer: Option<&str>,
    reseller: Option<&str>,
    op: &str,
    amount: Decimal,
) -> String {
    let trans_id = w.new_id("TR");
    w.adjust_records.push(AdjustRecord {
        partner: c.acting.clone(),
        customer_id: customer.map(str::to_owned),
        indirect_partner_id: reseller.map(str::to_owned),
        operation_type: op.into(),
        amount,
        trans_id: trans_id.clone(),
        operation_time: c.now_str(),
    });
    // Both accounts' change records, after the balances moved.
    let other = customer.or(reseller).unwrap_or_default();
    let signed = if op == ALLOCATE { -amount } else { amount };
    let now = c.now_str();
    let kind = op.trim_start_matches("SOURCE_OPERATION_");
    w.post_change(&c.acting, Some(other), kind, &trans_id, signed, &now, None);
    w.post_change(other, Some(&c.acting), kind, &trans_id, -signed, &now, None);
    trans_id
}

fn move_partner(w: &mut World, partner: &str, delta: Decimal) {
    if let Some(p) = w.partners.get_mut(partner) {
        p.account.amount += delta;
    }
}

/// POST /v2/accounts/partner-accounts/adjust-amount
pub fn allocate_to_customer(w: &mut World, c: &Call) -> OpResult {
    let customer = c.req_str("customer_id")?;
    let amount = c.money("amount")?;
    own_resale_customer(w, c, &customer)?;
    if available(w, &c.acting) < amount {
        return Err(insufficient());
    }
    move_partner(w, &c.acting.clone(), -amount);
    if let Some(x) = w.customers.get_mut(&customer) {
        x.balance += amount;
    }
    let id = record(w, c, Some(&customer), None, ALLOCATE, amount);
    Ok(Reply::ok(json!({"transfer_id": id})))
}

/// POST /v2/accounts/partner-accounts/reclaim
pub fn reclaim_from_customer(w: &mut World, c: &Call) -> OpResult {
    let customer = c.req_str("customer_id")?;
    let amount = c.money("amount")?;
    own_resale_customer(w, c, &customer)?;
    let balance = w
        .customers
        .get(&customer)
        .map(|x| x.balance)
        .unwrap_or_default();
    if balance < amount {
        return Err(insufficient());
    }
    if let Some(x) = w.customers.get_mut(&customer) {
        x.balance -= amount;
    }
    move_partner(w, &c.acting.clone(), amount);
    let id = record(w, c, Some(&customer), None, RECLAIM, amount);
    Ok(Reply::ok(json!({"trans_id": id})))
}

fn own_reseller(w: &World, c: &Call) -> Result<String, ApiError> {
    let r = c.req_str("indirect_partner_id")?;
    if !w.is_reseller_of(&r, &c.acting) {
        return Err(ApiError::bad(
            codes::NOT_YOUR_RESELLER,
            format!("The indirect partner {r} is not associated with the caller."),
        ));
    }
    Ok(r)
}

/// POST /v2/accounts/partner-accounts/indirect-partner-adjust (distributor only).
///
/// Here `indirect_partner_id` names the receiving reseller, so the call acts as the caller.
pub fn allocate_to_reseller(w: &mut World, c: &Call) -> OpResult {
    let reseller = own_reseller(w, c)?;
    let amount = c.money("amount")?;
    if available(w, &c.acting) < amount {
        return Err(insufficient());
    }
    move_partner(w, &c.acting.clone(), -amount);
    move_partner(w, &reseller, amount);
    let id = record(w, c, None, Some(&reseller), ALLOCATE, amount);
    Ok(Reply::ok(json!({"transfer_id": id})))
}

/// POST /v2/accounts/partner-accounts/indirect-partner-reclaim (distributor only).
pub fn reclaim_from_reseller(w: &mut World, c: &Call) -> OpResult {
    let reseller = own_reseller(w, c)?;
    let amount = c.money("amount")?;
    if available(w, &reseller) < amount {
        return Err(insufficient());
    }
    move_partner(w, &reseller, -amount);
    move_partner(w, &c.acting.clone(), amount);
    let id = record(w, c, None, Some(&reseller), RECLAIM, amount);
    Ok(Reply::ok(json!({"trans_id": id})))
}

/// GET /v3/accounts/partner-accounts/adjust-records
pub fn adjust_records(w: &mut World, c: &Call) -> OpResult {
    let customer = c.opt_str("customer_id")?;
    let op = c.opt_str("operation_type")?;
    let trans = c.opt_str("trans_id")?;
    let page = c.page()?;
    let all: Vec<Value> = w
        .adjust_records
        .iter()
        .filter(|r| r.partner == c.acting && r.customer_id.is_some())
        .filter(|r| {
            customer
                .as_ref()
                .is_none_or(|v| r.customer_id.as_ref() == Some(v))
        })
        .filter(|r| op.as_ref().is_none_or(|v| *v == r.operation_type))
        .filter(|r| trans.as_ref().is_none_or(|v| *v == r.trans_id))
        .map(|r| {
            let name = r
                .customer_id
                .as_ref()
                .and_then(|id| w.customers.get(id))
                .map(|x| x.name.clone());
            json!({
                "customer_id": r.customer_id, "customer_name": name,
                "operation_type": r.operation_type, "amount": r.amount.to_string(),
                "currency": "CNY", "apply_scene": "1", "operation_time": r.operation_time,
                "measure_id": 1, "trans_id": r.trans_id,
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "records": paged(all, page)}),
    ))
}

/// GET /v2/accounts/partner-accounts/balances
pub fn balances(w: &mut World, c: &Call) -> OpResult {
    let p = w
        .partners
        .get(&c.acting)
        .ok_or_else(|| ApiError::bad(codes::NOT_YOUR_RESELLER, "No such partner."))?;
    Ok(Reply::ok(json!({"account_balances": [{
        "account_id": format!("{}-cash", p.id), "account_type": 1,
        "amount": money_json(p.account.amount), "currency": "CNY",
        "designated_amount": money_json(p.account.designated_amount),
        "credit_amount": money_json(p.account.credit_amount), "measure_id": 1, "memo": "",
    }]})))
}
