//! Choosing the certificate for a handshake: by SNI (exact, then `*.` wildcard), then by key
//! type, so a client offering only ECDHE-RSA suites gets the RSA certificate. The set is an
//! atomically swapped snapshot, so certificates reload without dropping connections.

use crate::load::LoadedCert;
use crate::suites::{self, Auth};
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// The certificates being served.
#[derive(Debug)]
pub struct CertStore {
    certs: ArcSwap<Vec<Arc<LoadedCert>>>,
}

impl CertStore {
    /// Serves these certificates; the first is the default.
    pub fn new(certs: Vec<LoadedCert>) -> Self {
        Self {
            certs: ArcSwap::from_pointee(certs.into_iter().map(Arc::new).collect()),
        }
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
        pool.iter()
            .find(|c| usable(c, &hello))
            .or(pool.first())
            .map(|c| c.certified.clone())
    }
}
