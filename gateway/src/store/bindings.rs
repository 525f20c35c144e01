//! The sign-in binding table: which customer account each platform user is bound to at the
//! vendor.

use super::db::{Db, StoreError};
use super::sql::now_unix;
use sqlx::Row;
use tiergate_broker::binding::Binding;

/// The binding table.
pub struct BindingStore<'a>(pub(super) &'a Db);

impl BindingStore<'_> {
    /// The binding of a platform user, if any.
    pub async fn get(&self, x_user_id: &str) -> Result<Option<Binding>, StoreError> {
        let id = x_user_id.to_owned();
        self.0
            .run(move |pool| async move {
                let row = sqlx::query(
                    "SELECT x_user_id, reseller, customer_id FROM sso_bindings \
                     WHERE x_user_id = $1",
                )
                .bind(id)
                .fetch_optional(&pool)
                .await?;
                row.map(|r| {
                    Ok(Binding {
                        x_user_id: r.try_get(0)?,
                        reseller: r.try_get(1)?,
                        customer_id: r.try_get(2)?,
                    })
                })
                .transpose()
            })
            .await
    }

    /// Bindings, of one reseller or of all, at most `limit`, newest first.
    pub async fn list(
        &self,
        reseller: Option<String>,
        limit: i64,
    ) -> Result<Vec<(Binding, i64)>, StoreError> {
        self.0
            .run(move |pool| async move {
                let rows = sqlx::query(
                    "SELECT x_user_id, reseller, customer_id, bound_at FROM sso_bindings \
                     WHERE ($1 IS NULL OR reseller = $1) ORDER BY bound_at DESC LIMIT $2",
                )
                .bind(reseller)
                .bind(limit)
                .fetch_all(&pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            Binding {
                                x_user_id: r.try_get(0)?,
                                reseller: r.try_get(1)?,
                                customer_id: r.try_get(2)?,
                            },
                            r.try_get(3)?,
                        ))
                    })
                    .collect()
            })
            .await
    }

    /// Records a binding (replacing the user's previous one).
    pub async fn bind(&self, b: Binding, domain_name: String) -> Result<(), StoreError> {
        self.0
            .transaction(move |tx, _| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM sso_bindings WHERE x_user_id = $1")
                        .bind(b.x_user_id.clone())
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO sso_bindings (x_user_id, reseller, customer_id, domain_name, \
                     bound_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(b.x_user_id)
                    .bind(b.reseller)
                    .bind(b.customer_id)
                    .bind(domain_name)
                    .bind(now_unix())
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// Removes a user's binding.
    pub async fn unbind(&self, x_user_id: &str) -> Result<(), StoreError> {
        let id = x_user_id.to_owned();
        self.0
            .run(move |pool| async move {
                sqlx::query("DELETE FROM sso_bindings WHERE x_user_id = $1")
                    .bind(id)
                    .execute(&pool)
                    .await
                    .map(|_| ())
            })
            .await
    }
}
