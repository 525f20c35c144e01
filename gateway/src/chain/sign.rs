//! Ed25519 signatures over record hashes and checkpoints, with a key kept apart from the
//! database: whoever can rewrite the database cannot re-sign what they rewrote.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// The signing key.
pub struct Signer {
    key: Ed25519KeyPair,
}

/// A key problem.
#[derive(Debug, thiserror::Error)]
#[error("audit signing key: {0}")]
pub struct KeyError(pub String);

impl Signer {
    /// From a base64 PKCS#8 document (what `tiergate audit keygen` writes).
    pub fn from_base64_pkcs8(b64: &str) -> Result<Self, KeyError> {
        let der = STANDARD
            .decode(b64.trim())
            .map_err(|_| KeyError("not base64".into()))?;
        let key = Ed25519KeyPair::from_pkcs8(&der).map_err(|e| KeyError(e.to_string()))?;
        Ok(Self { key })
    }

    /// A new key, as base64 PKCS#8.
    pub fn generate() -> Result<String, KeyError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|e| KeyError(e.to_string()))?;
        Ok(STANDARD.encode(doc.as_ref()))
    }

    /// Base64 of the raw 32-byte public key.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.key.public_key().as_ref())
    }

    /// Base64 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> String {
        STANDARD.encode(self.key.sign(msg).as_ref())
    }
}

/// Checks a base64 signature of `msg` with a base64 public key.
pub fn verify(public_key: &str, msg: &[u8], signature: &str) -> bool {
    let (Ok(pk), Ok(sig)) = (STANDARD.decode(public_key), STANDARD.decode(signature)) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, pk)
        .verify(msg, &sig)
        .is_ok()
}

/// What a record signature covers.
pub fn record_message(seq: i64, hash: &str) -> Vec<u8> {
    format!("tiergate-audit-record\n{seq}\n{hash}").into_bytes()
}

/// What a checkpoint signature covers.
pub fn checkpoint_message(seq: i64, head: &str, at: i64) -> Vec<u8> {
    format!("tiergate-audit-checkpoint\n{seq}\n{head}\n{at}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_with_the_right_key_and_message() -> Result<(), KeyError> {
        let s = Signer::from_base64_pkcs8(&Signer::generate()?)?;
        let other = Signer::from_base64_pkcs8(&Signer::generate()?)?;
        let sig = s.sign(&record_message(1, "ab"));
        assert!(verify(&s.public_key(), &record_message(1, "ab"), &sig));
        assert!(!verify(&s.public_key(), &record_message(2, "ab"), &sig));
        assert!(!verify(&other.public_key(), &record_message(1, "ab"), &sig));
        Ok(())
    }
}
