//! Fund adjustment caps: per grantee (a partner, or a staff member of a reseller), per
//! operation and per calendar day and month (GMT+08:00), separately for allocating funds to
//! customers and reclaiming them. Amounts are reserved before the call is forwarded and
//! committed or released after, like vouchers.

use super::periods;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Which way funds move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// To a customer (`update_customer_account_amount`).
    Allocate,
    /// Back from a customer (`reclaim_to_partner_account`).
    Reclaim,
}

impl Direction {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Allocate => "allocate",
            Direction::Reclaim => "reclaim",
        }
    }
}

/// The caps on one direction (none: unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// Largest single operation.
    #[serde(default)]
    pub per_operation: Option<Decimal>,
    /// Per calendar day.
    #[serde(default)]
    pub per_day: Option<Decimal>,
    /// Per calendar month.
    #[serde(default)]
    pub per_month: Option<Decimal>,
}

/// An amount held for a call in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundHold {
    /// Which way.
    pub direction: Direction,
    /// How much.
    pub amount: Decimal,
    /// The day and month it counts against.
    pub periods: (String, String),
}

/// One grantee's caps and what it moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundAccount {
    /// Caps on allocations.
    pub allocate: Caps,
    /// Caps on reclaims.
    pub reclaim: Caps,
    /// Moved (held or committed) per `direction:period` (`allocate:2026-11-21`).
    pub moved: BTreeMap<String, Decimal>,
    /// Holds in flight by request id.
    pub holds: BTreeMap<String, FundHold>,
}

/// A fund adjustment refused by a cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FundRefusal {
    /// Over the single-operation cap.
    #[error("{direction} of {amount} over the per-operation cap of `{grantee}` ({cap})")]
    OverOperation {
        /// Whose cap.
        grantee: String,
        /// `allocate` or `reclaim`.
        direction: &'static str,
        /// Asked.
        amount: Decimal,
        /// The cap.
        cap: Decimal,
    },
    /// Over a day or month cap.
    #[error(
        "over the {direction} {period} cap of `{grantee}` ({cap}): {remaining} left this {period}"
    )]
    OverPeriod {
        /// Whose cap.
        grantee: String,
        /// `allocate` or `reclaim`.
        direction: &'static str,
        /// `day` or `month`.
        period: &'static str,
        /// The cap.
        cap: Decimal,
        /// Left this period.
        remaining: Decimal,
    },
}

impl FundAccount {
    fn caps(&self, d: Direction) -> &Caps {
        match d {
            Direction::Allocate => &self.allocate,
            Direction::Reclaim => &self.reclaim,
        }
    }

    /// Sets the caps of one direction.
    pub fn set_caps(&mut self, d: Direction, caps: Caps) {
        match d {
            Direction::Allocate => self.allocate = caps,
            Direction::Reclaim => self.reclaim = caps,
        }
    }

    /// Holds `amount` for request `id`, or says which cap it would break. Idempotent by id.
    pub fn reserve(
        &mut self,
        grantee: &str,
        id: &str,
        d: Direction,
        amount: Decimal,
        now: OffsetDateTime,
    ) -> Result<(), FundRefusal> {
        if self.holds.contains_key(id) {
            return Ok(());
        }
        let caps = self.caps(d).clone();
        if let Some(cap) = caps.per_operation
            && amount > cap
        {
            return Err(FundRefusal::OverOperation {
                grantee: grantee.to_owned(),
                direction: d.as_str(),
                amount,
                cap,
            });
        }
        let (day, month) = periods(now);
        // Past periods no longer limit anything; holds in flight keep theirs until settled.
        let held: Vec<String> = self
            .holds
            .values()
            .flat_map(|h| {
                let d = h.direction.as_str();
                [
                    format!("{d}:{}", h.periods.0),
                    format!("{d}:{}", h.periods.1),
                ]
            })
            .collect();
        self.moved.retain(|k, _| {
            let p = k.split_once(':').map_or("", |(_, p)| p);
            p.starts_with(&month) || held.contains(k)
        });
        let keys = [
            format!("{}:{day}", d.as_str()),
            format!("{}:{month}", d.as_str()),
        ];
        for (key, cap, period) in [
            (&keys[0], caps.per_day, "day"),
            (&keys[1], caps.per_month, "month"),
        ] {
            let moved = self.moved.get(key).copied().unwrap_or_default();
            if let Some(cap) = cap
                && moved + amount > cap
            {
                return Err(FundRefusal::OverPeriod {
                    grantee: grantee.to_owned(),
                    direction: d.as_str(),
                    period,
                    cap,
                    remaining: (cap - moved).max(Decimal::ZERO),
                });
            }
        }
        for key in &keys {
            *self.moved.entry(key.clone()).or_default() += amount;
        }
        self.holds.insert(
            id.to_owned(),
            FundHold {
                direction: d,
                amount,
                periods: (day, month),
            },
        );
        Ok(())
    }

    /// Settles a hold: `moved` keeps it counted, otherwise it is released. Unknown ids: nothing.
    pub fn settle(&mut self, id: &str, moved: bool) {
        let Some(h) = self.holds.remove(id) else {
            return;
        };
        if moved {
            return;
        }
        for p in [&h.periods.0, &h.periods.1] {
            if let Some(v) = self.moved.get_mut(&format!("{}:{p}", h.direction.as_str())) {
                *v -= h.amount;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn caps_hold_per_operation_and_period_and_releases_give_back() {
        let mut a = FundAccount::default();
        a.set_caps(
            Direction::Allocate,
            Caps {
                per_operation: Some(Decimal::from(100)),
                per_day: Some(Decimal::from(150)),
                per_month: None,
            },
        );
        let now = datetime!(2026-11-21 10:00 UTC);
        let d = Direction::Allocate;
        assert!(matches!(
            a.reserve("r", "1", d, Decimal::from(101), now),
            Err(FundRefusal::OverOperation { .. })
        ));
        assert_eq!(a.reserve("r", "1", d, Decimal::from(100), now), Ok(()));
        assert_eq!(
            a.reserve("r", "1", d, Decimal::from(100), now),
            Ok(()),
            "idempotent"
        );
        assert!(matches!(
            a.reserve("r", "2", d, Decimal::from(60), now),
            Err(FundRefusal::OverPeriod { period: "day", .. })
        ));
        a.settle("1", false);
        assert_eq!(a.reserve("r", "2", d, Decimal::from(60), now), Ok(()));
        a.settle("2", true);
        assert!(a.reserve("r", "3", d, Decimal::from(91), now).is_err());
        // Reclaims have their own caps (none here), and the next day starts afresh.
        assert_eq!(
            a.reserve("r", "4", Direction::Reclaim, Decimal::from(500), now),
            Ok(())
        );
        let tomorrow = datetime!(2026-11-22 10:00 UTC);
        assert_eq!(a.reserve("r", "5", d, Decimal::from(100), tomorrow), Ok(()));
        // A new month forgets the old periods, except those of holds still in flight.
        a.settle("5", true);
        let next_month = datetime!(2026-12-02 10:00 UTC);
        assert_eq!(a.reserve("r", "6", d, Decimal::from(1), next_month), Ok(()));
        assert!(
            a.moved
                .keys()
                .all(|k| k.contains("2026-12") || k.starts_with("reclaim:")),
            "{:?}",
            a.moved
        );
    }
}
