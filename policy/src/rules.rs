//! Tier rules as data: what each tier (and each reseller staff role) may call.
//!
//! Each tier has a **ceiling** that mirrors the vendor and cannot be configured away:
//! distributors call partner routes; solution providers the partner routes open to them;
//! cloud resellers (and their staff) only reseller-scoped routes, never distributor-only
//! ones; customers only customer-side routes; auditors no partner API route at all.
//! Configuration may narrow a tier below its ceiling, never widen it; a role narrows the
//! reseller's rights further.

use crate::opset::OpSet;
use crate::principal::Tier;
use crate::routes::{CallerConstraint, Route};
use std::collections::BTreeMap;

/// Allow and deny patterns (see [`OpSet::parse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantSpec {
    /// Patterns granted.
    pub allow: Vec<String>,
    /// Patterns taken away again.
    pub deny: Vec<String>,
}

/// Rules as configured: per tier (absent tiers keep their default) and per role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesSpec {
    /// Tier overrides.
    pub tiers: BTreeMap<Tier, GrantSpec>,
    /// Reseller staff roles by name.
    pub roles: BTreeMap<String, GrantSpec>,
}

/// A rules problem, at a path such as `tiers.cloud_reseller.allow[1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Path below the rules section.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Compiled rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    tiers: BTreeMap<Tier, OpSet>,
    roles: BTreeMap<String, OpSet>,
}

/// The most a tier may ever be granted.
pub fn ceiling(tier: Tier) -> OpSet {
    use CallerConstraint::*;
    match tier {
        Tier::Distributor => OpSet::of(|r| r.caller.partners()),
        Tier::SolutionProvider => OpSet::of(|r| r.caller.partners() && r.caller != DistributorOnly),
        Tier::CloudReseller | Tier::ResellerStaff => OpSet::of(|r| r.reseller_scoped),
        Tier::Customer => OpSet::of(|r| r.caller.customers()),
        Tier::Auditor => OpSet::EMPTY,
    }
}

fn default_roles() -> BTreeMap<String, OpSet> {
    let reseller = ceiling(Tier::CloudReseller);
    let read = OpSet::of(|r: &Route| !r.changes_state());
    BTreeMap::from([
        ("viewer".to_owned(), reseller.intersect(read)),
        ("operator".to_owned(), reseller),
    ])
}

impl Default for Rules {
    /// The vendor's rules, extended to tier-2 through Tiergate; roles `viewer` (reads only)
    /// and `operator` (everything the reseller may do).
    fn default() -> Self {
        Rules {
            tiers: Tier::ALL.into_iter().map(|t| (t, ceiling(t))).collect(),
            roles: default_roles(),
        }
    }
}

/// Compiles a grant: (allowed set, operations named explicitly in `allow`).
///
/// `*`, globs and groups are wildcards, clipped to the ceiling; an operation named exactly
/// beyond the ceiling is an error, since the configuration plainly asks for it.
fn compile_grant(spec: &GrantSpec, path: &str, errors: &mut Vec<RuleError>) -> (OpSet, OpSet) {
    let mut explicit = OpSet::EMPTY;
    let mut set = |list: &[String], key: &str, explicit: &mut OpSet| {
        list.iter()
            .enumerate()
            .fold(OpSet::EMPTY, |acc, (i, p)| match OpSet::parse(p) {
                Ok(s) => {
                    if !p.ends_with('*') && !p.starts_with('@') {
                        *explicit = explicit.union(s);
                    }
                    acc.union(s)
                }
                Err(message) => {
                    errors.push(RuleError {
                        path: format!("{path}.{key}[{i}]"),
                        message,
                    });
                    acc
                }
            })
    };
    let allow = set(&spec.allow, "allow", &mut explicit);
    // Denials never widen, so what they name explicitly is not checked against the ceiling.
    let mut ignored = OpSet::EMPTY;
    let deny = set(&spec.deny, "deny", &mut ignored);
    (allow.minus(deny), explicit)
}

impl Rules {
    /// Compiles configured rules, reporting every problem with its path.
    pub fn compile(spec: &RulesSpec) -> Result<Rules, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut rules = Rules::default();
        for (tier, grant) in &spec.tiers {
            let path = format!("tiers.{tier}");
            let (set, explicit) = compile_grant(grant, &path, &mut errors);
            let beyond = explicit.minus(ceiling(*tier));
            if beyond != OpSet::EMPTY {
                let ops: Vec<_> = beyond.operations().collect();
                errors.push(RuleError {
                    path: format!("{path}.allow"),
                    message: format!("a {tier} may never call {}", ops.join(", ")),
                });
            }
            rules.tiers.insert(*tier, set.intersect(ceiling(*tier)));
        }
        for (name, grant) in &spec.roles {
            let path = format!("roles.{name}");
            let (set, explicit) = compile_grant(grant, &path, &mut errors);
            let beyond = explicit.minus(ceiling(Tier::ResellerStaff));
            if beyond != OpSet::EMPTY {
                let ops: Vec<_> = beyond.operations().collect();
                errors.push(RuleError {
                    path: format!("{path}.allow"),
                    message: format!("reseller staff may never call {}", ops.join(", ")),
                });
            }
            rules
                .roles
                .insert(name.clone(), set.intersect(ceiling(Tier::ResellerStaff)));
        }
        if errors.is_empty() {
            Ok(rules)
        } else {
            Err(errors)
        }
    }

    /// What a tier may call.
    pub fn tier(&self, tier: Tier) -> OpSet {
        self.tiers.get(&tier).copied().unwrap_or(OpSet::EMPTY)
    }

    /// What a role may call, if the role exists.
    pub fn role(&self, name: &str) -> Option<OpSet> {
        self.roles.get(name).copied()
    }

    /// The role names.
    pub fn role_names(&self) -> impl Iterator<Item = &str> {
        self.roles.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::route_by_operation;

    fn spec(tier: Tier, allow: &[&str], deny: &[&str]) -> RulesSpec {
        RulesSpec {
            tiers: BTreeMap::from([(
                tier,
                GrantSpec {
                    allow: allow.iter().map(|s| (*s).to_owned()).collect(),
                    deny: deny.iter().map(|s| (*s).to_owned()).collect(),
                },
            )]),
            roles: BTreeMap::new(),
        }
    }

    #[test]
    fn a_tier_can_be_narrowed() -> Result<(), String> {
        let s = spec(Tier::CloudReseller, &["@reseller"], &["@money"]);
        let rules = Rules::compile(&s).map_err(|e| format!("{e:?}"))?;
        let coupons = route_by_operation("create_partner_coupons").ok_or("missing")?;
        let list = route_by_operation("list_sub_customers").ok_or("missing")?;
        assert!(!rules.tier(Tier::CloudReseller).contains(coupons));
        assert!(rules.tier(Tier::CloudReseller).contains(list));
        Ok(())
    }

    #[test]
    fn wildcards_are_clipped_to_the_ceiling() -> Result<(), String> {
        let s = spec(Tier::CloudReseller, &["*"], &[]);
        let rules = Rules::compile(&s).map_err(|e| format!("{e:?}"))?;
        assert_eq!(
            rules.tier(Tier::CloudReseller),
            ceiling(Tier::CloudReseller)
        );
        Ok(())
    }

    #[test]
    fn a_tier_cannot_be_widened_beyond_its_ceiling() {
        let s = spec(
            Tier::CloudReseller,
            &["@reseller", "list_indirect_partners"],
            &[],
        );
        let err = Rules::compile(&s).err().unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].path, "tiers.cloud_reseller.allow");
        assert!(err[0].message.contains("list_indirect_partners"));
        let s = spec(Tier::Auditor, &["list_sub_customers"], &[]);
        assert!(Rules::compile(&s).is_err());
    }

    #[test]
    fn bad_patterns_are_reported_with_their_paths() {
        let s = spec(Tier::Distributor, &["*", "nope"], &["@bogus"]);
        let err = Rules::compile(&s).err().unwrap_or_default();
        let paths: Vec<_> = err.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["tiers.distributor.allow[1]", "tiers.distributor.deny[0]"]
        );
    }

    #[test]
    fn default_roles_exist() {
        let rules = Rules::default();
        assert_eq!(
            rules.role_names().collect::<Vec<_>>(),
            vec!["operator", "viewer"]
        );
        assert_eq!(rules.tier(Tier::Auditor), OpSet::EMPTY);
    }
}
