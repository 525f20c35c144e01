//! Customer-side APIs: only a customer's own credentials are accepted.

use super::errors::{ApiError, codes};
use super::request::{Call, OpResult, Reply, money_json};
use super::world::World;
use serde_json::json;

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

/// GET /v2/promotions/benefits/stored-value-cards
pub fn stored_value_cards(_: &mut World, _: &Call) -> OpResult {
    Ok(Reply::ok(
        json!({"total_count": 0, "stored_value_cards": []}),
    ))
}

/// GET /v2/orders/customer-orders
pub fn orders(_: &mut World, _: &Call) -> OpResult {
    Ok(Reply::ok(json!({"total_count": 0, "order_infos": []})))
}

/// Order details and payment: the simulated world holds no orders.
pub fn no_such_order(_: &mut World, _: &Call) -> OpResult {
    Err(ApiError::bad(
        codes::ORDER_NOT_FOUND,
        "The order does not exist.",
    ))
}
