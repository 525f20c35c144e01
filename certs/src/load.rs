//! Loading a certificate chain and key, with the checks a bad deployment would otherwise
//! only reveal to clients: readable files, a key that matches the leaf, dates, chain order,
//! and key type and size.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Where a certificate is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    /// PEM chain, leaf first.
    pub chain: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// The leaf's key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// RSA with this many bits.
    Rsa(u32),
}

impl KeyType {
    /// Whether it signs for ECDSA suites (else RSA ones).
    pub fn is_ecdsa(self) -> bool {
        matches!(self, KeyType::EcdsaP256 | KeyType::EcdsaP384)
    }
}

/// A certificate ready to serve.
#[derive(Debug)]
pub struct LoadedCert {
    /// The chain file.
    pub chain_path: PathBuf,
    /// DNS names it serves (subject alternative names).
    pub names: Vec<String>,
    /// The leaf's subject.
    pub subject: String,
    /// Key type.
    pub key_type: KeyType,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// For rustls.
    pub certified: Arc<CertifiedKey>,
}

/// Why a certificate cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file cannot be read or holds no PEM of the expected kind.
    #[error("{path}: {why}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// The certificate is not valid X.509.
    #[error("{path}: certificate {index} is not valid X.509: {why}")]
    BadCertificate {
        /// The file.
        path: String,
        /// Position in the chain.
        index: usize,
        /// Why.
        why: String,
    },
    /// Key type or size not accepted.
    #[error("{path}: {why} (accepted: ECDSA P-256 or P-384, RSA of at least 2048 bits)")]
    KeyType {
        /// The file.
        path: String,
        /// What it is.
        why: String,
    },
    /// The private key does not belong to the leaf certificate.
    #[error("{key}: the private key does not match the leaf certificate of {chain}")]
    KeyMismatch {
        /// The chain file.
        chain: String,
        /// The key file.
        key: String,
    },
    /// Outside its validity period.
    #[error("{path}: certificate {index} ({subject}) is {why}")]
    OutOfDate {
        /// The file.
        path: String,
        /// Position in the chain.
        index: usize,
        /// Its subject.
        subject: String,
        /// Expired or not yet valid, with the date.
        why: String,
    },
    /// A certificate is not issued by the next one.
    #[error("{path}: certificate {index} is not issued by certificate {next}: chain out of order")]
    ChainOrder {
        /// The file.
        path: String,
        /// Position.
        index: usize,
        /// The next position.
        next: usize,
    },
}

fn unreadable(path: &Path, why: impl ToString) -> CertError {
    CertError::Unreadable {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

fn date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(|d| d.date().to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// Loads and checks a certificate at time `now` (Unix seconds).
pub fn load(spec: &CertSpec, now: i64) -> Result<LoadedCert, CertError> {
    let p = spec.chain.display().to_string();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&spec.chain)
        .map_err(|e| unreadable(&spec.chain, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(&spec.chain, e))?;
    if chain.is_empty() {
        return Err(unreadable(&spec.chain, "no CERTIFICATE in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&spec.key).map_err(|e| unreadable(&spec.key, e))?;
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .enumerate()
        .map(|(index, der)| {
            X509Certificate::from_der(der)
                .map(|(_, c)| c)
                .map_err(|e| CertError::BadCertificate {
                    path: p.clone(),
                    index,
                    why: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    for (index, c) in parsed.iter().enumerate() {
        let (from, to) = (
            c.validity().not_before.timestamp(),
            c.validity().not_after.timestamp(),
        );
        let why = if now < from {
            Some(format!("not valid before {}", date(from)))
        } else if now > to {
            Some(format!("expired on {}", date(to)))
        } else {
            None
        };
        if let Some(why) = why {
            let subject = c.subject().to_string();
            return Err(CertError::OutOfDate {
                path: p,
                index,
                subject,
                why,
            });
        }
        if let Some(next) = parsed.get(index + 1)
            && c.issuer().as_raw() != next.subject().as_raw()
        {
            return Err(CertError::ChainOrder {
                path: p,
                index,
                next: index + 1,
            });
        }
    }
    let leaf = &parsed[0];
    let key_type = match leaf.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => KeyType::Rsa(rsa.key_size() as u32),
        Ok(PublicKey::RSA(rsa)) => {
            let why = format!("RSA key of {} bits is too small", rsa.key_size());
            return Err(CertError::KeyType { path: p, why });
        }
        // Uncompressed points: 65 bytes on P-256, 97 on P-384.
        Ok(PublicKey::EC(point)) if point.data().len() == 65 => KeyType::EcdsaP256,
        Ok(PublicKey::EC(point)) if point.data().len() == 97 => KeyType::EcdsaP384,
        Ok(_) | Err(_) => {
            let why = "unsupported public key type or curve".to_owned();
            return Err(CertError::KeyType { path: p, why });
        }
    };
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                names.push(d.to_ascii_lowercase());
            }
        }
    }
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| unreadable(&spec.key, format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain.clone(), signer);
    if certified.keys_match().is_err() {
        return Err(CertError::KeyMismatch {
            chain: p,
            key: spec.key.display().to_string(),
        });
    }
    Ok(LoadedCert {
        chain_path: spec.chain.clone(),
        names,
        subject: leaf.subject().to_string(),
        key_type,
        not_before: leaf.validity().not_before.timestamp(),
        not_after: leaf.validity().not_after.timestamp(),
        certified: Arc::new(certified),
    })
}
