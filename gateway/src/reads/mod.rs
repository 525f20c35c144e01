//! What the admin API answers and the console shows, computed once for both: each read takes
//! the reader's principal and keeps to what [`tiergate_policy::admin`] lets them see, so a
//! page and a JSON call never disagree.

pub mod credentials;
pub mod federation;
pub mod money;
pub mod overview;
pub mod tls;

/// Unix seconds as RFC 3339 (UTC); empty when out of range.
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
