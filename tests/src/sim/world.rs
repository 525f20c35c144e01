//! The simulated vendor's world: partners, customers, accounts, quotas, vouchers and records.
//! Loaded from a fixture file; every field is exported as state for test assertions.

use super::books::{AccountChange, FeeRecord, VerificationCode};
use super::trade::{FreeResource, FreeResourceUsage, Order, Product, Resource, StoredValueCard};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tiergate_policy::Tier;

/// A partner's cash account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Total balance.
    pub amount: Decimal,
    /// Part of `amount` reserved for designated uses (not allocatable).
    #[serde(default)]
    pub designated_amount: Decimal,
    /// Credit line.
    #[serde(default)]
    pub credit_amount: Decimal,
}

/// A partner account at the vendor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// Partner (account) id; also its `X-Domain-Id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Tier.
    pub tier: Tier,
    /// The distributor managing a cloud reseller.
    #[serde(default)]
    pub parent: Option<String>,
    /// The partner's own AK (the vendor refuses a cloud reseller's).
    pub access_key: String,
    /// The partner's own SK.
    pub secret_key: String,
    /// Cash account.
    #[serde(default)]
    pub account: Account,
    /// When a cloud reseller was associated with its distributor.
    #[serde(default)]
    pub associated_on: Option<String>,
}

/// A customer account bound to one partner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// Customer id (domain id).
    pub id: String,
    /// Customer (company) name.
    pub name: String,
    /// The partner it is bound to.
    pub partner: String,
    /// 1 advisory sale, 2 resale.
    pub association_type: u8,
    /// The customer's own AK, for customer-side APIs.
    #[serde(default)]
    pub access_key: Option<String>,
    /// The customer's own SK.
    #[serde(default)]
    pub secret_key: Option<String>,
    /// Cash balance.
    #[serde(default)]
    pub balance: Decimal,
    /// Login name, when it differs from the id (customers created through the API).
    #[serde(default)]
    pub account_name: Option<String>,
    /// Mobile number the account was registered with.
    #[serde(default)]
    pub mobile: Option<String>,
    /// When it was bound to its partner.
    #[serde(default)]
    pub associated_on: Option<String>,
    /// How its partner froze it, if frozen.
    #[serde(default)]
    pub frozen: Option<FreezeType>,
    /// Real-name authentication, once applied for.
    #[serde(default)]
    pub realname: Option<RealName>,
    /// The vendor's new-customer tag: `Y`, `N` or `UNDETERMINED`.
    #[serde(default)]
    pub new_customer_tag: Option<String>,
    /// Business discounts the customer enjoys.
    #[serde(default)]
    pub business_discounts: Vec<BusinessDiscount>,
    /// Renewal settings (`DEDUCTION_DATE`, `EXPIRE_DATE`).
    #[serde(default)]
    pub renew_config: BTreeMap<String, String>,
}

impl Customer {
    /// The login name.
    pub fn login(&self) -> &str {
        self.account_name.as_deref().unwrap_or(&self.id)
    }
}

/// How a customer is frozen (unfreezing must name the same).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FreezeType {
    /// The account only.
    Account,
    /// The account and its resources.
    AccountAndResource,
}

/// A customer's real-name authentication.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RealName {
    /// 0 individual, 1 enterprise.
    pub verified_type: u8,
    /// 0 under review, 1 rejected, 2 passed.
    pub review_result: u8,
    /// The reviewer's opinion.
    #[serde(default)]
    pub opinion: String,
    /// Name (person or company) authenticated.
    #[serde(default)]
    pub name: String,
}

/// A business discount (`category_quoting_items` of the vendor's business terms).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BusinessDiscount {
    /// Service type it applies to.
    pub cloud_service_type: String,
    /// `PERIOD` or `ON_DEMAND`.
    pub charging_mode: String,
    /// Share of the list price paid (0.85 is 15% off).
    pub discount_ratio: Decimal,
}

/// A restriction of a quota (or voucher): `limit_key` with allowed values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitInfo {
    /// e.g. `cloud_service_types`, `product_ids`.
    pub limit_key: String,
    /// Allowed values.
    pub limit_values: Vec<String>,
}

/// A voucher (coupon) quota.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Quota id.
    pub quota_id: String,
    /// Owning partner.
    pub owner: String,
    /// 0 voucher, 1 cash.
    #[serde(default)]
    pub quota_type: u8,
    /// Initial value.
    pub quota_value: Decimal,
    /// Remaining balance.
    pub balance: Decimal,
    /// 0 normal, 3 expired or invalidated, 4 being adjusted, 5 frozen.
    #[serde(default)]
    pub quota_status: u8,
    /// Start of validity (RFC 3339, UTC).
    pub effective_time: String,
    /// End of validity (RFC 3339, UTC).
    pub expire_time: String,
    /// Restrictions vouchers must stay within.
    #[serde(default)]
    pub limit_infos: Vec<LimitInfo>,
    /// The distributor quota a reseller quota was issued from.
    #[serde(default)]
    pub parent_quota_id: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub create_time: String,
}

/// An issued voucher.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Coupon {
    /// Voucher id.
    pub coupon_id: String,
    /// Quota it was issued from.
    pub quota_id: String,
    /// Partner that issued it (the acting partner).
    pub issuer: String,
    /// Receiving customer.
    pub customer_id: String,
    /// Face value.
    pub face_value: Decimal,
    /// Unused balance.
    pub balance: Decimal,
    /// 1 usable, 4 reclaimed.
    pub status: u8,
    /// Validity start.
    pub effective_time: String,
    /// Validity end.
    pub expire_time: String,
    /// Issue time.
    pub create_time: String,
    /// Service-type restriction.
    pub cloud_service_types: Vec<String>,
    /// Product restriction.
    pub product_ids: Vec<String>,
    /// Memo.
    pub memo: String,
}

/// A record of quota issue (10) or reclaim (11) to a reseller.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuotaRecord {
    /// Record id.
    pub id: String,
    /// The distributor that operated.
    pub operator: String,
    /// "10" issue, "11" reclaim.
    pub operation_type: String,
    /// The reseller's quota.
    pub quota_id: String,
    /// The distributor's quota.
    pub parent_quota_id: String,
    /// Amount.
    pub amount: Decimal,
    /// When.
    pub operation_time: String,
    /// The reseller.
    pub indirect_partner_id: String,
    /// Remark.
    pub remark: String,
}

/// A record of voucher issue ("1") or reclaim ("2").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CouponRecord {
    /// Record id.
    pub id: String,
    /// The acting partner.
    pub partner: String,
    /// "1" issue, "2" reclaim.
    pub operation_type: String,
    /// Quota.
    pub quota_id: String,
    /// Voucher.
    pub coupon_id: String,
    /// Customer.
    pub customer_id: String,
    /// Amount.
    pub operation_amount: Decimal,
    /// When.
    pub operation_time: String,
}

/// A funds movement between a partner and a customer or a distributor and a reseller.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdjustRecord {
    /// The partner whose account moved.
    pub partner: String,
    /// The customer, for customer allocations.
    pub customer_id: Option<String>,
    /// The reseller, for distributor-to-reseller movements.
    pub indirect_partner_id: Option<String>,
    /// `SOURCE_OPERATION_BEADJUST` or `SOURCE_OPERATION_BERETRIEVE`.
    pub operation_type: String,
    /// Amount.
    pub amount: Decimal,
    /// Transaction id.
    pub trans_id: String,
    /// When.
    pub operation_time: String,
}

/// One request as the simulator saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The AK in the Authorization header, if any.
    pub access_key: Option<String>,
    /// Response status.
    pub status: u16,
    /// Error code, if refused.
    pub error_code: Option<String>,
    /// The declared body type, if any.
    pub content_type: Option<String>,
    /// The query string as received.
    pub query: String,
    /// The W3C `traceparent` it carried, if any.
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// The fixture file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Partners.
    pub partners: Vec<Partner>,
    /// Customers.
    #[serde(default)]
    pub customers: Vec<Customer>,
    /// Voucher quotas.
    #[serde(default)]
    pub quotas: Vec<Quota>,
    /// Requests per second per API per account (the vendor's is 10); 0 disables.
    #[serde(default = "default_rate")]
    pub rate_limit_per_second: u32,
    /// Products and their list prices.
    #[serde(default)]
    pub products: Vec<Product>,
    /// Customer orders.
    #[serde(default)]
    pub orders: Vec<Order>,
    /// Customer resources.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Fee records (bills).
    #[serde(default)]
    pub fee_records: Vec<FeeRecord>,
    /// Account and voucher balance changes.
    #[serde(default)]
    pub account_changes: Vec<AccountChange>,
    /// Stored-value cards.
    #[serde(default)]
    pub stored_value_cards: Vec<StoredValueCard>,
    /// Resource packages.
    #[serde(default)]
    pub free_resources: Vec<FreeResource>,
    /// Resource package deductions.
    #[serde(default)]
    pub free_resource_usages: Vec<FreeResourceUsage>,
    /// Verification codes sent (and seeded for tests).
    #[serde(default)]
    pub verification_codes: Vec<VerificationCode>,
}

fn default_rate() -> u32 {
    10
}

/// The whole state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct World {
    /// Partners by id.
    pub partners: BTreeMap<String, Partner>,
    /// Customers by id.
    pub customers: BTreeMap<String, Customer>,
    /// Quotas by id.
    pub quotas: BTreeMap<String, Quota>,
    /// Vouchers by id.
    pub coupons: BTreeMap<String, Coupon>,
    /// Quota issue/reclaim records.
    pub quota_records: Vec<QuotaRecord>,
    /// Voucher records.
    pub coupon_records: Vec<CouponRecord>,
    /// Fund movements.
    pub adjust_records: Vec<AdjustRecord>,
    /// Every API request received, in order.
    pub requests: Vec<LoggedRequest>,
    /// Requests per second per API per account.
    pub rate_limit_per_second: u32,
    /// Products by id.
    pub products: BTreeMap<String, Product>,
    /// Orders by id.
    pub orders: BTreeMap<String, Order>,
    /// Resources by id.
    pub resources: BTreeMap<String, Resource>,
    /// Fee records, in order.
    pub fee_records: Vec<FeeRecord>,
    /// Account and voucher balance changes, in order.
    pub account_changes: Vec<AccountChange>,
    /// Stored-value cards.
    pub stored_value_cards: Vec<StoredValueCard>,
    /// Resource packages.
    pub free_resources: Vec<FreeResource>,
    /// Resource package deductions.
    pub free_resource_usages: Vec<FreeResourceUsage>,
    /// Verification codes.
    pub verification_codes: Vec<VerificationCode>,
    /// Sequence for generated ids (deterministic).
    pub next_id: u64,
}

impl World {
    /// Builds the world from a fixture.
    pub fn from_fixture(f: Fixture) -> Self {
        Self {
            partners: f.partners.into_iter().map(|p| (p.id.clone(), p)).collect(),
            customers: f.customers.into_iter().map(|c| (c.id.clone(), c)).collect(),
            quotas: f
                .quotas
                .into_iter()
                .map(|q| (q.quota_id.clone(), q))
                .collect(),
            coupons: BTreeMap::new(),
            quota_records: Vec::new(),
            coupon_records: Vec::new(),
            adjust_records: Vec::new(),
            requests: Vec::new(),
            rate_limit_per_second: f.rate_limit_per_second,
            products: f
                .products
                .into_iter()
                .map(|p| (p.product_id.clone(), p))
                .collect(),
            orders: f
                .orders
                .into_iter()
                .map(|o| (o.order_id.clone(), o))
                .collect(),
            resources: f
                .resources
                .into_iter()
                .map(|r| (r.resource_id.clone(), r))
                .collect(),
            fee_records: f.fee_records,
            account_changes: f.account_changes,
            stored_value_cards: f.stored_value_cards,
            free_resources: f.free_resources,
            free_resource_usages: f.free_resource_usages,
            verification_codes: f.verification_codes,
            next_id: 1,
        }
    }

    /// A fresh deterministic id with a prefix.
    pub fn new_id(&mut self, prefix: &str) -> String {
        let id = format!("{prefix}{:08}", self.next_id);
        self.next_id += 1;
        id
    }

    /// Whether `reseller` is one of `distributor`'s cloud resellers.
    pub fn is_reseller_of(&self, reseller: &str, distributor: &str) -> bool {
        self.partners.get(reseller).is_some_and(|p| {
            p.tier == Tier::CloudReseller && p.parent.as_deref() == Some(distributor)
        })
    }
}
