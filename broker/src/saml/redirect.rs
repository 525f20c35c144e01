//! The HTTP-Redirect binding (SAML bindings 3.4): a DEFLATE-compressed, base64 message in the
//! query, signed over the query's own encoded bytes (`SAMLRequest=..&RelayState=..&SigAlg=..`).
//!
//! Verification works on the query exactly as received: the values are not decoded and
//! re-encoded before the signature is checked (encoders differ; re-encoding would break valid
//! signatures and can let a different message through). Each parameter appears once; SigAlg
//! is one of the SHA-2 algorithms; the inflated message is capped.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use percent_encoding::percent_decode_str;
use std::io::{Read, Write};

/// The largest inflated message accepted.
pub const MAX_INFLATED: usize = 64 * 1024;
/// The largest query accepted.
pub const MAX_QUERY: usize = 16 * 1024;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Why a redirect message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Query or inflated message too large (a DEFLATE bomb stops at the cap).
    #[error("message too large")]
    TooLarge,
    /// A parameter missing or given twice.
    #[error("parameter `{0}` missing or repeated")]
    Parameter(&'static str),
    /// Not base64 / DEFLATE / UTF-8.
    #[error("message is not base64 of DEFLATE-compressed UTF-8")]
    Encoding,
    /// SigAlg outside the allowlist.
    #[error("SigAlg `{0}` is not allowed")]
    Algorithm(String),
    /// The signature does not verify with the registered certificate.
    #[error("query signature does not verify with the registered certificate")]
    Signature,
}

/// A verified redirect message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The inflated XML.
    pub xml: String,
    /// RelayState, decoded.
    pub relay_state: Option<String>,
}

fn digest(sig_alg: &str) -> Result<MessageDigest, RedirectError> {
    match sig_alg {
        RSA_SHA256 | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => {
            Ok(MessageDigest::sha256())
        }
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Ok(MessageDigest::sha384()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Ok(MessageDigest::sha512()),
        other => Err(RedirectError::Algorithm(other.to_owned())),
    }
}

/// The raw (still encoded) value of `name`, which must appear at most once. Not the gateway's
/// form parser: the signature covers the encoded parameters exactly as sent, so they are read
/// as bytes and decoded only after they verify.
fn raw<'q>(query: &'q str, name: &'static str) -> Result<Option<&'q str>, RedirectError> {
    let mut found = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            if found.is_some() {
                return Err(RedirectError::Parameter(name));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

fn decoded(v: &str) -> Result<String, RedirectError> {
    // Form encoding: `+` is a space.
    percent_decode_str(&v.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| RedirectError::Encoding)
}

/// Inflates a base64 DEFLATE message, stopping at [`MAX_INFLATED`].
pub fn inflate(b64: &str) -> Result<String, RedirectError> {
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| RedirectError::Encoding)?;
    let mut out = Vec::new();
    DeflateDecoder::new(bytes.as_slice())
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| RedirectError::Encoding)?;
    if out.len() > MAX_INFLATED {
        return Err(RedirectError::TooLarge);
    }
    String::from_utf8(out).map_err(|_| RedirectError::Encoding)
}

/// Verifies a signed redirect query carrying `param` (`SAMLRequest` or `SAMLResponse`).
pub fn verify(
    query: &str,
    param: &'static str,
    key: &PKey<Public>,
) -> Result<Redirect, RedirectError> {
    let (message, relay_state) = verify_signed(query, param, key)?;
    Ok(Redirect {
        xml: inflate(&message)?,
        relay_state,
    })
}

/// Verifies a query (or form body) signed the Redirect-binding way, carrying `param`: its
/// value and RelayState, decoded but otherwise as sent.
pub fn verify_signed(
    query: &str,
    param: &'static str,
    key: &PKey<Public>,
) -> Result<(String, Option<String>), RedirectError> {
    if query.len() > MAX_QUERY {
        return Err(RedirectError::TooLarge);
    }
    let message = raw(query, param)?.ok_or(RedirectError::Parameter(param))?;
    let relay = raw(query, "RelayState")?;
    let sig_alg = raw(query, "SigAlg")?.ok_or(RedirectError::Parameter("SigAlg"))?;
    let signature = raw(query, "Signature")?.ok_or(RedirectError::Parameter("Signature"))?;
    let md = digest(&decoded(sig_alg)?)?;
    let mut signed = format!("{param}={message}");
    if let Some(r) = relay {
        signed.push_str("&RelayState=");
        signed.push_str(r);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(sig_alg);
    let sig = STANDARD
        .decode(decoded(signature)?)
        .map_err(|_| RedirectError::Encoding)?;
    let ok = openssl::sign::Verifier::new(md, key)
        .and_then(|mut v| {
            v.update(signed.as_bytes())?;
            v.verify(&sig)
        })
        .unwrap_or(false);
    if !ok {
        return Err(RedirectError::Signature);
    }
    Ok((decoded(message)?, relay.map(decoded).transpose()?))
}

/// A signed redirect query for `xml` (RSA-SHA256).
pub fn sign(
    param: &'static str,
    xml: &str,
    relay_state: Option<&str>,
    key: &PKey<Private>,
) -> Result<String, RedirectError> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(xml.as_bytes())
        .map_err(|_| RedirectError::Encoding)?;
    let deflated = enc.finish().map_err(|_| RedirectError::Encoding)?;
    sign_value(param, &STANDARD.encode(deflated), relay_state, key)
}

/// `param=value[&RelayState=..]&SigAlg=..&Signature=..`, signed RSA-SHA256 over the encoded
/// bytes.
pub fn sign_value(
    param: &'static str,
    value: &str,
    relay_state: Option<&str>,
    key: &PKey<Private>,
) -> Result<String, RedirectError> {
    // Form encoding, as the common SAML libraries re-encode before they verify (pysaml2,
    // samael): a different but equivalent encoding would not verify there.
    let pct = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut q = format!("{param}={}", pct(value));
    if let Some(r) = relay_state {
        q.push_str(&format!("&RelayState={}", pct(r)));
    }
    q.push_str(&format!("&SigAlg={}", pct(RSA_SHA256)));
    let sig = openssl::sign::Signer::new(MessageDigest::sha256(), key)
        .and_then(|mut s| {
            s.update(q.as_bytes())?;
            s.sign_to_vec()
        })
        .map_err(|_| RedirectError::Signature)?;
    q.push_str(&format!("&Signature={}", pct(&STANDARD.encode(sig))));
    Ok(q)
}

#[cfg(test)]
mod tests;
