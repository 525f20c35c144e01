//! The vendor key a request is signed with upstream.

use tiergate_config::{Distributor, Secret};

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
