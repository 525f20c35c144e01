//! For any sequence of grants, reservations, commits, releases, reclaims, adjustments and
//! status changes, no node's outstanding total exceeds its grant (so none exceeds its
//! parent's), and no period cap is exceeded anywhere.

use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Grant {
        parent: usize,
        total: u32,
        face_cap: Option<u32>,
        day_cap: Option<u32>,
    },
    Reserve {
        node: usize,
        face: u32,
        customers: usize,
        day: i64,
    },
    Commit {
        res: usize,
        ok: usize,
    },
    Release {
        res: usize,
    },
    Reclaim {
        node: usize,
        amount: u32,
    },
    Adjust {
        node: usize,
        total: u32,
    },
    Status {
        node: usize,
        which: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0..8usize,
            1..5000u32,
            proptest::option::of(1..800u32),
            proptest::option::of(1..3000u32)
        )
            .prop_map(|(parent, total, face_cap, day_cap)| Op::Grant {
                parent,
                total,
                face_cap,
                day_cap
            }),
        (0..8usize, 1..900u32, 1..6usize, 0..3i64).prop_map(|(node, face, customers, day)| {
            Op::Reserve {
                node,
                face,
                customers,
                day,
            }
        }),
        (0..40usize, 0..6usize).prop_map(|(res, ok)| Op::Commit { res, ok }),
        (0..40usize).prop_map(|res| Op::Release { res }),
        (0..8usize, 1..900u32).prop_map(|(node, amount)| Op::Reclaim { node, amount }),
        (0..8usize, 1..6000u32).prop_map(|(node, total)| Op::Adjust { node, total }),
        (0..8usize, 0..3u8).prop_map(|(node, which)| Op::Status { node, which }),
    ]
}

fn check(l: &Ledger) -> Result<(), TestCaseError> {
    for (id, n) in l.nodes() {
        prop_assert!(
            l.outstanding(id) <= n.limits.total,
            "{id} outstanding over its grant"
        );
        prop_assert!(
            n.reserved >= Decimal::ZERO && n.used >= Decimal::ZERO,
            "{id} negative"
        );
        for (key, issued) in &n.issued {
            let cap = if key.len() == 10 {
                n.limits.per_day
            } else {
                n.limits.per_month
            };
            if let Some(cap) = cap {
                prop_assert!(*issued <= cap, "{id} over its cap for {key}");
            }
        }
        if let Some(p) = &n.parent
            && n.status != Status::Revoked
        {
            let parent = l.node(p).map(|p| p.limits.total).unwrap_or_default();
            prop_assert!(n.limits.total <= parent, "{id} over its parent");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn no_node_ever_exceeds_its_grant_or_its_parents(ops in prop::collection::vec(op(), 1..80)) {
        let mut l = Ledger::default();
        let root = Limits { total: Decimal::from(20_000), ..Limits::default() };
        l.grant("n0", None, "root", "q", root).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut ids = vec!["n0".to_owned()];
        let mut reservations: Vec<(String, Vec<String>)> = Vec::new();
        let base = time::macros::datetime!(2026-11-21 04:00 UTC);
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Grant { parent, total, face_cap, day_cap } => {
                    let p = ids[parent % ids.len()].clone();
                    let pl = l.node(&p).map(|n| n.limits.clone()).unwrap_or_default();
                    let limits = Limits {
                        total: Decimal::from(total),
                        max_face_value: min_opt(face_cap.map(Decimal::from), pl.max_face_value),
                        per_day: min_opt(day_cap.map(Decimal::from), pl.per_day),
                        ..pl
                    };
                    let id = format!("n{i}");
                    if l.grant(&id, Some(&p), &id, "q", limits).is_ok() {
                        ids.push(id);
                    }
                }
                Op::Reserve { node, face, customers, day } => {
                    let customers: Vec<String> = (0..customers).map(|c| format!("c{c}")).collect();
                    let r = VoucherRequest {
                        face_value: Decimal::from(face),
                        customers: customers.clone(),
                        services: Vec::new(),
                        products: Vec::new(),
                        valid_from: None,
                        valid_until: None,
                    };
                    let id = format!("r{i}");
                    let at = base + time::Duration::days(day);
                    if l.reserve(&id, &ids[node % ids.len()], &r, at).is_ok() {
                        reservations.push((id, customers));
                    }
                }
                Op::Commit { res, ok } => {
                    if !reservations.is_empty() {
                        let (id, customers) = reservations.remove(res % reservations.len());
                        let issued: Vec<String> = customers.into_iter().take(ok).collect();
                        l.commit(&id, &issued);
                    }
                }
                Op::Release { res } => {
                    if !reservations.is_empty() {
                        let (id, _) = reservations.remove(res % reservations.len());
                        l.release(&id);
                    }
                }
                Op::Reclaim { node, amount } => {
                    l.reclaim(&ids[node % ids.len()], Decimal::from(amount));
                }
                Op::Adjust { node, total } => {
                    let _ = l.adjust(&ids[node % ids.len()], Decimal::from(total));
                }
                Op::Status { node, which } => {
                    let s = [Status::Active, Status::Suspended, Status::Revoked][usize::from(which)];
                    let _ = l.set_status(&ids[node % ids.len()], s);
                }
            }
            check(&l)?;
        }
    }
}
