//! `tiergate migrate`: brings the database schema up to date as its owner
//! (`storage.migrate_url`, `audit.migrate_url`; else the storage URL's own role) and grants
//! the gateway's role what it needs, then checks that role can connect. Gateways given a
//! `migrate_url` do the same at start; this is for deployments that keep the owner's
//! password out of the running gateway's configuration.

use crate::store::Store;
use crate::store::migrate::CURRENT;
use tiergate_config::{Config, Storage};

fn owner(s: &Storage) -> &'static str {
    match s {
        Storage::Postgres { owner: Some(_), .. } => "as the schema owner",
        _ => "as the storage role",
    }
}

/// `storage` with its owner's URL read from the environment variable `var`, if given (so the
/// owner's password is never in the running gateway's configuration or environment).
fn with_owner(storage: &Storage, var: Option<&str>) -> Result<Storage, String> {
    let Some(var) = var else {
        return Ok(storage.clone());
    };
    let owner = std::env::var(var).map_err(|_| format!("{var} is not set"))?;
    match storage {
        Storage::Postgres { url, .. } => Ok(Storage::Postgres {
            url: url.clone(),
            owner: Some(owner),
        }),
        Storage::Sqlite { .. } => Err(format!("{var}: SQLite has no roles")),
    }
}

/// Runs `tiergate migrate`; `owner_env` and `audit_owner_env` name environment variables
/// holding the schema owner's URL of the storage and of a separate audit database.
pub fn run(
    c: Config,
    owner_env: Option<String>,
    audit_owner_env: Option<String>,
) -> Result<(), String> {
    let separate = c.audit.storage != c.storage;
    let storage = with_owner(&c.storage, owner_env.as_deref())?;
    let audit = match separate {
        true => with_owner(&c.audit.storage, audit_owner_env.as_deref())?,
        false => storage.clone(),
    };
    super::runtime()?.block_on(async move {
        let mut done = vec![("storage", &storage)];
        if separate {
            done.push(("audit.storage", &audit));
        }
        for (name, storage) in done {
            Store::connect(storage)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            println!("{name}: schema at version {CURRENT} ({})", owner(storage));
        }
        Ok(())
    })
}
