//! The vendor's `bindRequest` notifications and the ones Tiergate forwards.
//!
//! The vendor's exact format is not published, so the strict reading is taken: the signed
//! base64 JSON must carry a `timestamp` (Unix milliseconds) within [`NOTIFICATION_SKEW`] of our
//! clock, and each notification is single use until it would be refused as stale anyway
//! ([`Notification::usable_until`]; the caller keeps the mark, as with assertion ids). A
//! captured notification therefore cannot be sent again, neither later nor at once.

use crate::saml::redirect::{self, RedirectError};
use base64::Engine;
use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private, Public};
use serde::{Deserialize, Serialize};

/// How far a notification's `timestamp` may be from our clock, either side: the three minutes
/// every other message of the sign-in chain gets ([`crate::saml::sp::SKEW`]). Not the partner
/// API's `clock_skew`: that setting follows the vendor's window for signed API calls, and a
/// longer window here would only keep a captured notification usable longer.
pub const NOTIFICATION_SKEW: chrono::Duration = crate::saml::sp::SKEW;

/// A `bindRequest` as the vendor sends it (base64 JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindRequest {
    /// The customer's account name.
    pub domain_name: String,
    /// The customer's account id (`customer_id`).
    pub domain_id: String,
    /// The platform user id.
    pub x_user_id: String,
    /// `bind` or `unbind` (as the vendor words it).
    pub bind_action: String,
    /// When it was signed, Unix milliseconds.
    pub timestamp: i64,
}

/// A verified, fresh notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// What it says.
    pub request: BindRequest,
    /// SHA-256 (hex) of the signed JSON: its single-use key. The signature covers these bytes,
    /// so no one without the vendor's key can make another notification with the same content.
    pub digest: String,
    /// Its timestamp plus [`NOTIFICATION_SKEW`]: past this it is refused as stale, so its mark
    /// of use need not last longer.
    pub usable_until: DateTime<Utc>,
}

/// Why a bind notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// Signature, parameters or algorithm.
    #[error("{0}")]
    Signature(#[from] RedirectError),
    /// Not base64 JSON of the expected shape.
    #[error(
        "bindRequest is not base64 JSON with domainName, domainId, xUserId, bindAction and timestamp (Unix milliseconds)"
    )]
    Shape,
    /// The timestamp is too far from our clock.
    #[error("bindRequest timestamp is more than {} seconds from now", NOTIFICATION_SKEW.num_seconds())]
    Stale,
}

/// Verifies a notification body (`bindRequest=..&SigAlg=..&Signature=..`) with the vendor's key,
/// and its timestamp against `now`.
pub fn verify_bind(
    body: &str,
    vendor: &PKey<Public>,
    now: DateTime<Utc>,
) -> Result<Notification, BindError> {
    let (value, _) = redirect::verify_signed(body, "bindRequest", vendor)?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| BindError::Shape)?;
    let request: BindRequest = serde_json::from_slice(&json).map_err(|_| BindError::Shape)?;
    let signed_at = DateTime::from_timestamp_millis(request.timestamp).ok_or(BindError::Stale)?;
    if (now - signed_at).abs() > NOTIFICATION_SKEW {
        return Err(BindError::Stale);
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, &json);
    Ok(Notification {
        request,
        digest: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        usable_until: signed_at + NOTIFICATION_SKEW,
    })
}

/// The same notification, signed by Tiergate and stamped `now`, for the reseller platform's
/// notification URL (which can then hold it to the same rules).
pub fn sign_bind(
    req: &BindRequest,
    key: &PKey<Private>,
    now: DateTime<Utc>,
) -> Result<String, BindError> {
    let stamped = BindRequest {
        timestamp: now.timestamp_millis(),
        ..req.clone()
    };
    let json = serde_json::to_vec(&stamped).map_err(|_| BindError::Shape)?;
    let value = base64::engine::general_purpose::STANDARD.encode(json);
    Ok(redirect::sign_value("bindRequest", &value, None, key)?)
}

#[cfg(test)]
mod tests;
