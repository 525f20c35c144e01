//! Sets of operations as bit sets over the catalogue, and the pattern language that names
//! them in configuration: `*`, groups (`@reseller`, `@customer`, `@distributor`, `@partner`,
//! `@money`, `@read`), exact operation ids, and `prefix*` globs.

use crate::routes::{CATALOGUE, CallerConstraint, ROUTE_COUNT, Route};

/// Words of a set: one bit per catalogued operation.
const WORDS: usize = ROUTE_COUNT.div_ceil(64);

/// A set of operations: a fixed bit set over the catalogue (as cheap to copy and test as one
/// word was, whatever the catalogue's size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct OpSet([u64; WORDS]);

impl OpSet {
    /// No operation.
    pub const EMPTY: OpSet = OpSet([0; WORDS]);

    fn bit(route: &Route) -> (usize, u64) {
        let i = usize::from(route.index);
        (i / 64, 1u64 << (i % 64))
    }

    fn zip(self, other: OpSet, f: impl Fn(u64, u64) -> u64) -> OpSet {
        let mut out = [0; WORDS];
        for (i, w) in out.iter_mut().enumerate() {
            *w = f(self.0[i], other.0[i]);
        }
        OpSet(out)
    }

    /// Every operation for which `f` holds.
    pub fn of(f: impl Fn(&Route) -> bool) -> OpSet {
        let mut out = [0; WORDS];
        for r in CATALOGUE.iter().filter(|r| f(r)) {
            let (w, b) = Self::bit(r);
            out[w] |= b;
        }
        OpSet(out)
    }

    /// Whether the set holds a route.
    pub fn contains(self, route: &Route) -> bool {
        let (w, b) = Self::bit(route);
        self.0.get(w).is_some_and(|x| x & b != 0)
    }

    /// Union.
    pub fn union(self, other: OpSet) -> OpSet {
        self.zip(other, |a, b| a | b)
    }

    /// Intersection.
    pub fn intersect(self, other: OpSet) -> OpSet {
        self.zip(other, |a, b| a & b)
    }

    /// Difference.
    pub fn minus(self, other: OpSet) -> OpSet {
        self.zip(other, |a, b| a & !b)
    }

    /// The operations, in catalogue order.
    pub fn operations(self) -> impl Iterator<Item = &'static str> {
        CATALOGUE
            .iter()
            .filter(move |r| self.contains(r))
            .map(|r| r.operation)
    }

    /// Parses one pattern.
    pub fn parse(pattern: &str) -> Result<OpSet, String> {
        let set = match pattern {
            "*" => OpSet::of(|_| true),
            "@reseller" => OpSet::of(|r| r.reseller_scoped),
            "@customer" => OpSet::of(|r| r.caller.customers()),
            "@partner" => OpSet::of(|r| r.caller.partners()),
            "@distributor" => OpSet::of(|r| r.caller == CallerConstraint::DistributorOnly),
            "@money" => OpSet::of(|r| r.money_moving),
            "@read" => OpSet::of(|r| !r.money_moving),
            p if p.starts_with('@') => {
                return Err(format!(
                    "unknown group `{p}` (groups: @reseller, @customer, @partner, @distributor, @money, @read)"
                ));
            }
            p => match p.strip_suffix('*') {
                Some(prefix) => OpSet::of(|r| r.operation.starts_with(prefix)),
                None => OpSet::of(|r| r.operation == p),
            },
        };
        if set == OpSet::EMPTY {
            return Err(format!("`{pattern}` names no operation"));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::route_by_operation;

    #[test]
    fn patterns_name_the_expected_operations() -> Result<(), String> {
        let lists = OpSet::parse("list_partner_*")?;
        let ops: Vec<_> = lists.operations().collect();
        assert_eq!(
            ops,
            vec![
                "list_partner_coupons_record",
                "list_partner_adjust_records",
                "list_partner_balances",
                "list_partner_account_change_records"
            ]
        );
        let read_reseller = OpSet::parse("@reseller")?.intersect(OpSet::parse("@read")?);
        let coupons = route_by_operation("create_partner_coupons").ok_or("missing")?;
        assert!(OpSet::parse("@reseller")?.contains(coupons));
        assert!(!read_reseller.contains(coupons));
        assert_eq!(OpSet::parse("*")?.operations().count(), CATALOGUE.len());
        Ok(())
    }

    #[test]
    fn unknown_names_and_groups_are_errors() {
        assert!(OpSet::parse("create_partner_coupon").is_err());
        assert!(OpSet::parse("nothing_*").is_err());
        assert!(OpSet::parse("@resellers").is_err());
    }
}
