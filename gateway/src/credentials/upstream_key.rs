//! The vendor key a request is signed with upstream, and the signing: the upstream request
//! carries that key's signature and nothing of the caller's credentials.

use pingora::http::RequestHeader;
use tiergate_config::{Distributor, Secret, Upstream};
use tiergate_policy::aksk;
use time::OffsetDateTime;

/// Vendor credentials that sign a request upstream: the distributor's for partner calls, a
/// customer's (or solution provider's) own for the calls the vendor accepts only from them.
#[derive(Debug, Clone)]
pub struct UpstreamKey {
    /// The vendor AK.
    pub access_key: String,
    /// The vendor SK.
    pub secret_key: Secret<Vec<u8>>,
    /// The account it belongs to, sent as `X-Domain-Id`.
    pub domain_id: String,
}

impl From<&Distributor> for UpstreamKey {
    fn from(d: &Distributor) -> Self {
        Self {
            access_key: d.access_key.clone(),
            secret_key: Secret::new(d.secret_key.expose().as_bytes().to_vec()),
            domain_id: d.partner_id.clone(),
        }
    }
}

/// Headers forwarded from the caller; everything else is dropped (hop-by-hop headers,
/// the caller's signature, its date, domain and content hash, and its content type: a body
/// goes as the JSON Tiergate read it).
const FORWARDED: &[&str] = &["accept", "accept-language", "user-agent"];

/// The type of every body forwarded (the body stage refuses any other declared type).
const JSON: &str = "application/json;charset=UTF-8";

impl UpstreamKey {
    /// Rewrites an upstream request's headers for `query` and `body`, and signs them.
    pub fn sign(
        &self,
        req: &mut RequestHeader,
        upstream: &Upstream,
        request_id: &str,
        query: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> pingora::Result<()> {
        let drop: Vec<http::HeaderName> = req
            .headers
            .keys()
            .filter(|n| !FORWARDED.contains(&n.as_str()))
            .cloned()
            .collect();
        for name in drop {
            req.remove_header(&name);
        }
        let path = req.uri.path().to_owned();
        let pq = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let uri: http::Uri = pq.parse().map_err(|_| {
            pingora::Error::explain(pingora::ErrorType::InternalError, "upstream uri")
        })?;
        req.set_uri(uri);
        let date = aksk::format_date(now);
        let host = upstream.authority();
        req.insert_header("host", &host)?;
        req.insert_header("x-sdk-date", &date)?;
        req.insert_header("x-domain-id", &self.domain_id)?;
        req.insert_header("x-request-id", request_id)?;
        if !body.is_empty() || req.method != http::Method::GET {
            req.insert_header("content-length", body.len().to_string())?;
        }
        let content_type = (!body.is_empty()).then_some(JSON);
        if let Some(ct) = content_type {
            req.insert_header("content-type", ct)?;
        }
        let mut signed: Vec<(&str, &str)> = vec![
            ("host", &host),
            ("x-domain-id", &self.domain_id),
            ("x-sdk-date", &date),
        ];
        if let Some(ct) = content_type {
            signed.push(("content-type", ct));
        }
        let authorization = aksk::sign(
            req.method.as_str(),
            &path,
            query,
            &signed,
            &aksk::body_sha256(body),
            &self.access_key,
            self.secret_key.expose(),
        );
        req.insert_header("authorization", authorization)?;
        Ok(())
    }
}
