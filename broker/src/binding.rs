//! Who a federated user is at the vendor, and whether a reseller's IdP may sign them in.
//!
//! The vendor binds a platform user id (`xUserId`) to a customer account (`domainId`, the
//! partner API's `customer_id`) and tells the partner in a signed `bindRequest`. Tiergate
//! names each reseller's users `reseller:name_id`, so two resellers' IdPs can never produce
//! the same `xUserId`, and admits a sign-in only while the bound customer belongs to the
//! reseller whose IdP signed the user in. The notifications themselves must be signed, fresh
//! and used once ([`verify_bind`], [`sign_bind`]).

mod notification;

pub use notification::{
    BindError, BindRequest, NOTIFICATION_SKEW, Notification, sign_bind, verify_bind,
};
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
}
