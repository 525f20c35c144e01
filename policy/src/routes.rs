//! The partner API's route catalogue: every operation Tiergate knows. Anything else is denied.

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

/// One partner API operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Stable operation id (the vendor SDK's method name), used in logs and metrics.
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
}

const fn r(
    operation: &'static str,
    method: Method,
    path: &'static str,
    money_moving: bool,
    caller: CallerConstraint,
    reseller_scoped: bool,
) -> Route {
    let ids_in = match method {
        Method::Get | Method::Delete => IdLocation::Query,
        Method::Post | Method::Put => IdLocation::Body,
    };
    Route {
        operation,
        method,
        path,
        money_moving,
        caller,
        reseller_scoped,
        ids_in,
    }
}

use CallerConstraint::{CustomerOnly, DistributorOnly, Partner, SolutionProviderOrDistributor};
use Method::{Get, Post};

/// Every operation Tiergate forwards. Order matters only for templates (first match wins).
pub static CATALOGUE: &[Route] = &[
    // Voucher quota.
    r(
        "list_quota_coupons",
        Post,
        "/v2/partners/coupon-quotas/query",
        false,
        Partner,
        true,
    ),
    r(
        "update_coupon_quotas",
        Post,
        "/v2/partners/coupon-quotas/indirect-partner-adjust",
        true,
        DistributorOnly,
        false,
    ),
    r(
        "reclaim_coupon_quotas",
        Post,
        "/v2/partners/coupon-quotas/indirect-partner-reclaim",
        true,
        DistributorOnly,
        false,
    ),
    r(
        "list_issued_coupon_quotas",
        Get,
        "/v2/partners/issued-coupon-quotas",
        false,
        DistributorOnly,
        false,
    ),
    r(
        "list_coupon_quotas_records",
        Get,
        "/v2/partners/coupon-quotas/records",
        false,
        DistributorOnly,
        false,
    ),
    // Vouchers.
    r(
        "create_partner_coupons",
        Post,
        "/v2/promotions/benefits/partner-coupons",
        true,
        Partner,
        true,
    ),
    r(
        "reclaim_partner_coupons",
        Post,
        "/v2/promotions/benefits/partner-coupons/reclaim",
        true,
        Partner,
        true,
    ),
    r(
        "list_issued_partner_coupons",
        Get,
        "/v2/promotions/benefits/partner-coupons",
        false,
        Partner,
        true,
    ),
    r(
        "list_partner_coupons_record",
        Get,
        "/v2/promotions/benefits/partner-coupons/records/query",
        false,
        Partner,
        true,
    ),
    // Funds.
    r(
        "update_customer_account_amount",
        Post,
        "/v2/accounts/partner-accounts/adjust-amount",
        true,
        Partner,
        true,
    ),
    r(
        "reclaim_to_partner_account",
        Post,
        "/v2/accounts/partner-accounts/reclaim",
        true,
        Partner,
        true,
    ),
    r(
        "update_indirect_partner_account",
        Post,
        "/v2/accounts/partner-accounts/indirect-partner-adjust",
        true,
        DistributorOnly,
        false,
    ),
    r(
        "reclaim_indirect_partner_account",
        Post,
        "/v2/accounts/partner-accounts/indirect-partner-reclaim",
        true,
        DistributorOnly,
        false,
    ),
    r(
        "list_partner_adjust_records",
        Get,
        "/v3/accounts/partner-accounts/adjust-records",
        false,
        Partner,
        true,
    ),
    r(
        "list_partner_balances",
        Get,
        "/v2/accounts/partner-accounts/balances",
        false,
        Partner,
        true,
    ),
    // Customers and resellers.
    r(
        "create_sub_customer",
        Post,
        "/v2/partners/sub-customers",
        false,
        Partner,
        false,
    ),
    r(
        "list_sub_customers",
        Post,
        "/v2/partners/sub-customers/query",
        false,
        Partner,
        true,
    ),
    r(
        "list_indirect_partners",
        Post,
        "/v2/partners/indirect-partners/query",
        false,
        DistributorOnly,
        false,
    ),
    // Reference data.
    r(
        "list_incentive_discount_policies",
        Get,
        "/v2/products/incentive-discount-policies",
        false,
        SolutionProviderOrDistributor,
        false,
    ),
    r(
        "list_service_types",
        Get,
        "/v2/products/service-types",
        false,
        Partner,
        false,
    ),
    r(
        "list_resource_types",
        Get,
        "/v2/products/resource-types",
        false,
        Partner,
        false,
    ),
    // Customer side.
    r(
        "show_customer_account_balances",
        Get,
        "/v2/accounts/customer-accounts/balances",
        false,
        CustomerOnly,
        false,
    ),
    r(
        "list_stored_value_cards",
        Get,
        "/v2/promotions/benefits/stored-value-cards",
        false,
        CustomerOnly,
        false,
    ),
    r(
        "list_customer_orders",
        Get,
        "/v2/orders/customer-orders",
        false,
        CustomerOnly,
        false,
    ),
    r(
        "show_customer_order_details",
        Get,
        "/v2/orders/customer-orders/details/{order_id}",
        false,
        CustomerOnly,
        false,
    ),
    r(
        "pay_orders",
        Post,
        "/v3/orders/customer-orders/pay",
        true,
        CustomerOnly,
        false,
    ),
];

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
    fn operations_are_unique_and_reseller_routes_are_partner_routes() {
        let mut ops: Vec<_> = CATALOGUE.iter().map(|r| r.operation).collect();
        ops.sort_unstable();
        ops.dedup();
        assert_eq!(ops.len(), CATALOGUE.len());
        for r in CATALOGUE.iter().filter(|r| r.reseller_scoped) {
            assert_eq!(r.caller, CallerConstraint::Partner, "{}", r.operation);
        }
    }
}
