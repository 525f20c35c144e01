//! The identifiers a request carries, read from its query string and JSON body.

use crate::routes::{IdField, Route};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// An identifier field that is not a string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` must be {expected}")]
pub struct BadId {
    /// The field.
    pub field: &'static str,
    /// What it must be.
    pub expected: &'static str,
}

/// Every identifier of a request, with the field it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestIds<'a> {
    entries: Vec<(&'static IdField, Cow<'a, str>)>,
}

impl<'a> RequestIds<'a> {
    /// Reads the route's identifier fields from the query and the body. Both places are read
    /// for every route: a field where the vendor does not expect it is still checked.
    pub fn extract(
        route: &'static Route,
        query: &'a str,
        body: Option<&'a Map<String, Value>>,
    ) -> Result<RequestIds<'a>, BadId> {
        let mut entries = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode_str(k).decode_utf8_lossy();
            if let Some(field) = route
                .ids
                .iter()
                .find(|f| f.name == key && f.nested().is_none())
            {
                entries.push((field, percent_decode_str(v).decode_utf8_lossy()));
            }
        }
        if let Some(body) = body {
            for field in route.ids {
                if let Some((list, inner)) = field.nested() {
                    let items = body.get(list).and_then(Value::as_array);
                    for item in items.into_iter().flatten() {
                        let s = item.get(inner).and_then(Value::as_str).ok_or(BadId {
                            field: field.name,
                            expected: "a list of objects, each with a string identifier",
                        })?;
                        entries.push((field, Cow::Borrowed(s)));
                    }
                    continue;
                }
                match body.get(field.name) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => entries.push((field, Cow::Borrowed(s.as_str()))),
                    Some(Value::Array(items)) => {
                        for item in items {
                            let s = item.as_str().ok_or(BadId {
                                field: field.name,
                                expected: "a list of strings",
                            })?;
                            entries.push((field, Cow::Borrowed(s)));
                        }
                    }
                    Some(_) => {
                        return Err(BadId {
                            field: field.name,
                            expected: "a string or a list of strings",
                        });
                    }
                }
            }
        }
        Ok(RequestIds { entries })
    }

    /// From explicit pairs (tests, benches, `policy explain`).
    pub fn from_pairs(pairs: Vec<(&'static IdField, Cow<'a, str>)>) -> Self {
        Self { entries: pairs }
    }

    /// Every identifier with its field.
    pub fn iter(&self) -> impl Iterator<Item = (&'static IdField, &str)> {
        self.entries.iter().map(|(f, v)| (*f, v.as_ref()))
    }

    /// Number of identifiers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::find_route;
    use serde_json::json;

    #[test]
    fn reads_query_and_body_lists() -> Result<(), String> {
        let route = find_route("POST", "/v2/promotions/benefits/partner-coupons").ok_or("route")?;
        let body =
            json!({"quota_id": "q1", "customer_ids": ["c1", "c2"], "face_value": 5, "memo": "x"});
        let obj = body.as_object().ok_or("object")?;
        let ids = RequestIds::extract(route, "indirect_partner_id=r%2D1", Some(obj))
            .map_err(|e| e.to_string())?;
        let got: Vec<(&str, &str)> = ids.iter().map(|(f, v)| (f.name, v)).collect();
        assert_eq!(
            got,
            vec![
                ("indirect_partner_id", "r-1"),
                ("quota_id", "q1"),
                ("customer_ids", "c1"),
                ("customer_ids", "c2")
            ]
        );
        Ok(())
    }

    #[test]
    fn non_string_identifiers_are_refused() -> Result<(), String> {
        let route =
            find_route("POST", "/v2/accounts/partner-accounts/adjust-amount").ok_or("route")?;
        for bad in [json!({"customer_id": 7}), json!({"customer_id": {"a": 1}})] {
            let obj = bad.as_object().ok_or("object")?;
            assert!(RequestIds::extract(route, "", Some(obj)).is_err());
        }
        let route = find_route("POST", "/v2/promotions/benefits/partner-coupons").ok_or("route")?;
        let bad = json!({"customer_ids": ["c1", 2]});
        assert!(RequestIds::extract(route, "", bad.as_object()).is_err());
        Ok(())
    }
}
