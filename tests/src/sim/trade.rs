//! What customers buy: products with list prices, orders, resources, resource packages and
//! stored-value cards. Plain state; the operations live in `orders`, `resources`, `customer`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A product of the vendor's catalogue with its list prices.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Product id.
    pub product_id: String,
    /// Cloud service type (`hws.service.type.ec2`).
    pub service_type_code: String,
    /// Resource type (`hws.resource.type.vm`).
    pub resource_type_code: String,
    /// Resource specification (`s6.small.1.linux`).
    pub resource_spec_code: String,
    /// Region.
    pub region_code: String,
    /// Human description of the specification.
    pub spec_desc: String,
    /// On-demand price per hour.
    pub hourly: Decimal,
    /// Monthly price, when sold by the month.
    #[serde(default)]
    pub monthly: Option<Decimal>,
    /// Yearly price, when sold by the year.
    #[serde(default)]
    pub yearly: Option<Decimal>,
}

impl Product {
    /// The price of `num` periods (`period_type` 2 month, 3 year).
    pub fn period_price(&self, period_type: i64, num: i64) -> Option<Decimal> {
        let unit = match period_type {
            2 => self.monthly?,
            3 => self.yearly?,
            _ => return None,
        };
        Some(unit * Decimal::from(num))
    }
}

/// Order status: cancelled.
pub const CANCELLED: u8 = 4;
/// Order status: completed.
pub const COMPLETED: u8 = 5;
/// Order status: pending payment.
pub const PENDING_PAYMENT: u8 = 6;
/// Order type: new purchase.
pub const NEW_PURCHASE: u8 = 1;
/// Order type: renewal.
pub const RENEWAL: u8 = 2;
/// Order type: unsubscription (a refund order).
pub const UNSUBSCRIBE: u8 = 4;
/// Order type: yearly/monthly to on-demand.
pub const TO_ON_DEMAND: u8 = 10;

/// One line of an order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// Line id.
    pub line_id: String,
    /// Product bought.
    pub product_id: String,
    /// 2 month, 3 year; 0 for refunds and conversions.
    pub period_type: u8,
    /// Number of periods.
    pub period_num: u32,
    /// List price of the line.
    pub official_amount: Decimal,
    /// The resource the line opens, renews or refunds (set once known).
    #[serde(default)]
    pub resource_id: Option<String>,
}

/// A discount offered on a pending order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderDiscount {
    /// Discount id.
    pub discount_id: String,
    /// 0 promotion, 2 business, 3 granted by the partner.
    pub discount_type: u8,
    /// Share of the list price paid (0.9 is 10% off).
    pub ratio: Decimal,
}

/// A voucher deduction on a paid order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CouponUse {
    /// Voucher.
    pub coupon_id: String,
    /// Amount deducted.
    pub amount: Decimal,
}

/// A customer order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Order id.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// Service type of the order.
    pub service_type_code: String,
    /// 1 new, 2 renewal, 3 change, 4 unsubscription, 10 to on-demand.
    pub order_type: u8,
    /// 3 processing, 4 cancelled, 5 completed, 6 pending payment.
    pub status: u8,
    /// List price (for refund orders: the amount refunded).
    pub official_amount: Decimal,
    /// Amount after discount (due while pending, paid once completed).
    pub amount: Decimal,
    /// Discount deducted at payment.
    #[serde(default)]
    pub discount_amount: Decimal,
    /// Vouchers deducted at payment.
    #[serde(default)]
    pub coupon_amount: Decimal,
    /// Paid from (or refunded to) the cash balance.
    #[serde(default)]
    pub cash_amount: Decimal,
    /// Created.
    pub create_time: String,
    /// Paid.
    #[serde(default)]
    pub payment_time: Option<String>,
    /// Lines.
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    /// Discounts offered while pending.
    #[serde(default)]
    pub discounts: Vec<OrderDiscount>,
    /// The discount applied at payment.
    #[serde(default)]
    pub applied_discount: Option<String>,
    /// Vouchers used at payment.
    #[serde(default)]
    pub coupons_used: Vec<CouponUse>,
    /// For refund orders: the order whose resources were refunded.
    #[serde(default)]
    pub base_order_id: Option<String>,
}

/// How a resource is charged.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Charging {
    /// Yearly/monthly (charging mode 1).
    Period,
    /// On demand (charging mode 3).
    OnDemand,
}

impl Charging {
    /// The vendor's charging mode number.
    pub fn code(self) -> u8 {
        match self {
            Charging::Period => 1,
            Charging::OnDemand => 3,
        }
    }
}

/// Resource status: in use.
pub const IN_USE: u8 = 2;
/// Resource status: closed.
pub const CLOSED: u8 = 3;
/// Resource status: frozen.
pub const FROZEN: u8 = 4;
/// Expiry policy: to on-demand.
pub const POLICY_TO_ON_DEMAND: u8 = 1;
/// Expiry policy: renew automatically.
pub const POLICY_AUTO_RENEW: u8 = 3;

/// A customer's resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Resource id.
    pub resource_id: String,
    /// Owner.
    pub customer_id: String,
    /// Display name.
    pub name: String,
    /// Product (and so service, type, spec, region and price).
    pub product_id: String,
    /// The order that opened it.
    #[serde(default)]
    pub order_id: Option<String>,
    /// How it is charged.
    pub charging: Charging,
    /// 2 in use, 3 closed, 4 frozen, 5 expired.
    pub status: u8,
    /// Start.
    pub effective_time: String,
    /// End of the paid period (yearly/monthly only).
    #[serde(default)]
    pub expire_time: Option<String>,
    /// After expiry: 0 grace period, 1 to on-demand, 3 auto-renew, 4 freeze...
    #[serde(default)]
    pub expire_policy: u8,
    /// Auto-renewals left (0 unlimited), when auto-renewing.
    #[serde(default)]
    pub auto_renew_times: Option<u32>,
    /// 2 month, 3 year: the period it was bought by.
    #[serde(default)]
    pub period_type: Option<u8>,
    /// Cash paid for the current term (what an unsubscription refunds pro rata).
    #[serde(default)]
    pub paid_cash: Decimal,
}

/// A stored-value card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoredValueCard {
    /// Card id.
    pub card_id: String,
    /// Holder.
    pub customer_id: String,
    /// Name.
    pub card_name: String,
    /// Face value.
    pub face_value: Decimal,
    /// Balance.
    pub balance: Decimal,
    /// Validity start.
    pub effective_time: String,
    /// Validity end.
    pub expire_time: String,
}

/// A resource package holding one free resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FreeResource {
    /// The package instance.
    pub order_instance_id: String,
    /// The free resource inside it.
    pub free_resource_id: String,
    /// Holder.
    pub customer_id: String,
    /// The order that bought it.
    pub order_id: String,
    /// Product.
    pub product_id: String,
    /// Product name.
    pub product_name: String,
    /// Service type.
    pub service_type_code: String,
    /// Resource type it deducts for.
    pub resource_type_code: String,
    /// Region.
    pub region_code: String,
    /// Usage type name.
    pub usage_type_name: String,
    /// Remaining.
    pub amount: Decimal,
    /// Original.
    pub original_amount: Decimal,
    /// Unit of the amounts.
    pub measure_id: u32,
    /// Validity start.
    pub effective_time: String,
    /// Validity end.
    pub expire_time: String,
}

/// One deduction from a free resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FreeResourceUsage {
    /// Free resource.
    pub free_resource_id: String,
    /// The resource that used it.
    pub resource_id: String,
    /// When.
    pub deduct_time: String,
    /// Amount used.
    pub used_amount: Decimal,
}
