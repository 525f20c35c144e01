//! Property: no generated request lets a reseller touch an identifier outside its subtree.

use super::*;
use proptest::prelude::*;

const PARTNERS: [&str; 4] = ["dist-1", "res-1", "res-2", "res-3"];

fn arb_graph() -> impl Strategy<Value = Graph> {
    let customers = prop::collection::vec((0..4usize, any::<bool>()), 1..12);
    let quotas = prop::collection::vec(0..4usize, 1..6);
    let coupons = prop::collection::vec(0..4usize, 1..10);
    (customers, quotas, coupons).prop_map(|(cs, qs, ks)| {
        let mut edges = vec![
            Edge::Reseller {
                id: "res-1".into(),
                distributor: "dist-1".into(),
            },
            Edge::Reseller {
                id: "res-2".into(),
                distributor: "dist-1".into(),
            },
            Edge::Reseller {
                id: "res-3".into(),
                distributor: "dist-9".into(),
            },
        ];
        edges.extend(
            cs.iter()
                .enumerate()
                .map(|(i, (o, resale))| Edge::Customer {
                    id: format!("c{i}"),
                    owner: PARTNERS[*o].into(),
                    resale: *resale,
                }),
        );
        edges.extend(qs.iter().enumerate().map(|(i, o)| Edge::Quota {
            id: format!("q{i}"),
            owner: PARTNERS[*o].into(),
        }));
        edges.extend(ks.iter().enumerate().map(|(i, o)| Edge::Coupon {
            id: format!("k{i}"),
            owner: PARTNERS[*o].into(),
        }));
        edges.into_iter().collect()
    })
}

fn arb_request() -> impl Strategy<Value = (usize, Vec<(usize, String)>)> {
    let value = prop_oneof![
        (0..14usize).prop_map(|i| format!("c{i}")),
        (0..8usize).prop_map(|i| format!("q{i}")),
        (0..12usize).prop_map(|i| format!("k{i}")),
        (0..4usize).prop_map(|i| PARTNERS[i].to_owned()),
        "[a-z0-9-]{1,8}",
    ];
    let with_ids: Vec<usize> = (0..CATALOGUE.len())
        .filter(|i| !CATALOGUE[*i].ids.is_empty())
        .collect();
    (
        prop::sample::select(with_ids),
        prop::collection::vec((0..8usize, value), 0..8),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn a_reseller_never_touches_outside_its_subtree(g in arb_graph(), (r, raw) in arb_request(), staff in any::<bool>()) {
        let route = &CATALOGUE[r];
        let pairs: Vec<_> = raw.iter().map(|(f, v)| (&route.ids[f % route.ids.len()], Cow::Owned(v.clone()))).collect();
        let ids = RequestIds::from_pairs(pairs);
        let p = Arc::new(Principal {
            partner_id: "res-1".into(),
            tier: if staff { Tier::ResellerStaff } else { Tier::CloudReseller },
            distributor_id: Some("dist-1".into()),
            role: staff.then(|| "operator".to_owned()),
        });
        if let Ok(permit) = decide(&p, route, &ids, &Rules::default(), &g) {
            prop_assert_eq!(permit.acting(), "res-1");
            // Injected wherever the route names the partner it acts for.
            prop_assert_eq!(
                permit.injection().map(|i| i.value),
                route.carries_acting().then_some("res-1")
            );
            for (f, v) in ids.iter() {
                let inside = match f.kind {
                    IdKind::ActingPartner => v == "res-1",
                    IdKind::Reseller => false,
                    IdKind::Customer => g.customer(v).is_some_and(|c| c.owner == "res-1"),
                    IdKind::ResaleCustomer => g.customer(v).is_some_and(|c| c.owner == "res-1" && c.resale),
                    IdKind::Quota => g.quota_owner(v) == Some("res-1"),
                    IdKind::Coupon => g.coupon_owner(v) == Some("res-1"),
                };
                prop_assert!(inside, "{} {} let through on {}", f.name, v, route.operation);
            }
        }
    }
}
