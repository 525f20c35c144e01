//! One reading of every request: Tiergate forwards only what it has read exactly one way.
//!
//! Tiergate decides on a request (whose customer, how much) and the vendor acts on it; if the
//! two could read the same bytes differently, a caller could show Tiergate one request and the
//! vendor another. Where a request could be read two ways, it is refused, naming the field.
//! The vendor's own behaviour on such input is not documented (which of two duplicate keys it
//! takes, whether it reads `"100"` as an amount, how it routes `%2F` in a path), so Tiergate
//! takes the strict side: a well-formed SDK request never meets these rules.

use crate::routes::{Route, Typed};
use percent_encoding::percent_decode_str;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

/// A request that could be read more than one way, naming where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {why}")]
pub struct Ambiguous {
    /// Where: `path`, a query parameter, or a body field as a dotted path.
    pub field: String,
    /// What is wrong.
    pub why: String,
}

fn ambiguous(field: impl Into<String>, why: impl Into<String>) -> Ambiguous {
    Ambiguous {
        field: field.into(),
        why: why.into(),
    }
}

/// The raw path: no empty, `.` or `..` segment, and no segment that decodes to a separator,
/// a backslash or NUL (a server that decodes before routing would see another path).
pub fn path(raw: &str) -> Result<(), Ambiguous> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(ambiguous("path", "must start with /"));
    };
    for (i, segment) in rest.split('/').enumerate() {
        let decoded: Vec<u8> = percent_decode_str(segment).collect();
        let why = match decoded.as_slice() {
            [] => "is empty",
            b"." | b".." => "is a dot segment",
            d if d.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) => {
                "encodes a slash, a backslash or NUL"
            }
            d if std::str::from_utf8(d).is_err() => "is not UTF-8 once decoded",
            _ => continue,
        };
        return Err(ambiguous("path", format!("segment {} {why}", i + 1)));
    }
    Ok(())
}

/// The query parameters the route reads (its identifiers): each given once unless it is a
/// list, valid UTF-8 once decoded, and without a raw `+` (a space in form encoding, a plus
/// in the signature's reading).
pub fn query(route: &Route, raw: &str) -> Result<(), Ambiguous> {
    let mut seen: HashSet<&str> = HashSet::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let Ok(name) = percent_decode_str(k).decode_utf8() else {
            return Err(ambiguous("query", "a parameter name is not UTF-8"));
        };
        let Some(field) = route
            .ids
            .iter()
            .find(|f| f.name == name && f.nested().is_none())
        else {
            continue;
        };
        if percent_decode_str(v).decode_utf8().is_err() {
            return Err(ambiguous(field.name, "is not UTF-8 once decoded"));
        }
        if k.contains('+') || v.contains('+') {
            return Err(ambiguous(
                field.name,
                "has a raw `+` (encode it as %2B, or a space as %20)",
            ));
        }
        if !seen.insert(field.name) && !field.is_list() {
            return Err(ambiguous(field.name, "is given more than once"));
        }
    }
    Ok(())
}

/// The body's declared type: JSON (UTF-8), or none declared. Tiergate forwards
/// `application/json;charset=UTF-8` whatever else the caller's header says, so it refuses a
/// type the vendor would read another way (a form, a multipart, another charset).
pub fn content_type(value: Option<&[u8]>) -> Result<(), Ambiguous> {
    let Some(value) = value else {
        return Ok(());
    };
    let bad = || ambiguous("Content-Type", "must be application/json (UTF-8)");
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let mut parts = text.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case("application/json"))
    {
        return Err(bad());
    }
    for param in parts.filter(|p| !p.is_empty()) {
        let (k, v) = param.split_once('=').ok_or_else(bad)?;
        let v = v.trim().trim_matches('"');
        if !(k.trim().eq_ignore_ascii_case("charset") && v.eq_ignore_ascii_case("utf-8")) {
            return Err(bad());
        }
    }
    Ok(())
}

/// The body as one JSON object, or none when empty: UTF-8, no key twice in any object at any
/// depth, and the route's typed fields of the JSON type the vendor expects.
pub fn body(route: &Route, bytes: &[u8]) -> Result<Option<Map<String, Value>>, Ambiguous> {
    if bytes.is_empty() {
        return Ok(None);
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ambiguous("body", "is not UTF-8"));
    }
    let twice = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let walked = Unique {
        at: String::new(),
        twice: &twice,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Some(at) = twice.into_inner() {
        return Err(ambiguous(at, "is given more than once"));
    }
    walked.map_err(|e| ambiguous("body", format!("is not JSON: {e}")))?;
    let object = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Err(ambiguous("body", "must be a JSON object")),
        Err(e) => return Err(ambiguous("body", format!("is not JSON: {e}"))),
    };
    types(route, &object)?;
    Ok(Some(object))
}

/// The route's fields of a fixed JSON type: identifiers are strings (lists: arrays of
/// strings), amounts are numbers. Null counts as absent.
fn types(route: &Route, body: &Map<String, Value>) -> Result<(), Ambiguous> {
    for f in route.ids {
        let Some((list, inner)) = f.nested() else {
            continue;
        };
        let ok = match body.get(list) {
            None | Some(Value::Null) => true,
            Some(Value::Array(items)) => items
                .iter()
                .all(|i| i.get(inner).is_some_and(Value::is_string)),
            Some(_) => false,
        };
        if !ok {
            return Err(ambiguous(
                f.name,
                format!("must be a list of objects, each with `{inner}` a string"),
            ));
        }
    }
    let ids = route.ids.iter().filter(|f| f.nested().is_none()).map(|f| {
        let ty = if f.is_list() {
            Typed::Texts
        } else {
            Typed::Text
        };
        (f.name, ty)
    });
    let numbers = route.numbers.iter().map(|n| (*n, Typed::Number));
    for (name, ty) in ids.chain(numbers) {
        let ok = match (body.get(name), ty) {
            (None | Some(Value::Null), _) => true,
            (Some(Value::String(_)), Typed::Text) => true,
            (Some(Value::Array(items)), Typed::Texts) => items.iter().all(Value::is_string),
            (Some(Value::Number(_)), Typed::Number) => true,
            _ => false,
        };
        if !ok {
            return Err(ambiguous(name, format!("must be {}", ty.expected())));
        }
    }
    Ok(())
}

/// Walks a JSON document, refusing an object that names a key twice; `twice` gets the
/// repeated field's path (`a.b[2].c`).
struct Unique<'a> {
    at: String,
    twice: &'a RefCell<Option<String>>,
}

impl Unique<'_> {
    fn below(&self, at: String) -> Self {
        Unique {
            at,
            twice: self.twice,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(self.below(format!("{}[{i}]", self.at)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    // Numbers also arrive here, as serde_json's one-entry private map (its exact text is
    // kept): one key, so never a duplicate.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let at = if self.at.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.at)
            };
            if !keys.insert(key) {
                *self.twice.borrow_mut() = Some(at);
                return Err(de::Error::custom("a key is given more than once"));
            }
            map.next_value_seed(self.below(at))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
