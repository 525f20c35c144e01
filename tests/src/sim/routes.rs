//! The vendor's own table of its partner and customer API: every operation of the SDK
//! (`BssClient` method names), its method and path, who the vendor lets call it, and the
//! simulator's handler. Tiergate's catalogue is a different thing (what Tiergate forwards and
//! how it polices it); the simulator models the vendor, so it routes by this table only.

use super::request::{Call, OpResult};
use super::world::World;
use super::{accounts, bills, coupons, customer, enterprise, funds, identity, lists, orders};
use super::{pricing, quotas, reference, resources};

/// An operation's handler.
pub type Op = fn(&mut World, &Call) -> OpResult;

/// Who the vendor accepts as the caller of an operation, in the vendor's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// "Only a distributor's (tier-1 reseller's) AK/SK or token."
    DistributorOnly,
    /// "Only a solution provider's or a distributor's AK/SK or token."
    SolutionProviderOrDistributor,
    /// "A partner's AK/SK or token."
    AnyPartner,
    /// "Only the customer's own AK/SK or token, never a partner's."
    CustomerOnly,
    /// A customer for itself, or a partner for its customers (`customer_id`).
    PartnerOrCustomer,
    /// Reference data: any authenticated caller.
    Anyone,
    /// "Only an enterprise master account's AK/SK or token": no account of the simulated
    /// world is one, so the vendor refuses every caller.
    EnterpriseMaster,
}

/// What `indirect_partner_id` means on an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indirect {
    /// Distributor-only operations: it names the reseller acted upon.
    NamesReseller,
    /// Other partner operations: the distributor acts on behalf of that reseller.
    ActsFor,
}

/// One operation of the vendor's API.
#[derive(Debug, Clone, Copy)]
pub struct VendorRoute {
    /// The SDK's method name (`list_customer_orders`).
    pub operation: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Path template; `{name}` matches one non-empty segment.
    pub path: &'static str,
    /// Who may call it.
    pub callers: Callers,
    /// The simulator's model of it.
    pub handler: Op,
}

impl VendorRoute {
    /// What `indirect_partner_id` means here.
    pub fn indirect(&self) -> Indirect {
        match self.callers {
            Callers::DistributorOnly => Indirect::NamesReseller,
            _ => Indirect::ActsFor,
        }
    }

    /// The value of a `{name}` segment of `path`, if the template has one.
    pub fn path_param(&self, path: &str, name: &str) -> Option<String> {
        self.path
            .split('/')
            .zip(path.split('/'))
            .find(|(t, _)| t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) == Some(name))
            .map(|(_, p)| {
                percent_encoding::percent_decode_str(p)
                    .decode_utf8_lossy()
                    .into_owned()
            })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != method {
            return false;
        }
        let (mut t, mut p) = (self.path.split('/'), path.split('/'));
        loop {
            match (t.next(), p.next()) {
                (None, None) => return true,
                (Some(ts), Some(ps)) if ts.starts_with('{') => {
                    if ps.is_empty() {
                        return false;
                    }
                }
                (Some(ts), Some(ps)) if ts == ps => {}
                _ => return false,
            }
        }
    }
}

/// The operation a request names; `None` is the vendor's "API does not exist".
pub fn find(method: &str, path: &str) -> Option<&'static VendorRoute> {
    ROUTES.iter().find(|r| r.matches(method, path))
}

/// An operation by its SDK method name.
pub fn by_operation(operation: &str) -> Option<&'static VendorRoute> {
    ROUTES.iter().find(|r| r.operation == operation)
}

const fn op(
    operation: &'static str,
    method: &'static str,
    path: &'static str,
    callers: Callers,
    handler: Op,
) -> VendorRoute {
    VendorRoute {
        operation,
        method,
        path,
        callers,
        handler,
    }
}

use Callers::{
    AnyPartner, Anyone, CustomerOnly, DistributorOnly, EnterpriseMaster, PartnerOrCustomer,
    SolutionProviderOrDistributor,
};

const GET: &str = "GET";
const POST: &str = "POST";
const PUT: &str = "PUT";
const DELETE: &str = "DELETE";

/// Every operation of the vendor's API (SDK 3.1.219, plus the documented freeze routes).
/// First match wins, so fixed paths precede templates that would also match them.
/// One operation a line: the table reads as the vendor's index.
#[rustfmt::skip]
pub static ROUTES: &[VendorRoute] = &[
    // Voucher quotas (distributor and resellers).
    op("list_quota_coupons", POST, "/v2/partners/coupon-quotas/query", AnyPartner, quotas::query),
    op("update_coupon_quotas", POST, "/v2/partners/coupon-quotas/indirect-partner-adjust", DistributorOnly, quotas::issue_to_resellers),
    op("reclaim_coupon_quotas", POST, "/v2/partners/coupon-quotas/indirect-partner-reclaim", DistributorOnly, quotas::reclaim_from_resellers),
    op("list_issued_coupon_quotas", GET, "/v2/partners/issued-coupon-quotas", DistributorOnly, quotas::issued),
    op("list_coupon_quotas_records", GET, "/v2/partners/coupon-quotas/records", DistributorOnly, quotas::records),
    // Vouchers issued by partners.
    op("create_partner_coupons", POST, "/v2/promotions/benefits/partner-coupons", AnyPartner, coupons::issue),
    op("reclaim_partner_coupons", POST, "/v2/promotions/benefits/partner-coupons/reclaim", AnyPartner, coupons::reclaim),
    op("list_issued_partner_coupons", GET, "/v2/promotions/benefits/partner-coupons", AnyPartner, coupons::list),
    op("list_partner_coupons_record", GET, "/v2/promotions/benefits/partner-coupons/records/query", AnyPartner, coupons::records),
    // Partner funds.
    op("update_customer_account_amount", POST, "/v2/accounts/partner-accounts/adjust-amount", AnyPartner, funds::allocate_to_customer),
    op("reclaim_to_partner_account", POST, "/v2/accounts/partner-accounts/reclaim", AnyPartner, funds::reclaim_from_customer),
    op("update_indirect_partner_account", POST, "/v2/accounts/partner-accounts/indirect-partner-adjust", DistributorOnly, funds::allocate_to_reseller),
    op("reclaim_indirect_partner_account", POST, "/v2/accounts/partner-accounts/indirect-partner-reclaim", DistributorOnly, funds::reclaim_from_reseller),
    op("list_partner_adjust_records", GET, "/v3/accounts/partner-accounts/adjust-records", AnyPartner, funds::adjust_records),
    op("list_partner_balances", GET, "/v2/accounts/partner-accounts/balances", AnyPartner, funds::balances),
    op("list_partner_account_change_records", GET, "/v2/accounts/partner-accounts/account-change-records", AnyPartner, accounts::partner_changes),
    op("list_customers_balances_detail", POST, "/v2/accounts/customer-accounts/balances/batch-query", AnyPartner, accounts::customers_balances),
    // Customers of partners.
    op("create_sub_customer", POST, "/v2/partners/sub-customers", AnyPartner, identity::create_customer),
    op("list_sub_customers", POST, "/v2/partners/sub-customers/query", AnyPartner, lists::customers),
    op("freeze_sub_customers", POST, "/v2/partners/sub-customers/freeze", SolutionProviderOrDistributor, identity::freeze),
    op("unfreeze_sub_customers", POST, "/v2/partners/sub-customers/unfreeze", SolutionProviderOrDistributor, identity::unfreeze),
    op("check_user_identity", POST, "/v2/partners/sub-customers/users/check-identity", AnyPartner, identity::check),
    op("list_sub_customer_new_tag", POST, "/v2/partners/sub-customers/new-customers-tags/batch-query", AnyPartner, identity::new_tags),
    op("list_customer_on_demand_resources", POST, "/v2/partners/sub-customers/on-demand-resources/query", AnyPartner, resources::on_demand),
    op("list_indirect_partners", POST, "/v2/partners/indirect-partners/query", DistributorOnly, lists::resellers),
    op("send_verification_message_code", POST, "/v2/bases/verificationcode/send", AnyPartner, identity::send_code),
    // Real-name authentication of customers, applied for by their partner.
    op("create_personal_realname_auth", POST, "/v2/customers/realname-auths/individual", SolutionProviderOrDistributor, identity::realname_individual),
    op("create_enterprise_realname_authentication", POST, "/v2/customers/realname-auths/enterprise", SolutionProviderOrDistributor, identity::realname_enterprise),
    op("change_enterprise_realname_authentication", PUT, "/v2/customers/realname-auths/enterprise", SolutionProviderOrDistributor, identity::realname_change),
    op("show_realname_authentication_review_result", GET, "/v2/customers/realname-auths/result", SolutionProviderOrDistributor, identity::realname_result),
    op("show_real_name_auth_status", GET, "/v2/customers/real-name-auth-status", CustomerOnly, identity::own_status),
    op("show_real_name_auth_qr_code", GET, "/v2/customers/real-name-auth-qrcode", CustomerOnly, identity::qr_code),
    // Partner bills of customers.
    op("list_sub_customer_bill_detail", GET, "/v2/bills/subcustomer-bills/res-fee-records", AnyPartner, bills::sub_customer_detail),
    op("list_subcustomer_monthly_bills", GET, "/v2/bills/partner-bills/subcustomer-bills/monthly-sum", AnyPartner, bills::sub_customer_monthly),
    op("list_consume_sub_customers", POST, "/v2/bills/subcustomer-bills/res-fee-records/sub-customers/query", AnyPartner, bills::consuming_customers),
    // Orders: a customer for itself, a partner for its customers.
    op("list_customer_orders", GET, "/v2/orders/customer-orders", PartnerOrCustomer, orders::list),
    op("show_customer_order_details", GET, "/v2/orders/customer-orders/details/{order_id}", PartnerOrCustomer, orders::details),
    op("list_order_discounts", GET, "/v2/orders/customer-orders/order-discounts", PartnerOrCustomer, orders::discounts),
    op("list_order_coupons_by_order_id", GET, "/v2/orders/customer-orders/order-coupons", PartnerOrCustomer, orders::coupons),
    op("show_refund_order_details", GET, "/v2/orders/customer-orders/refund-orders", PartnerOrCustomer, orders::refund_details),
    op("list_sub_customer_coupons", GET, "/v2/promotions/benefits/coupons", PartnerOrCustomer, accounts::customer_coupons),
    op("list_pay_per_use_customer_resources", POST, "/v2/orders/suscriptions/resources/query", PartnerOrCustomer, resources::list),
    // Orders and resources: the customer's own credentials only.
    op("pay_orders", POST, "/v3/orders/customer-orders/pay", CustomerOnly, orders::pay),
    op("cancel_customer_order", PUT, "/v2/orders/customer-orders/cancel", CustomerOnly, orders::cancel),
    op("renewal_resources", POST, "/v2/orders/subscriptions/resources/renew", CustomerOnly, resources::renew),
    op("cancel_resources_subscription", POST, "/v2/orders/subscriptions/resources/unsubscribe", CustomerOnly, resources::unsubscribe),
    op("update_period_to_on_demand", POST, "/v2/orders/subscriptions/resources/to-on-demand", CustomerOnly, resources::to_on_demand),
    op("update_period_to_on_demand_instantly", POST, "/v2/orders/subscriptions/resources/to-on-demand/instantly", CustomerOnly, resources::to_on_demand_now),
    op("set_resources_renew_config", POST, "/v2/orders/subscriptions/resources/renew/config", CustomerOnly, resources::renew_config),
    op("auto_renewal_resources", POST, "/v2/orders/subscriptions/resources/autorenew/{resource_id}", CustomerOnly, resources::auto_renew),
    op("cancel_auto_renewal_resources", DELETE, "/v2/orders/subscriptions/resources/autorenew/{resource_id}", CustomerOnly, resources::cancel_auto_renew),
    // The customer's account.
    op("show_customer_account_balances", GET, "/v2/accounts/customer-accounts/balances", CustomerOnly, customer::balances),
    op("list_stored_value_cards", GET, "/v2/promotions/benefits/stored-value-cards", CustomerOnly, customer::stored_value_cards),
    op("list_customer_account_change_records", GET, "/v2/accounts/customer-accounts/account-change-records", CustomerOnly, accounts::customer_changes),
    op("list_customer_coupon_change_records", GET, "/v2/promotions/benefits/account-change-records", CustomerOnly, accounts::coupon_changes),
    // The customer's bills and usage.
    op("list_customer_bills_fee_records", GET, "/v2/bills/customer-bills/fee-records", CustomerOnly, bills::fee_records),
    op("list_customerself_resource_records", GET, "/v2/bills/customer-bills/res-fee-records", CustomerOnly, bills::resource_records),
    op("list_customerself_resource_record_details", POST, "/v2/bills/customer-bills/res-records/query", CustomerOnly, bills::resource_record_details),
    op("show_customer_monthly_sum", GET, "/v2/bills/customer-bills/monthly-sum", CustomerOnly, bills::monthly_sum),
    op("list_customer_bills_monthly_break_down", GET, "/v2/costs/cost-analysed-bills/monthly-breakdown", CustomerOnly, bills::monthly_breakdown),
    op("list_costs", POST, "/v4/costs/cost-analysed-bills/query", CustomerOnly, bills::costs),
    op("list_resource_usage", GET, "/v2/bills/customer-bills/resources/usage/details", CustomerOnly, bills::usage),
    op("list_resource_usage_summary", GET, "/v2/bills/customer-bills/resources/usage/summary", CustomerOnly, bills::usage_summary),
    op("list_free_resource_infos", POST, "/v3/payments/free-resources/query", CustomerOnly, customer::free_resources),
    op("list_free_resource_usages", POST, "/v2/payments/free-resources/usages/details/query", Anyone, customer::free_resource_usages),
    op("list_free_resources_usage_records", GET, "/v2/bills/customer-bills/free-resources-usage-records", CustomerOnly, customer::free_resource_records),
    // Prices.
    op("list_on_demand_resource_ratings", POST, "/v2/bills/ratings/on-demand-resources", Anyone, pricing::on_demand),
    op("list_rate_on_period_detail", POST, "/v2/bills/ratings/period-resources/subscribe-rate", Anyone, pricing::period),
    op("list_renew_rate_on_period", POST, "/v2/bills/ratings/period-resources/renew-rate", CustomerOnly, pricing::renewal),
    op("list_business_discount_info", POST, "/v2/promotions/business/discount-info", CustomerOnly, pricing::business_discounts),
    // Reference data.
    op("list_incentive_discount_policies", GET, "/v2/products/incentive-discount-policies", SolutionProviderOrDistributor, reference::incentive_policies),
    op("list_service_types", GET, "/v2/products/service-types", Anyone, reference::service_types),
    op("list_resource_types", GET, "/v2/products/resource-types", Anyone, reference::resource_types),
    op("list_service_resources", GET, "/v2/products/service-resources", Anyone, reference::service_resources),
    op("list_usage_types", GET, "/v2/products/usage-types", Anyone, reference::usage_types),
    op("list_resource_specs", POST, "/v2/products/resource-specs-query", Anyone, reference::resource_specs),
    op("list_measure_units", GET, "/v2/bases/measurements", Anyone, reference::measure_units),
    op("list_conversions", GET, "/v2/bases/conversions", Anyone, reference::conversions),
    op("list_provinces", GET, "/v2/systems/configs/provinces", Anyone, reference::provinces),
    op("list_cities", GET, "/v2/systems/configs/cities", Anyone, reference::cities),
    op("list_counties", GET, "/v2/systems/configs/counties", Anyone, reference::counties),
    // Enterprise multi-account management: for enterprise master accounts only.
    op("claim_enterprise_multi_account_coupon", POST, "/v2/enterprises/multi-accounts/transfer-coupon", EnterpriseMaster, enterprise::refused),
    op("create_enterprise_project_auth", POST, "/v2/enterprises/enterprise-projects/authority", EnterpriseMaster, enterprise::refused),
    op("create_sub_enterprise_account", POST, "/v2/enterprises/multi-accounts/sub-customers", EnterpriseMaster, enterprise::refused),
    op("list_enterprise_multi_account", GET, "/v2/enterprises/multi-accounts/retrieve-amount", EnterpriseMaster, enterprise::refused),
    op("list_enterprise_organizations", GET, "/v2/enterprises/multi-accounts/enterprise-organizations", EnterpriseMaster, enterprise::refused),
    op("list_enterprise_sub_customers", GET, "/v2/enterprises/multi-accounts/sub-customers", EnterpriseMaster, enterprise::refused),
    op("list_multi_account_retrieve_coupons", GET, "/v2/enterprises/multi-accounts/retrieve-coupons", EnterpriseMaster, enterprise::refused),
    op("list_multi_account_transfer_coupons", GET, "/v2/enterprises/multi-accounts/transfer-coupons", EnterpriseMaster, enterprise::refused),
    op("reclaim_enterprise_multi_account_coupon", POST, "/v2/enterprises/multi-accounts/retrieve-coupon", EnterpriseMaster, enterprise::refused),
    op("reclaim_sub_enterprise_amount", POST, "/v2/enterprises/multi-accounts/retrieve-amount", EnterpriseMaster, enterprise::refused),
    op("send_sms_verification_code", POST, "/v2/enterprises/multi-accounts/sm-verification-code", EnterpriseMaster, enterprise::refused),
    op("show_multi_account_transfer_amount", GET, "/v2/enterprises/multi-accounts/transfer-amount", EnterpriseMaster, enterprise::refused),
    op("update_sub_enterprise_amount", POST, "/v2/enterprises/multi-accounts/transfer-amount", EnterpriseMaster, enterprise::refused),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_templated_paths_resolve() {
        let r = find(
            "POST",
            "/v2/orders/subscriptions/resources/to-on-demand/instantly",
        );
        assert_eq!(
            r.map(|r| r.operation),
            Some("update_period_to_on_demand_instantly")
        );
        let r = find("DELETE", "/v2/orders/subscriptions/resources/autorenew/R-1");
        assert_eq!(
            r.map(|r| r.operation),
            Some("cancel_auto_renewal_resources")
        );
        let id = r.and_then(|r| {
            r.path_param(
                "/v2/orders/subscriptions/resources/autorenew/R-1",
                "resource_id",
            )
        });
        assert_eq!(id.as_deref(), Some("R-1"));
        assert!(find("GET", "/v2/orders/customer-orders/details/").is_none());
        assert!(find("PATCH", "/v2/orders/customer-orders").is_none());
    }

    #[test]
    fn operations_are_unique_and_constraints_are_the_vendors() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert!(
                ROUTES[..i].iter().all(|o| o.operation != r.operation),
                "{} twice",
                r.operation
            );
        }
        let callers = |o: &str| by_operation(o).map(|r| r.callers);
        assert_eq!(callers("update_coupon_quotas"), Some(DistributorOnly));
        assert_eq!(
            callers("freeze_sub_customers"),
            Some(SolutionProviderOrDistributor)
        );
        assert_eq!(callers("list_customer_orders"), Some(PartnerOrCustomer));
        assert_eq!(callers("pay_orders"), Some(CustomerOnly));
        assert_eq!(callers("list_cities"), Some(Anyone));
        assert_eq!(
            by_operation("list_issued_coupon_quotas").map(VendorRoute::indirect),
            Some(Indirect::NamesReseller)
        );
        assert_eq!(
            by_operation("list_sub_customers").map(VendorRoute::indirect),
            Some(Indirect::ActsFor)
        );
    }
}
