//! The partner API's route catalogue: every operation Tiergate knows, with the vendor's
//! caller constraint and the identifiers each carries. Anything else is denied.

use serde::Serialize;

/// HTTP methods the partner API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    /// Parses an upper-case HTTP method name.
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// The vendor's own statement of who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerConstraint {
    /// Only a distributor's AK/SK.
    DistributorOnly,
    /// A solution provider's or a distributor's AK/SK.
    SolutionProviderOrDistributor,
    /// Any partner's AK/SK.
    Partner,
    /// Only the customer's own AK/SK, never a partner's.
    CustomerOnly,
}

/// Where an operation carries its identifiers (and where `indirect_partner_id` goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdLocation {
    /// The query string.
    Query,
    /// The JSON body.
    Body,
}

/// What an identifier refers to, and so whose it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// `indirect_partner_id` on partner routes: on whose behalf the call acts.
    ActingPartner,
    /// A reseller acted upon (distributor-only routes): one of the distributor's resellers.
    Reseller,
    /// A customer of the acting partner.
    Customer,
    /// A customer of the acting partner that may receive money: resale customers only.
    ResaleCustomer,
    /// A voucher quota of the acting partner (on distributor-only routes: of the
    /// distributor or one of its resellers).
    Quota,
    /// A voucher issued by the acting partner.
    Coupon,
}

/// An identifier field of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdField {
    /// Field (or query parameter) name.
    pub name: &'static str,
    /// What it refers to.
    pub kind: IdKind,
}

impl IdField {
    /// Whether the field is a list (`customer_ids`): an array in a body, and in a query the
    /// one parameter that may be repeated. The vendor names every list field `..._ids`.
    pub fn is_list(&self) -> bool {
        self.name.ends_with("_ids")
    }
}

/// The JSON type a field must have for Tiergate and the vendor to read it alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Typed {
    /// A string.
    Text,
    /// An array of strings.
    Texts,
    /// A number (amounts: the vendor's SDK sends them as JSON numbers).
    Number,
}

impl Typed {
    /// What a field of this type must be, for an error message.
    pub fn expected(self) -> &'static str {
        match self {
            Typed::Text => "a string",
            Typed::Texts => "a list of strings",
            Typed::Number => "a JSON number",
        }
    }
}

/// One partner API operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Position in [`CATALOGUE`]; grants are bit sets over it.
    pub index: u8,
    /// Stable operation id (the vendor SDK's method name), used in rules, logs and metrics.
    pub operation: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path template; `{name}` matches one non-empty segment.
    pub path: &'static str,
    /// Whether the call moves money (funds, vouchers, quota): audited and policed.
    pub money_moving: bool,
    /// The vendor's caller constraint.
    pub caller: CallerConstraint,
    /// Whether a cloud reseller may call it through Tiergate, acting as itself via
    /// `indirect_partner_id` on the distributor's account.
    pub reseller_scoped: bool,
    /// Where identifiers are carried.
    pub ids_in: IdLocation,
    /// The identifiers it carries.
    pub ids: &'static [IdField],
    /// The amount fields Tiergate reads (JSON numbers).
    pub numbers: &'static [&'static str],
}

impl Route {
    /// Whether the call changes anything at the vendor. Reads are the GETs and the POST
    /// searches (paths ending in `/query`); everything else changes state.
    pub fn changes_state(&self) -> bool {
        self.money_moving || !(self.method == Method::Get || self.path.ends_with("/query"))
    }

    const fn numbers(mut self, numbers: &'static [&'static str]) -> Route {
        self.numbers = numbers;
        self
    }
}

const fn id(name: &'static str, kind: IdKind) -> IdField {
    IdField { name, kind }
}

const fn r(
    operation: &'static str,
    method: Method,
    path: &'static str,
    money_moving: bool,
    caller: CallerConstraint,
    reseller_scoped: bool,
    ids: &'static [IdField],
) -> Route {
    let ids_in = match method {
        Method::Get | Method::Delete => IdLocation::Query,
        Method::Post | Method::Put => IdLocation::Body,
    };
    Route {
        index: 0,
        operation,
        method,
        path,
        money_moving,
        caller,
        reseller_scoped,
        ids_in,
        ids,
        numbers: &[],
    }
}

const fn numbered<const N: usize>(mut routes: [Route; N]) -> [Route; N] {
    let mut i = 0;
    while i < N {
        routes[i].index = i as u8;
        i += 1;
    }
    routes
}

use CallerConstraint::{CustomerOnly, DistributorOnly, Partner, SolutionProviderOrDistributor};
use IdKind::{ActingPartner, Coupon, Customer, Quota, ResaleCustomer, Reseller};
use Method::{Delete, Get, Post, Put};

const ACTING: IdField = id("indirect_partner_id", ActingPartner);
const CUSTOMER: IdField = id("customer_id", Customer);
const QUOTA: IdField = id("quota_id", Quota);

/// Number of operations; grants are `u64` bit sets, so at most 64.
pub const ROUTE_COUNT: usize = 35;
const _: () = assert!(ROUTE_COUNT <= 64);

/// Every operation Tiergate forwards. Order matters only for templates (first match wins).
pub static CATALOGUE: [Route; ROUTE_COUNT] = numbered([
    // Voucher quota.
    r(
        "list_quota_coupons",
        Post,
        "/v2/partners/coupon-quotas/query",
        false,
        Partner,
        true,
        &[id("quota_ids", Quota), ACTING],
    ),
    r(
        "update_coupon_quotas",
        Post,
        "/v2/partners/coupon-quotas/indirect-partner-adjust",
        true,
        DistributorOnly,
        false,
        &[QUOTA, id("indirect_partner_ids", Reseller)],
    )
    .numbers(&["quota_amount"]),
    r(
        "reclaim_coupon_quotas",
        Post,
        "/v2/partners/coupon-quotas/indirect-partner-reclaim",
        true,
        DistributorOnly,
        false,
        &[id("quota_ids", Quota)],
    ),
    r(
        "list_issued_coupon_quotas",
        Get,
        "/v2/partners/issued-coupon-quotas",
        false,
        DistributorOnly,
        false,
        &[
            QUOTA,
            id("parent_quota_id", Quota),
            id("indirect_partner_id", Reseller),
        ],
    ),
    r(
        "list_coupon_quotas_records",
        Get,
        "/v2/partners/coupon-quotas/records",
        false,
        DistributorOnly,
        false,
        &[
            QUOTA,
            id("parent_quota_id", Quota),
            id("indirect_partner_id", Reseller),
        ],
    ),
    // Vouchers.
    r(
        "create_partner_coupons",
        Post,
        "/v2/promotions/benefits/partner-coupons",
        true,
        Partner,
        true,
        &[QUOTA, id("customer_ids", ResaleCustomer), ACTING],
    )
    .numbers(&["face_value"]),
    r(
        "reclaim_partner_coupons",
        Post,
        "/v2/promotions/benefits/partner-coupons/reclaim",
        true,
        Partner,
        true,
        &[id("coupon_id", Coupon), ACTING],
    ),
    r(
        "list_issued_partner_coupons",
        Get,
        "/v2/promotions/benefits/partner-coupons",
        false,
        Partner,
        true,
        &[id("coupon_id", Coupon), CUSTOMER, ACTING],
    ),
    r(
        "list_partner_coupons_record",
        Get,
        "/v2/promotions/benefits/partner-coupons/records/query",
        false,
        Partner,
        true,
        &[QUOTA, id("coupon_ids", Coupon), CUSTOMER, ACTING],
    ),
    // Funds.
    r(
        "update_customer_account_amount",
        Post,
        "/v2/accounts/partner-accounts/adjust-amount",
        true,
        Partner,
        true,
        &[id("customer_id", ResaleCustomer), ACTING],
    )
    .numbers(&["amount"]),
    r(
        "reclaim_to_partner_account",
        Post,
        "/v2/accounts/partner-accounts/reclaim",
        true,
        Partner,
        true,
        &[CUSTOMER, ACTING],
    )
    .numbers(&["amount"]),
    r(
        "update_indirect_partner_account",
        Post,
        "/v2/accounts/partner-accounts/indirect-partner-adjust",
        true,
        DistributorOnly,
        false,
        &[id("indirect_partner_id", Reseller)],
    )
    .numbers(&["amount"]),
    r(
        "reclaim_indirect_partner_account",
        Post,
        "/v2/accounts/partner-accounts/indirect-partner-reclaim",
        true,
        DistributorOnly,
        false,
        &[id("indirect_partner_id", Reseller)],
    )
    .numbers(&["amount"]),
    r(
        "list_partner_adjust_records",
        Get,
        "/v3/accounts/partner-accounts/adjust-records",
        false,
        Partner,
        true,
        &[CUSTOMER, ACTING],
    ),
    r(
        "list_partner_balances",
        Get,
        "/v2/accounts/partner-accounts/balances",
        false,
        Partner,
        true,
        &[ACTING],
    ),
    // Customers and resellers.
    r(
        "create_sub_customer",
        Post,
        "/v2/partners/sub-customers",
        false,
        Partner,
        false,
        &[ACTING],
    ),
    r(
        "list_sub_customers",
        Post,
        "/v2/partners/sub-customers/query",
        false,
        Partner,
        true,
        &[CUSTOMER, ACTING],
    ),
    r(
        "list_indirect_partners",
        Post,
        "/v2/partners/indirect-partners/query",
        false,
        DistributorOnly,
        false,
        &[id("indirect_partner_id", Reseller)],
    ),
    // Reference data.
    r(
        "list_incentive_discount_policies",
        Get,
        "/v2/products/incentive-discount-policies",
        false,
        SolutionProviderOrDistributor,
        false,
        &[],
    ),
    r(
        "list_service_types",
        Get,
        "/v2/products/service-types",
        false,
        Partner,
        false,
        &[],
    ),
    r(
        "list_resource_types",
        Get,
        "/v2/products/resource-types",
        false,
        Partner,
        false,
        &[],
    ),
    // Customer side: the customer's own credentials only.
    r(
        "show_customer_account_balances",
        Get,
        "/v2/accounts/customer-accounts/balances",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "list_stored_value_cards",
        Get,
        "/v2/promotions/benefits/stored-value-cards",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "list_sub_customer_coupons",
        Get,
        "/v2/promotions/benefits/coupons",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "list_customer_orders",
        Get,
        "/v2/orders/customer-orders",
        false,
        CustomerOnly,
        false,
        &[CUSTOMER],
    ),
    r(
        "show_customer_order_details",
        Get,
        "/v2/orders/customer-orders/details/{order_id}",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "cancel_customer_order",
        Put,
        "/v2/orders/customer-orders/cancel",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "pay_orders",
        Post,
        "/v3/orders/customer-orders/pay",
        true,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "list_pay_per_use_customer_resources",
        Post,
        "/v2/orders/suscriptions/resources/query",
        false,
        CustomerOnly,
        false,
        &[CUSTOMER],
    ),
    r(
        "renewal_resources",
        Post,
        "/v2/orders/subscriptions/resources/renew",
        true,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "cancel_resources_subscription",
        Post,
        "/v2/orders/subscriptions/resources/unsubscribe",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "update_period_to_on_demand",
        Post,
        "/v2/orders/subscriptions/resources/to-on-demand",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "set_resources_renew_config",
        Post,
        "/v2/orders/subscriptions/resources/renew/config",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "auto_renewal_resources",
        Post,
        "/v2/orders/subscriptions/resources/autorenew/{resource_id}",
        false,
        CustomerOnly,
        false,
        &[],
    ),
    r(
        "cancel_auto_renewal_resources",
        Delete,
        "/v2/orders/subscriptions/resources/autorenew/{resource_id}",
        false,
        CustomerOnly,
        false,
        &[],
    ),
]);

fn matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') => {
                if ps.is_empty() {
                    return false;
                }
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return false,
        }
    }
}

/// Finds the operation for a method and a (raw) path; `None` means deny.
pub fn find_route(method: &str, path: &str) -> Option<&'static Route> {
    let method = Method::parse(method)?;
    CATALOGUE
        .iter()
        .find(|r| r.method == method && matches(r.path, path))
}

/// Finds an operation by its id.
pub fn route_by_operation(operation: &str) -> Option<&'static Route> {
    CATALOGUE.iter().find(|r| r.operation == operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_and_templated_routes() {
        let r = find_route("POST", "/v2/promotions/benefits/partner-coupons");
        assert_eq!(r.map(|r| r.operation), Some("create_partner_coupons"));
        let r = find_route("GET", "/v2/promotions/benefits/partner-coupons");
        assert_eq!(r.map(|r| r.operation), Some("list_issued_partner_coupons"));
        let r = find_route("GET", "/v2/orders/customer-orders/details/O-1");
        assert_eq!(r.map(|r| r.operation), Some("show_customer_order_details"));
        let r = find_route("DELETE", "/v2/orders/subscriptions/resources/autorenew/R1");
        assert_eq!(
            r.map(|r| r.operation),
            Some("cancel_auto_renewal_resources")
        );
    }

    #[test]
    fn refuses_unknown_methods_paths_and_lookalikes() {
        assert!(find_route("DELETE", "/v2/promotions/benefits/partner-coupons").is_none());
        assert!(find_route("PATCH", "/v2/partners/sub-customers").is_none());
        assert!(find_route("POST", "/v2/promotions/benefits/partner-coupons/").is_none());
        assert!(find_route("POST", "/v2/promotions/benefits/partner-coupons/x").is_none());
        assert!(find_route("GET", "/v2/orders/customer-orders/details/").is_none());
        assert!(find_route("GET", "/v2/../v2/partners/issued-coupon-quotas").is_none());
        assert!(find_route("GET", "/").is_none());
    }

    #[test]
    fn operations_are_unique_indexed_and_reseller_routes_are_partner_routes() {
        let mut ops: Vec<_> = CATALOGUE.iter().map(|r| r.operation).collect();
        ops.sort_unstable();
        ops.dedup();
        assert_eq!(ops.len(), CATALOGUE.len());
        for (i, r) in CATALOGUE.iter().enumerate() {
            assert_eq!(usize::from(r.index), i);
            assert_eq!(route_by_operation(r.operation), Some(r));
        }
        for r in CATALOGUE.iter().filter(|r| r.reseller_scoped) {
            assert_eq!(r.caller, CallerConstraint::Partner, "{}", r.operation);
            assert!(r.ids.contains(&ACTING), "{}", r.operation);
        }
    }
}
