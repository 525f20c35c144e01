//! Fund adjustments: which the caps govern, how much they move, and whose caps apply.

use crate::credentials::Credential;
use crate::rejection::Rejection;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use tiergate_policy::ledger::exact;
use tiergate_policy::ledger::funds::Direction;

/// A fund adjustment the caps govern: its direction, exact amount and the grantees whose caps
/// apply (the calling partner, and the staff member on a staff credential).
pub struct FundAsk {
    /// Which way.
    pub direction: Direction,
    /// How much.
    pub amount: Decimal,
    /// Whose caps.
    pub grantees: Vec<String>,
}

/// The fund adjustment a request makes, if the operation is one the caps govern.
pub fn fund_ask(
    cred: &Credential,
    operation: &str,
    forwarded: &[u8],
) -> Result<Option<FundAsk>, Rejection> {
    let direction = match operation {
        "update_customer_account_amount" => Direction::Allocate,
        "reclaim_to_partner_account" => Direction::Reclaim,
        _ => return Ok(None),
    };
    let body: Map<String, Value> =
        serde_json::from_slice(forwarded).map_err(|e| Rejection::InvalidBody(e.to_string()))?;
    let amount = body
        .get("amount")
        .and_then(exact)
        .filter(|a| *a > Decimal::ZERO)
        .ok_or_else(|| Rejection::InvalidBody("`amount`: must be a positive amount".into()))?;
    let partner = cred.principal.partner_id.clone();
    let mut grantees = vec![partner.clone()];
    if let (Some(_), Some(name)) = (&cred.principal.role, &cred.label) {
        grantees.push(format!("{partner}/{name}"));
    }
    Ok(Some(FundAsk {
        direction,
        amount,
        grantees,
    }))
}

/// Whether funds moved: `Some(true)` on success, `Some(false)` when they cannot have,
/// `None` when unknown (kept counted against the caps, the safe side).
pub fn funds_moved(status: u16, sent: bool) -> Option<bool> {
    match status {
        200..=299 => Some(true),
        0 if sent => None,
        _ => Some(false),
    }
}
