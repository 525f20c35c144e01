//! Whose data a call may see: a customer sees itself; a partner sees the customers bound
//! to the partner it acts as (its own, or its reseller's via `indirect_partner_id`).

use super::errors::{ApiError, codes};
use super::request::{Call, Caller};
use super::world::{Customer, World};

fn not_yours() -> ApiError {
    ApiError::bad(
        codes::NOT_YOUR_CUSTOMER,
        "The customer is not associated with the partner.",
    )
}

/// Whether the caller may see `customer`'s data.
pub fn visible(w: &World, c: &Call, customer: &str) -> bool {
    match &c.caller {
        Caller::Customer { id } => id == customer,
        Caller::Partner { .. } => w
            .customers
            .get(customer)
            .is_some_and(|x| x.partner == c.acting || c.unscoped),
    }
}

/// A customer the caller names, refused unless visible to it.
pub fn customer<'w>(w: &'w World, c: &Call, id: &str) -> Result<&'w Customer, ApiError> {
    match (&c.caller, w.customers.get(id)) {
        (_, Some(x)) if visible(w, c, id) => Ok(x),
        (Caller::Customer { .. }, _) => Err(ApiError::denied(
            "Access denied: a customer may query only itself.",
        )),
        (Caller::Partner { .. }, _) => Err(not_yours()),
    }
}

/// A resale (代售) customer of the acting partner: the partner funds its account.
pub fn resale_customer<'w>(w: &'w World, c: &Call, id: &str) -> Result<&'w Customer, ApiError> {
    let x = customer(w, c, id)?;
    if x.association_type != 2 {
        return Err(ApiError::bad(
            codes::NOT_RESALE_CUSTOMER,
            "The customer is an advisory customer of the partner.",
        ));
    }
    Ok(x)
}

/// The customers a list covers: the one named in `customer_id` (checked), else every
/// customer visible to the caller.
pub fn customers(w: &World, c: &Call, field: &str) -> Result<Vec<String>, ApiError> {
    match c.opt_str(field)?.filter(|s| !s.is_empty()) {
        Some(id) => Ok(vec![customer(w, c, &id)?.id.clone()]),
        None => Ok(w
            .customers
            .keys()
            .filter(|id| visible(w, c, id))
            .cloned()
            .collect()),
    }
}

/// The caller's customer account, refused while frozen (no purchase, renewal or change).
pub fn unfrozen<'w>(w: &'w World, c: &Call) -> Result<&'w Customer, ApiError> {
    let id = c.customer_id()?;
    let x = w
        .customers
        .get(id)
        .ok_or_else(|| ApiError::bad(codes::ACCOUNT_NOT_FOUND, "The account does not exist."))?;
    if x.frozen.is_some() {
        return Err(ApiError::bad(
            codes::ACCOUNT_FROZEN,
            "The account is frozen: purchases, renewals and changes are not allowed.",
        ));
    }
    Ok(x)
}
