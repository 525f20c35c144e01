//! Tiergate-issued credentials: issuing, listing, revoking, and the hot-path lookup cache.

use crate::secrets::{SealError, Sealer};
use crate::store::{CredentialRow, Store, StoreError, now_unix};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tiergate_config::{Config, Secret};
use tiergate_policy::{Principal, Tier};

const AK_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SK_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Bound on cached lookups, so a flood of random access keys cannot grow memory.
const MAX_CACHED: usize = 100_000;

/// A credential failure.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening a secret failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// A stored tier name is unknown (the row is ignored).
    #[error("credential {0} has an unknown tier")]
    BadRow(String),
    /// The partner is neither the distributor nor one of its configured resellers.
    #[error("partner `{0}` is neither the configured distributor nor one of its resellers")]
    UnknownPartner(String),
}

/// A usable credential.
pub struct Credential {
    /// Access key id.
    pub access_key: String,
    /// Who it speaks for.
    pub principal: Principal,
    /// The secret key.
    pub secret: Secret<Vec<u8>>,
}

/// A newly issued pair; the SK is shown once and never stored in clear.
pub struct Issued {
    /// Access key id.
    pub access_key: String,
    /// Secret key.
    pub secret_key: Secret<String>,
    /// Its principal.
    pub principal: Principal,
}

struct Cached {
    found: Option<Arc<Credential>>,
    at: Instant,
}

/// Credential service over the store, with a TTL cache for lookups.
pub struct Credentials {
    store: Store,
    sealer: Sealer,
    ttl: Duration,
    distributor: String,
    resellers: Vec<String>,
    cache: RwLock<HashMap<String, Cached>>,
}

impl Credentials {
    /// A service for this configuration.
    pub fn new(store: Store, config: &Config) -> Result<Self, CredentialError> {
        Ok(Self {
            store,
            sealer: Sealer::new(config.credentials.master_key.expose())?,
            ttl: config.credentials.cache_ttl,
            distributor: config.distributor.partner_id.clone(),
            resellers: config.resellers.clone(),
            cache: RwLock::new(HashMap::new()),
        })
    }

    /// The principal a partner id stands for in this deployment.
    pub fn principal_for(&self, partner: &str) -> Result<Principal, CredentialError> {
        let tier = if partner == self.distributor {
            Tier::Distributor
        } else if self.resellers.iter().any(|r| r == partner) {
            Tier::CloudReseller
        } else {
            return Err(CredentialError::UnknownPartner(partner.to_owned()));
        };
        Ok(Principal {
            partner_id: partner.to_owned(),
            tier,
            distributor_id: Some(self.distributor.clone()),
        })
    }

    /// Issues a new AK/SK pair for a partner.
    pub async fn issue(&self, partner: &str) -> Result<Issued, CredentialError> {
        let principal = self.principal_for(partner)?;
        let access_key = format!("TG{}", self.sealer.random_string(AK_ALPHABET, 18)?);
        let secret_key = self.sealer.random_string(SK_ALPHABET, 40)?;
        let row = CredentialRow {
            access_key: access_key.clone(),
            partner_id: principal.partner_id.clone(),
            tier: principal.tier.as_str().to_owned(),
            distributor_id: principal.distributor_id.clone(),
            secret_ciphertext: self.sealer.seal(&access_key, secret_key.as_bytes())?,
            created_at: now_unix(),
            revoked_at: None,
        };
        self.store.insert_credential(row).await?;
        Ok(Issued {
            access_key,
            secret_key: Secret::new(secret_key),
            principal,
        })
    }

    /// All credentials (SKs stay sealed).
    pub async fn list(&self) -> Result<Vec<CredentialRow>, CredentialError> {
        Ok(self.store.list_credentials().await?)
    }

    /// Revokes a credential; a running gateway stops accepting it within the cache TTL.
    pub async fn revoke(&self, ak: &str) -> Result<bool, CredentialError> {
        let done = self.store.revoke_credential(ak).await?;
        self.forget(ak);
        Ok(done)
    }

    fn forget(&self, ak: &str) {
        if let Ok(mut c) = self.cache.write() {
            c.remove(ak);
        }
    }

    /// The active credential for an access key, from the cache while fresh.
    pub async fn lookup(&self, ak: &str) -> Result<Option<Arc<Credential>>, CredentialError> {
        if let Ok(c) = self.cache.read()
            && let Some(hit) = c.get(ak).filter(|h| h.at.elapsed() < self.ttl)
        {
            return Ok(hit.found.clone());
        }
        let found = match self.store.active_credential(ak).await? {
            Some(row) => Some(Arc::new(self.open(row)?)),
            None => None,
        };
        if let Ok(mut c) = self.cache.write() {
            if c.len() >= MAX_CACHED {
                c.clear();
            }
            let at = Instant::now();
            c.insert(
                ak.to_owned(),
                Cached {
                    found: found.clone(),
                    at,
                },
            );
        }
        Ok(found)
    }

    fn open(&self, row: CredentialRow) -> Result<Credential, CredentialError> {
        let tier: Tier = row
            .tier
            .parse()
            .map_err(|_| CredentialError::BadRow(row.access_key.clone()))?;
        let secret = self.sealer.open(&row.access_key, &row.secret_ciphertext)?;
        Ok(Credential {
            principal: Principal {
                partner_id: row.partner_id,
                tier,
                distributor_id: row.distributor_id,
            },
            access_key: row.access_key,
            secret: Secret::new(secret),
        })
    }
}
