//! Reference data: services, resource types, usage types, specifications (from the product
//! catalogue), measure units, regions of China, incentive policies. Filters and paging
//! work as the vendor's; the data is the vendor's catalogue, so it is fixed.

use super::request::{Call, OpResult, Reply, paged};
use super::world::World;
use serde_json::{Value, json};

/// (code, name, abbreviation)
const SERVICES: &[(&str, &str, &str)] = &[
    ("hws.service.type.ec2", "Elastic Cloud Server", "ECS"),
    ("hws.service.type.obs", "Object Storage Service", "OBS"),
    ("hws.service.type.ebs", "Elastic Volume Service", "EVS"),
];

/// (code, name, service)
const RESOURCE_TYPES: &[(&str, &str, &str)] = &[
    ("hws.resource.type.vm", "VM", "hws.service.type.ec2"),
    (
        "hws.resource.type.obs",
        "OBS bucket",
        "hws.service.type.obs",
    ),
    ("hws.resource.type.volume", "Volume", "hws.service.type.ebs"),
];

/// (code, name, resource type)
const USAGE_TYPES: &[(&str, &str, &str)] = &[
    ("duration", "Duration", "hws.resource.type.vm"),
    ("capacity", "Capacity", "hws.resource.type.obs"),
    ("upflow", "Upstream traffic", "hws.resource.type.obs"),
    ("duration", "Duration", "hws.resource.type.volume"),
];

/// (measure_id, name, abbreviation, measure_type: 1 money, 2 duration, 3 data, 4 capacity)
const MEASURES: &[(u32, &str, &str, u32)] = &[
    (1, "Yuan", "CNY", 1),
    (2, "Jiao", "jiao", 1),
    (3, "Fen", "fen", 1),
    (4, "Hour", "h", 2),
    (5, "Minute", "min", 2),
    (6, "Second", "s", 2),
    (10, "GB", "G", 3),
    (11, "MB", "M", 3),
    (17, "Day", "d", 2),
];

/// (measure_id, ref_measure_id, ratio, measure_type)
const CONVERSIONS: &[(u32, u32, u32, u32)] = &[
    (1, 2, 10, 1),
    (2, 3, 10, 1),
    (4, 5, 60, 2),
    (5, 6, 60, 2),
    (17, 4, 24, 2),
    (10, 11, 1024, 3),
];

/// (code, name, parent)
const PROVINCES: &[(&str, &str)] = &[
    ("110000", "Beijing"),
    ("440000", "Guangdong"),
    ("310000", "Shanghai"),
];
const CITIES: &[(&str, &str, &str)] = &[
    ("110100", "Beijing", "110000"),
    ("440100", "Guangzhou", "440000"),
    ("440300", "Shenzhen", "440000"),
    ("310100", "Shanghai", "310000"),
];
const COUNTIES: &[(&str, &str, &str)] = &[
    ("110101", "Dongcheng", "110100"),
    ("110108", "Haidian", "110100"),
    ("440305", "Nanshan", "440300"),
    ("440304", "Futian", "440300"),
    ("440106", "Tianhe", "440100"),
];

/// A service type's name (its code when unknown).
pub fn service_name(code: &str) -> String {
    SERVICES
        .iter()
        .find(|s| s.0 == code)
        .map_or(code, |s| s.1)
        .to_owned()
}

/// A resource type's name (its code when unknown).
pub fn resource_type_name(code: &str) -> String {
    RESOURCE_TYPES
        .iter()
        .find(|s| s.0 == code)
        .map_or(code, |s| s.1)
        .to_owned()
}

fn page(c: &Call, all: Vec<Value>, count: &str, list: &str) -> OpResult {
    let p = c.page_within(10, 1000)?;
    Ok(Reply::ok(json!({count: all.len(), list: paged(all, p)})))
}

/// GET /v2/products/incentive-discount-policies
pub fn incentive_policies(_: &mut World, c: &Call) -> OpResult {
    let service = c.opt_str("service_type_code")?;
    let all = SERVICES
        .iter()
        .filter(|s| service.as_ref().is_none_or(|v| v == s.0))
        .map(|s| {
            json!({"service_type_code": s.0, "service_type_name": s.1,
            "incentive_policy": "standard", "allow_discount": "Y"})
        })
        .collect();
    page(c, all, "total_count", "policies")
}

/// GET /v2/products/service-types
pub fn service_types(_: &mut World, c: &Call) -> OpResult {
    let name = c.opt_str("service_type_name")?;
    let all = SERVICES
        .iter()
        .filter(|s| name.as_ref().is_none_or(|v| s.1.contains(v.as_str())))
        .map(|s| json!({"service_type_name": s.1, "service_type_code": s.0, "abbreviation": s.2}))
        .collect();
    page(c, all, "total_count", "service_types")
}

/// GET /v2/products/resource-types
pub fn resource_types(_: &mut World, c: &Call) -> OpResult {
    let all = RESOURCE_TYPES
        .iter()
        .map(|r| {
            json!({"resource_type_code": r.0, "resource_type_name": r.1,
            "resource_type_desc": r.1, "service_type_code": r.2})
        })
        .collect();
    page(c, all, "total_count", "resource_types")
}

/// GET /v2/products/service-resources
pub fn service_resources(_: &mut World, c: &Call) -> OpResult {
    let service = c.opt_str("service_type_code")?;
    let all = RESOURCE_TYPES
        .iter()
        .filter(|r| service.as_ref().is_none_or(|v| v == r.2))
        .map(|r| {
            json!({"basic_info": {"resource_type_code": r.0, "product_owner_service": r.2,
            "name": r.1, "description": r.1}})
        })
        .collect();
    page(c, all, "total_count", "infos")
}

/// GET /v2/products/usage-types
pub fn usage_types(_: &mut World, c: &Call) -> OpResult {
    let rtype = c.opt_str("resource_type_code")?;
    let all = USAGE_TYPES
        .iter()
        .filter(|u| rtype.as_ref().is_none_or(|v| v == u.2))
        .map(|u| {
            let service = RESOURCE_TYPES.iter().find(|r| r.0 == u.2).map_or("", |r| r.2);
            json!({"code": u.0, "name": u.1, "resource_type_code": u.2, "service_type_code": service,
                "resource_type_name": resource_type_name(u.2), "service_type_name": service_name(service)})
        })
        .collect();
    page(c, all, "total_count", "usage_types")
}

/// POST /v2/products/resource-specs-query: the catalogue's specifications; `marker` is the
/// offset of the next page.
pub fn resource_specs(w: &mut World, c: &Call) -> OpResult {
    let service = c.req_str("cloud_service_type")?;
    let rtype = c.opt_str("resource_type")?;
    let region = c.opt_str("region_code")?;
    let mode = c.opt_str("charge_mode")?;
    let from: usize = c
        .opt_str("marker")?
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let limit = c.opt_int("limit")?.unwrap_or(100).clamp(1, 1000) as usize;
    let all: Vec<Value> = w
        .products
        .values()
        .filter(|p| p.service_type_code == service)
        .filter(|p| rtype.as_ref().is_none_or(|v| *v == p.resource_type_code))
        .filter(|p| region.as_ref().is_none_or(|v| *v == p.region_code))
        .flat_map(|p| {
            let mut modes = vec!["ON_DEMAND"];
            if p.monthly.is_some() || p.yearly.is_some() {
                modes.push("PERIOD");
            }
            modes.into_iter().map(move |m| (p, m))
        })
        .filter(|(_, m)| mode.as_ref().is_none_or(|v| v == m))
        .map(|(p, m)| json!({"cloud_service_type": p.service_type_code,
            "cloud_service_type_name": service_name(&p.service_type_code),
            "resource_type": p.resource_type_code, "resource_type_name": resource_type_name(&p.resource_type_code),
            "resource_spec": p.resource_spec_code, "resource_spec_name": p.spec_desc,
            "charge_mode": m, "region_code": p.region_code}))
        .collect();
    let next = (from + limit < all.len()).then(|| (from + limit).to_string());
    let items: Vec<Value> = all.into_iter().skip(from).take(limit).collect();
    Ok(Reply::ok(
        json!({"page_info": {"next_marker": next}, "cloud_service_basics": items}),
    ))
}

/// GET /v2/bases/measurements
pub fn measure_units(_: &mut World, _: &Call) -> OpResult {
    let all: Vec<Value> = MEASURES
        .iter()
        .map(|m| json!({"measure_id": m.0, "measure_name": m.1, "abbreviation": m.2, "measure_type": m.3}))
        .collect();
    Ok(Reply::ok(json!({"measure_units": all})))
}

/// GET /v2/bases/conversions
pub fn conversions(_: &mut World, c: &Call) -> OpResult {
    let kind = c.opt_int("measure_type")?;
    let all: Vec<Value> = CONVERSIONS
        .iter()
        .filter(|x| kind.is_none_or(|k| k == i64::from(x.3)))
        .map(|x| json!({"measure_id": x.0, "ref_measure_id": x.1, "conversion_ratio": x.2, "measure_type": x.3}))
        .collect();
    Ok(Reply::ok(json!({"conversions": all})))
}

/// GET /v2/systems/configs/provinces
pub fn provinces(_: &mut World, c: &Call) -> OpResult {
    let all = PROVINCES
        .iter()
        .map(|p| json!({"code": p.0, "name": p.1}))
        .collect();
    page(c, all, "count", "provinces")
}

/// GET /v2/systems/configs/cities
pub fn cities(_: &mut World, c: &Call) -> OpResult {
    let parent = c.req_str("province_code")?;
    let all = CITIES
        .iter()
        .filter(|x| x.2 == parent)
        .map(|x| json!({"code": x.0, "name": x.1}))
        .collect();
    page(c, all, "count", "cities")
}

/// GET /v2/systems/configs/counties
pub fn counties(_: &mut World, c: &Call) -> OpResult {
    let parent = c.req_str("city_code")?;
    let all = COUNTIES
        .iter()
        .filter(|x| x.2 == parent)
        .map(|x| json!({"code": x.0, "name": x.1}))
        .collect();
    page(c, all, "count", "counties")
}
