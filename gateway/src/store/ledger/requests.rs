//! What callers ask of the ledger and what it answers: voucher reservations and their
//! settlement, and changes to a quota's delegation tree.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tiergate_policy::ledger::{GrantError, Ledger, Limits, Refusal, Status, VoucherRequest};

/// A voucher request as the gateway saw it.
pub struct VoucherAsk {
    /// The `quota_id` of the request (the vendor quota the vouchers come from).
    pub upstream_quota: String,
    /// The partner the call acts as upstream (whose slice it draws on).
    pub acting: String,
    /// The staff member calling, if a staff credential calls.
    pub staff: Option<String>,
    /// What it asks for.
    pub request: VoucherRequest,
    /// The reservation's id (the request id, or the idempotency key's first request id).
    pub reservation_id: String,
}

/// A reservation held for a request in flight.
#[derive(Debug, Clone)]
pub struct Hold {
    /// The ledger (the quota whose tree the slice is in).
    pub quota: String,
    /// The slice.
    pub node: String,
    /// The reservation.
    pub reservation: String,
    /// Its amount.
    pub amount: Decimal,
    /// The vendor quota the vouchers come from.
    pub upstream_quota: String,
    /// The partner it acts as upstream.
    pub acting: String,
}

/// What the ledger decided.
#[derive(Debug)]
pub enum Reserved {
    /// The quota is not delegated: nothing to hold; the intent is written.
    Undelegated,
    /// Held; the intent is written in the same transaction.
    Held(Hold),
    /// Refused by the ledger; nothing is written.
    Refused(Refusal),
}

/// How the vendor's answer settles a reservation.
#[derive(Debug)]
pub enum Settle {
    /// Vouchers issued: (customer, coupon id). Customers not listed are released.
    Issued(Vec<(String, String)>),
    /// Nothing issued (the vendor refused, or the call never reached it).
    Release,
    /// Unknown (the connection dropped after sending): held until reconciliation decides.
    Pending,
}

/// One change.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new slice (a root slice of the quota without a parent).
    Grant {
        /// Its id.
        id: String,
        /// Its parent.
        parent: Option<String>,
        /// Who it is for.
        grantee: String,
        /// Its limits.
        limits: Box<Limits>,
    },
    /// A new total.
    Adjust {
        /// The slice.
        id: String,
        /// The total.
        total: Decimal,
    },
    /// Suspend, resume or revoke.
    Status {
        /// The slice.
        id: String,
        /// The new state.
        status: Status,
    },
}

impl Change {
    /// The slice it changes.
    pub fn id(&self) -> &str {
        match self {
            Change::Grant { id, .. } | Change::Adjust { id, .. } | Change::Status { id, .. } => id,
        }
    }

    /// Its name in the audit log.
    pub fn operation(&self) -> &'static str {
        match self {
            Change::Grant { .. } => "grant",
            Change::Adjust { .. } => "adjust",
            Change::Status {
                status: Status::Suspended,
                ..
            } => "suspend",
            Change::Status {
                status: Status::Active,
                ..
            } => "resume",
            Change::Status { .. } => "revoke",
        }
    }

    pub(super) fn detail(&self) -> Value {
        match self {
            Change::Grant {
                parent,
                grantee,
                limits,
                ..
            } => json!({"parent": parent, "grantee": grantee, "limits": limits}),
            Change::Adjust { total, .. } => json!({"total": total.to_string()}),
            Change::Status { .. } => Value::Null,
        }
    }

    pub(super) fn apply(self, quota: &str, l: &mut Ledger) -> Result<(), GrantError> {
        match self {
            Change::Grant {
                id,
                parent,
                grantee,
                limits,
            } => l.grant(&id, parent.as_deref(), &grantee, quota, *limits),
            Change::Adjust { id, total } => l.adjust(&id, total),
            Change::Status { id, status } => l.set_status(&id, status),
        }
    }
}

/// Who made a change, for its audit record.
#[derive(Debug, Clone, Default)]
pub struct Author {
    /// Partner id (none from the command line).
    pub principal: Option<String>,
    /// Tier.
    pub tier: Option<String>,
    /// Tiergate credential.
    pub credential: Option<String>,
    /// Where from (`cli`, or the client address).
    pub source: Option<String>,
}
