//! Who reads and changes what on the admin listener: one decision for the admin API and the
//! console, so a page shows a person exactly what the API would answer them.
//!
//! - Auditors read everything (masked unless their role is `unmasked`) and may revoke a
//!   credential (incident response), but issue nothing and change no delegation: the security
//!   team watches, the platform team runs.
//! - The distributor's own credentials (its platform team) read everything and manage
//!   resellers' credentials and every delegation.
//! - A cloud reseller reads its own subtree (records it made or that acted for it, its
//!   slices and below, its credentials and its staff's) and manages its own staff's
//!   credentials and the slices below its own.
//! - Reseller staff read their reseller's subtree and change nothing here.
//! - Customers and solution providers have no business on the admin listener.

use crate::{Denied, Principal, Tier};

/// What a person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The audit log (and its exports and the money totals drawn from it).
    Audit,
    /// Who holds which credential.
    Credentials,
    /// Delegation trees.
    Delegations,
    /// The gateway's own state: requests, refusals, limiter, vendor budget, sync.
    Overview,
    /// TLS policy and certificates.
    Tls,
    /// Reseller IdPs and sign-ins.
    Federation,
}

impl Area {
    /// Its name, in refusals.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Audit => "audit",
            Area::Credentials => "credentials",
            Area::Delegations => "delegations",
            Area::Overview => "overview",
            Area::Tls => "tls",
            Area::Federation => "federation",
        }
    }
}

/// Whose part of an area a reader sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// All of it.
    All,
    /// What concerns this partner (a cloud reseller's subtree).
    Partner(String),
}

impl Scope {
    /// Whether something concerning `partner` is in scope.
    pub fn covers(&self, partner: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Partner(p) => p == partner,
        }
    }
}

fn refused(p: &Principal, what: &'static str) -> Denied {
    Denied::TierNotAllowed {
        tier: p.tier,
        operation: what,
    }
}

/// What `p` sees of `area`, or why they see nothing.
pub fn reads(p: &Principal, area: Area) -> Result<Scope, Denied> {
    let own = || Scope::Partner(p.partner_id.clone());
    match p.tier {
        Tier::Auditor => Ok(Scope::All),
        Tier::Distributor if p.role.is_none() => Ok(Scope::All),
        Tier::CloudReseller | Tier::ResellerStaff => match area {
            Area::Overview | Area::Tls => Err(refused(p, area.as_str())),
            _ => Ok(own()),
        },
        _ => Err(refused(p, area.as_str())),
    }
}

/// Whether `p` may sign in to the console at all (it reads something there).
pub fn signs_in(p: &Principal) -> Result<(), Denied> {
    reads(p, Area::Audit).map(|_| ())
}

/// A credential someone asks to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuing<'a> {
    /// A cloud reseller's own credential.
    Reseller(&'a str),
    /// A reseller's staff member, with a role.
    Staff {
        /// Their reseller.
        reseller: &'a str,
    },
}

/// Whether `p` may issue `what`; `is_reseller` says whether a partner is one of the
/// distributor's cloud resellers.
pub fn may_issue(
    p: &Principal,
    what: &Issuing<'_>,
    is_reseller: impl Fn(&str) -> bool,
) -> Result<(), Denied> {
    let reseller = match what {
        Issuing::Reseller(r) | Issuing::Staff { reseller: r } => *r,
    };
    let not_yours = || Denied::NotYours {
        field: "reseller",
        value: reseller.to_owned(),
    };
    match (p.tier, what) {
        (Tier::Distributor, _) if p.role.is_none() => {
            if is_reseller(reseller) {
                Ok(())
            } else {
                Err(Denied::NotAReseller {
                    partner: reseller.to_owned(),
                })
            }
        }
        (Tier::CloudReseller, Issuing::Staff { .. }) if p.role.is_none() => {
            if reseller == p.partner_id {
                Ok(())
            } else {
                Err(not_yours())
            }
        }
        _ => Err(refused(p, "issue_credential")),
    }
}

/// A credential someone asks to revoke: its tier and partner.
pub fn may_revoke(p: &Principal, tier: Tier, partner: &str) -> Result<(), Denied> {
    let not_yours = || Denied::NotYours {
        field: "access_key",
        value: format!("a {tier} credential of {partner}"),
    };
    match p.tier {
        // Incident response: any credential but the security team's own.
        Tier::Auditor if tier != Tier::Auditor => Ok(()),
        Tier::Distributor if p.role.is_none() => match tier {
            Tier::CloudReseller | Tier::ResellerStaff => Ok(()),
            _ => Err(not_yours()),
        },
        Tier::CloudReseller if p.role.is_none() => {
            if tier == Tier::ResellerStaff && partner == p.partner_id {
                Ok(())
            } else {
                Err(not_yours())
            }
        }
        _ => Err(refused(p, "revoke_credential")),
    }
}

/// Whether `p` may issue some credential (the console offers the form only then; which one,
/// [`may_issue`] decides).
pub fn issues_any(p: &Principal) -> bool {
    matches!(p.tier, Tier::Distributor | Tier::CloudReseller) && p.role.is_none()
}

/// Whether `p` may revoke some credential ([`may_revoke`] decides which).
pub fn revokes_any(p: &Principal) -> bool {
    issues_any(p) || p.tier == Tier::Auditor
}

/// Whether `p` may verify the audit chain (the security team's check; each run is audited).
pub fn may_verify(p: &Principal) -> Result<(), Denied> {
    match p.tier {
        Tier::Auditor => Ok(()),
        _ => Err(refused(p, "verify_audit_chain")),
    }
}

/// Whether `p` may change delegations at all (which slices: the delegation rules decide).
pub fn may_delegate(p: &Principal) -> Result<(), Denied> {
    match p.tier {
        Tier::Distributor | Tier::CloudReseller if p.role.is_none() => Ok(()),
        _ => Err(refused(p, "delegations")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(tier: Tier, partner: &str, role: Option<&str>) -> Principal {
        Principal {
            partner_id: partner.into(),
            tier,
            distributor_id: Some("dist-1".into()),
            role: role.map(Into::into),
        }
    }

    #[test]
    fn readers_see_their_own_subtree_or_all() {
        let auditor = who(Tier::Auditor, "dist-1", None);
        let dist = who(Tier::Distributor, "dist-1", None);
        let res = who(Tier::CloudReseller, "res-1", None);
        let staff = who(Tier::ResellerStaff, "res-1", Some("viewer"));
        let customer = who(Tier::Customer, "cust-r1-c", None);
        for area in [Area::Audit, Area::Credentials, Area::Delegations, Area::Tls] {
            assert_eq!(reads(&auditor, area), Ok(Scope::All));
            assert_eq!(reads(&dist, area), Ok(Scope::All));
            assert!(reads(&customer, area).is_err());
        }
        assert_eq!(reads(&res, Area::Audit), Ok(Scope::Partner("res-1".into())));
        assert_eq!(
            reads(&staff, Area::Delegations),
            Ok(Scope::Partner("res-1".into()))
        );
        assert!(reads(&res, Area::Tls).is_err());
        assert!(reads(&staff, Area::Overview).is_err());
        assert!(signs_in(&customer).is_err());
        assert!(signs_in(&who(Tier::SolutionProvider, "sp-1", None)).is_err());
    }

    #[test]
    fn issuing_and_revoking_follow_the_tree() {
        let resellers = |r: &str| r.starts_with("res-");
        let dist = who(Tier::Distributor, "dist-1", None);
        let res = who(Tier::CloudReseller, "res-1", None);
        let staff = who(Tier::ResellerStaff, "res-1", Some("operator"));
        let auditor = who(Tier::Auditor, "dist-1", None);
        assert!(may_issue(&dist, &Issuing::Reseller("res-2"), resellers).is_ok());
        assert!(may_issue(&dist, &Issuing::Reseller("cust-x"), resellers).is_err());
        assert!(may_issue(&res, &Issuing::Staff { reseller: "res-1" }, resellers).is_ok());
        assert!(may_issue(&res, &Issuing::Staff { reseller: "res-2" }, resellers).is_err());
        assert!(may_issue(&res, &Issuing::Reseller("res-1"), resellers).is_err());
        assert!(may_issue(&staff, &Issuing::Staff { reseller: "res-1" }, resellers).is_err());
        assert!(may_issue(&auditor, &Issuing::Reseller("res-1"), resellers).is_err());

        assert!(may_revoke(&auditor, Tier::CloudReseller, "res-1").is_ok());
        assert!(may_revoke(&auditor, Tier::Auditor, "dist-1").is_err());
        assert!(may_revoke(&dist, Tier::ResellerStaff, "res-2").is_ok());
        assert!(may_revoke(&dist, Tier::Auditor, "dist-1").is_err());
        assert!(may_revoke(&res, Tier::ResellerStaff, "res-1").is_ok());
        assert!(may_revoke(&res, Tier::ResellerStaff, "res-2").is_err());
        assert!(may_revoke(&res, Tier::CloudReseller, "res-1").is_err());
        assert!(may_revoke(&staff, Tier::ResellerStaff, "res-1").is_err());

        assert!(may_delegate(&dist).is_ok() && may_delegate(&res).is_ok());
        assert!(issues_any(&dist) && issues_any(&res) && !issues_any(&auditor));
        assert!(revokes_any(&auditor) && !revokes_any(&staff));
        assert!(may_verify(&auditor).is_ok() && may_verify(&dist).is_err());
        assert!(may_delegate(&staff).is_err() && may_delegate(&auditor).is_err());
    }
}
