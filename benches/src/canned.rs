//! The static upstream's answers: a small partner world for Tiergate's graph sync (one
//! reseller `res-1` with ten resale customers `bc-0`..`bc-9`, its voucher quota `bq-res` and the
//! distributor's `bq-dist`), a fixed answer to every other call, and vouchers with ids of
//! their own (the ledger keeps each voucher once).

use crate::http1::encode_json;
use std::sync::atomic::{AtomicU64, Ordering};

/// The reseller the world holds.
pub const RESELLER: &str = "res-1";
/// Its customers.
pub const CUSTOMERS: usize = 10;
/// Its voucher quota at the vendor.
pub const RESELLER_QUOTA: &str = "bq-res";
/// The distributor's voucher quota at the vendor.
pub const DISTRIBUTOR_QUOTA: &str = "bq-dist";
/// The voucher path (GET lists, POST issues).
pub const COUPONS: &str = "/v2/promotions/benefits/partner-coupons";
/// Answers how many vouchers were issued since the upstream started.
pub const ISSUED: &str = "/__bench/issued";

/// Every answer but a voucher issue, encoded once.
pub struct Answers {
    resellers: Vec<u8>,
    customers: Vec<u8>,
    none: Vec<u8>,
    reseller_quotas: Vec<u8>,
    distributor_quotas: Vec<u8>,
    coupons: Vec<u8>,
    other: Vec<u8>,
    issued: AtomicU64,
}

impl Default for Answers {
    fn default() -> Self {
        Self::new()
    }
}

fn customer_list() -> String {
    let items: Vec<String> = (0..CUSTOMERS)
        .map(|i| {
            format!(
                r#"{{"customer_id":"bc-{i}","name":"bench customer {i}","association_type":"2"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"count":{CUSTOMERS},"customer_infos":[{}]}}"#,
        items.join(",")
    )
}

impl Answers {
    /// Encodes the fixed answers.
    pub fn new() -> Answers {
        let quota = |q: &str| {
            encode_json(&format!(
                r#"{{"total_count":1,"quotas":[{{"quota_id":"{q}","quota_type":0,"balance":1000000}}]}}"#
            ))
        };
        Answers {
            resellers: encode_json(&format!(
                r#"{{"count":1,"indirect_partners":[{{"indirect_partner_id":"{RESELLER}","name":"bench reseller"}}]}}"#
            )),
            customers: encode_json(&customer_list()),
            none: encode_json(r#"{"count":0,"total_count":0,"customer_infos":[]}"#),
            reseller_quotas: quota(RESELLER_QUOTA),
            distributor_quotas: quota(DISTRIBUTOR_QUOTA),
            coupons: encode_json(r#"{"total_count":0,"user_coupons":[]}"#),
            other: encode_json(r#"{"total_count":0,"balance":"100.00","currency":"CNY"}"#),
            issued: AtomicU64::new(0),
        }
    }

    /// The answer to a request: fixed bytes, or a freshly numbered voucher.
    pub fn answer(&self, method: &str, target: &str, body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
        let path = target.split('?').next().unwrap_or("");
        // Tiergate acts for a reseller with `indirect_partner_id` (in the body or query).
        let acting =
            || contains(body, b"indirect_partner_id") || target.contains("indirect_partner_id");
        let fixed: &[u8] = match (method, path) {
            ("POST", COUPONS) => return self.issue(body).into(),
            ("GET", ISSUED) => {
                let n = self.issued.load(Ordering::Relaxed);
                return encode_json(&format!(r#"{{"issued":{n}}}"#)).into();
            }
            ("GET", COUPONS) => &self.coupons,
            ("POST", "/v2/partners/indirect-partners/query") => &self.resellers,
            ("POST", "/v2/partners/sub-customers/query") if acting() => &self.customers,
            ("POST", "/v2/partners/sub-customers/query") => &self.none,
            ("POST", "/v2/partners/coupon-quotas/query") if acting() => &self.reseller_quotas,
            ("POST", "/v2/partners/coupon-quotas/query") => &self.distributor_quotas,
            _ => &self.other,
        };
        fixed.into()
    }

    /// A voucher for each customer the request names (the bench names one), numbered.
    fn issue(&self, body: &[u8]) -> Vec<u8> {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let customer = customer_of(body).unwrap_or("bc-0");
        encode_json(&format!(
            r#"{{"coupon_infos":[{{"id":"{customer}","coupon_id":"BCP-{n}"}}],"error_details":[]}}"#
        ))
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The first customer id of a voucher issue (`"customer_ids":["bc-3"]`), read without a
/// JSON parser: the bench's bodies are its own.
fn customer_of(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let rest = text.split_once(r#""customer_ids":[""#)?.1;
    rest.split_once('"').map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acting_for_the_reseller_lists_its_world() {
        let a = Answers::new();
        let body = br#"{"offset":0,"limit":100,"indirect_partner_id":"res-1"}"#;
        let customers = a.answer("POST", "/v2/partners/sub-customers/query", body);
        assert!(contains(&customers, b"bc-9"));
        let own = a.answer("POST", "/v2/partners/sub-customers/query", b"{}");
        assert!(!contains(&own, b"bc-"));
        let issue = br#"{"quota_id":"bq-res","customer_ids":["bc-3"],"face_value":1}"#;
        let first = a.answer("POST", COUPONS, issue);
        let second = a.answer("POST", COUPONS, issue);
        assert!(contains(&first, br#""id":"bc-3","coupon_id":"BCP-0""#));
        assert!(contains(&second, b"BCP-1"));
        assert!(contains(&a.answer("GET", ISSUED, b""), br#"{"issued":2}"#));
    }
}
