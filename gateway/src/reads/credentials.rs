//! Who holds which credential, and issuing and revoking them, for the admin API
//! (`/credentials`) and the console: each change decided by
//! [`tiergate_policy::admin::may_issue`] / [`may_revoke`](tiergate_policy::admin::may_revoke)
//! and written to the audit log before it is answered.

use crate::audit::Audit;
use crate::chain::record::{Entry, Kind};
use crate::credentials::{Credential, CredentialError, Credentials, Subject};
use crate::rejection::Rejection;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tiergate_policy::admin::{self, Area, Issuing};
use tiergate_policy::{Principal, Tier};

/// One credential as listed (never its secret).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Holder {
    /// Access key.
    pub access_key: String,
    /// Tier.
    pub tier: String,
    /// The partner it speaks for.
    pub partner_id: String,
    /// Staff or auditor role.
    pub role: Option<String>,
    /// The person it was issued to.
    pub issued_to: Option<String>,
    /// Issued, RFC 3339.
    pub issued_at: String,
    /// Revoked, RFC 3339.
    pub revoked_at: Option<String>,
    /// `active` or `revoked`.
    pub status: String,
    /// Last used, RFC 3339, as the gateways last wrote it (a minute behind at most, except
    /// on the gateway answering, which writes its own first).
    pub last_used_at: Option<String>,
}

/// Credentials as listed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Listed {
    /// How many.
    pub count: usize,
    /// Newest first.
    pub credentials: Vec<Holder>,
}

/// A revocation's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Revoked {
    /// The credential.
    pub access_key: String,
    /// True when this request revoked it; false when it already was.
    pub revoked: bool,
}

/// A credential to issue.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The reseller it belongs to.
    pub reseller: String,
    /// A staff member's name (with `role`); absent: the reseller's own credential.
    #[serde(default)]
    pub staff: Option<String>,
    /// The staff member's role.
    #[serde(default)]
    pub role: Option<String>,
}

/// A credential just issued: the secret key is in this answer only.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IssuedCredential {
    /// Access key.
    pub access_key: String,
    /// Secret key, shown once.
    pub secret_key: String,
    /// The partner it speaks for.
    pub partner_id: String,
    /// Tier.
    pub tier: String,
    /// Staff role.
    pub role: Option<String>,
}

/// Who changes a credential, for the audit record.
pub struct By<'a> {
    /// Their credential.
    pub credential: &'a Credential,
    /// Where they called from.
    pub source: Option<String>,
    /// `admin_api` or `console`.
    pub via: &'static str,
}

fn storage(e: CredentialError) -> Rejection {
    tracing::error!(error = %e, "credential store");
    Rejection::StorageUnavailable
}

/// The credentials `reader` may see, newest first.
pub async fn list(creds: &Credentials, reader: &Principal) -> Result<Vec<Holder>, Rejection> {
    let scope = admin::reads(reader, Area::Credentials)?;
    let rows = creds.list().await.map_err(storage)?;
    Ok(rows
        .into_iter()
        .filter(|r| scope.covers(&r.partner_id))
        .map(|r| Holder {
            status: if r.revoked_at.is_some() {
                "revoked"
            } else {
                "active"
            }
            .to_owned(),
            access_key: r.access_key,
            tier: r.tier,
            partner_id: r.partner_id,
            role: r.role,
            issued_to: r.label,
            issued_at: super::rfc3339(r.created_at),
            revoked_at: r.revoked_at.map(super::rfc3339),
            last_used_at: r.last_used_at.map(super::rfc3339),
        })
        .collect())
}

fn entry(by: &By<'_>, operation: &str, ak: &str, p: &Principal, label: Option<&str>) -> Entry {
    Entry {
        kind: Some(Kind::Credential),
        operation: Some(operation.to_owned()),
        principal: Some(p.partner_id.clone()),
        tier: Some(p.tier.to_string()),
        credential: Some(ak.to_owned()),
        outcome: Some("ok".into()),
        source: by.source.clone(),
        detail: json!({
            "role": p.role, "issued_to": label, "via": by.via,
            "by": by.credential.access_key, "by_tier": by.credential.principal.tier,
        }),
        ..Entry::default()
    }
}

/// Issues a reseller's or a staff member's credential, as `by` may.
pub async fn issue(
    creds: &Credentials,
    audit: &Audit,
    by: &By<'_>,
    ask: IssueRequest,
) -> Result<IssuedCredential, Rejection> {
    let reseller = ask.reseller.trim().to_owned();
    // Names are shown on pages and in logs and stored as text: printable, and short.
    for (field, v) in [
        ("staff", ask.staff.as_deref()),
        ("role", ask.role.as_deref()),
    ] {
        if let Some(v) = v
            && (v.chars().count() > 64 || v.chars().any(char::is_control))
        {
            return Err(Rejection::InvalidBody(format!(
                "`{field}` must be at most 64 printable characters"
            )));
        }
    }
    let (what, subject) = match (ask.staff, ask.role) {
        (None, None) => (
            Issuing::Reseller(&reseller),
            Subject::Partner(reseller.clone()),
        ),
        (Some(name), Some(role)) if !name.trim().is_empty() => (
            Issuing::Staff {
                reseller: &reseller,
            },
            Subject::Staff {
                reseller: reseller.clone(),
                name: name.trim().to_owned(),
                role,
            },
        ),
        _ => {
            return Err(Rejection::InvalidBody(
                "a staff credential needs both `staff` (a name) and `role`".into(),
            ));
        }
    };
    admin::may_issue(&by.credential.principal, &what, |r| creds.is_reseller(r))?;
    let label = match &subject {
        Subject::Staff { name, .. } => Some(name.clone()),
        _ => None,
    };
    // Partners and staff are decided from the configuration alone: no customer to look up.
    let issued = creds
        .issue(subject, &tiergate_policy::Graph::default())
        .await
        .map_err(|e| match e {
            CredentialError::Store(_) | CredentialError::Seal(_) => storage(e),
            other => Rejection::InvalidBody(other.to_string()),
        })?;
    let e = entry(
        by,
        "issue",
        &issued.access_key,
        &issued.principal,
        label.as_deref(),
    );
    audit.append(e).await.map_err(|err| {
        tracing::error!(error = %err, "could not audit an issued credential");
        Rejection::AuditUnavailable
    })?;
    Ok(IssuedCredential {
        access_key: issued.access_key,
        secret_key: issued.secret_key.expose().clone(),
        partner_id: issued.principal.partner_id,
        tier: issued.principal.tier.to_string(),
        role: issued.principal.role,
    })
}

/// Revokes a credential, as `by` may; false when it was already revoked or never existed.
pub async fn revoke(
    creds: &Credentials,
    audit: &Audit,
    by: &By<'_>,
    access_key: &str,
) -> Result<bool, Rejection> {
    let rows = creds.list().await.map_err(storage)?;
    let Some(row) = rows.iter().find(|r| r.access_key == access_key) else {
        return Err(Rejection::Denied(tiergate_policy::Denied::NotYours {
            field: "access_key",
            value: access_key.to_owned(),
        }));
    };
    let tier: Tier = row
        .tier
        .parse()
        .map_err(|_| Rejection::Internal("a stored credential has an unknown tier"))?;
    admin::may_revoke(&by.credential.principal, tier, &row.partner_id)?;
    if row.revoked_at.is_some() {
        return Ok(false);
    }
    let done = creds.revoke(access_key).await.map_err(storage)?;
    let p = Principal {
        partner_id: row.partner_id.clone(),
        tier,
        distributor_id: row.distributor_id.clone(),
        role: row.role.clone(),
    };
    let e = entry(by, "revoke", access_key, &p, row.label.as_deref());
    audit.append(e).await.map_err(|err| {
        tracing::error!(error = %err, "could not audit a revoked credential");
        Rejection::AuditUnavailable
    })?;
    Ok(done)
}
