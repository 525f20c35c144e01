//! The delegation stage for vouchers: what a `create_partner_coupons` request asks of the
//! caller's slice, and how the vendor's answer settles the reservation.

use crate::credentials::Credential;
use crate::rejection::Rejection;
use crate::store::ledger::requests::{Settle, VoucherAsk};
use serde_json::{Map, Value};
use tiergate_policy::Permit;
use tiergate_policy::ledger::voucher_request;

/// The operation the ledger governs.
pub const ISSUE: &str = "create_partner_coupons";
/// The operation whose success credits a slice back (once the vendor's records say how much).
pub const RECLAIM: &str = "reclaim_partner_coupons";

/// The ledger's view of a voucher request (the body as it will be forwarded).
pub fn ask(
    cred: &Credential,
    permit: &Permit,
    forwarded: &[u8],
    reservation_id: &str,
) -> Result<VoucherAsk, Rejection> {
    let body: Map<String, Value> =
        serde_json::from_slice(forwarded).map_err(|e| Rejection::InvalidBody(e.to_string()))?;
    let (upstream_quota, request) =
        voucher_request(&body).map_err(|e| Rejection::InvalidBody(e.to_string()))?;
    // Staff draw on their own slice; the label is theirs only on a staff credential.
    let staff = cred.principal.role.as_ref().and(cred.label.clone());
    Ok(VoucherAsk {
        upstream_quota,
        acting: permit.acting().to_owned(),
        staff,
        request,
        reservation_id: reservation_id.to_owned(),
    })
}

/// How an answer settles a reservation. `status` 0 means no answer came; `sent` whether the
/// request may have reached the vendor (a refused connection means it did not).
pub fn settlement(status: u16, sent: bool, answer: &[u8]) -> Settle {
    match status {
        200..=299 => match issued(answer) {
            Some(v) => Settle::Issued(v),
            // A success we cannot read: the vendor did something; reconciliation says what.
            None => Settle::Pending,
        },
        0 if sent => Settle::Pending,
        _ => Settle::Release,
    }
}

fn issued(answer: &[u8]) -> Option<Vec<(String, String)>> {
    let v: Value = serde_json::from_slice(answer).ok()?;
    v.get("coupon_infos")?
        .as_array()?
        .iter()
        .map(|i| {
            Some((
                i.get("id")?.as_str()?.to_owned(),
                i.get("coupon_id")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The voucher a reclaim names.
pub fn reclaimed_coupon(forwarded: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(forwarded).ok()?;
    v.get("coupon_id")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_settle_as_the_vendor_decided() {
        let ok =
            br#"{"coupon_infos":[{"id":"c1","coupon_id":"CP1"}],"error_details":[{"id":"c2"}]}"#;
        assert!(
            matches!(settlement(200, true, ok), Settle::Issued(v) if v == [("c1".to_owned(), "CP1".to_owned())])
        );
        assert!(matches!(
            settlement(200, true, b"not json"),
            Settle::Pending
        ));
        assert!(matches!(settlement(400, true, b"{}"), Settle::Release));
        assert!(matches!(settlement(500, true, b"{}"), Settle::Release));
        assert!(matches!(settlement(0, true, b""), Settle::Pending));
        assert!(matches!(settlement(0, false, b""), Settle::Release));
    }
}
