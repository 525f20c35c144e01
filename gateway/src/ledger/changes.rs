//! Changes to a quota's delegation tree (grant, adjust, suspend, resume, revoke), each applied
//! with its audit record in one transaction, from the command line or the admin API.

use super::{load, lock, save};
use crate::audit::record::{Entry, Kind};
use crate::audit::sign::Signer;
use crate::audit::store::append_in;
use crate::store::{Store, StoreError};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::Arc;
use tiergate_policy::ledger::{GrantError, Ledger, Limits, Status};

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

    fn detail(&self) -> Value {
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

    fn apply(self, quota: &str, l: &mut Ledger) -> Result<(), GrantError> {
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

impl Store {
    /// Applies a change to `quota`'s tree and writes its audit record, in one transaction.
    /// A refused change writes nothing. `upstream_quota` links the slice to the reseller's own
    /// vendor quota it was issued as.
    pub async fn ledger_change(
        &self,
        quota: &str,
        change: Change,
        upstream_quota: Option<String>,
        author: Author,
        signer: Arc<Signer>,
    ) -> Result<Result<(), GrantError>, StoreError> {
        let backend = self.backend();
        let quota = quota.to_owned();
        self.on_rt(move |pool| async move {
            let mut tx = pool.begin().await?;
            lock(&mut tx, backend, &quota).await?;
            let before = load(&mut tx, &quota).await?;
            let mut after = before.clone();
            let (id, operation) = (change.id().to_owned(), change.operation());
            let mut detail =
                json!({"quota_id": quota, "delegation": id, "change": change.detail()});
            if let Err(e) = change.apply(&quota, &mut after) {
                return Ok(Err(e));
            }
            save(&mut tx, &quota, before, after).await?;
            if let Some(u) = &upstream_quota {
                super::aliases::link_in(&mut tx, u, &quota, &id).await?;
                detail["upstream_quota"] = json!(u);
            }
            let entry = Entry {
                kind: Some(Kind::Delegation),
                operation: Some(operation.to_owned()),
                principal: author.principal,
                tier: author.tier,
                credential: author.credential,
                acting: Some(id),
                outcome: Some("ok".into()),
                source: author.source,
                detail,
                ..Entry::default()
            };
            append_in(&mut tx, backend, vec![entry], &signer).await?;
            tx.commit().await?;
            Ok(Ok(()))
        })
        .await
    }
}

/// A quota's tree as JSON (granted, reserved, used, remaining per slice, and the vendor quota
/// a slice was issued as), keeping the slices `show` selects.
pub async fn tree(
    store: &Store,
    quota: &str,
    show: impl Fn(&Ledger, &str) -> bool,
) -> Result<Value, StoreError> {
    let l = store.ledger_view(quota).await?;
    let links = store.ledger_links(quota).await?;
    let slices: Vec<Value> = l
        .nodes()
        .filter(|(id, _)| show(&l, id))
        .map(|(id, n)| {
            let upstream = links.iter().find(|(_, node)| node == id).map(|(u, _)| u);
            json!({
                "id": id, "parent": n.parent, "grantee": n.grantee, "status": n.status,
                "granted": n.limits.total.to_string(), "reserved": n.reserved.to_string(),
                "used": n.used.to_string(), "remaining": l.remaining(id).to_string(),
                "limits": n.limits, "upstream_quota": upstream,
            })
        })
        .collect();
    Ok(json!({"quota_id": quota, "slices": slices}))
}
