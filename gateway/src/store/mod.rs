//! Storage through sqlx's `Any` driver: one portable schema and one code path for the
//! embedded SQLite default and PostgreSQL in production.
//!
//! Start here: [`Store`] is the database, and each aggregate it holds has its own type that
//! owns its SQL, reached from it by name:
//!
//! | aggregate | type | what it keeps |
//! |---|---|---|
//! | [`Store::credentials`] | [`credentials::CredentialStore`] | issued credentials, SKs sealed |
//! | [`Store::graph`] | [`graph::GraphStore`] | the relationship graph, for restarts |
//! | [`Store::ledger`] | [`ledger::LedgerStore`] | delegation slices, reservations, vouchers issued through them |
//! | [`Store::funds`] | [`funds::FundStore`] | fund adjustment caps and holds |
//! | [`Store::idempotency`] | [`idempotency::IdempotencyStore`] | idempotency keys and first answers |
//! | [`Store::audit`] | [`audit::AuditStore`] | the audit chain and its checkpoints |
//! | [`Store::bindings`] | [`bindings::BindingStore`] | sign-in bindings of platform users |
//!
//! | [`Store::outcomes`] | [`outcomes::OutcomeStore`] | money calls of unknown outcome, for reconciliation |
//!
//! Writes that must commit with their audit record (ledger, funds) append to the chain inside
//! their own transaction.

pub mod audit;
pub mod bindings;
pub mod credentials;
mod db;
pub mod funds;
pub mod graph;
pub mod idempotency;
pub mod ledger;
pub mod migrate;
pub mod outcomes;
pub(crate) mod sql;

pub use db::{Backend, StoreError};
pub use sql::{now_ms, now_unix, unix_ms};

use db::Db;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use std::sync::Arc;
use tiergate_config::Storage;

/// The database.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// The ledger's group-commit task, started by the first voucher request.
    batch: Arc<ledger::batch::Batcher>,
    /// The writer of relationships learned from answers, started by the first one.
    learned: Arc<graph::Learned>,
}

impl Store {
    /// Connects (creating an SQLite file if missing) and applies migrations. Must run on the
    /// runtime that will own the pool for the life of the process.
    pub async fn connect(storage: &Storage) -> Result<Store, StoreError> {
        install_default_drivers();
        let (url, max, backend) = match storage {
            Storage::Sqlite { url } if url.contains('?') => (url.clone(), 1, Backend::Sqlite),
            Storage::Sqlite { url } => (format!("{url}?mode=rwc"), 1, Backend::Sqlite),
            Storage::Postgres { url, owner } => {
                // Migrations as the schema owner, on a connection of its own, closed before
                // the gateway's own (restricted) role connects.
                if let Some(owner) = owner {
                    migrate::as_owner(owner, url).await?;
                }
                (url.clone(), 8, Backend::Postgres)
            }
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            // A ping before every use is a round trip per transaction; a broken connection
            // fails its query instead, and the pool replaces it.
            .test_before_acquire(false)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await?;
        let db = Db {
            pool,
            rt: tokio::runtime::Handle::current(),
            backend,
        };
        migrate::migrate(&db).await?;
        Ok(Store {
            db,
            batch: Arc::default(),
            learned: Arc::default(),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .run(|pool| async move { sqlx::query("SELECT 1").execute(&pool).await.map(|_| ()) })
            .await
    }

    /// Issued credentials.
    pub fn credentials(&self) -> credentials::CredentialStore<'_> {
        credentials::CredentialStore(&self.db)
    }

    /// The relationship graph.
    pub fn graph(&self) -> graph::GraphStore<'_> {
        graph::GraphStore {
            db: &self.db,
            learned: &self.learned,
        }
    }

    /// The delegation ledger.
    pub fn ledger(&self) -> ledger::LedgerStore<'_> {
        ledger::LedgerStore {
            db: &self.db,
            batch: &self.batch,
        }
    }

    /// Fund adjustment caps.
    pub fn funds(&self) -> funds::FundStore<'_> {
        funds::FundStore(&self.db)
    }

    /// Money calls of unknown outcome, for reconciliation.
    pub fn outcomes(&self) -> outcomes::OutcomeStore<'_> {
        outcomes::OutcomeStore(&self.db)
    }

    /// Idempotency keys.
    pub fn idempotency(&self) -> idempotency::IdempotencyStore<'_> {
        idempotency::IdempotencyStore(&self.db)
    }

    /// The audit chain.
    pub fn audit(&self) -> audit::AuditStore<'_> {
        audit::AuditStore(&self.db)
    }

    /// Sign-in bindings.
    pub fn bindings(&self) -> bindings::BindingStore<'_> {
        bindings::BindingStore(&self.db)
    }
}
