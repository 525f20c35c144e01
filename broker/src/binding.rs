//! Who a federated user is at the vendor, and whether a reseller's IdP may sign them in.
//!
//! The vendor binds a platform user id (`xUserId`) to a customer account (`domainId`, the
//! partner API's `customer_id`) and tells the partner in a signed `bindRequest`. Tiergate
//! names each reseller's users `reseller:name_id`, so two resellers' IdPs can never produce
//! the same `xUserId`, and admits a sign-in only while the bound customer belongs to the
//! reseller whose IdP signed the user in.

use crate::saml::redirect::{self, RedirectError};
use base64::Engine;
use openssl::pkey::{PKey, Private, Public};
use serde::{Deserialize, Serialize};

/// A recorded binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The platform user id at the vendor.
    pub x_user_id: String,
    /// The reseller whose IdP signs this user in.
    pub reseller: String,
    /// The vendor customer account (`domainId` = `customer_id`).
    pub customer_id: String,
}

/// What to do with a verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Sign in at the vendor as the bound customer's user.
    SignIn {
        /// The platform user id.
        x_user_id: String,
        /// Its customer.
        customer_id: String,
    },
    /// Unknown to the binding table: the vendor's first-login binding (`isFirstLogin=true`).
    FirstLogin {
        /// The platform user id to bind.
        x_user_id: String,
    },
    /// Refused, with the reason for the audit log.
    Refused(String),
}

/// The platform user id of `name_id` signed in by `reseller`'s IdP.
pub fn x_user_id(reseller: &str, name_id: &str) -> String {
    format!("{reseller}:{name_id}")
}

/// The tier check: `owner_of` answers which reseller a customer belongs to (the relationship
/// graph).
pub fn decide(
    reseller: &str,
    name_id: &str,
    binding: Option<&Binding>,
    owner_of: impl Fn(&str) -> Option<String>,
) -> Decision {
    let x = x_user_id(reseller, name_id);
    let Some(b) = binding else {
        return Decision::FirstLogin { x_user_id: x };
    };
    if b.x_user_id != x || b.reseller != reseller {
        return Decision::Refused(format!(
            "{x} is bound through another reseller ({})",
            b.reseller
        ));
    }
    match owner_of(&b.customer_id) {
        Some(owner) if owner == reseller => Decision::SignIn {
            x_user_id: x,
            customer_id: b.customer_id.clone(),
        },
        Some(owner) => Decision::Refused(format!(
            "customer {} belongs to {owner}, not to {reseller}",
            b.customer_id
        )),
        None => Decision::Refused(format!(
            "customer {} is not a customer of {reseller}",
            b.customer_id
        )),
    }
}

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
}

/// Why a bind notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// Signature, parameters or algorithm.
    #[error("{0}")]
    Signature(#[from] RedirectError),
    /// Not base64 JSON of the expected shape.
    #[error("bindRequest is not base64 JSON with domainName, domainId, xUserId, bindAction")]
    Shape,
}

/// Verifies a notification body (`bindRequest=..&SigAlg=..&Signature=..`) with the vendor's key.
pub fn verify_bind(body: &str, vendor: &PKey<Public>) -> Result<BindRequest, BindError> {
    let (value, _) = redirect::verify_signed(body, "bindRequest", vendor)?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| BindError::Shape)?;
    serde_json::from_slice(&json).map_err(|_| BindError::Shape)
}

/// The same notification, signed by Tiergate, for the reseller platform's notification URL.
pub fn sign_bind(req: &BindRequest, key: &PKey<Private>) -> Result<String, BindError> {
    let json = serde_json::to_vec(req).map_err(|_| BindError::Shape)?;
    let value = base64::engine::general_purpose::STANDARD.encode(json);
    Ok(redirect::sign_value("bindRequest", &value, None, key)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(c: &str) -> Option<String> {
        match c {
            "cust-r1-a" => Some("res-1".into()),
            "cust-r2-a" => Some("res-2".into()),
            _ => None,
        }
    }

    fn bound(reseller: &str, name: &str, customer: &str) -> Binding {
        Binding {
            x_user_id: x_user_id(reseller, name),
            reseller: reseller.into(),
            customer_id: customer.into(),
        }
    }

    #[test]
    fn a_reseller_signs_in_only_users_bound_to_its_own_customers() {
        let b = bound("res-1", "alice", "cust-r1-a");
        assert_eq!(
            decide("res-1", "alice", Some(&b), owner),
            Decision::SignIn {
                x_user_id: "res-1:alice".into(),
                customer_id: "cust-r1-a".into()
            }
        );
        // res-2's IdP asserting the same name gets another user id: first login, not alice.
        assert_eq!(
            decide("res-2", "alice", None, owner),
            Decision::FirstLogin {
                x_user_id: "res-2:alice".into()
            }
        );
        // A binding of res-1's user presented by res-2 (the table looked up by name).
        assert!(matches!(
            decide("res-2", "alice", Some(&b), owner),
            Decision::Refused(_)
        ));
        // res-1's user bound to res-2's customer (or to a customer that moved away).
        let moved = bound("res-1", "alice", "cust-r2-a");
        assert!(matches!(
            decide("res-1", "alice", Some(&moved), owner),
            Decision::Refused(r) if r.contains("belongs to res-2")
        ));
        let unknown = bound("res-1", "alice", "cust-gone");
        assert!(matches!(
            decide("res-1", "alice", Some(&unknown), owner),
            Decision::Refused(_)
        ));
    }

    #[test]
    fn bind_notifications_verify_with_the_vendor_key_and_are_re_signed_by_us()
    -> Result<(), Box<dyn std::error::Error>> {
        let vendor = PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
        let vendor_pub = PKey::public_key_from_der(&vendor.public_key_to_der()?)?;
        let us = PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
        let us_pub = PKey::public_key_from_der(&us.public_key_to_der()?)?;
        let req = BindRequest {
            domain_name: "acme".into(),
            domain_id: "cust-r1-a".into(),
            x_user_id: "res-1:alice".into(),
            bind_action: "bind".into(),
        };
        let body = sign_bind(&req, &vendor)?;
        assert_eq!(verify_bind(&body, &vendor_pub)?, req);
        assert!(matches!(
            verify_bind(&body, &us_pub),
            Err(BindError::Signature(_))
        ));
        let forwarded = sign_bind(&req, &us)?;
        assert_eq!(verify_bind(&forwarded, &us_pub)?, req);
        let tampered = body.replacen("bindRequest=", "bindRequest=A", 1);
        assert!(verify_bind(&tampered, &vendor_pub).is_err());
        Ok(())
    }
}
