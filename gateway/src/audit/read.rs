//! Reading the audit log, one way for the admin listener and the command line: which records
//! (the same filters under the same names), masked unless unmasked access is asked for, and
//! that access itself audited.

use super::mask::Masker;
use super::{Audit, parse_time_ms, window_start};
use crate::chain::record::{Entry, Kind};
use crate::store::Store;
use crate::store::audit::{Filter, Match};
use serde_json::{Value, json};
use std::time::Duration;
use tiergate_policy::admin::Scope;

/// Where records are read from: the gateway's audit log (which records an unmasked read), or
/// an audit database opened with a read-only audit configuration (masked reads only: nothing
/// can be recorded without the signing key).
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// The audit log.
    Log(&'a Audit),
    /// The audit database alone.
    ReadOnly(&'a Store),
}

impl Source<'_> {
    fn store(&self) -> &Store {
        match self {
            Source::Log(a) => a.store(),
            Source::ReadOnly(s) => s,
        }
    }
}

impl<'a> From<&'a Audit> for Source<'a> {
    fn from(a: &'a Audit) -> Self {
        Source::Log(a)
    }
}

/// Which records, as the admin API's query parameters and the command line's flags name them.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// From, RFC 3339 (default: the retention window).
    pub from: Option<String>,
    /// Until, RFC 3339.
    pub until: Option<String>,
    /// What the records say.
    pub matching: Match,
    /// Records to skip.
    pub offset: i64,
    /// Records to return.
    pub limit: i64,
}

impl Query {
    /// The store's filter: times read as RFC 3339, `from` defaulting to `retention` back,
    /// amounts as decimals.
    pub fn filter(self, retention: Duration) -> Result<Filter, String> {
        // The store compares amounts as numbers: PostgreSQL refuses to cast anything else.
        for (name, v) in [
            ("amount_min", &self.matching.amount_min),
            ("amount_max", &self.matching.amount_max),
        ] {
            if let Some(v) = v
                && v.parse::<rust_decimal::Decimal>().is_err()
            {
                return Err(format!("`{name}` must be a decimal amount"));
            }
        }
        // No record holds a NUL, and PostgreSQL refuses one in any text it is asked to compare.
        let m = &self.matching;
        for (name, v) in [
            ("kind", &m.kind),
            ("principal", &m.principal),
            ("tier", &m.tier),
            ("reseller", &m.reseller),
            ("customer", &m.customer),
            ("operation", &m.operation),
            ("outcome", &m.outcome),
            ("request_id", &m.request_id),
            ("party", &m.party),
        ] {
            if v.as_deref().is_some_and(|v| v.contains('\0')) {
                return Err(format!("`{name}` must not contain a NUL character"));
            }
        }
        let from = match self.from.as_deref() {
            Some(f) => parse_time_ms(f)?,
            None => window_start(retention),
        };
        Ok(Filter {
            from: Some(from),
            until: self.until.as_deref().map(parse_time_ms).transpose()?,
            matching: self.matching,
            offset: self.offset,
            limit: self.limit,
            before_seq: None,
        })
    }
}

/// What the records must say, by the names the admin API's query string and the console's
/// search give the filters (`get` reads one; none: not filtered on).
pub fn matching(get: impl Fn(&str) -> Option<String>) -> Match {
    Match {
        kind: get("kind"),
        principal: get("principal"),
        tier: get("tier"),
        reseller: get("reseller"),
        customer: get("customer"),
        operation: get("operation"),
        outcome: get("outcome"),
        amount_min: get("amount_min"),
        amount_max: get("amount_max"),
        request_id: get("request_id"),
        party: None,
    }
}

/// Keeps a filter to the part of the log `scope` lets its reader see
/// ([`tiergate_policy::admin::reads`]).
pub fn scoped(mut f: Filter, scope: &Scope) -> Filter {
    if let Scope::Partner(p) = scope {
        f.matching.party = Some(p.clone());
    }
    f
}

/// Runs a query, masking unless unmasked access is asked for (and then auditing that).
pub async fn records<'a>(
    from: impl Into<Source<'a>>,
    f: Filter,
    unmasked: bool,
    who: &str,
) -> Result<Vec<Value>, String> {
    let audit = from.into();
    let masker = reader(audit, &f, unmasked, who).await?;
    Ok(page(audit, f, masker.as_ref())
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// What reading under `f` masks with (none: unmasked, and that access audited once).
pub(super) async fn reader(
    audit: Source<'_>,
    f: &Filter,
    unmasked: bool,
    who: &str,
) -> Result<Option<Masker>, String> {
    if unmasked {
        let Source::Log(audit) = audit else {
            return Err(
                "an unmasked read is itself recorded in the log, which takes the \
                        gateway's audit configuration (its signing key): a read-only one \
                        reads masked"
                    .into(),
            );
        };
        let entry = Entry {
            kind: Some(Kind::Access),
            principal: Some(who.to_owned()),
            tier: Some("auditor".into()),
            outcome: Some("unmasked".into()),
            detail: json!({"filter": format!("{f:?}")}),
            ..Entry::default()
        };
        audit.append(entry).await.map_err(|e| e.to_string())?;
        return Ok(None);
    }
    masker(audit).await.map(Some)
}

/// What masks personal data in records: the customers' names the last graph sync listed, to
/// find them in free text too.
pub async fn masker<'a>(from: impl Into<Source<'a>>) -> Result<Masker, String> {
    let names = from
        .into()
        .store()
        .graph()
        .names()
        .await
        .map_err(|e| e.to_string())?;
    Ok(Masker::new(names))
}

/// One page of records with their positions in the chain, masked by `masker` if any.
pub(super) async fn page(
    audit: Source<'_>,
    f: Filter,
    masker: Option<&Masker>,
) -> Result<Vec<(i64, Value)>, String> {
    let rows = audit
        .store()
        .audit()
        .query(f)
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .map(|(seq, body)| {
            let mut v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if let Some(m) = masker {
                m.mask(&mut v);
            }
            (seq, v)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_amounts(min: Option<&str>, max: Option<&str>) -> Result<Filter, String> {
        let q = Query {
            matching: Match {
                amount_min: min.map(str::to_owned),
                amount_max: max.map(str::to_owned),
                ..Match::default()
            },
            limit: 10,
            ..Query::default()
        };
        q.filter(Duration::from_secs(3600))
    }

    #[test]
    fn an_amount_filter_is_a_decimal_or_refused() {
        assert!(with_amounts(Some("12.50"), Some("100")).is_ok());
        for bad in ["null", "", "12,50", "1e400"] {
            let min = with_amounts(Some(bad), None).err().unwrap_or_default();
            assert!(min.contains("amount_min"), "{bad}: {min}");
            let max = with_amounts(None, Some(bad)).err().unwrap_or_default();
            assert!(max.contains("amount_max"), "{bad}: {max}");
        }
    }
}
