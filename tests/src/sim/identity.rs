//! Customer accounts as partners manage them: creation (with the vendor's verification
//! code), identity checks, freezing, new-customer tags and real-name authentication.

use super::books::VerificationCode;
use super::errors::{ApiError, codes};
use super::request::{Call, OpResult, Reply, fmt_time, paged, parse_time};
use super::scope;
use super::trade::{FROZEN, IN_USE};
use super::world::{Customer, FreezeType, RealName, World};
use serde_json::{Value, json};
use time::Duration;

/// Accounts one mobile number may register.
const MOBILE_LIMIT: usize = 5;
/// Verification code scene: registration.
const SCENE_REGISTER: u8 = 29;
/// Verification code scene: real-name authentication by bank card.
const SCENE_BANK_CARD: u8 = 18;

fn taken(w: &World, name: &str) -> bool {
    w.customers
        .values()
        .any(|x| x.login() == name || x.name == name)
}

fn accounts_on(w: &World, mobile: &str) -> usize {
    w.customers
        .values()
        .filter(|x| x.mobile.as_deref() == Some(mobile))
        .count()
}

/// Uses the newest matching code for `mobile`, or says why not.
fn use_code(w: &mut World, c: &Call, mobile: &str, scene: u8, code: &str) -> Result<(), ApiError> {
    let found = w
        .verification_codes
        .iter_mut()
        .rev()
        .find(|v| v.mobile_phone == mobile && v.scene == scene && !v.used);
    match found {
        Some(v) if v.code != code => {
            Err(ApiError::bad(codes::WRONG_CODE, "Wrong verification code."))
        }
        Some(v) if parse_time(&v.expire_time).is_none_or(|t| t <= c.now) => Err(ApiError::bad(
            codes::CODE_EXPIRED,
            "The verification code has expired.",
        )),
        Some(v) => {
            v.used = true;
            Ok(())
        }
        None => Err(ApiError::bad(codes::WRONG_CODE, "Wrong verification code.")),
    }
}

/// POST /v2/partners/sub-customers: a new customer bound to the acting partner (resale
/// unless `cooperation_type` is "1"); a resale customer starts frozen until its partner
/// unfreezes it. With a mobile number, the registration code sent to it is required.
pub fn create_customer(w: &mut World, c: &Call) -> OpResult {
    let name = c.req_str("domain_name")?;
    let valid = (5..=32).contains(&name.len())
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        && name.starts_with(|ch: char| ch.is_ascii_alphabetic());
    if !valid {
        return Err(ApiError::param(
            "domain_name",
            "5 to 32 letters, digits, _ or -, starting with a letter",
        ));
    }
    if taken(w, &name) {
        return Err(ApiError::param("domain_name", "already exists"));
    }
    let mobile = c.opt_str("mobile_phone")?.filter(|m| !m.is_empty());
    if let Some(m) = &mobile {
        if accounts_on(w, m) >= MOBILE_LIMIT {
            return Err(ApiError::bad(
                codes::MOBILE_OVER_LIMIT,
                "The mobile number has reached its limit of accounts.",
            ));
        }
        let code = c.req_str("verification_code")?;
        use_code(w, c, m, SCENE_REGISTER, &code)?;
    }
    let association_type = if c.opt_str("cooperation_type")?.as_deref() == Some("1") {
        1
    } else {
        2
    };
    let id = w.new_id("CU");
    w.customers.insert(
        id.clone(),
        Customer {
            id: id.clone(),
            name: name.clone(),
            partner: c.acting.clone(),
            association_type,
            access_key: None,
            secret_key: None,
            balance: Default::default(),
            account_name: Some(name.clone()),
            mobile,
            associated_on: Some(c.now_str()),
            frozen: (association_type == 2).then_some(FreezeType::Account),
            realname: None,
            new_customer_tag: Some("UNDETERMINED".into()),
            business_discounts: Vec::new(),
            renew_config: Default::default(),
        },
    );
    Ok(Reply::ok(json!({"domain_id": id, "domain_name": name})))
}

/// POST /v2/partners/sub-customers/users/check-identity
pub fn check(w: &mut World, c: &Call) -> OpResult {
    let kind = c.req_str("search_type")?;
    let value = c.req_str("search_value")?;
    let (used, remain) = match kind.as_str() {
        "name" => (taken(w, &value), None),
        "mobile" => {
            let n = accounts_on(w, &value);
            (n >= MOBILE_LIMIT, Some(MOBILE_LIMIT.saturating_sub(n)))
        }
        "email" => (false, None),
        _ => {
            return Err(ApiError::param(
                "search_type",
                "must be email, mobile or name",
            ));
        }
    };
    let result = if used { "used_by_user" } else { "available" };
    Ok(Reply::ok(
        json!({"check_result": result, "mobile_remain_available_num": remain}),
    ))
}

/// POST /v2/bases/verificationcode/send (answers 204). The code is deterministic so tests can
/// read it from the world.
pub fn send_code(w: &mut World, c: &Call) -> OpResult {
    if c.opt_int("receiver_type")? != Some(1) {
        return Err(ApiError::param("receiver_type", "must be 1 (SMS)"));
    }
    let mobile = c.req_str("mobile_phone")?;
    let scene = match c.opt_int("scene")?.unwrap_or(i64::from(SCENE_REGISTER)) {
        29 => SCENE_REGISTER,
        18 => SCENE_BANK_CARD,
        _ => return Err(ApiError::param("scene", "must be 29 or 18")),
    };
    if scene == SCENE_BANK_CARD {
        let id = c.req_str("customer_id")?;
        scope::customer(w, c, &id)?;
    }
    let minutes = match c.opt_int("timeout")?.unwrap_or(10) {
        t if t > 60 => 5,
        t if t < 1 => return Err(ApiError::param("timeout", "must be positive")),
        t => t,
    };
    let seq = w.next_id;
    w.next_id += 1;
    w.verification_codes.push(VerificationCode {
        mobile_phone: mobile,
        code: format!("{:06}", (seq * 7919 + 104_729) % 1_000_000),
        scene,
        expire_time: fmt_time(c.now + Duration::minutes(minutes)),
        used: false,
    });
    Ok(Reply::no_content())
}

fn customer_ids(c: &Call) -> Result<Vec<String>, ApiError> {
    let ids = c.str_list("customer_ids")?;
    if ids.is_empty() || ids.len() > 10 {
        return Err(ApiError::param("customer_ids", "must hold 1 to 10 ids"));
    }
    let reason = c.req_str("reason")?;
    if reason.chars().count() > 256 {
        return Err(ApiError::param("reason", "at most 256 characters"));
    }
    Ok(ids)
}

fn freeze_type(c: &Call, field: &str) -> Result<FreezeType, ApiError> {
    match c.opt_str(field)?.as_deref() {
        None | Some("ACCOUNT") => Ok(FreezeType::Account),
        Some("ACCOUNT_AND_RESOURCE") => Ok(FreezeType::AccountAndResource),
        Some(_) => Err(ApiError::param(
            field,
            "must be ACCOUNT or ACCOUNT_AND_RESOURCE",
        )),
    }
}

fn set_resources(w: &mut World, customer: &str, from: u8, to: u8) {
    for r in w
        .resources
        .values_mut()
        .filter(|r| r.customer_id == customer && r.status == from)
    {
        r.status = to;
    }
}

fn batch_answer(errors: Vec<Value>) -> OpResult {
    Ok(Reply::ok(if errors.is_empty() {
        json!({})
    } else {
        json!({"error_details": errors})
    }))
}

fn detail(e: &ApiError, id: &str) -> Value {
    json!({"customer_id": id, "error_code": e.code, "error_msg": e.msg})
}

/// POST /v2/partners/sub-customers/freeze: resale customers only; per-customer failures.
pub fn freeze(w: &mut World, c: &Call) -> OpResult {
    let ids = customer_ids(c)?;
    let kind = freeze_type(c, "freeze_type")?;
    let mut errors = Vec::new();
    for id in &ids {
        if let Err(e) = scope::resale_customer(w, c, id) {
            errors.push(detail(&e, id));
            continue;
        }
        if let Some(x) = w.customers.get_mut(id) {
            x.frozen = Some(kind);
        }
        if kind == FreezeType::AccountAndResource {
            set_resources(w, id, IN_USE, FROZEN);
        }
    }
    batch_answer(errors)
}

/// POST /v2/partners/sub-customers/unfreeze: the type must be the one frozen with.
pub fn unfreeze(w: &mut World, c: &Call) -> OpResult {
    let ids = customer_ids(c)?;
    let kind = freeze_type(c, "unfreeze_type")?;
    let mut errors = Vec::new();
    for id in &ids {
        let frozen = match scope::resale_customer(w, c, id) {
            Ok(x) => x.frozen,
            Err(e) => {
                errors.push(detail(&e, id));
                continue;
            }
        };
        match frozen {
            None => errors.push(detail(
                &ApiError::param("customer_ids", "the customer is not frozen"),
                id,
            )),
            Some(f) if f != kind => errors.push(detail(
                &ApiError::param(
                    "unfreeze_type",
                    "must be the type the account was frozen with",
                ),
                id,
            )),
            Some(_) => {
                if let Some(x) = w.customers.get_mut(id) {
                    x.frozen = None;
                }
                if kind == FreezeType::AccountAndResource {
                    set_resources(w, id, FROZEN, IN_USE);
                }
            }
        }
    }
    batch_answer(errors)
}

/// POST /v2/partners/sub-customers/new-customers-tags/batch-query
pub fn new_tags(w: &mut World, c: &Call) -> OpResult {
    let ids = c.str_list("customer_ids")?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::param("customer_ids", "must hold 1 to 100 ids"));
    }
    let page = c.page()?;
    let mut all = Vec::new();
    for id in &ids {
        let x = scope::customer(w, c, id)?;
        // Without real-name authentication the vendor gives no tag.
        let verified = x.realname.as_ref().is_some_and(|r| r.review_result == 2);
        let tag = if verified {
            x.new_customer_tag.clone().unwrap_or_else(|| "N".into())
        } else {
            String::new()
        };
        all.push(
            json!({"customer_id": x.id, "customer_tag_type": "SMB", "new_customer_tag": tag,
            "effective_time": x.associated_on, "expire_time": Value::Null}),
        );
    }
    Ok(Reply::ok(json!({"new_customer_tags": paged(all, page)})))
}

/// A customer of the acting partner that may still apply (not already authenticated).
fn applicant(w: &World, c: &Call) -> Result<String, ApiError> {
    let x = scope::customer(w, c, &c.req_str("customer_id")?)?;
    if x.realname.as_ref().is_some_and(|r| r.review_result != 1) {
        return Err(ApiError::param(
            "customer_id",
            "real-name authentication is already applied for or passed",
        ));
    }
    Ok(x.id.clone())
}

fn apply(w: &mut World, id: &str, r: RealName) -> OpResult {
    let review = r.review_result == 0;
    if let Some(x) = w.customers.get_mut(id) {
        x.realname = Some(r);
    }
    Ok(Reply::ok(json!({"is_review": u8::from(review)})))
}

/// POST /v2/customers/realname-auths/individual: by certificate (0, reviewed by people) or by
/// bank card (4, checked at once against the code sent to the card's mobile).
pub fn realname_individual(w: &mut World, c: &Call) -> OpResult {
    let id = applicant(w, c)?;
    let name = c.req_str("name")?;
    c.req_str("verified_number")?;
    let review_result = match c.opt_int("identify_type")? {
        Some(0) => {
            if c.str_list("verified_file_url")?.is_empty() {
                return Err(ApiError::param("verified_file_url", "is required"));
            }
            0
        }
        Some(4) => {
            let card = c.body.get("bank_card_info").cloned().unwrap_or(Value::Null);
            let field = |f: &str| card.get(f).and_then(Value::as_str).map(str::to_owned);
            let mobile = field("mobile")
                .ok_or_else(|| ApiError::param("bank_card_info.mobile", "is required"))?;
            let code = field("verification_code").ok_or_else(|| {
                ApiError::param("bank_card_info.verification_code", "is required")
            })?;
            use_code(w, c, &mobile, SCENE_BANK_CARD, &code)?;
            2
        }
        _ => return Err(ApiError::param("identify_type", "must be 0 or 4")),
    };
    apply(
        w,
        &id,
        RealName {
            verified_type: 0,
            review_result,
            opinion: String::new(),
            name,
        },
    )
}

fn enterprise_fields(c: &Call) -> Result<String, ApiError> {
    let corp = c.req_str("corp_name")?;
    c.req_str("verified_number")?;
    if c.opt_int("identify_type")? != Some(1) {
        return Err(ApiError::param(
            "identify_type",
            "must be 1 (enterprise certificate)",
        ));
    }
    if c.str_list("verified_file_url")?.is_empty() {
        return Err(ApiError::param("verified_file_url", "is required"));
    }
    Ok(corp)
}

/// An enterprise's application, waiting for people to review it.
fn enterprise_under_review(corp: String) -> RealName {
    RealName {
        verified_type: 1,
        review_result: 0,
        opinion: String::new(),
        name: corp,
    }
}

/// POST /v2/customers/realname-auths/enterprise: reviewed by people.
pub fn realname_enterprise(w: &mut World, c: &Call) -> OpResult {
    let id = applicant(w, c)?;
    let corp = enterprise_fields(c)?;
    apply(w, &id, enterprise_under_review(corp))
}

/// PUT /v2/customers/realname-auths/enterprise: an authenticated individual becomes an
/// enterprise (reviewed by people).
pub fn realname_change(w: &mut World, c: &Call) -> OpResult {
    let x = scope::customer(w, c, &c.req_str("customer_id")?)?;
    if !x
        .realname
        .as_ref()
        .is_some_and(|r| r.review_result == 2 && r.verified_type == 0)
    {
        return Err(ApiError::param(
            "customer_id",
            "only an authenticated individual can change to an enterprise",
        ));
    }
    if c.opt_int("change_type")? != Some(1) {
        return Err(ApiError::param(
            "change_type",
            "must be 1 (individual to enterprise)",
        ));
    }
    let id = x.id.clone();
    let corp = enterprise_fields(c)?;
    apply(w, &id, enterprise_under_review(corp))
}

/// GET /v2/customers/realname-auths/result
pub fn realname_result(w: &mut World, c: &Call) -> OpResult {
    let x = scope::customer(w, c, &c.req_str("customer_id")?)?;
    Ok(Reply::ok(match &x.realname {
        Some(r) => json!({"review_result": r.review_result, "opinion": r.opinion}),
        None => json!({}),
    }))
}

/// GET /v2/customers/real-name-auth-status: -1 none, 0 under review, 1 rejected, 2 passed.
pub fn own_status(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?;
    let r = w.customers.get(me).and_then(|x| x.realname.as_ref());
    Ok(Reply::ok(match r {
        Some(r) => json!({"verified_status": r.review_result, "verified_type": r.verified_type}),
        None => json!({"verified_status": -1, "verified_type": Value::Null}),
    }))
}

/// GET /v2/customers/real-name-auth-qrcode: only for a customer not yet authenticated.
pub fn qr_code(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?;
    let done = w
        .customers
        .get(me)
        .and_then(|x| x.realname.as_ref())
        .is_some_and(|r| r.review_result == 2);
    if done {
        return Err(ApiError::param(
            "customer",
            "real-name authentication has already passed",
        ));
    }
    Ok(Reply::ok(
        json!({"qr_code_url": format!("https://auth.sim.invalid/realname/{me}")}),
    ))
}
