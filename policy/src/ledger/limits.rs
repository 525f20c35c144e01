//! What a delegation allows, and what a voucher request asks for.

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::{OffsetDateTime, UtcOffset};

/// A slice's limits. `None` means "as the parent (or the quota) allows".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The slice: at most this much outstanding (reserved, used, and granted on).
    pub total: Decimal,
    /// At most this much issued per calendar day (GMT+08:00).
    #[serde(default)]
    pub per_day: Option<Decimal>,
    /// At most this much issued per calendar month (GMT+08:00).
    #[serde(default)]
    pub per_month: Option<Decimal>,
    /// Largest face value of one voucher.
    #[serde(default)]
    pub max_face_value: Option<Decimal>,
    /// Cloud service types vouchers may be restricted to.
    #[serde(default)]
    pub services: Option<BTreeSet<String>>,
    /// Products vouchers may be restricted to.
    #[serde(default)]
    pub products: Option<BTreeSet<String>>,
    /// Vouchers must become valid at or after this.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub valid_from: Option<OffsetDateTime>,
    /// Vouchers must expire at or before this.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub valid_until: Option<OffsetDateTime>,
    /// The only customers vouchers may go to.
    #[serde(default)]
    pub customers: Option<BTreeSet<String>>,
    /// When the delegation itself ends.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub expires_at: Option<OffsetDateTime>,
}

/// A voucher request, as far as delegation cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherRequest {
    /// Face value of each voucher.
    pub face_value: Decimal,
    /// One voucher per customer.
    pub customers: Vec<String>,
    /// Service-type restriction asked for (empty: none asked).
    pub services: Vec<String>,
    /// Product restriction asked for.
    pub products: Vec<String>,
    /// Validity start asked for.
    pub valid_from: Option<OffsetDateTime>,
    /// Validity end asked for.
    pub valid_until: Option<OffsetDateTime>,
}

impl VoucherRequest {
    /// Face value times the number of customers.
    pub fn cost(&self) -> Decimal {
        self.face_value * Decimal::from(self.customers.len())
    }
}

/// The vendor bills in Beijing time: periods are its calendar days and months.
const VENDOR_OFFSET_SECONDS: i32 = 8 * 3600;

/// The day (`2026-11-21`) and month (`2026-11`) of a moment in the vendor's calendar.
pub fn periods(at: OffsetDateTime) -> (String, String) {
    let offset = UtcOffset::from_whole_seconds(VENDOR_OFFSET_SECONDS).unwrap_or(UtcOffset::UTC);
    let d = at.to_offset(offset).date();
    let month = format!("{:04}-{:02}", d.year(), u8::from(d.month()));
    (format!("{month}-{:02}", d.day()), month)
}

/// Whether `inner` narrows (or equals) `outer`; `None` outer allows anything.
pub fn narrows<T: Ord>(inner: &Option<BTreeSet<T>>, outer: &Option<BTreeSet<T>>) -> bool {
    match (inner, outer) {
        (_, None) => true,
        (Some(i), Some(o)) => i.is_subset(o),
        (None, Some(_)) => false,
    }
}

/// The smaller of two optional ceilings.
pub fn min_opt<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn periods_follow_beijing_time() {
        // 17:00 UTC on the 21st is already the 22nd in Beijing.
        assert_eq!(
            periods(datetime!(2026-11-21 17:00 UTC)),
            ("2026-11-22".into(), "2026-11".into())
        );
        assert_eq!(
            periods(datetime!(2026-11-30 16:30 UTC)),
            ("2026-12-01".into(), "2026-12".into())
        );
        assert_eq!(
            periods(datetime!(2026-11-21 15:59 UTC)),
            ("2026-11-21".into(), "2026-11".into())
        );
    }
}
