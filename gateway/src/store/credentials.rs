//! Credentials as stored: the SK sealed, revocation a timestamp.

use super::db::{Db, StoreError};
use super::sql::now_unix;
use sqlx::Row;

const CREDENTIAL_COLUMNS: &str = "access_key, partner_id, tier, distributor_id, secret_ciphertext, \
     created_at, revoked_at, role, label, upstream_access_key, upstream_secret_ciphertext";

/// A credential as stored (the SK still encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    /// Access key id.
    pub access_key: String,
    /// Partner it acts as.
    pub partner_id: String,
    /// Tier name.
    pub tier: String,
    /// The partner's distributor.
    pub distributor_id: Option<String>,
    /// Encrypted SK.
    pub secret_ciphertext: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, if revoked.
    pub revoked_at: Option<i64>,
    /// Reseller staff role.
    pub role: Option<String>,
    /// Free-form label (a staff member's or auditor's name).
    pub label: Option<String>,
    /// The credential's own upstream vendor AK, if it has one.
    pub upstream_access_key: Option<String>,
    /// Its sealed upstream SK.
    pub upstream_secret_ciphertext: Option<String>,
    /// Unix seconds it was last used, as the gateways last wrote it.
    pub last_used_at: Option<i64>,
}

/// The credential table.
pub struct CredentialStore<'a>(pub(super) &'a Db);

impl CredentialStore<'_> {
    /// Stores a new credential.
    pub async fn insert(&self, row: CredentialRow) -> Result<(), StoreError> {
        self.0
            .run(move |pool| async move {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO credentials ({CREDENTIAL_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10)"
                )))
                .bind(row.access_key)
                .bind(row.partner_id)
                .bind(row.tier)
                .bind(row.distributor_id)
                .bind(row.secret_ciphertext)
                .bind(row.created_at)
                .bind(row.role)
                .bind(row.label)
                .bind(row.upstream_access_key)
                .bind(row.upstream_secret_ciphertext)
                .execute(&pool)
                .await
                .map(|_| ())
            })
            .await
    }

    /// An active (not revoked) credential by access key.
    pub async fn active(&self, ak: &str) -> Result<Option<CredentialRow>, StoreError> {
        let ak = ak.to_owned();
        self.0
            .run(move |pool| async move {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CREDENTIAL_COLUMNS} FROM credentials \
                     WHERE access_key = $1 AND revoked_at IS NULL"
                )))
                .bind(ak)
                .fetch_optional(&pool)
                .await?;
                row.map(|r| to_row(&r)).transpose()
            })
            .await
    }

    /// Every credential, newest first.
    pub async fn list(&self) -> Result<Vec<CredentialRow>, StoreError> {
        self.0
            .run(move |pool| async move {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CREDENTIAL_COLUMNS}, last_used_at FROM credentials \
                     ORDER BY created_at DESC, access_key"
                )))
                .fetch_all(&pool)
                .await?;
                rows.iter().map(to_row).collect()
            })
            .await
    }

    /// Records when credentials were last used (a later time only: gateways writing out of
    /// order never move it back).
    pub async fn touch(&self, used: Vec<(String, i64)>) -> Result<(), StoreError> {
        self.0
            .run(move |pool| {
                let used = used.clone();
                async move {
                    for (ak, at) in used {
                        sqlx::query(
                            "UPDATE credentials SET last_used_at = $1 WHERE access_key = $2 \
                             AND (last_used_at IS NULL OR last_used_at < $1)",
                        )
                        .bind(at)
                        .bind(ak)
                        .execute(&pool)
                        .await?;
                    }
                    Ok(())
                }
            })
            .await
    }

    /// Revokes a credential; false if it does not exist or was already revoked.
    pub async fn revoke(&self, ak: &str) -> Result<bool, StoreError> {
        let ak = ak.to_owned();
        self.0
            .run(move |pool| async move {
                let r = sqlx::query(
                    "UPDATE credentials SET revoked_at = $1 \
                     WHERE access_key = $2 AND revoked_at IS NULL",
                )
                .bind(now_unix())
                .bind(ak)
                .execute(&pool)
                .await?;
                Ok(r.rows_affected() == 1)
            })
            .await
    }
}

fn to_row(r: &sqlx::any::AnyRow) -> Result<CredentialRow, sqlx::Error> {
    Ok(CredentialRow {
        access_key: r.try_get("access_key")?,
        partner_id: r.try_get("partner_id")?,
        tier: r.try_get("tier")?,
        distributor_id: r.try_get("distributor_id")?,
        secret_ciphertext: r.try_get("secret_ciphertext")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        role: r.try_get("role")?,
        label: r.try_get("label")?,
        upstream_access_key: r.try_get("upstream_access_key")?,
        upstream_secret_ciphertext: r.try_get("upstream_secret_ciphertext")?,
        // Only listings select it.
        last_used_at: r.try_get("last_used_at").unwrap_or(None),
    })
}
