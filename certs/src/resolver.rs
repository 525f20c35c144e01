//! Choosing the certificate for a handshake: by SNI (exact, then `*.` wildcard), then by key
//! type, so a client offering only ECDHE-RSA suites gets the RSA certificate. The set is an
//! atomically swapped snapshot, so certificates reload without dropping connections.

use crate::load::LoadedCert;
use crate::suites::{self, Auth};
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// Told why a handshake cannot complete, when the ClientHello already shows it.
pub type FailureObserver = Arc<dyn Fn(&'static str) + Send + Sync>;

/// The certificates being served.
pub struct CertStore {
    certs: ArcSwap<Vec<Arc<LoadedCert>>>,
    served: Vec<u16>,
    observer: Option<FailureObserver>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("certs", &self.certs)
            .finish()
    }
}

impl CertStore {
    /// Serves these certificates; the first is the default.
    pub fn new(certs: Vec<LoadedCert>) -> Self {
        Self {
            certs: ArcSwap::from_pointee(certs.into_iter().map(Arc::new).collect()),
            served: Vec::new(),
            observer: None,
        }
    }

    /// Reports handshakes that cannot complete (the client offers none of `served`, the
    /// effective suite codes; or no certificate fits what it offers) to `observer`.
    pub fn observe_failures(mut self, served: Vec<u16>, observer: FailureObserver) -> Self {
        self.served = served;
        self.observer = Some(observer);
        self
    }

    /// Replaces the certificates for new handshakes.
    pub fn replace(&self, certs: Vec<LoadedCert>) {
        self.certs
            .store(Arc::new(certs.into_iter().map(Arc::new).collect()));
    }

    /// The certificates being served.
    pub fn current(&self) -> Arc<Vec<Arc<LoadedCert>>> {
        self.certs.load_full()
    }
}

fn serves(cert: &LoadedCert, sni: &str) -> bool {
    cert.names.iter().any(|n| {
        n == sni
            || n.strip_prefix("*.")
                .is_some_and(|suffix| sni.split_once('.').is_some_and(|(_, rest)| rest == suffix))
    })
}

/// Whether the client offered something this certificate's key can complete.
fn usable(cert: &LoadedCert, hello: &ClientHello<'_>) -> bool {
    hello.cipher_suites().iter().any(|cs| {
        suites::by_code(u16::from(*cs)).is_some_and(|s| match s.auth {
            Auth::Any => true,
            Auth::Ecdsa => cert.key_type.is_ecdsa(),
            Auth::Rsa => !cert.key_type.is_ecdsa(),
            Auth::Psk => false,
        })
    })
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.load();
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        let named: Vec<&Arc<LoadedCert>> = match &sni {
            Some(n) => certs.iter().filter(|c| serves(c, n)).collect(),
            None => Vec::new(),
        };
        let pool: Vec<&Arc<LoadedCert>> = if named.is_empty() {
            certs.iter().collect()
        } else {
            named
        };
        let fit = pool.iter().find(|c| usable(c, &hello));
        if let Some(observe) = &self.observer {
            let offered = hello.cipher_suites();
            if !offered
                .iter()
                .any(|cs| self.served.contains(&u16::from(*cs)))
            {
                observe("no_shared_cipher_suite");
            } else if fit.is_none() {
                observe("no_certificate_for_offered_suites");
            }
        }
        fit.or(pool.first()).map(|c| c.certified.clone())
    }
}
