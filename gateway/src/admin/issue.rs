//! A slice issued to a reseller as its own vendor quota, atomically: the slice is granted as
//! being issued, its total held on the parent, with the audit intent, under the quota's lock,
//! before the vendor is called (two grants racing for the same amount cannot both reach the
//! vendor); the vendor's answer activates and links it, or withdraws it; an answer that never
//! came leaves it held, and reconciliation settles it from the vendor's quota records
//! ([`crate::ledger::issuing`]).

use crate::audit::Audit;
use crate::chain::record::{Entry, Kind};
use crate::credentials::{Credential, UpstreamKey};
use crate::graph::LiveGraph;
use crate::rejection::Rejection;
use crate::store::Store;
use crate::store::ledger::issuing::{Issued, Issuing, Keys};
use crate::store::ledger::requests::Change;
use crate::upstream::{CallError, UpstreamClient};
use serde_json::{Value, json};

/// The vendor operation that issues quota to resellers.
pub const PATH: &str = "/v2/partners/coupon-quotas/indirect-partner-adjust";
/// Its name in the audit log.
pub const OPERATION: &str = "update_coupon_quotas";

/// Who issues, from where, as which request.
pub struct By<'a> {
    /// The distributor's credential.
    pub credential: &'a Credential,
    /// The client address.
    pub source: Option<String>,
    /// The request id (its idempotency keys are claimed under it).
    pub request_id: &'a str,
}

/// What issuing needs.
pub struct Issue<'a> {
    /// The audit log and the ledger.
    pub audit: &'a Audit,
    /// The partner API.
    pub client: &'a UpstreamClient,
    /// The distributor's vendor key.
    pub key: &'a UpstreamKey,
    /// The graph (the new quota is the reseller's from then on).
    pub graph: &'a LiveGraph,
    /// Where learned relationships are kept.
    pub store: &'a Store,
}

/// The delegation record of a settled slice: issued as its vendor quota, or withdrawn.
pub fn settled_record(issuing: &Issuing, issued: &Issued, base: Entry) -> Entry {
    let (outcome, upstream) = match issued {
        Issued::As(q) => ("ok", Some(q.clone())),
        Issued::Not => ("withdrawn", None),
    };
    Entry {
        kind: Some(Kind::Delegation),
        operation: Some("grant".into()),
        acting: Some(issuing.node.clone()),
        outcome: Some(outcome.into()),
        detail: json!({"quota_id": issuing.quota, "delegation": issuing.node,
                       "upstream_quota": upstream}),
        ..base
    }
}

/// What the vendor's answer says about one reseller's quota.
enum Answered {
    /// Issued as this quota.
    Issued(String, Value),
    /// Not issued (the vendor refused, or the call never left).
    Refused(String, Value),
    /// The call may have reached the vendor and no answer says what it did.
    Unknown(String),
}

fn classify(answer: Result<Value, CallError>, reseller: &str) -> Answered {
    match answer {
        Ok(v) => {
            let issued = v["simple_quota_infos"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["id"] == reseller))
                .and_then(|i| i["quota_id"].as_str())
                .map(str::to_owned);
            match issued {
                Some(q) => Answered::Issued(q, v),
                None => Answered::Refused(v["error_details"].to_string(), v),
            }
        }
        Err(CallError::NotSent(e)) => Answered::Refused(e.clone(), json!({"error": e})),
        Err(CallError::Status { status, body }) => Answered::Refused(
            format!("{status}: {body}"),
            json!({"status": status, "body": body}),
        ),
        Err(e @ (CallError::Transport(_) | CallError::Body(_))) => Answered::Unknown(e.to_string()),
    }
}

impl Issue<'_> {
    fn entry(&self, by: &By<'_>, quota: &str, issuing: &Issuing, kind: Kind) -> Entry {
        let p = &by.credential.principal;
        Entry {
            kind: Some(kind),
            request_id: Some(by.request_id.to_owned()),
            principal: Some(p.partner_id.clone()),
            tier: Some(p.tier.to_string()),
            credential: Some(by.credential.access_key.clone()),
            source: by.source.clone(),
            operation: Some(OPERATION.into()),
            acting: Some(issuing.reseller.clone()),
            amount: Some(issuing.amount.to_string()),
            currency: Some("CNY".into()),
            detail: json!({"quota_id": quota, "delegation": issuing.node}),
            ..Entry::default()
        }
    }

    /// Grants `grant` and issues its total to its grantee upstream; the new vendor quota.
    pub async fn run(&self, by: &By<'_>, quota: &str, grant: Change) -> Result<String, Rejection> {
        let Change::Grant {
            id,
            grantee,
            limits,
            ..
        } = &grant
        else {
            return Err(Rejection::Internal("issue_upstream without a grant"));
        };
        let issuing = Issuing {
            node: id.clone(),
            quota: quota.to_owned(),
            reseller: grantee.clone(),
            amount: limits.total,
            request_id: by.request_id.to_owned(),
            created_at: 0,
        };
        // The amount as the exact decimal it is (never through a float).
        let body: Value = serde_json::from_str(&format!(
            r#"{{"quota_id":{},"indirect_partner_ids":[{}],"quota_amount":{}}}"#,
            json!(quota),
            json!(grantee),
            limits.total
        ))
        .map_err(|e| Rejection::InvalidBody(e.to_string()))?;
        let mut intent = self.entry(by, quota, &issuing, Kind::Intent);
        intent.outcome = Some("forwarding".into());
        intent.detail = json!({"request": body, "delegation": id});
        let held_entry = self.entry(by, quota, &issuing, Kind::Delegation);
        let mut held = held_entry.clone();
        held.operation = Some("grant".into());
        held.acting = Some(id.clone());
        held.outcome = Some("issuing".into());
        held.detail = json!({"quota_id": quota, "delegation": id,
                             "change": {"grantee": grantee, "limits": limits}});
        let ledger = self.audit.store().ledger();
        ledger
            .begin_issue(
                quota,
                grant.clone(),
                issuing.clone(),
                vec![intent, held],
                self.audit.signer(),
            )
            .await
            .map_err(|_| Rejection::AuditUnavailable)?
            .map_err(|e| Rejection::GrantRefused(e.to_string()))?;
        let answer = self.client.call(self.key, "POST", PATH, "", &body).await;
        let mut outcome = self.entry(by, quota, &issuing, Kind::Outcome);
        let (issued, why) = match classify(answer, grantee) {
            Answered::Issued(q, v) => {
                outcome.outcome = Some("ok".into());
                outcome.detail = json!({"answer": v, "upstream_quota": q});
                (Issued::As(q), None)
            }
            Answered::Refused(why, v) => {
                outcome.outcome = Some("vendor_error".into());
                outcome.detail = json!({"answer": v});
                (Issued::Not, Some(why))
            }
            Answered::Unknown(why) => {
                outcome.outcome = Some("unknown".into());
                outcome.detail = json!({"error": why, "held": id,
                    "reason": "the answer was lost; reconciliation settles the slice from the vendor's quota records"});
                if let Err(e) = self.audit.append(outcome).await {
                    tracing::error!(error = %e, "could not audit an unknown quota issue");
                }
                return Err(Rejection::OutcomeUnknown(why));
            }
        };
        let records = vec![outcome, settled_record(&issuing, &issued, held_entry)];
        let settled = ledger
            .finish_issue(
                &issuing,
                issued.clone(),
                records,
                Keys::Leave,
                self.audit.signer(),
            )
            .await;
        if let Err(e) = settled {
            // What the vendor did is known but not recorded: the slice stays held and
            // reconciliation records it; until then the request's keys say "unknown".
            tracing::error!(error = %e, "could not record a quota issue's answer");
            return Err(Rejection::OutcomeUnknown(
                "the answer could not be recorded".into(),
            ));
        }
        match issued {
            Issued::As(q) => {
                self.learn(grantee, &q).await;
                Ok(q)
            }
            Issued::Not => Err(Rejection::UpstreamRefused(why.unwrap_or_default())),
        }
    }

    /// The new quota is the reseller's from now on (for scoping its calls).
    async fn learn(&self, reseller: &str, quota: &str) {
        let edges = vec![tiergate_policy::Edge::Quota {
            id: quota.to_owned(),
            owner: reseller.to_owned(),
        }];
        self.graph.learn(&edges);
        if let Err(e) = self.store.graph().upsert(edges).await {
            tracing::warn!(error = %e, "could not store a learned quota");
        }
    }
}
