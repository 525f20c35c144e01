//! Parsing the `Authorization` header.

use super::{ALGORITHM, AuthError};

/// A parsed `SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key id.
    pub access_key: &'a str,
    /// Signed header names, lower case, as listed by the caller.
    pub signed_headers: Vec<&'a str>,
    /// The 32-byte signature.
    pub signature: [u8; 32],
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let (alg, rest) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::MalformedAuthorization)?;
    if alg != ALGORITHM {
        return Err(AuthError::UnsupportedAlgorithm);
    }
    let (mut access, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(AuthError::MalformedAuthorization)?;
        let slot = match k {
            "Access" => &mut access,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            _ => return Err(AuthError::MalformedAuthorization),
        };
        if slot.replace(v).is_some() {
            return Err(AuthError::MalformedAuthorization);
        }
    }
    let access_key = access
        .filter(|a| !a.is_empty())
        .ok_or(AuthError::MalformedAuthorization)?;
    let signed_headers: Vec<&str> = signed
        .ok_or(AuthError::MalformedAuthorization)?
        .split(';')
        .collect();
    if signed_headers
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(AuthError::MalformedAuthorization);
    }
    let mut signature = [0u8; 32];
    hex::decode_to_slice(
        sig.ok_or(AuthError::MalformedAuthorization)?,
        &mut signature,
    )
    .map_err(|_| AuthError::MalformedAuthorization)?;
    Ok(Authorization {
        access_key,
        signed_headers,
        signature,
    })
}
