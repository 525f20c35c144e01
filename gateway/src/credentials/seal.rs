//! Secret keys at rest: AES-256-GCM under the configured master key, with the access key as
//! associated data so a ciphertext moved to another row does not decrypt.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Encryption or decryption failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The system random source failed.
    #[error("no randomness available")]
    Random,
    /// The ciphertext is corrupt, or was sealed under another master key or access key.
    #[error("secret does not decrypt under the configured master key")]
    Open,
}

/// Seals and opens secret keys.
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    /// A sealer for a 32-byte master key.
    pub fn new(master_key: &[u8; 32]) -> Result<Self, SealError> {
        let key = UnboundKey::new(&AES_256_GCM, master_key).map_err(|_| SealError::Open)?;
        Ok(Self {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// Encrypts `secret` for the credential `access_key`.
    pub fn seal(&self, access_key: &str, secret: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut buf = secret.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(access_key.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SealError::Open)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts a sealed secret of `access_key`.
    pub fn open(&self, access_key: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let raw = STANDARD.decode(sealed).map_err(|_| SealError::Open)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(access_key.as_bytes()), &mut buf)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }

    /// A random string of `len` characters from `alphabet`.
    pub fn random_string(&self, alphabet: &[u8], len: usize) -> Result<String, SealError> {
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - (256 % alphabet.len());
        let mut out = String::with_capacity(len);
        let mut buf = [0u8; 64];
        while out.len() < len {
            self.rng.fill(&mut buf).map_err(|_| SealError::Random)?;
            for b in buf.iter().map(|b| usize::from(*b)).filter(|b| *b < limit) {
                if out.len() == len {
                    break;
                }
                out.push(char::from(alphabet[b % alphabet.len()]));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_refuses_tampering_or_a_moved_row() -> Result<(), SealError> {
        let s = Sealer::new(&[7u8; 32])?;
        let sealed = s.seal("AK1", b"top secret")?;
        assert_eq!(s.open("AK1", &sealed)?, b"top secret");
        assert!(s.open("AK2", &sealed).is_err());
        let other = Sealer::new(&[8u8; 32])?;
        assert!(other.open("AK1", &sealed).is_err());
        let mut raw = STANDARD.decode(&sealed).map_err(|_| SealError::Open)?;
        raw[20] ^= 1;
        assert!(s.open("AK1", &STANDARD.encode(raw)).is_err());
        assert!(!sealed.contains("top secret"));
        Ok(())
    }

    #[test]
    fn random_strings_use_the_alphabet() -> Result<(), SealError> {
        let s = Sealer::new(&[0u8; 32])?;
        let a = s.random_string(b"AB", 64)?;
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c == 'A' || c == 'B'));
        assert_ne!(
            s.random_string(b"ABCDEFGH", 32)?,
            s.random_string(b"ABCDEFGH", 32)?
        );
        Ok(())
    }
}
