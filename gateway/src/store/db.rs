//! The database connection: one pool on the storage runtime, for either backend.
//!
//! The pool lives on a dedicated runtime (see [`super::Store::connect`]): Pingora runs each
//! service on its own runtimes, and a connection must stay with the reactor that opened it.

use sqlx::{AnyConnection, AnyPool};
use std::future::Future;
use std::pin::Pin;
use tokio::runtime::Handle;

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The storage task was cancelled (the process is stopping).
    #[error("storage task stopped")]
    Stopped,
    /// The schema is behind and this role may not bring it up to date.
    #[error("{0}")]
    Schema(String),
}

/// The pool, the runtime that owns it, and which backend it is.
#[derive(Clone)]
pub(crate) struct Db {
    pub(crate) pool: AnyPool,
    pub(crate) rt: Handle,
    pub(crate) backend: Backend,
}

impl Db {
    /// Runs a query future on the storage runtime, from any runtime.
    pub(crate) async fn run<T, F>(&self, f: impl FnOnce(AnyPool) -> F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, sqlx::Error>> + Send + 'static,
    {
        let fut = f(self.pool.clone());
        self.rt
            .spawn(fut)
            .await
            .map_err(|_| StoreError::Stopped)?
            .map_err(StoreError::from)
    }

    /// Runs `f` in one transaction on the storage runtime, committed when `f` succeeds (an
    /// error, or a failure to finish, rolls it back).
    pub(crate) async fn transaction<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection, Backend) -> InTx<'c, T> + Send + 'static,
    {
        let backend = self.backend;
        self.run(move |pool| async move {
            let mut tx = begin(&pool, backend).await?;
            let out = f(&mut tx, backend).await?;
            tx.commit().await?;
            Ok(out)
        })
        .await
    }
}

/// Begins a transaction. SQLite takes the write lock at the start, so a transaction that
/// reads and then writes waits its turn (the busy timeout) instead of failing with "database
/// is locked" when another process (a command line beside the gateway) writes meanwhile.
pub(crate) async fn begin(
    pool: &AnyPool,
    backend: Backend,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
}

/// The work of a transaction: a future borrowing its connection.
pub(crate) type InTx<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;
