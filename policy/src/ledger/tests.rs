use super::*;
use std::str::FromStr;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-21 04:00 UTC);

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

fn limits(total: &str) -> Limits {
    Limits {
        total: d(total),
        ..Limits::default()
    }
}

fn req(face: &str, customers: &[&str]) -> VoucherRequest {
    VoucherRequest {
        face_value: d(face),
        customers: customers.iter().map(|c| (*c).to_owned()).collect(),
        services: Vec::new(),
        products: Vec::new(),
        valid_from: None,
        valid_until: None,
    }
}

/// Staff-level limits that narrow res-1's.
fn staff(total: &str) -> Limits {
    Limits {
        max_face_value: Some(d("300")),
        per_day: Some(d("1000")),
        ..limits(total)
    }
}

/// dist (10,000) -> res-1 (2,000; 300 per voucher; 1,000 a day) -> alice (500).
fn tree() -> Result<Ledger, GrantError> {
    let mut l = Ledger::default();
    l.grant("dist", None, "dist-1", "q1", limits("10000"))?;
    l.grant("res-1", Some("dist"), "res-1", "q1", staff("2000"))?;
    l.grant("alice", Some("res-1"), "alice", "q1", staff("500"))?;
    Ok(l)
}

#[test]
fn grants_carve_from_the_parent_and_only_narrow() -> Result<(), GrantError> {
    let mut l = tree()?;
    assert_eq!(l.remaining("dist"), d("8000"));
    assert_eq!(l.remaining("res-1"), d("1500"));
    assert_eq!(
        l.grant("bob", Some("res-1"), "bob", "q1", staff("1600")),
        Err(GrantError::ExceedsParent {
            remaining: d("1500")
        })
    );
    let wider = Limits {
        max_face_value: Some(d("500")),
        ..staff("10")
    };
    assert_eq!(
        l.grant("bob", Some("res-1"), "bob", "q1", wider),
        Err(GrantError::Widens("max_face_value"))
    );
    let unbounded = Limits {
        max_face_value: None,
        ..staff("10")
    };
    assert_eq!(
        l.grant("bob", Some("res-1"), "bob", "q1", unbounded),
        Err(GrantError::Widens("max_face_value"))
    );
    assert_eq!(
        l.grant("bob", Some("res-1"), "bob", "q2", staff("10")),
        Err(GrantError::Widens("quota_id"))
    );
    l.grant("s2", Some("alice"), "s2", "q1", staff("10"))?;
    assert_eq!(
        l.grant("s3", Some("s2"), "s3", "q1", staff("1")),
        Err(GrantError::TooDeep)
    );
    Ok(())
}

#[test]
fn reservations_hold_commit_release_and_reclaim() -> Result<(), GrantError> {
    let mut l = tree()?;
    let r = l.reserve("req-1", "alice", &req("200", &["c1", "c2"]), NOW);
    assert_eq!(r.map(|r| r.amount()), Ok(d("400")));
    assert_eq!(l.remaining("alice"), d("100"));
    // The same request id never reserves twice.
    assert!(
        l.reserve("req-1", "alice", &req("200", &["c1", "c2"]), NOW)
            .is_ok()
    );
    assert_eq!(l.remaining("alice"), d("100"));
    assert_eq!(
        l.reserve("req-2", "alice", &req("150", &["c3"]), NOW),
        Err(Refusal::OverSlice {
            node: "alice".into(),
            remaining: d("100")
        })
    );
    // Partial success: c2's voucher failed upstream, its 200 comes back.
    assert_eq!(l.commit("req-1", &["c1".to_owned()]), d("200"));
    assert_eq!(l.remaining("alice"), d("300"));
    assert_eq!(l.node("alice").map(|n| n.used), Some(d("200")));
    assert_eq!(
        l.node("res-1")
            .and_then(|n| n.issued.get("2026-11-21").copied()),
        Some(d("200"))
    );
    assert!(
        l.reserve("req-3", "alice", &req("100", &["c3"]), NOW)
            .is_ok()
    );
    assert_eq!(l.release("req-3"), d("100"));
    assert_eq!(l.remaining("alice"), d("300"));
    assert_eq!(l.reclaim("alice", d("150")), d("150"));
    assert_eq!(l.remaining("alice"), d("450"));
    Ok(())
}

#[test]
fn each_limit_refuses_with_its_reason() -> Result<(), GrantError> {
    let mut l = tree()?;
    assert_eq!(
        l.reserve("r", "alice", &req("301", &["c1"]), NOW),
        Err(Refusal::FaceValueTooHigh {
            node: "alice".into(),
            limit: d("300")
        })
    );
    // res-1's day cap (1,000) binds across its staff: alice and bob share it.
    l.grant("bob", Some("res-1"), "bob", "q1", staff("900"))?;
    assert!(l.reserve("a", "alice", &req("300", &["c1"]), NOW).is_ok());
    assert!(
        l.reserve("b", "bob", &req("300", &["c1", "c2"]), NOW)
            .is_ok()
    );
    assert!(matches!(
        l.reserve("b2", "bob", &req("200", &["c3"]), NOW),
        Err(Refusal::OverPeriodCap { ref node, period: "day", .. }) if node == "alice" || node == "bob" || node == "res-1"
    ));
    // The next Beijing day has a fresh cap.
    let tomorrow = datetime!(2026-11-21 16:00 UTC);
    assert!(
        l.reserve("b3", "bob", &req("200", &["c3"]), tomorrow)
            .is_ok()
    );

    let mut l = tree()?;
    let services = Limits {
        services: Some(["ecs".to_owned()].into()),
        valid_until: Some(datetime!(2027-01-01 00:00 UTC)),
        expires_at: Some(datetime!(2026-12-01 00:00 UTC)),
        ..staff("100")
    };
    l.grant("carol", Some("res-1"), "carol", "q1", services)?;
    let mut r = req("10", &["c1"]);
    assert!(matches!(
        l.reserve("x", "carol", &r, NOW),
        Err(Refusal::NotAllowed {
            field: "cloud_service_types",
            ..
        })
    ));
    r.services = vec!["obs".into()];
    assert!(matches!(
        l.reserve("x", "carol", &r, NOW),
        Err(Refusal::NotAllowed {
            field: "cloud_service_types",
            ..
        })
    ));
    r.services = vec!["ecs".into()];
    assert!(matches!(
        l.reserve("x", "carol", &r, NOW),
        Err(Refusal::ValidityOutside { .. })
    ));
    r.valid_until = Some(datetime!(2026-12-31 00:00 UTC));
    assert!(l.reserve("x", "carol", &r, NOW).is_ok());
    let later = datetime!(2026-12-02 00:00 UTC);
    assert!(matches!(
        l.reserve("y", "carol", &r, later),
        Err(Refusal::Expired { .. })
    ));
    Ok(())
}

#[test]
fn suspension_and_revocation_close_the_subtree() -> Result<(), GrantError> {
    let mut l = tree()?;
    assert!(l.reserve("r", "alice", &req("100", &["c1"]), NOW).is_ok());
    l.commit("r", &["c1".to_owned()]);
    l.set_status("res-1", Status::Suspended)?;
    assert_eq!(
        l.reserve("s", "alice", &req("1", &["c1"]), NOW),
        Err(Refusal::Inactive {
            node: "res-1".into()
        })
    );
    l.set_status("res-1", Status::Active)?;
    assert!(l.reserve("s", "alice", &req("1", &["c1"]), NOW).is_ok());
    l.set_status("res-1", Status::Revoked)?;
    assert_eq!(l.node("alice").map(|n| n.status), Some(Status::Revoked));
    // What res-1's subtree had not spent goes back to the distributor.
    assert_eq!(l.remaining("dist"), d("10000") - d("101"));
    Ok(())
}

#[test]
fn a_slice_being_issued_holds_its_total_until_the_vendor_answers() -> Result<(), GrantError> {
    let mut l = tree()?;
    l.grant_issuing("res-2", Some("dist"), "res-2", "q1", limits("7000"))?;
    // Held on the parent: a concurrent grant cannot take the same amount.
    assert_eq!(l.remaining("dist"), d("1000"));
    assert_eq!(
        l.grant("res-3", Some("dist"), "res-3", "q1", limits("1001")),
        Err(GrantError::ExceedsParent {
            remaining: d("1000")
        })
    );
    // Nothing is reserved, granted or changed by hand below it meanwhile.
    assert_eq!(
        l.reserve("r", "res-2", &req("1", &["c1"]), NOW),
        Err(Refusal::Inactive {
            node: "res-2".into()
        })
    );
    assert_eq!(
        l.grant("x", Some("res-2"), "x", "q1", limits("1")),
        Err(GrantError::ParentInactive)
    );
    let issuing = Err(GrantError::Issuing("res-2".into()));
    assert_eq!(l.set_status("res-2", Status::Active), issuing);
    assert_eq!(l.adjust("res-2", d("1")), issuing);
    // The vendor refused: withdrawn, its total free again, its id too.
    assert!(l.withdraw("res-2"));
    assert!(l.node("res-2").is_none());
    assert_eq!(l.remaining("dist"), d("8000"));
    // Issued: active, as a plain grant.
    l.grant_issuing("res-2", Some("dist"), "res-2", "q1", limits("7000"))?;
    assert!(l.issued("res-2"));
    assert!(!l.issued("res-2"), "only a slice being issued is activated");
    assert!(!l.withdraw("res-2"), "an active slice is never withdrawn");
    assert!(l.reserve("r", "res-2", &req("1", &["c1"]), NOW).is_ok());
    Ok(())
}

mod properties;
