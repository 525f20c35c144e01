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
    /// A customer for itself (its own AK/SK), or a partner for its customers.
    PartnerOrCustomer,
    /// Reference data: any partner or customer.
    Anyone,
}

impl CallerConstraint {
    /// Whether a partner (with the distributor's key, through Tiergate) may call it.
    pub fn partners(self) -> bool {
        !matches!(self, CallerConstraint::CustomerOnly)
    }

    /// Whether a customer (with its own key) may call it.
    pub fn customers(self) -> bool {
        matches!(
            self,
            CallerConstraint::CustomerOnly
                | CallerConstraint::PartnerOrCustomer
                | CallerConstraint::Anyone
        )
    }
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

    /// A field inside each object of a body list, named `list[].field`
    /// (`customer_infos[].customer_id`): the list's name and the field's.
    pub fn nested(&self) -> Option<(&'static str, &'static str)> {
        self.name.split_once("[].")
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
    /// Whether a cloud reseller may call it through Tiergate on the distributor's account:
    /// acting as itself via `indirect_partner_id` (injected) where the route carries it, else
    /// on reference data or with every identifier it names checked as its own.
    pub reseller_scoped: bool,
    /// Where identifiers are carried.
    pub ids_in: IdLocation,
    /// The identifiers it carries.
    pub ids: &'static [IdField],
    /// The amount fields Tiergate reads (JSON numbers).
    pub numbers: &'static [&'static str],
    /// Why a reseller may not call it although the vendor lets partners (none: it may, or
    /// the vendor itself keeps it from partners).
    pub not_for_resellers: Option<&'static str>,
    /// Whether a reseller's answer is checked before it is returned: its records name
    /// customers through identifiers the request alone cannot prove are the reseller's
    /// (orders, refunds, bills, resources), so every `customer_id` in the vendor's answer must
    /// be one of the reseller's customers.
    pub checks_answer: bool,
}

impl Route {
    /// Whether the call changes anything at the vendor. Reads are the GETs and the vendor's
    /// searches, named by the SDK `list_...`, `show_...` or `check_...` whatever their method
    /// (`POST .../query`); everything else changes state.
    pub fn changes_state(&self) -> bool {
        let op = self.operation;
        let read = self.method == Method::Get
            || op.starts_with("list_")
            || op.starts_with("show_")
            || op.starts_with("check_");
        self.money_moving || !read
    }

    const fn numbers(mut self, numbers: &'static [&'static str]) -> Route {
        self.numbers = numbers;
        self
    }

    const fn checks_answer(mut self) -> Route {
        self.checks_answer = true;
        self
    }

    const fn not_for_resellers(mut self, why: &'static str) -> Route {
        self.not_for_resellers = Some(why);
        self
    }

    /// Whether it carries `indirect_partner_id` as the partner it acts for (a reseller's is
    /// injected).
    pub fn carries_acting(&self) -> bool {
        let mut i = 0;
        while i < self.ids.len() {
            if matches!(self.ids[i].kind, IdKind::ActingPartner) {
                return true;
            }
            i += 1;
        }
        false
    }
}

pub(crate) const fn id(name: &'static str, kind: IdKind) -> IdField {
    IdField { name, kind }
}

pub(crate) const fn r(
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
        not_for_resellers: None,
        checks_answer: false,
    }
}

pub(crate) const fn numbered<const N: usize>(mut routes: [Route; N]) -> [Route; N] {
    let mut i = 0;
    while i < N {
        routes[i].index = i as u8;
        i += 1;
    }
    routes
}

mod catalogue;
pub mod table;
pub use catalogue::{CATALOGUE, ROUTE_COUNT};

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
            assert!(r.caller.partners(), "{}", r.operation);
            assert_ne!(
                r.caller,
                CallerConstraint::DistributorOnly,
                "{}",
                r.operation
            );
            assert!(r.not_for_resellers.is_none(), "{}", r.operation);
        }
    }
}
