//! Tiergate-issued credentials: issuing, listing, revoking, and the hot-path lookup cache.

mod seal;
mod stale;
mod upstream_key;
pub mod usage;

pub use seal::{SealError, Sealer};
pub use upstream_key::UpstreamKey;

use crate::audit::mask::UNMASKED_ROLE;
use crate::store::credentials::CredentialRow;
use crate::store::{Store, StoreError, now_unix};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tiergate_config::{Config, Secret};
use tiergate_policy::{Principal, Relationships, Rules, Tier};

const AK_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SK_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Bound on cached lookups (found and not found), so a flood of random access keys cannot
/// grow memory; the least recently used goes first, never the whole cache at once.
const MAX_CACHED: usize = 100_000;

/// Whether an access key has the shape Tiergate issues (`TG` and 18 of `A-Z0-9`): anything
/// else is refused before it costs a lookup.
pub fn well_formed(ak: &str) -> bool {
    ak.len() == 20 && ak.starts_with("TG") && ak.bytes().skip(2).all(|b| AK_ALPHABET.contains(&b))
}

/// A credential failure.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Its metrics could not be made.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// Sealing or opening a secret failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// A stored tier name is unknown (the row is ignored).
    #[error("credential {0} has an unknown tier")]
    BadRow(String),
    /// The partner is neither the distributor nor one of its configured resellers.
    #[error("partner `{0}` is neither the configured distributor nor one of its resellers")]
    UnknownPartner(String),
    /// A staff role the rules do not define.
    #[error("role `{0}` is not defined (roles: {1})")]
    UnknownRole(String, String),
    /// Staff belong to a configured reseller.
    #[error("`{0}` is not a configured reseller")]
    NotAReseller(String),
    /// The customer is not in the relationship graph under this distributor.
    #[error(
        "customer `{0}` is not a customer of this distributor or its resellers (is the graph synced?)"
    )]
    UnknownCustomer(String),
}

/// What a credential is issued for.
pub enum Subject {
    /// The distributor itself or one of its cloud resellers.
    Partner(String),
    /// A staff account of a reseller, with a role.
    Staff {
        /// The reseller.
        reseller: String,
        /// The staff member (a label).
        name: String,
        /// The role.
        role: String,
    },
    /// A customer, calling the customer-side APIs with its own vendor key.
    Customer {
        /// The customer id.
        id: String,
        /// Its own vendor AK/SK.
        upstream: (String, Secret<String>),
    },
    /// A solution provider, calling with its own vendor key.
    SolutionProvider {
        /// Its partner id.
        id: String,
        /// Its own vendor AK/SK.
        upstream: (String, Secret<String>),
    },
    /// A security team member.
    Auditor {
        /// Name (a label).
        name: String,
        /// `unmasked` lets them see personal data in audit records (each time audited).
        role: Option<String>,
    },
}

/// A usable credential.
pub struct Credential {
    /// Access key id.
    pub access_key: String,
    /// Who it speaks for.
    pub principal: Arc<Principal>,
    /// The secret key.
    pub secret: Secret<Vec<u8>>,
    /// Its own vendor key, for customers and solution providers.
    pub upstream: Option<UpstreamKey>,
    /// The staff member or auditor it was issued to (their delegation slices are theirs).
    pub label: Option<String>,
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
    /// Unix seconds of its last use not yet written to the store.
    used: Option<i64>,
}

/// What the lookup cache knows of an access key.
pub enum Known {
    /// Looked up within the cache TTL: the credential, or none (known not to exist).
    Fresh(Option<Arc<Credential>>),
    /// A credential that existed at its last lookup, due for another.
    Stale,
    /// Never looked up, evicted, or known absent long enough ago to ask again.
    Nothing,
}

/// Credential service over the store, with a TTL cache for lookups.
pub struct Credentials {
    store: Store,
    sealer: Sealer,
    ttl: Duration,
    distributor: String,
    resellers: Vec<String>,
    rules: Rules,
    cache: Mutex<LruCache<String, Cached>>,
    /// How long past the TTL a cached credential serves while the store is away.
    stale_for: Duration,
    stale_metrics: stale::StaleMetrics,
}

impl Credentials {
    /// A service for this configuration.
    pub fn new(store: Store, config: &Config) -> Result<Self, CredentialError> {
        Ok(Self {
            store,
            sealer: Sealer::new(config.credentials.master_key.expose())?,
            ttl: config.credentials.cache_ttl,
            stale_for: config.credentials.stale_for,
            stale_metrics: stale::StaleMetrics::new()?,
            distributor: config.distributor.partner_id.clone(),
            resellers: config.resellers.clone(),
            rules: config.rules.clone(),
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(MAX_CACHED).unwrap_or(NonZeroUsize::MIN),
            )),
        })
    }

    fn principal(&self, partner: &str, tier: Tier, role: Option<String>) -> Principal {
        Principal {
            partner_id: partner.to_owned(),
            tier,
            distributor_id: Some(self.distributor.clone()),
            role,
        }
    }

    /// The principal a subject stands for in this deployment; `graph` knows the customers.
    pub fn principal_for(
        &self,
        subject: &Subject,
        graph: &dyn Relationships,
    ) -> Result<Principal, CredentialError> {
        let is_reseller = |p: &str| self.resellers.iter().any(|r| r == p);
        Ok(match subject {
            Subject::Partner(p) if *p == self.distributor => {
                self.principal(p, Tier::Distributor, None)
            }
            Subject::Partner(p) if is_reseller(p) => self.principal(p, Tier::CloudReseller, None),
            Subject::Partner(p) => return Err(CredentialError::UnknownPartner(p.clone())),
            Subject::Staff { reseller, role, .. } => {
                if !is_reseller(reseller) {
                    return Err(CredentialError::NotAReseller(reseller.clone()));
                }
                if self.rules.role(role).is_none() {
                    let known: Vec<&str> = self.rules.role_names().collect();
                    return Err(CredentialError::UnknownRole(role.clone(), known.join(", ")));
                }
                self.principal(reseller, Tier::ResellerStaff, Some(role.clone()))
            }
            Subject::Customer { id, .. } => {
                let owner = graph.customer(id).map(|c| c.owner);
                let ours = owner.is_some_and(|o| {
                    o == self.distributor || graph.reseller_parent(o) == Some(&self.distributor)
                });
                if !ours {
                    return Err(CredentialError::UnknownCustomer(id.clone()));
                }
                self.principal(id, Tier::Customer, None)
            }
            Subject::SolutionProvider { id, .. } => {
                self.principal(id, Tier::SolutionProvider, None)
            }
            Subject::Auditor { role: Some(r), .. } if r != UNMASKED_ROLE => {
                let known = UNMASKED_ROLE.to_owned();
                return Err(CredentialError::UnknownRole(r.clone(), known));
            }
            Subject::Auditor { role, .. } => {
                self.principal(&self.distributor, Tier::Auditor, role.clone())
            }
        })
    }

    /// Whether `partner` is one of the distributor's configured cloud resellers.
    pub fn is_reseller(&self, partner: &str) -> bool {
        self.resellers.iter().any(|r| r == partner)
    }

    /// Issues a new AK/SK pair.
    pub async fn issue(
        &self,
        subject: Subject,
        graph: &(dyn Relationships + Sync),
    ) -> Result<Issued, CredentialError> {
        let principal = self.principal_for(&subject, graph)?;
        let access_key = format!("TG{}", self.sealer.random_string(AK_ALPHABET, 18)?);
        let secret_key = self.sealer.random_string(SK_ALPHABET, 40)?;
        let (label, upstream) = match subject {
            Subject::Staff { name, .. } | Subject::Auditor { name, .. } => (Some(name), None),
            Subject::Customer { upstream, .. } | Subject::SolutionProvider { upstream, .. } => {
                (None, Some(upstream))
            }
            Subject::Partner(_) => (None, None),
        };
        let (upstream_access_key, upstream_secret_ciphertext) = match upstream {
            Some((ak, sk)) => {
                let sealed = self
                    .sealer
                    .seal(&upstream_aad(&access_key), sk.expose().as_bytes())?;
                (Some(ak), Some(sealed))
            }
            None => (None, None),
        };
        let row = CredentialRow {
            access_key: access_key.clone(),
            partner_id: principal.partner_id.clone(),
            tier: principal.tier.as_str().to_owned(),
            distributor_id: principal.distributor_id.clone(),
            secret_ciphertext: self.sealer.seal(&access_key, secret_key.as_bytes())?,
            created_at: now_unix(),
            revoked_at: None,
            role: principal.role.clone(),
            label,
            upstream_access_key,
            upstream_secret_ciphertext,
            last_used_at: None,
        };
        self.store.credentials().insert(row).await?;
        self.forget(&access_key);
        Ok(Issued {
            access_key,
            secret_key: Secret::new(secret_key),
            principal,
        })
    }

    /// All credentials (SKs stay sealed), with this gateway's latest uses written first.
    pub async fn list(&self) -> Result<Vec<CredentialRow>, CredentialError> {
        self.flush_use().await?;
        Ok(self.store.credentials().list().await?)
    }

    /// Writes when credentials were last used, as this gateway's lookups marked them (a
    /// background task calls it every minute; listings call it first).
    pub async fn flush_use(&self) -> Result<(), CredentialError> {
        let used: Vec<(String, i64)> = match self.cache.lock() {
            Ok(mut c) => c
                .iter_mut()
                .filter_map(|(ak, hit)| hit.used.take().map(|at| (ak.clone(), at)))
                .collect(),
            Err(_) => Vec::new(),
        };
        if !used.is_empty() {
            self.store.credentials().touch(used).await?;
        }
        Ok(())
    }

    /// Revokes a credential; a running gateway stops accepting it within the cache TTL.
    pub async fn revoke(&self, ak: &str) -> Result<bool, CredentialError> {
        let done = self.store.credentials().revoke(ak).await?;
        self.forget(ak);
        Ok(done)
    }

    fn forget(&self, ak: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.pop(ak);
        }
    }

    /// What the cache knows of an access key.
    pub fn cached(&self, ak: &str) -> Known {
        let Ok(mut c) = self.cache.lock() else {
            return Known::Nothing;
        };
        match c.get_mut(ak) {
            Some(hit) if hit.at.elapsed() < self.ttl => {
                // Marked under the lock this lookup takes anyway; written later by `flush_use`.
                if hit.found.is_some() {
                    hit.used = Some(now_unix());
                }
                Known::Fresh(hit.found.clone())
            }
            Some(hit) if hit.found.is_some() => Known::Stale,
            _ => Known::Nothing,
        }
    }

    /// The active credential for an access key, from the cache while fresh.
    pub async fn lookup(&self, ak: &str) -> Result<Option<Arc<Credential>>, CredentialError> {
        match self.cached(ak) {
            Known::Fresh(found) => Ok(found),
            Known::Stale | Known::Nothing => self.refresh(ak).await,
        }
    }

    /// The active credential for an access key from the store, cached (for a caller that
    /// already asked the cache with [`Credentials::cached`]).
    pub async fn refresh(&self, ak: &str) -> Result<Option<Arc<Credential>>, CredentialError> {
        let found = match self.store.credentials().active(ak).await? {
            Some(row) => Some(Arc::new(self.open(row)?)),
            None => None,
        };
        self.recovered();
        if let Ok(mut c) = self.cache.lock() {
            let at = Instant::now();
            let cached = Cached {
                used: found.as_ref().map(|_| now_unix()),
                found: found.clone(),
                at,
            };
            c.put(ak.to_owned(), cached);
        }
        Ok(found)
    }

    fn open(&self, row: CredentialRow) -> Result<Credential, CredentialError> {
        let tier: Tier = row
            .tier
            .parse()
            .map_err(|_| CredentialError::BadRow(row.access_key.clone()))?;
        let secret = self.sealer.open(&row.access_key, &row.secret_ciphertext)?;
        let upstream = match (row.upstream_access_key, row.upstream_secret_ciphertext) {
            (Some(ak), Some(sealed)) => Some(UpstreamKey {
                access_key: ak,
                secret_key: Secret::new(self.sealer.open(&upstream_aad(&row.access_key), &sealed)?),
                domain_id: row.partner_id.clone(),
            }),
            _ => None,
        };
        Ok(Credential {
            principal: Arc::new(Principal {
                partner_id: row.partner_id,
                tier,
                distributor_id: row.distributor_id,
                role: row.role,
            }),
            access_key: row.access_key,
            secret: Secret::new(secret),
            upstream,
            label: row.label,
        })
    }
}

/// Associated data binding a sealed upstream SK to its credential (and apart from the SK).
fn upstream_aad(access_key: &str) -> String {
    format!("{access_key}/upstream")
}
