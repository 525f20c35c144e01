use super::*;
use crate::routes::find_route;

fn route(method: &str, path: &str) -> Result<&'static Route, String> {
    find_route(method, path).ok_or_else(|| format!("no route {method} {path}"))
}

const COUPONS: &str = "/v2/promotions/benefits/partner-coupons";
const ADJUST: &str = "/v2/accounts/partner-accounts/adjust-amount";
const RECORDS: &str = "/v2/promotions/benefits/partner-coupons/records/query";

fn field(r: Result<impl fmt::Debug, Ambiguous>) -> String {
    match r {
        Err(a) => a.field,
        Ok(v) => format!("accepted: {v:?}"),
    }
}

#[test]
fn duplicate_keys_are_refused_at_any_depth_naming_the_field() -> Result<(), String> {
    let r = route("POST", COUPONS)?;
    let b = |s: &str| field(body(r, s.as_bytes()));
    assert_eq!(b(r#"{"quota_id":"q1","quota_id":"q2"}"#), "quota_id");
    assert_eq!(b(r#"{"a":{"b":1,"b":2}}"#), "a.b");
    assert_eq!(b(r#"{"a":[{"x":1},{"c":1,"c":1}]}"#), "a[1].c");
    // Escapes that spell the same key are the same key.
    assert_eq!(b(r#"{"memo":"a","m\u0065mo":"b"}"#), "memo");
    assert!(body(r, br#"{"a":{"b":1},"c":{"b":2}}"#).is_ok());
    Ok(())
}

#[test]
fn bodies_must_be_one_utf8_json_object() -> Result<(), String> {
    let r = route("POST", COUPONS)?;
    assert_eq!(field(body(r, b"{\"memo\":\"\xff\"}")), "body");
    assert_eq!(field(body(r, b"[1]")), "body");
    assert_eq!(field(body(r, b"{} {}")), "body");
    assert_eq!(field(body(r, br#"{"memo":"\ud800"}"#)), "body");
    assert_eq!(body(r, b"").map_err(|e| e.to_string())?, None);
    Ok(())
}

#[test]
fn typed_fields_must_have_the_vendors_type() -> Result<(), String> {
    let r = route("POST", COUPONS)?;
    let b = |s: &str| field(body(r, s.as_bytes()));
    assert_eq!(b(r#"{"face_value":"10"}"#), "face_value");
    assert_eq!(b(r#"{"quota_id":7}"#), "quota_id");
    assert_eq!(b(r#"{"quota_id":["q1"]}"#), "quota_id");
    assert_eq!(b(r#"{"customer_ids":"c1"}"#), "customer_ids");
    assert_eq!(b(r#"{"customer_ids":["c1",2]}"#), "customer_ids");
    let ok = r#"{"quota_id":"q1","customer_ids":["c1"],"face_value":10.50,"memo":null}"#;
    assert!(body(r, ok.as_bytes()).is_ok());
    let r = route("POST", ADJUST)?;
    assert_eq!(field(body(r, br#"{"amount":"12.30"}"#)), "amount");
    Ok(())
}

#[test]
fn paths_with_dot_empty_or_encoded_separator_segments_are_refused() {
    for bad in [
        "/v2/orders/customer-orders/details/..",
        "/v2/orders/customer-orders/details/%2E%2e",
        "/v2/orders/customer-orders/details/.",
        "/v2/orders//customer-orders",
        "/v2/orders/customer-orders/details/a%2Fb",
        "/v2/orders/customer-orders/details/a%2fb",
        "/v2/orders/customer-orders/details/a%5Cb",
        "/v2/orders/customer-orders/details/a\\b",
        "/v2/orders/customer-orders/details/a%00",
        "/v2/orders/customer-orders/details/%FF",
        "/v2/partners/sub-customers/",
        "v2/partners",
    ] {
        assert!(path(bad).is_err(), "{bad}");
    }
    assert!(path("/v2/orders/customer-orders/details/CS2012-a%20b").is_ok());
}

#[test]
fn query_parameters_the_route_reads_are_read_one_way() -> Result<(), String> {
    let r = route("GET", "/v2/promotions/benefits/partner-coupons")?;
    let q = |s: &str| field(query(r, s));
    assert_eq!(q("customer_id=c1&customer_id=c2"), "customer_id");
    // The same name, spelled encoded, is the same parameter.
    assert_eq!(q("customer_id=c1&customer%5Fid=c2"), "customer_id");
    assert_eq!(q("customer_id=c1+x"), "customer_id");
    assert_eq!(q("customer_id=%FF"), "customer_id");
    // Parameters Tiergate does not read go upstream as signed.
    assert!(query(r, "limit=1&limit=2&x=a+b").is_ok());
    assert!(query(r, "customer_id=c%2B1&coupon_id=x").is_ok());
    // List parameters repeat (the SDK sends lists that way).
    let r = route("GET", RECORDS)?;
    assert!(query(r, "coupon_ids=a&coupon_ids=b").is_ok());
    let r = route("GET", "/v2/partners/issued-coupon-quotas")?;
    assert_eq!(field(query(r, "quota_id=a&quota_id=b")), "quota_id");
    Ok(())
}

#[test]
fn reads_are_gets_and_searches_and_everything_else_changes_state() {
    let reads: Vec<&str> = crate::CATALOGUE
        .iter()
        .filter(|r| !r.changes_state())
        .map(|r| r.operation)
        .collect();
    for r in &reads {
        let route = crate::routes::route_by_operation(r);
        assert!(route.is_some_and(|r| !r.money_moving), "{r}");
    }
    assert!(reads.contains(&"list_sub_customers"));
    assert!(reads.contains(&"list_issued_partner_coupons"));
    assert!(reads.contains(&"list_customers_balances_detail"));
    assert!(reads.contains(&"check_user_identity"));
    for op in [
        "create_partner_coupons",
        "create_sub_customer",
        "cancel_customer_order",
        "cancel_auto_renewal_resources",
        "set_resources_renew_config",
        "freeze_sub_customers",
        "send_verification_message_code",
    ] {
        assert!(!reads.contains(&op), "{op}");
    }
}

#[test]
fn bodies_are_json_in_utf8_or_undeclared() {
    for ok in [
        None,
        Some(&b"application/json"[..]),
        Some(b"application/json;charset=UTF-8"),
        Some(b"Application/JSON; charset=\"utf-8\""),
    ] {
        assert!(content_type(ok).is_ok(), "{ok:?}");
    }
    for bad in [
        &b"text/plain"[..],
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"application/json; charset=utf-16",
        b"application/json-patch+json",
        b"application/json; x=y",
        b"application/json\xff",
    ] {
        assert_eq!(field(content_type(Some(bad))), "Content-Type", "{bad:?}");
    }
}

#[test]
fn identifiers_nested_in_a_list_of_objects_are_read_one_way() -> Result<(), String> {
    let r = route(
        "POST",
        "/v2/accounts/customer-accounts/balances/batch-query",
    )?;
    let nested = "customer_infos[].customer_id";
    let b = |s: &str| field(body(r, s.as_bytes()));
    assert_eq!(b(r#"{"customer_infos":[{"customer_id":1}]}"#), nested);
    assert_eq!(b(r#"{"customer_infos":[{}]}"#), nested);
    assert_eq!(b(r#"{"customer_infos":"c1"}"#), nested);
    assert_eq!(b(r#"{"customer_infos":["c1"]}"#), nested);
    let ok = body(
        r,
        br#"{"customer_infos":[{"customer_id":"c1"},{"customer_id":"c2"}]}"#,
    )
    .map_err(|e| e.to_string())?;
    let ids = crate::RequestIds::extract(r, "customer_infos[].customer_id=c9", ok.as_ref())
        .map_err(|e| e.to_string())?;
    let got: Vec<&str> = ids.iter().map(|(_, v)| v).collect();
    assert_eq!(got, ["c1", "c2"], "the query cannot name a nested field");
    Ok(())
}
