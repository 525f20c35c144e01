//! Short-lived tokens for partner staff and auditors (token-mode API access): EdDSA JWTs with a
//! `kid`, a JWKS for verifiers, and key rotation without downtime (a retired key keeps
//! verifying until the tokens it signed have expired).
//!
//! The algorithm is pinned by the key, never taken from the token: verification looks the key
//! up by `kid` and accepts only that key's algorithm, so `alg: none`, HS256-with-the-public-key
//! and any other header trick is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A token failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// A key could not be loaded or made.
    #[error("signing key: {0}")]
    Key(String),
    /// The token names no key this issuer has (or none at all).
    #[error("unknown key id")]
    UnknownKey,
    /// Signature, algorithm, issuer, audience or validity wrong.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer (this Tiergate).
    pub iss: String,
    /// Subject: the credential's access key or the staff member.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expires.
    pub exp: u64,
    /// Token id.
    pub jti: String,
    /// Tier of the principal.
    pub tier: String,
    /// Partner id of the principal.
    pub partner: String,
    /// Role, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: Vec<u8>,
    /// When it stopped signing (it verifies for one token lifetime more).
    retired_at: Option<u64>,
}

/// The issuer's keys: one current, older ones verifying until their tokens expire.
pub struct Issuer {
    issuer: String,
    audience: String,
    ttl: Duration,
    keys: Vec<SigningKey>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new Ed25519 key, PKCS#8 DER.
pub fn generate_key() -> Result<Vec<u8>, TokenError> {
    let rng = ring::rand::SystemRandom::new();
    Ed25519KeyPair::generate_pkcs8(&rng)
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| TokenError::Key("could not generate an Ed25519 key".into()))
}

fn kid_of(public: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, public);
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..12])
}

impl Issuer {
    /// An issuer signing with `pkcs8` (Ed25519), tokens valid for `ttl`.
    pub fn new(
        issuer: &str,
        audience: &str,
        ttl: Duration,
        pkcs8: &[u8],
    ) -> Result<Self, TokenError> {
        let mut me = Self::without_keys(issuer, audience, ttl);
        me.push(pkcs8)?;
        Ok(me)
    }

    fn without_keys(issuer: &str, audience: &str, ttl: Duration) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            keys: Vec::new(),
        }
    }

    fn push(&mut self, pkcs8: &[u8]) -> Result<(), TokenError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|_| TokenError::Key("not an Ed25519 PKCS#8 key".into()))?;
        let public = pair.public_key().as_ref().to_vec();
        self.keys.push(SigningKey {
            kid: kid_of(&public),
            encoding: EncodingKey::from_ed_der(pkcs8),
            public,
            retired_at: None,
        });
        Ok(())
    }

    /// Rotates to a new key: it signs from now on; the old one keeps verifying for one token
    /// lifetime, then drops out of the JWKS.
    pub fn rotate(&mut self, pkcs8: &[u8]) -> Result<(), TokenError> {
        let at = now();
        for k in self.keys.iter_mut().filter(|k| k.retired_at.is_none()) {
            k.retired_at = Some(at);
        }
        self.push(pkcs8)
    }

    fn verifying(&self) -> impl Iterator<Item = &SigningKey> {
        let horizon = now().saturating_sub(self.ttl.as_secs());
        self.keys
            .iter()
            .filter(move |k| k.retired_at.is_none_or(|r| r >= horizon))
    }

    /// The issuer a gateway configures: `previous` keys (a rotation in progress) verify for
    /// one token lifetime after start, `signing` signs.
    pub fn rotated(
        issuer: &str,
        audience: &str,
        ttl: Duration,
        signing: &[u8],
        previous: &[&[u8]],
    ) -> Result<Self, TokenError> {
        let mut me = Self::without_keys(issuer, audience, ttl);
        for k in previous {
            me.push(k)?;
        }
        me.rotate(signing)?;
        Ok(me)
    }

    /// Token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for a principal.
    pub fn issue(
        &self,
        sub: &str,
        tier: &str,
        partner: &str,
        role: Option<&str>,
    ) -> Result<String, TokenError> {
        self.issue_with_claims(sub, tier, partner, role)
            .map(|(t, _)| t)
    }

    /// A token for a principal, and what it says.
    pub fn issue_with_claims(
        &self,
        sub: &str,
        tier: &str,
        partner: &str,
        role: Option<&str>,
    ) -> Result<(String, Claims), TokenError> {
        let key = self
            .keys
            .iter()
            .rev()
            .find(|k| k.retired_at.is_none())
            .ok_or(TokenError::UnknownKey)?;
        let iat = now();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: sub.to_owned(),
            aud: self.audience.clone(),
            iat,
            nbf: iat,
            exp: iat + self.ttl.as_secs(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            tier: tier.to_owned(),
            partner: partner.to_owned(),
            role: role.map(str::to_owned),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        encode(&header, &claims, &key.encoding)
            .map(|t| (t, claims))
            .map_err(|e| TokenError::Key(e.to_string()))
    }

    /// Verifies a token: the key by `kid`, the algorithm that key's, issuer, audience and
    /// validity (30 s leeway).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self
            .verifying()
            .find(|k| k.kid == kid)
            .ok_or(TokenError::UnknownKey)?;
        let x = URL_SAFE_NO_PAD.encode(&key.public);
        let decoding =
            DecodingKey::from_ed_components(&x).map_err(|e| TokenError::Key(e.to_string()))?;
        // Pinned: only the key's own algorithm, whatever the header says.
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.leeway = 30;
        v.validate_nbf = true;
        decode::<Claims>(token, &decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// The JWKS verifiers fetch (every key still verifying).
    pub fn jwks(&self) -> KeySet {
        let keys = self
            .verifying()
            .map(|k| Jwk {
                alg: "EdDSA".into(),
                crv: "Ed25519".into(),
                kid: k.kid.clone(),
                kty: "OKP".into(),
                usage: "sig".into(),
                x: URL_SAFE_NO_PAD.encode(&k.public),
            })
            .collect();
        KeySet { keys }
    }
}

/// A JSON Web Key Set (RFC 7517) of Ed25519 public keys.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct KeySet {
    /// The current key first, then any previous key still verifying during a rotation.
    pub keys: Vec<Jwk>,
}

/// One public key (RFC 8037, `OKP` with `Ed25519`). Fields in alphabetical order, as the
/// earlier untyped answer had them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Jwk {
    /// Always `EdDSA`.
    pub alg: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The key id tokens name in their header.
    pub kid: String,
    /// Always `OKP`.
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub usage: String,
    /// The public key, base64url without padding.
    pub x: String,
}

#[cfg(test)]
mod tests;
