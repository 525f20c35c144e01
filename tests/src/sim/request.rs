//! A parsed API call and helpers to read its fields the way the vendor validates them.

use super::errors::ApiError;
use super::routes::VendorRoute;
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;
use tiergate_policy::Tier;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Who signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A partner's AK/SK.
    Partner {
        /// Partner id.
        id: String,
        /// Its tier.
        tier: Tier,
    },
    /// A customer's AK/SK.
    Customer {
        /// Customer id.
        id: String,
    },
}

/// An authenticated call to one operation.
pub struct Call {
    /// Who signed.
    pub caller: Caller,
    /// The partner the call acts as (`indirect_partner_id`, else the caller).
    pub acting: String,
    /// The operation.
    pub route: &'static VendorRoute,
    /// The request path (for `{name}` segments).
    pub path: String,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
    /// The JSON body (`Null` when empty).
    pub body: Value,
    /// The simulator's clock at the request.
    pub now: OffsetDateTime,
    /// A vendor bug injected by a test (`Faults::unscoped`): partners' reads see every
    /// customer, whoever they act as.
    pub unscoped: bool,
}

impl Call {
    /// A field from the body, else from the query (as a string).
    pub fn field(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.body.get(name).filter(|v| !v.is_null()) {
            return Some(v.clone());
        }
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Value::String(v.clone()))
    }

    /// An optional string field.
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::param(name, "must be a string")),
        }
    }

    /// A required, non-empty string field.
    pub fn req_str(&self, name: &str) -> Result<String, ApiError> {
        self.opt_str(name)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::param(name, "is required"))
    }

    /// A list of strings: a JSON array in the body, or a repeated query parameter.
    pub fn str_list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        if let Some(v) = self.body.get(name).filter(|v| !v.is_null()) {
            let arr = v
                .as_array()
                .ok_or_else(|| ApiError::param(name, "must be a list"))?;
            return arr
                .iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(ApiError::param(name, "must be a list of strings")),
                })
                .collect();
        }
        Ok(self
            .query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect())
    }

    /// An amount: a number (or numeric string) > 0 with at most 2 decimal places.
    pub fn money(&self, name: &str) -> Result<Decimal, ApiError> {
        let raw = match self.field(name) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s,
            Some(_) => return Err(ApiError::param(name, "must be a number")),
            None => return Err(ApiError::param(name, "is required")),
        };
        let d = Decimal::from_str(&raw)
            .or_else(|_| Decimal::from_scientific(&raw))
            .map_err(|_| ApiError::param(name, "must be a decimal number"))?;
        if d <= Decimal::ZERO || d.normalize().scale() > 2 {
            return Err(ApiError::param(
                name,
                "must be greater than 0 with at most 2 decimal places",
            ));
        }
        Ok(d)
    }

    /// An optional integer field.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::param(name, "must be an integer")),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| ApiError::param(name, "must be an integer")),
            Some(_) => Err(ApiError::param(name, "must be an integer")),
        }
    }

    /// `offset` (default 0) and `limit` (default 10, 1..=100).
    pub fn page(&self) -> Result<(usize, usize), ApiError> {
        self.page_within(10, 100)
    }

    /// A `{name}` segment of the path.
    pub fn path_param(&self, name: &str) -> Result<String, ApiError> {
        self.route
            .path_param(&self.path, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::param(name, "is required"))
    }

    /// The customer who signed, for customer-side operations.
    pub fn customer_id(&self) -> Result<&str, ApiError> {
        match &self.caller {
            Caller::Customer { id } => Ok(id),
            Caller::Partner { .. } => Err(ApiError::denied(
                "Access denied: this API accepts only the customer's own credentials.",
            )),
        }
    }

    /// `offset` (default 0) and `limit` (default `default`, 1..=`max`), for the operations
    /// whose SDK model states other bounds than the common 10 and 100.
    pub fn page_within(&self, default: i64, max: i64) -> Result<(usize, usize), ApiError> {
        let offset = self.opt_int("offset")?.unwrap_or(0);
        let limit = self.opt_int("limit")?.unwrap_or(default);
        if offset < 0 {
            return Err(ApiError::param("offset", "must be >= 0"));
        }
        if !(1..=max).contains(&limit) {
            return Err(ApiError::param(
                "limit",
                &format!("must be between 1 and {max}"),
            ));
        }
        Ok((offset as usize, limit as usize))
    }

    /// An optional decimal field (a JSON number or a numeric string), any sign.
    pub fn opt_decimal(&self, name: &str) -> Result<Option<Decimal>, ApiError> {
        let raw = match self.field(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s,
            Some(_) => return Err(ApiError::param(name, "must be a number")),
        };
        Decimal::from_str(&raw)
            .or_else(|_| Decimal::from_scientific(&raw))
            .map(Some)
            .map_err(|_| ApiError::param(name, "must be a decimal number"))
    }

    /// A time filter: `<prefix>_begin` and `<prefix>_end` (UTC, as `2019-05-06T08:05:01Z`),
    /// both optional.
    pub fn window(&self, prefix: &str) -> Result<Window, ApiError> {
        let at = |name: String| -> Result<Option<OffsetDateTime>, ApiError> {
            match self.opt_str(&name)? {
                None => Ok(None),
                Some(s) => parse_time(&s).map(Some).ok_or_else(|| {
                    ApiError::param(&name, "must be a UTC time like 2019-05-06T08:05:01Z")
                }),
            }
        };
        Ok(Window {
            begin: at(format!("{prefix}_begin"))?,
            end: at(format!("{prefix}_end"))?,
        })
    }

    /// The time now, formatted as the vendor does.
    pub fn now_str(&self) -> String {
        fmt_time(self.now)
    }
}

/// A time filter of a list ([`Call::window`]).
pub struct Window {
    begin: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
}

impl Window {
    /// Whether a record of time `at` is listed: any, without a filter; else one with a time
    /// within it (both ends included).
    pub fn admits(&self, at: Option<&str>) -> bool {
        if self.begin.is_none() && self.end.is_none() {
            return true;
        }
        let Some(t) = at.and_then(parse_time) else {
            return false;
        };
        self.begin.is_none_or(|b| t >= b) && self.end.is_none_or(|e| t <= e)
    }
}

/// One page of a list.
pub fn paged<T>(items: Vec<T>, (offset, limit): (usize, usize)) -> Vec<T> {
    items.into_iter().skip(offset).take(limit).collect()
}

/// An exact JSON number for an amount.
pub fn money_json(d: Decimal) -> Value {
    serde_json::Number::from_str(&d.to_string())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// `2026-11-21T10:15:00Z`.
pub fn fmt_time(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// A successful answer.
pub struct Reply {
    /// Status (200, or 204 for reclaims).
    pub status: http::StatusCode,
    /// JSON body, if any.
    pub body: Option<Value>,
}

impl Reply {
    /// 200 with a body.
    pub fn ok(body: Value) -> Self {
        Self {
            status: http::StatusCode::OK,
            body: Some(body),
        }
    }
    /// 204 without a body.
    pub fn no_content() -> Self {
        Self {
            status: http::StatusCode::NO_CONTENT,
            body: None,
        }
    }
}

/// What an operation returns.
pub type OpResult = Result<Reply, ApiError>;
