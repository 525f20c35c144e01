//! Coverage as a checked fact: every operation of the pinned vendor SDK's `BssClient` (method
//! and path as the SDK itself builds them, tests/sdk/operations.py) is either in Tiergate's
//! route catalogue, on the same method and path, or on the list below with its reason.

use std::collections::BTreeMap;
use std::process::Command;
use tiergate_policy::CATALOGUE;
use tiergate_tests::harness::{repo_root, sdk_python};

/// What Tiergate does not forward, and why.
const NOT_FORWARDED: &[(&str, &str)] = &[
    ("claim_enterprise_multi_account_coupon", ENTERPRISE),
    ("create_enterprise_project_auth", ENTERPRISE),
    ("create_sub_enterprise_account", ENTERPRISE),
    ("list_enterprise_multi_account", ENTERPRISE),
    ("list_enterprise_organizations", ENTERPRISE),
    ("list_enterprise_sub_customers", ENTERPRISE),
    ("list_multi_account_retrieve_coupons", ENTERPRISE),
    ("list_multi_account_transfer_coupons", ENTERPRISE),
    ("reclaim_enterprise_multi_account_coupon", ENTERPRISE),
    ("reclaim_sub_enterprise_amount", ENTERPRISE),
    ("send_sms_verification_code", ENTERPRISE),
    ("show_multi_account_transfer_amount", ENTERPRISE),
    ("update_sub_enterprise_amount", ENTERPRISE),
];

const ENTERPRISE: &str = "enterprise multi-account: an enterprise master account managing its own \
     sub-accounts, not a distributor's resale";

/// Operations the vendor documents that the pinned SDK lacks.
const BEYOND_THE_SDK: &[&str] = &["freeze_sub_customers", "unfreeze_sub_customers"];

fn sdk_operations() -> Result<BTreeMap<String, (String, String)>, String> {
    let out = Command::new(sdk_python()?)
        .arg(repo_root().join("tests/sdk/operations.py"))
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let ops: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Ok(ops
        .iter()
        .map(|v| {
            let (op, method, path) = (field(v, "operation"), field(v, "method"), field(v, "path"));
            (op, (method, path))
        })
        .collect())
}

#[test]
fn every_sdk_operation_is_forwarded_or_listed_with_its_reason() -> Result<(), String> {
    let sdk = sdk_operations()?;
    assert!(sdk.len() >= 92, "the SDK lists {} operations", sdk.len());
    let not_forwarded: BTreeMap<&str, &str> = NOT_FORWARDED.iter().copied().collect();
    let mut missing = Vec::new();
    for (op, (method, path)) in &sdk {
        match CATALOGUE.iter().find(|r| r.operation == op) {
            Some(r) => assert_eq!(
                (r.method.as_str(), r.path),
                (method.as_str(), path.as_str()),
                "{op}: the catalogue's method and path are the SDK's"
            ),
            None if not_forwarded.contains_key(op.as_str()) => {}
            None => missing.push(format!("{op} ({method} {path})")),
        }
    }
    assert!(
        missing.is_empty(),
        "neither forwarded nor listed as not forwarded: {missing:#?}"
    );
    for (op, why) in NOT_FORWARDED {
        assert!(sdk.contains_key(*op), "{op} is not an SDK operation");
        assert!(!why.is_empty());
        assert!(
            CATALOGUE.iter().all(|r| r.operation != *op),
            "{op} is both forwarded and not"
        );
    }
    for r in CATALOGUE.iter() {
        assert!(
            sdk.contains_key(r.operation) || BEYOND_THE_SDK.contains(&r.operation),
            "{} is not the SDK's name of an operation",
            r.operation
        );
    }
    eprintln!(
        "{} SDK operations: {} forwarded, {} not forwarded; {} forwarded beyond the SDK",
        sdk.len(),
        sdk.len() - NOT_FORWARDED.len(),
        NOT_FORWARDED.len(),
        BEYOND_THE_SDK.len()
    );
    Ok(())
}
