//! Principals: the partner (or customer) a Tiergate credential stands for.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who a credential stands for: the vendor's partner tiers, the customer that buys from a
/// partner, and two kinds only Tiergate knows (a reseller's staff account, an auditor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Tier-1 reseller: sells through cloud resellers, holds the upstream credentials.
    Distributor,
    /// Sells to its own customers directly, with its own vendor credentials.
    SolutionProvider,
    /// Tier-2 reseller, managed by exactly one distributor; refused by the vendor API itself.
    CloudReseller,
    /// A staff account of a cloud reseller; its role narrows the reseller's rights.
    ResellerStaff,
    /// A customer bound to one partner.
    Customer,
    /// A security team member: Tiergate's own audit and policy APIs, never the partner API.
    Auditor,
}

impl Tier {
    /// All tiers, in a fixed order (for tables and help texts).
    pub const ALL: [Tier; 6] = [
        Tier::Distributor,
        Tier::SolutionProvider,
        Tier::CloudReseller,
        Tier::ResellerStaff,
        Tier::Customer,
        Tier::Auditor,
    ];

    /// The snake_case name used in configuration, storage, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Distributor => "distributor",
            Tier::SolutionProvider => "solution_provider",
            Tier::CloudReseller => "cloud_reseller",
            Tier::ResellerStaff => "reseller_staff",
            Tier::Customer => "customer",
            Tier::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tier name that is not one of [`Tier::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown tier `{0}` (expected distributor, solution_provider, cloud_reseller, \
     reseller_staff, customer or auditor)"
)]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTier(s.to_owned()))
    }
}

/// Who a verified request speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The vendor id this credential acts as: the partner (for reseller staff, their
    /// reseller; for a customer, the customer itself; for an auditor, the distributor).
    pub partner_id: String,
    /// Its tier.
    pub tier: Tier,
    /// The distributor it belongs to (a cloud reseller's parent; a distributor's own id).
    pub distributor_id: Option<String>,
    /// The staff role (reseller staff only).
    pub role: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_names_round_trip() {
        for t in Tier::ALL {
            assert_eq!(t.as_str().parse::<Tier>(), Ok(t));
        }
        assert_eq!(
            "reseller".parse::<Tier>(),
            Err(UnknownTier("reseller".into()))
        );
    }
}
