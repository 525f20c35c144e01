//! Table-driven: for every route of the catalogue, which principal kinds are allowed and
//! which refused, written out by hand (not derived from the rules under test).

use super::*;
use crate::graph::{Edge, Graph};
use crate::routes::{CATALOGUE, IdField, route_by_operation};
use std::borrow::Cow;

/// D distributor, S solution provider, R cloud reseller, O reseller staff `operator`,
/// V reseller staff `viewer`, C customer, A auditor. A letter present means allowed; every
/// other kind is refused with `TG.2002` (tier), except a viewer on a reseller-scoped
/// operation that changes state, refused by its role with `TG.2006`.
const TABLE: &[(&str, &str)] = &[
    ("list_quota_coupons", "DSROV"),
    ("update_coupon_quotas", "D"),
    ("reclaim_coupon_quotas", "D"),
    ("list_issued_coupon_quotas", "D"),
    ("list_coupon_quotas_records", "D"),
    ("create_partner_coupons", "DSRO"),
    ("reclaim_partner_coupons", "DSRO"),
    ("list_issued_partner_coupons", "DSROV"),
    ("list_partner_coupons_record", "DSROV"),
    ("update_customer_account_amount", "DSRO"),
    ("reclaim_to_partner_account", "DSRO"),
    ("update_indirect_partner_account", "D"),
    ("reclaim_indirect_partner_account", "D"),
    ("list_partner_adjust_records", "DSROV"),
    ("list_partner_balances", "DSROV"),
    ("list_partner_account_change_records", "DSROV"),
    ("list_customers_balances_detail", "DSROV"),
    ("create_sub_customer", "DSRO"),
    ("list_sub_customers", "DSROV"),
    ("list_indirect_partners", "D"),
    ("check_user_identity", "DSROV"),
    ("send_verification_message_code", "DSRO"),
    ("list_sub_customer_new_tag", "DSROV"),
    ("freeze_sub_customers", "DSRO"),
    ("unfreeze_sub_customers", "DSRO"),
    ("list_customer_on_demand_resources", "DSROV"),
    ("create_personal_realname_auth", "DS"),
    ("create_enterprise_realname_authentication", "DS"),
    ("change_enterprise_realname_authentication", "DS"),
    ("show_realname_authentication_review_result", "DS"),
    ("list_subcustomer_monthly_bills", "DSROV"),
    ("list_sub_customer_bill_detail", "DSROV"),
    ("list_consume_sub_customers", "DS"),
    ("list_incentive_discount_policies", "DS"),
    ("list_service_types", "DSROVC"),
    ("list_resource_types", "DSROVC"),
    ("list_usage_types", "DSROVC"),
    ("list_service_resources", "DSROVC"),
    ("list_resource_specs", "DSROVC"),
    ("list_measure_units", "DSROVC"),
    ("list_conversions", "DSROVC"),
    ("list_provinces", "DSROVC"),
    ("list_cities", "DSROVC"),
    ("list_counties", "DSROVC"),
    ("list_customer_orders", "DSROVC"),
    ("show_customer_order_details", "DSROVC"),
    ("show_refund_order_details", "DSROVC"),
    ("list_sub_customer_coupons", "DSROVC"),
    ("list_pay_per_use_customer_resources", "DSC"),
    ("list_order_discounts", "C"),
    ("list_order_coupons_by_order_id", "C"),
    ("cancel_customer_order", "C"),
    ("pay_orders", "C"),
    ("renewal_resources", "C"),
    ("cancel_resources_subscription", "C"),
    ("update_period_to_on_demand", "C"),
    ("update_period_to_on_demand_instantly", "C"),
    ("set_resources_renew_config", "C"),
    ("auto_renewal_resources", "C"),
    ("cancel_auto_renewal_resources", "C"),
    ("show_customer_account_balances", "C"),
    ("list_customer_account_change_records", "C"),
    ("list_stored_value_cards", "C"),
    ("list_customer_coupon_change_records", "C"),
    ("list_business_discount_info", "C"),
    ("show_real_name_auth_status", "C"),
    ("show_real_name_auth_qr_code", "C"),
    ("show_customer_monthly_sum", "C"),
    ("list_customer_bills_fee_records", "C"),
    ("list_customerself_resource_records", "C"),
    ("list_customerself_resource_record_details", "C"),
    ("list_customer_bills_monthly_break_down", "C"),
    ("list_costs", "C"),
    ("list_resource_usage", "C"),
    ("list_resource_usage_summary", "C"),
    ("list_free_resource_infos", "C"),
    ("list_free_resource_usages", "DSC"),
    ("list_free_resources_usage_records", "C"),
    ("list_on_demand_resource_ratings", "DSC"),
    ("list_rate_on_period_detail", "DSC"),
    ("list_renew_rate_on_period", "C"),
];

fn principal(letter: char) -> Arc<Principal> {
    let (id, tier, role) = match letter {
        'D' => ("dist-1", Tier::Distributor, None),
        'S' => ("sp-1", Tier::SolutionProvider, None),
        'R' => ("res-1", Tier::CloudReseller, None),
        'O' => ("res-1", Tier::ResellerStaff, Some("operator")),
        'V' => ("res-1", Tier::ResellerStaff, Some("viewer")),
        'C' => ("cust-r1-a", Tier::Customer, None),
        _ => ("dist-1", Tier::Auditor, None),
    };
    Arc::new(Principal {
        partner_id: id.into(),
        tier,
        distributor_id: Some("dist-1".into()),
        role: role.map(str::to_owned),
    })
}

pub(super) fn graph() -> Graph {
    [
        Edge::Reseller {
            id: "res-1".into(),
            distributor: "dist-1".into(),
        },
        Edge::Reseller {
            id: "res-2".into(),
            distributor: "dist-1".into(),
        },
        Edge::Reseller {
            id: "res-9".into(),
            distributor: "dist-9".into(),
        },
        Edge::Customer {
            id: "cust-r1-a".into(),
            owner: "res-1".into(),
            resale: true,
        },
        Edge::Customer {
            id: "cust-r1-adv".into(),
            owner: "res-1".into(),
            resale: false,
        },
        Edge::Customer {
            id: "cust-r2-a".into(),
            owner: "res-2".into(),
            resale: true,
        },
        Edge::Customer {
            id: "cust-d1".into(),
            owner: "dist-1".into(),
            resale: true,
        },
        Edge::Quota {
            id: "q-dist-1".into(),
            owner: "dist-1".into(),
        },
        Edge::Quota {
            id: "q-res-1".into(),
            owner: "res-1".into(),
        },
        Edge::Quota {
            id: "q-res-2".into(),
            owner: "res-2".into(),
        },
        Edge::Quota {
            id: "q-res-9".into(),
            owner: "res-9".into(),
        },
        Edge::Coupon {
            id: "cp-1".into(),
            owner: "res-1".into(),
        },
        Edge::Coupon {
            id: "cp-2".into(),
            owner: "res-2".into(),
        },
    ]
    .into_iter()
    .collect()
}

#[test]
fn the_table_covers_every_route_exactly_once() {
    let mut names: Vec<&str> = TABLE.iter().map(|(op, _)| *op).collect();
    names.sort_unstable();
    let mut all: Vec<&str> = CATALOGUE.iter().map(|r| r.operation).collect();
    all.sort_unstable();
    assert_eq!(names, all);
}

#[test]
fn every_route_allows_and_refuses_the_tabled_principal_kinds() {
    let rules = Rules::default();
    let g = graph();
    for (op, allowed) in TABLE {
        let route = route_by_operation(op).unwrap_or_else(|| unreachable!("{op}"));
        for letter in "DSROVCA".chars() {
            let p = principal(letter);
            let got = decide(&p, route, &RequestIds::default(), &rules, &g);
            if allowed.contains(letter) {
                assert!(got.is_ok(), "{letter} on {op}: {got:?}");
            } else {
                let expected = match letter {
                    // The viewer role is what refuses changes to viewers.
                    'V' if route.reseller_scoped => Denied::RoleNotAllowed {
                        role: "viewer".into(),
                        operation: route.operation,
                    },
                    _ => Denied::TierNotAllowed {
                        tier: p.tier,
                        operation: route.operation,
                    },
                };
                let code = if letter == 'V' && route.reseller_scoped {
                    "TG.2006"
                } else {
                    "TG.2002"
                };
                assert_eq!(
                    got.as_ref().err().map(Denied::code),
                    Some(code),
                    "{letter} on {op}"
                );
                assert_eq!(got, Err(expected), "{letter} on {op}");
            }
        }
    }
}

fn field(op: &str, name: &str) -> &'static IdField {
    route_by_operation(op)
        .and_then(|r| r.ids.iter().find(|f| f.name == name))
        .unwrap_or_else(|| unreachable!("{op}.{name}"))
}

fn ask(letter: char, op: &str, ids: &[(&str, &str)]) -> Result<Permit, Denied> {
    let route = route_by_operation(op).unwrap_or_else(|| unreachable!("{op}"));
    let pairs = ids
        .iter()
        .map(|(f, v)| (field(op, f), Cow::Owned((*v).to_owned())))
        .collect();
    decide(
        &principal(letter),
        route,
        &RequestIds::from_pairs(pairs),
        &Rules::default(),
        &graph(),
    )
}

fn not_yours(field: &'static str, value: &str) -> Result<Permit, Denied> {
    Err(Denied::NotYours {
        field,
        value: value.into(),
    })
}

#[test]
fn a_reseller_reaches_only_its_own_customers_quotas_and_coupons() {
    let ok = ask(
        'R',
        "create_partner_coupons",
        &[("quota_id", "q-res-1"), ("customer_ids", "cust-r1-a")],
    );
    let inj = ok
        .as_ref()
        .ok()
        .and_then(|p| p.injection())
        .map(|i| i.value);
    assert_eq!(inj, Some("res-1"));
    assert_eq!(
        ask(
            'R',
            "create_partner_coupons",
            &[
                ("quota_id", "q-res-1"),
                ("customer_ids", "cust-r1-a"),
                ("customer_ids", "cust-r2-a")
            ]
        ),
        not_yours("customer_ids", "cust-r2-a")
    );
    assert_eq!(
        ask('R', "create_partner_coupons", &[("quota_id", "q-res-2")]),
        not_yours("quota_id", "q-res-2")
    );
    assert_eq!(
        ask('R', "reclaim_partner_coupons", &[("coupon_id", "cp-2")]),
        not_yours("coupon_id", "cp-2")
    );
    assert_eq!(
        ask(
            'R',
            "reclaim_partner_coupons",
            &[("coupon_id", "cp-unknown")]
        ),
        not_yours("coupon_id", "cp-unknown")
    );
    assert!(ask('R', "reclaim_partner_coupons", &[("coupon_id", "cp-1")]).is_ok());
    assert_eq!(
        ask(
            'O',
            "update_customer_account_amount",
            &[("customer_id", "cust-d1")]
        ),
        not_yours("customer_id", "cust-d1")
    );
    assert_eq!(
        ask(
            'R',
            "list_sub_customers",
            &[("indirect_partner_id", "res-2")]
        ),
        Err(Denied::NotYourPartner {
            field: "indirect_partner_id",
            value: "res-2".into()
        })
    );
}

#[test]
fn money_goes_to_resale_customers_only() {
    let advisory = Err(Denied::AdvisoryCustomer {
        field: "customer_id",
        value: "cust-r1-adv".into(),
    });
    assert_eq!(
        ask(
            'R',
            "update_customer_account_amount",
            &[("customer_id", "cust-r1-adv")]
        ),
        advisory
    );
    // Reclaiming and listing are not money *to* the customer.
    assert!(
        ask(
            'R',
            "reclaim_to_partner_account",
            &[("customer_id", "cust-r1-adv")]
        )
        .is_ok()
    );
    assert!(
        ask(
            'R',
            "list_partner_adjust_records",
            &[("customer_id", "cust-r1-adv")]
        )
        .is_ok()
    );
}

#[test]
fn a_distributor_acts_for_its_own_resellers_only() {
    let p = ask(
        'D',
        "update_customer_account_amount",
        &[
            ("customer_id", "cust-r1-a"),
            ("indirect_partner_id", "res-1"),
        ],
    );
    assert_eq!(p.map(|p| p.acting().to_owned()), Ok("res-1".to_owned()));
    assert_eq!(
        ask(
            'D',
            "update_customer_account_amount",
            &[("customer_id", "cust-r1-a")]
        ),
        not_yours("customer_id", "cust-r1-a"),
        "a reseller's customer needs indirect_partner_id"
    );
    assert_eq!(
        ask(
            'D',
            "update_customer_account_amount",
            &[("indirect_partner_id", "res-9")]
        ),
        not_yours("indirect_partner_id", "res-9")
    );
    assert_eq!(
        ask(
            'D',
            "update_customer_account_amount",
            &[
                ("indirect_partner_id", "res-1"),
                ("indirect_partner_id", "res-2")
            ]
        ),
        not_yours("indirect_partner_id", "res-2")
    );
    assert!(
        ask(
            'D',
            "update_coupon_quotas",
            &[("quota_id", "q-dist-1"), ("indirect_partner_ids", "res-2")]
        )
        .is_ok()
    );
    assert_eq!(
        ask(
            'D',
            "update_coupon_quotas",
            &[("indirect_partner_ids", "res-9")]
        ),
        not_yours("indirect_partner_ids", "res-9")
    );
    assert!(ask('D', "reclaim_coupon_quotas", &[("quota_ids", "q-res-1")]).is_ok());
    assert_eq!(
        ask('D', "reclaim_coupon_quotas", &[("quota_ids", "q-res-9")]),
        not_yours("quota_ids", "q-res-9")
    );
}

#[test]
fn a_solution_providers_identifiers_are_its_own_accounts() {
    // Not in the distributor's graph: the vendor scopes them to the provider's own key.
    assert!(
        ask(
            'S',
            "update_customer_account_amount",
            &[("customer_id", "cust-sp-a")]
        )
        .is_ok()
    );
    assert!(ask('S', "list_customer_orders", &[("customer_id", "cust-sp-a")]).is_ok());
}

#[test]
fn customers_reach_only_themselves_and_solution_providers_name_no_reseller() {
    assert!(ask('C', "list_customer_orders", &[("customer_id", "cust-r1-a")]).is_ok());
    assert_eq!(
        ask('C', "list_customer_orders", &[("customer_id", "cust-r2-a")]),
        not_yours("customer_id", "cust-r2-a")
    );
    assert_eq!(
        ask(
            'S',
            "list_sub_customers",
            &[("indirect_partner_id", "res-1")]
        ),
        Err(Denied::NotYourPartner {
            field: "indirect_partner_id",
            value: "res-1".into()
        })
    );
}

#[test]
fn a_reseller_unknown_to_the_graph_or_an_unknown_role_is_refused() {
    let route = route_by_operation("list_sub_customers").unwrap_or_else(|| unreachable!());
    let mut p = principal('R');
    Arc::make_mut(&mut p).partner_id = "res-7".into();
    let got = decide(
        &p,
        route,
        &RequestIds::default(),
        &Rules::default(),
        &graph(),
    );
    assert_eq!(
        got,
        Err(Denied::NotAReseller {
            partner: "res-7".into()
        })
    );
    let mut staff = principal('O');
    Arc::make_mut(&mut staff).role = Some("janitor".into());
    let got = decide(
        &staff,
        route,
        &RequestIds::default(),
        &Rules::default(),
        &graph(),
    );
    assert_eq!(
        got,
        Err(Denied::UnknownRole {
            role: "janitor".into()
        })
    );
}

mod properties;
