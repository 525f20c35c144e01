//! The vendor's books: fee records (what bills are summed from), account and voucher
//! balance changes, and verification codes. Every money-moving operation posts here, so
//! bills and change records always agree with balances.

use super::trade::{Charging, Product};
use super::world::World;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Bill type: new purchase.
pub const BILL_NEW: u8 = 1;
/// Bill type: renewal.
pub const BILL_RENEW: u8 = 2;
/// Bill type: refund of an unsubscription.
pub const BILL_REFUND: u8 = 4;
/// Bill type: usage (on demand).
pub const BILL_USAGE: u8 = 5;
/// Bill type: refund of a yearly/monthly to on-demand change.
pub const BILL_REFUND_TO_ON_DEMAND: u8 = 24;

/// One fee record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeeRecord {
    /// Record id.
    pub id: String,
    /// The customer charged (or refunded).
    pub customer_id: String,
    /// `2026-03`.
    pub bill_cycle: String,
    /// When it was charged (RFC 3339).
    pub trade_time: String,
    /// The order (or usage batch) behind it.
    pub trade_id: String,
    /// Service type.
    pub service_type_code: String,
    /// Resource type.
    pub resource_type_code: String,
    /// Region.
    pub region_code: String,
    /// The resource charged.
    pub resource_id: String,
    /// 1 yearly/monthly, 3 on demand.
    pub charging_mode: u8,
    /// 1 new, 2 renewal, 4 refund, 5 usage, 24 refund to on-demand.
    pub bill_type: u8,
    /// List price.
    pub official_amount: Decimal,
    /// Amount after discount (positive, also for refunds).
    pub amount: Decimal,
    /// Part paid (or refunded) in cash.
    pub cash_amount: Decimal,
    /// Part paid with vouchers.
    #[serde(default)]
    pub coupon_amount: Decimal,
    /// Usage, for usage records.
    #[serde(default)]
    pub usage: Option<Decimal>,
    /// Usage type, for usage records.
    #[serde(default)]
    pub usage_type: Option<String>,
}

impl FeeRecord {
    /// Whether it gives money back.
    pub fn is_refund(&self) -> bool {
        matches!(self.bill_type, BILL_REFUND | BILL_REFUND_TO_ON_DEMAND)
    }

    /// The amount with the sign bills sum it with.
    pub fn signed(&self, d: Decimal) -> Decimal {
        if self.is_refund() { -d } else { d }
    }
}

/// One change of an account's (or a voucher's) balance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// Record id.
    pub id: String,
    /// Whose account (partner or customer id).
    pub owner: String,
    /// The voucher, for voucher balance changes.
    #[serde(default)]
    pub coupon_id: Option<String>,
    /// The other side: a customer or reseller, for partner fund movements.
    #[serde(default)]
    pub counterpart: Option<String>,
    /// `DEDEUCT` (the vendor's spelling), `REFUND`, `BEADJUST`, `BERETRIEVE`, `RECHARGE`.
    pub trade_type: String,
    /// The order or transfer.
    pub trade_id: String,
    /// Signed change.
    pub amount: Decimal,
    /// Balance after it.
    pub balance_after: Decimal,
    /// When.
    pub trade_time: String,
    /// Service type, for charges and refunds.
    #[serde(default)]
    pub service_type_code: Option<String>,
}

/// A verification code sent to a mobile number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VerificationCode {
    /// Mobile number.
    pub mobile_phone: String,
    /// The code.
    pub code: String,
    /// 29 registration, 18 bank-card real-name authentication.
    pub scene: u8,
    /// Valid until.
    pub expire_time: String,
    /// Used codes are not accepted twice.
    #[serde(default)]
    pub used: bool,
}

/// What a fee record is about.
pub struct Charge<'a> {
    /// The customer.
    pub customer_id: &'a str,
    /// The order or usage batch.
    pub trade_id: &'a str,
    /// The resource.
    pub resource_id: &'a str,
    /// Its product.
    pub product: &'a Product,
    /// How it is charged.
    pub charging: Charging,
    /// Bill type.
    pub bill_type: u8,
}

impl World {
    /// Posts a fee record.
    pub fn post_fee(
        &mut self,
        ch: &Charge<'_>,
        now: &str,
        official: Decimal,
        cash: Decimal,
        coupon: Decimal,
    ) {
        let id = self.new_id("FR");
        self.fee_records.push(FeeRecord {
            id,
            customer_id: ch.customer_id.to_owned(),
            bill_cycle: now.get(..7).unwrap_or_default().to_owned(),
            trade_time: now.to_owned(),
            trade_id: ch.trade_id.to_owned(),
            service_type_code: ch.product.service_type_code.clone(),
            resource_type_code: ch.product.resource_type_code.clone(),
            region_code: ch.product.region_code.clone(),
            resource_id: ch.resource_id.to_owned(),
            charging_mode: ch.charging.code(),
            bill_type: ch.bill_type,
            official_amount: official,
            amount: cash + coupon,
            cash_amount: cash,
            coupon_amount: coupon,
            usage: None,
            usage_type: None,
        });
    }

    /// Records a change of `owner`'s cash balance (already applied), with the balance after.
    #[allow(clippy::too_many_arguments)]
    pub fn post_change(
        &mut self,
        owner: &str,
        counterpart: Option<&str>,
        trade_type: &str,
        trade_id: &str,
        amount: Decimal,
        now: &str,
        service: Option<&str>,
    ) {
        let balance_after = self.cash_balance(owner);
        let id = self.new_id("AC");
        self.account_changes.push(AccountChange {
            id,
            owner: owner.to_owned(),
            coupon_id: None,
            counterpart: counterpart.map(str::to_owned),
            trade_type: trade_type.to_owned(),
            trade_id: trade_id.to_owned(),
            amount,
            balance_after,
            trade_time: now.to_owned(),
            service_type_code: service.map(str::to_owned),
        });
    }

    /// Records a change of a voucher's balance (already applied).
    pub fn post_coupon_change(
        &mut self,
        coupon_id: &str,
        trade_id: &str,
        amount: Decimal,
        now: &str,
    ) {
        let Some(c) = self.coupons.get(coupon_id) else {
            return;
        };
        let (owner, balance_after) = (c.customer_id.clone(), c.balance);
        let id = self.new_id("AC");
        self.account_changes.push(AccountChange {
            id,
            owner,
            coupon_id: Some(coupon_id.to_owned()),
            counterpart: None,
            trade_type: if amount < Decimal::ZERO {
                "DEDEUCT"
            } else {
                "REFUND"
            }
            .into(),
            trade_id: trade_id.to_owned(),
            amount,
            balance_after,
            trade_time: now.to_owned(),
            service_type_code: None,
        });
    }

    /// A partner's or a customer's cash balance.
    pub fn cash_balance(&self, owner: &str) -> Decimal {
        self.customers
            .get(owner)
            .map(|c| c.balance)
            .or_else(|| self.partners.get(owner).map(|p| p.account.amount))
            .unwrap_or_default()
    }
}
