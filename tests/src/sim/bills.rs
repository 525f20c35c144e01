//! Bills, all summed from the fee records: the customer's own (records, sums, costs, usage)
//! and a partner's view of its customers' consumption.

use super::books::{BILL_USAGE, FeeRecord};
use super::errors::ApiError;
use super::request::{Call, OpResult, Reply, money_json, paged};
use super::resources::money_str;
use super::scope;
use super::world::World;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A required `YYYY-MM` bill cycle.
fn cycle(c: &Call, field: &str) -> Result<String, ApiError> {
    let v = c.req_str(field)?;
    let ok = v.len() == 7
        && v.as_bytes()[4] == b'-'
        && v[..4].parse::<u16>().is_ok()
        && v[5..].parse::<u8>().is_ok_and(|m| (1..=12).contains(&m));
    if !ok {
        return Err(ApiError::param(field, "must be YYYY-MM"));
    }
    Ok(v)
}

fn names(r: &FeeRecord) -> (String, String) {
    (
        super::reference::service_name(&r.service_type_code),
        super::reference::resource_type_name(&r.resource_type_code),
    )
}

/// The fee records of `customers` in `cycle` passing the common filters.
fn records<'w>(
    w: &'w World,
    c: &Call,
    customers: &[String],
    cycle: &str,
    service_field: &str,
    charge_field: Option<&str>,
) -> Result<Vec<&'w FeeRecord>, ApiError> {
    let service = c.opt_str(service_field)?;
    let charge = match charge_field {
        Some(f) => c.opt_int(f)?,
        None => None,
    };
    let bill_type = c.opt_int("bill_type")?;
    let region = match c.opt_str("region_code")? {
        Some(r) => Some(r),
        None => c.opt_str("region")?,
    };
    let resource = match c.opt_str("resource_id")? {
        Some(r) => Some(r),
        None => c.opt_str("res_instance_id")?,
    };
    let trade = c.opt_str("trade_id")?;
    let rtype = c.opt_str("resource_type_code")?;
    Ok(w.fee_records
        .iter()
        .filter(|r| r.bill_cycle == cycle && customers.contains(&r.customer_id))
        .filter(|r| service.as_ref().is_none_or(|v| *v == r.service_type_code))
        .filter(|r| charge.is_none_or(|v| v == i64::from(r.charging_mode)))
        .filter(|r| bill_type.is_none_or(|v| v == i64::from(r.bill_type)))
        .filter(|r| region.as_ref().is_none_or(|v| *v == r.region_code))
        .filter(|r| resource.as_ref().is_none_or(|v| *v == r.resource_id))
        .filter(|r| trade.as_ref().is_none_or(|v| *v == r.trade_id))
        .filter(|r| rtype.as_ref().is_none_or(|v| *v == r.resource_type_code))
        .collect())
}

fn me(c: &Call) -> Result<Vec<String>, ApiError> {
    Ok(vec![c.customer_id()?.to_owned()])
}

/// GET /v2/bills/customer-bills/fee-records
pub fn fee_records(w: &mut World, c: &Call) -> OpResult {
    let cyc = cycle(c, "bill_cycle")?;
    let page = c.page_within(10, 1000)?;
    let all: Vec<Value> = records(
        w,
        c,
        &me(c)?,
        &cyc,
        "service_type_code",
        Some("charging_mode"),
    )?
    .into_iter()
    .map(|r| {
        let (sn, rn) = names(r);
        json!({
            "bill_cycle": r.bill_cycle, "customer_id": r.customer_id,
            "service_type_code": r.service_type_code, "resource_type_code": r.resource_type_code,
            "service_type_name": sn, "resource_type_name": rn, "region_code": r.region_code,
            "charging_mode": r.charging_mode, "consume_time": r.trade_time,
            "trade_time": r.trade_time, "provider_type": 1, "trade_id": r.trade_id, "id": r.id,
            "bill_type": r.bill_type, "status": 1,
            "official_amount": money_json(r.official_amount),
            "official_discount_amount": money_json(r.official_amount - r.amount),
            "consume_amount": money_json(r.amount), "cash_amount": money_json(r.cash_amount),
            "coupon_amount": money_json(r.coupon_amount), "credit_amount": 0, "debt_amount": 0,
        })
    })
    .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "records": paged(all, page), "currency": "CNY"}),
    ))
}

fn resource_record(w: &World, r: &FeeRecord) -> Value {
    let (sn, rn) = names(r);
    let res = w.resources.get(&r.resource_id);
    json!({
        "bill_date": r.trade_time.get(..10), "cycle": r.bill_cycle, "bill_type": r.bill_type,
        "customer_id": r.customer_id, "region": r.region_code,
        "cloud_service_type": r.service_type_code, "resource_type": r.resource_type_code,
        "resource_type_code": r.resource_type_code,
        "cloud_service_type_name": sn, "resource_type_name": rn,
        "resource_id": r.resource_id, "res_instance_id": r.resource_id,
        "resource_name": res.map(|x| x.name.clone()),
        "product_id": res.map(|x| x.product_id.clone()),
        "trade_id": r.trade_id, "id": r.id, "trade_time": r.trade_time,
        "charge_mode": r.charging_mode.to_string(),
        "official_amount": money_json(r.official_amount),
        "discount_amount": money_json(r.official_amount - r.amount),
        "amount": money_json(r.amount), "consume_amount": money_json(r.amount),
        "cash_amount": money_json(r.cash_amount), "coupon_amount": money_json(r.coupon_amount),
        "usage": r.usage.map(money_json), "usage_type": r.usage_type, "measure_id": 1,
    })
}

/// GET /v2/bills/customer-bills/res-fee-records
pub fn resource_records(w: &mut World, c: &Call) -> OpResult {
    let cyc = cycle(c, "cycle")?;
    let page = c.page_within(10, 1000)?;
    let charge = c.opt_str("charge_mode")?;
    let all: Vec<Value> = records(
        w,
        c,
        &me(c)?,
        &cyc,
        "cloud_service_type",
        Some("charging_mode"),
    )?
    .into_iter()
    .filter(|r| {
        charge
            .as_ref()
            .is_none_or(|v| *v == r.charging_mode.to_string())
    })
    .map(|r| resource_record(w, r))
    .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "fee_records": paged(all, page), "currency": "CNY"}),
    ))
}

/// POST /v2/bills/customer-bills/res-records/query
pub fn resource_record_details(w: &mut World, c: &Call) -> OpResult {
    let cyc = cycle(c, "cycle")?;
    let page = c.page_within(10, 1000)?;
    let all: Vec<Value> = records(
        w,
        c,
        &me(c)?,
        &cyc,
        "cloud_service_type",
        Some("charge_mode"),
    )?
    .into_iter()
    .map(|r| resource_record(w, r))
    .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "monthly_records": paged(all, page), "currency": "CNY"}),
    ))
}

/// Sums of records grouped by a key, keeping the key's first record as the example.
fn sums<'a, K: Ord>(
    rs: &[&'a FeeRecord],
    key: impl Fn(&FeeRecord) -> K,
) -> Vec<(&'a FeeRecord, [Decimal; 4])> {
    let mut m: BTreeMap<K, (&FeeRecord, [Decimal; 4])> = BTreeMap::new();
    for r in rs {
        let e = m.entry(key(r)).or_insert((r, [Decimal::ZERO; 4]));
        e.1[0] += r.signed(r.official_amount);
        e.1[1] += r.signed(r.amount);
        e.1[2] += r.signed(r.cash_amount);
        e.1[3] += r.signed(r.coupon_amount);
    }
    m.into_values().collect()
}

/// GET /v2/bills/customer-bills/monthly-sum
pub fn monthly_sum(w: &mut World, c: &Call) -> OpResult {
    let cyc = cycle(c, "bill_cycle")?;
    let page = c.page_within(10, 1000)?;
    let rs = records(
        w,
        c,
        &me(c)?,
        &cyc,
        "service_type_code",
        Some("charging_mode"),
    )?;
    let grouped = sums(&rs, |r| {
        (
            r.service_type_code.clone(),
            r.resource_type_code.clone(),
            r.charging_mode,
            r.is_refund(),
        )
    });
    let total = |i: usize| grouped.iter().map(|g| g.1[i]).sum::<Decimal>();
    let all: Vec<Value> = grouped
        .iter()
        .map(|(r, s)| {
            let (sn, rn) = names(r);
            json!({
                "bill_cycle": r.bill_cycle, "service_type_code": r.service_type_code,
                "resource_type_code": r.resource_type_code, "service_type_name": sn,
                "resource_type_name": rn, "charging_mode": r.charging_mode,
                "official_amount": money_json(s[0]), "official_discount_amount": money_json(s[0] - s[1]),
                "consume_amount": money_json(s[1]), "cash_amount": money_json(s[2]),
                "coupon_amount": money_json(s[3]), "debt_amount": 0, "credit_amount": 0,
                "measure_id": 1, "bill_type": if r.is_refund() { 2 } else { 1 },
                "customer_id": r.customer_id,
            })
        })
        .collect();
    Ok(Reply::ok(json!({
        "total_count": all.len(), "bill_sums": paged(all, page),
        "consume_amount": money_json(total(1)), "cash_amount": money_json(total(2)),
        "coupon_amount": money_json(total(3)), "debt_amount": 0, "credit_amount": 0,
        "measure_id": 1, "currency": "CNY",
    })))
}

/// GET /v2/costs/cost-analysed-bills/monthly-breakdown: the month's costs per record (a
/// yearly/monthly charge counts wholly in its month here).
pub fn monthly_breakdown(w: &mut World, c: &Call) -> OpResult {
    let month = cycle(c, "shared_month")?;
    let page = c.page_within(10, 1000)?;
    let name = c.opt_str("resource_name")?;
    let all: Vec<Value> = records(
        w,
        c,
        &me(c)?,
        &month,
        "service_type_code",
        Some("charging_mode"),
    )?
    .into_iter()
    .filter(|r| {
        name.as_ref().is_none_or(|n| {
            w.resources
                .get(&r.resource_id)
                .is_some_and(|x| x.name.contains(n.as_str()))
        })
    })
    .map(|r| {
        let (sn, rn) = names(r);
        json!({
            "shared_month": r.bill_cycle, "bill_cycle": r.bill_cycle, "bill_type": r.bill_type,
            "customer_id": r.customer_id, "region_code": r.region_code,
            "service_type_code": r.service_type_code, "resource_type_code": r.resource_type_code,
            "service_type_name": sn, "resource_type_name": rn, "resource_id": r.resource_id,
            "charging_mode": r.charging_mode, "order_id": r.trade_id,
            "consume_amount": money_json(r.signed(r.amount)),
            "current_month_amortized_amount": money_json(r.signed(r.amount)),
            "amortized_cash_amount": money_json(r.signed(r.cash_amount)),
            "amortized_coupon_amount": money_json(r.signed(r.coupon_amount)),
        })
    })
    .collect();
    Ok(Reply::ok(
        json!({"currency": "CNY", "total_count": all.len(), "details": paged(all, page)}),
    ))
}

/// POST /v4/costs/cost-analysed-bills/query: costs by month, grouped by the dimensions asked.
pub fn costs(w: &mut World, c: &Call) -> OpResult {
    let me = c.customer_id()?.to_owned();
    let tc = c
        .body
        .get("time_condition")
        .ok_or_else(|| ApiError::param("time_condition", "is required"))?;
    let bound = |f: &str| {
        tc.get(f)
            .and_then(Value::as_str)
            .map(|s| s.get(..7).unwrap_or(s).to_owned())
            .ok_or_else(|| ApiError::param(&format!("time_condition.{f}"), "is required"))
    };
    let (from, to) = (bound("begin_time")?, bound("end_time")?);
    let keys: Vec<String> = c
        .body
        .get("groupby")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|g| g.get("key").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let dim = |r: &FeeRecord, k: &str| -> String {
        match k {
            "SERVICE_TYPE" | "service_type" => r.service_type_code.clone(),
            "RESOURCE_TYPE" | "resource_type" => r.resource_type_code.clone(),
            "REGION" | "region" => r.region_code.clone(),
            "CHARGING_MODE" | "charging_mode" => r.charging_mode.to_string(),
            "RESOURCE" | "resource_id" => r.resource_id.clone(),
            _ => String::new(),
        }
    };
    let page = c.page_within(10, 1000)?;
    let mut groups: BTreeMap<Vec<String>, BTreeMap<String, [Decimal; 2]>> = BTreeMap::new();
    for r in w
        .fee_records
        .iter()
        .filter(|r| r.customer_id == me && r.bill_cycle >= from && r.bill_cycle <= to)
    {
        let key: Vec<String> = keys.iter().map(|k| dim(r, k)).collect();
        let e = groups
            .entry(key)
            .or_default()
            .entry(r.bill_cycle.clone())
            .or_insert([Decimal::ZERO; 2]);
        e[0] += r.signed(r.amount);
        e[1] += r.signed(r.official_amount);
    }
    let all: Vec<Value> = groups
        .into_iter()
        .map(|(key, months)| {
            let dims: Vec<Value> = keys.iter().zip(key).map(|(k, v)| json!({"key": k, "value": v})).collect();
            let amount: Decimal = months.values().map(|m| m[0]).sum();
            let official: Decimal = months.values().map(|m| m[1]).sum();
            let costs: Vec<Value> = months.into_iter().map(|(m, s)| json!({"time_dimension_value": m,
                "time_measure_id": 2, "amount": money_str(s[0]), "official_amount": money_str(s[1])})).collect();
            json!({"dimensions": dims, "costs": costs, "amount_by_costs": money_str(amount),
                "official_amount_by_costs": money_str(official)})
        })
        .collect();
    Ok(Reply::ok(
        json!({"currency": "CNY", "total_count": all.len(), "cost_data": paged(all, page)}),
    ))
}

fn usage_records<'w>(w: &'w World, c: &Call) -> Result<Vec<&'w FeeRecord>, ApiError> {
    let cyc = cycle(c, "bill_cycle")?;
    let usage_type = c.opt_str("usage_type")?;
    Ok(records(
        w,
        c,
        &me(c)?,
        &cyc,
        "service_type_code",
        Some("charging_mode"),
    )?
    .into_iter()
    .filter(|r| r.bill_type == BILL_USAGE && r.usage.is_some())
    .filter(|r| {
        usage_type
            .as_ref()
            .is_none_or(|u| r.usage_type.as_ref() == Some(u))
    })
    .collect())
}

/// GET /v2/bills/customer-bills/resources/usage/details
pub fn usage(w: &mut World, c: &Call) -> OpResult {
    let page = c.page_within(10, 1000)?;
    let rs = usage_records(w, c)?;
    let peak = rs.iter().filter_map(|r| r.usage).max().unwrap_or_default();
    let all: Vec<Value> = rs
        .iter()
        .map(|r| json!({"stat_time": r.trade_time, "usage": money_str(r.usage.unwrap_or_default()), "measure_id": 1}))
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "usage_info_list": paged(all, page),
        "monthly_peak_band_width": money_str(peak), "band_width_measure_id": 1}),
    ))
}

/// GET /v2/bills/customer-bills/resources/usage/summary
pub fn usage_summary(w: &mut World, c: &Call) -> OpResult {
    let page = c.page_within(10, 1000)?;
    let rs = usage_records(w, c)?;
    let mut peaks: BTreeMap<&str, Decimal> = BTreeMap::new();
    for r in &rs {
        let e = peaks.entry(&r.resource_id).or_default();
        *e = (*e).max(r.usage.unwrap_or_default());
    }
    let all: Vec<Value> = peaks
        .into_iter()
        .map(|(id, p)| json!({"resource_id": id, "monthly_peak_band_width": money_str(p), "band_width_measure_id": 1}))
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "summary_usage_info_list": paged(all, page)}),
    ))
}

/// GET /v2/bills/subcustomer-bills/res-fee-records: every customer of the partner.
pub fn sub_customer_detail(w: &mut World, c: &Call) -> OpResult {
    let cyc = cycle(c, "bill_cycle")?;
    let customers = scope::customers(w, c, "customer_id")?;
    let assoc = c.opt_str("association_type")?;
    let kind = c.opt_int("bill_detail_type")?;
    let page = c.page_within(10, 1000)?;
    let all: Vec<Value> = records(
        w,
        c,
        &customers,
        &cyc,
        "service_type_code",
        Some("charging_mode"),
    )?
    .into_iter()
    .filter(|r| kind.is_none_or(|k| k == i64::from(r.bill_type)))
    .filter_map(|r| Some((r, w.customers.get(&r.customer_id)?)))
    .filter(|(_, x)| {
        assoc
            .as_ref()
            .is_none_or(|a| *a == x.association_type.to_string())
    })
    .map(|(r, x)| {
        let (sn, rn) = names(r);
        json!({
            "bill_cycle": r.bill_cycle, "customer_id": r.customer_id,
            "association_type": x.association_type.to_string(),
            "service_type_code": r.service_type_code, "resource_type_code": r.resource_type_code,
            "service_type_name": sn, "resource_type_name": rn, "charging_mode": r.charging_mode,
            "trade_time": r.trade_time, "trade_id": r.trade_id, "id": r.id,
            "bill_detail_type": r.bill_type, "resource_id": r.resource_id,
            "region_code": r.region_code, "consume_time": r.trade_time,
            "usage_type": r.usage_type, "usage_amount": r.usage.map(money_json),
            "official_amount": money_json(r.official_amount),
            "official_discount_amount": money_json(r.official_amount - r.amount),
            "payment_amount": money_json(r.amount), "cash_amount": money_json(r.cash_amount),
            "coupon_amount": money_json(r.coupon_amount), "partner_id": x.partner,
        })
    })
    .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "currency": "CNY", "fee_records": paged(all, page)}),
    ))
}

/// GET /v2/bills/partner-bills/subcustomer-bills/monthly-sum: resale customers (those the
/// partner funds), per customer, service type, charging mode and bill type.
pub fn sub_customer_monthly(w: &mut World, c: &Call) -> OpResult {
    let cyc = cycle(c, "cycle")?;
    let customers: Vec<String> = scope::customers(w, c, "customer_id")?
        .into_iter()
        .filter(|id| w.customers.get(id).is_some_and(|x| x.association_type == 2))
        .collect();
    let charge = c.opt_str("charge_mode")?;
    let bill_type = c.opt_str("bill_type")?;
    let page = c.page()?;
    let rs: Vec<&FeeRecord> = records(w, c, &customers, &cyc, "cloud_service_type", None)?
        .into_iter()
        .filter(|r| {
            charge
                .as_ref()
                .is_none_or(|v| *v == r.charging_mode.to_string())
        })
        .filter(|r| {
            bill_type
                .as_ref()
                .is_none_or(|v| (v == "1") == r.is_refund())
        })
        .collect();
    let grouped = sums(&rs, |r| {
        (
            r.customer_id.clone(),
            r.service_type_code.clone(),
            r.charging_mode,
            r.is_refund(),
        )
    });
    let all: Vec<Value> = grouped
        .iter()
        .map(|(r, s)| {
            let bt = if r.is_refund() { "1" } else { "0" };
            json!({
                "customer_id": r.customer_id, "cloud_service_type": r.service_type_code,
                "cloud_service_type_name": super::reference::service_name(&r.service_type_code),
                "bill_type": bt, "charge_mode": r.charging_mode.to_string(),
                "amount": money_json(s[1]), "debt_amount": 0, "adjustment_amount": 0,
                "discount_amount": money_json(s[0] - s[1]), "measure_id": 1,
                "account_details": [{"balance_type": "BALANCE_TYPE_DEBIT", "amount": money_json(s[2]), "bill_type": bt},
                    {"balance_type": "BALANCE_TYPE_COUPON", "amount": money_json(s[3]), "bill_type": bt}],
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"count": all.len(), "currency": "CNY", "bill_sums": paged(all, page)}),
    ))
}

/// POST /v2/bills/subcustomer-bills/res-fee-records/sub-customers/query: the partner's
/// customers with consumption in the cycle.
pub fn consuming_customers(w: &mut World, c: &Call) -> OpResult {
    let cyc = cycle(c, "bill_cycle")?;
    let page = c.page()?;
    let mut ids: Vec<&str> = w
        .fee_records
        .iter()
        .filter(|r| r.bill_cycle == cyc && scope::visible(w, c, &r.customer_id))
        .map(|r| r.customer_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let all: Vec<Value> = ids
        .into_iter()
        .map(|id| json!({"customer_id": id}))
        .collect();
    Ok(Reply::ok(
        json!({"total_count": all.len(), "sub_customers": paged(all, page)}),
    ))
}
