//! The vendor's error envelope and the codes the simulator answers with.

use http::StatusCode;
use serde_json::{Value, json};

/// Error codes, as the vendor documents them where it does; the rest are stable simulator codes.
pub mod codes {
    /// Authentication failed or the caller may not call this API.
    pub const ACCESS_DENIED: &str = "CBC.0151";
    /// A parameter is invalid (including amounts that are not > 0 with at most 2 decimals).
    pub const INVALID_PARAMETER: &str = "CBC.0100";
    /// Too many requests: 10 per second per API per account.
    pub const TOO_MANY_REQUESTS: &str = "CBC.0250";
    /// The voucher quota's balance is insufficient.
    pub const INSUFFICIENT_QUOTA: &str = "CBC.99000013";
    /// The account balance is insufficient.
    pub const INSUFFICIENT_BALANCE: &str = "CBC.99005003";
    /// `indirect_partner_id` is not one of the caller's resellers.
    pub const NOT_YOUR_RESELLER: &str = "CBC.99000037";
    /// Another operation on the same quota is in progress.
    pub const QUOTA_BUSY: &str = "CBC.50000045";
    /// The customer is not associated with the acting partner.
    pub const NOT_YOUR_CUSTOMER: &str = "CBC.99003110";
    /// The customer is an advisory (non-resale) customer.
    pub const NOT_RESALE_CUSTOMER: &str = "CBC.99003127";
    /// No such quota for the acting partner.
    pub const QUOTA_NOT_FOUND: &str = "CBC.99003105";
    /// The quota is not usable (status not normal, or outside its validity).
    pub const QUOTA_NOT_USABLE: &str = "CBC.99003118";
    /// No such voucher for the acting partner, or it can no longer be reclaimed.
    pub const COUPON_NOT_FOUND: &str = "CBC.99003107";
    /// No such order.
    pub const ORDER_NOT_FOUND: &str = "CBC.99003151";
    /// An invalid order (it may not exist): payment and cancellation.
    pub const INVALID_ORDER: &str = "CBC.30000010";
    /// The order's status has changed: it can no longer be paid (or cancelled).
    pub const ORDER_STATUS_CHANGED: &str = "CBC.99003106";
    /// The discount chosen cannot be used for this order.
    pub const DISCOUNT_NOT_APPLICABLE: &str = "CBC.99003108";
    /// The voucher (or stored-value card) is used up or not usable.
    pub const COUPON_USED: &str = "CBC.99003112";
    /// The order is not an unsubscription or downgrade order.
    pub const NOT_REFUND_ORDER: &str = "CBC.99005026";
    /// No such resource.
    pub const RESOURCE_NOT_FOUND: &str = "CBC.99003012";
    /// The resource has a pending order (an unpaid renewal).
    pub const RESOURCE_BUSY: &str = "CBC.99003144";
    /// Bought plus renewed time exceeds the maximum.
    pub const RENEWAL_TOO_LONG: &str = "CBC.99003154";
    /// The resource has expired or is frozen: no auto-renewal.
    pub const RESOURCE_NOT_RENEWABLE: &str = "CBC.99003602";
    /// The account is frozen: no purchase, renewal or change. (The vendor documents this
    /// code for changes to on-demand; the simulator answers it for every refused change.)
    pub const ACCOUNT_FROZEN: &str = "CBC.99003626";
    /// No such product (service type, resource type, region and spec must all match).
    pub const PRODUCT_NOT_FOUND: &str = "CBC.99006006";
    /// Wrong verification code.
    pub const WRONG_CODE: &str = "CBC.99000026";
    /// Expired verification code.
    pub const CODE_EXPIRED: &str = "CBC.99000027";
    /// The mobile number has reached its limit of accounts.
    pub const MOBILE_OVER_LIMIT: &str = "CBC.99000030";
    /// The account does not exist.
    pub const ACCOUNT_NOT_FOUND: &str = "CBC.99000047";
    /// The vendor's own internal error (fault injection).
    pub const SYSTEM_ERROR: &str = "CBC.0999";
    /// The API does not exist.
    pub const NO_SUCH_API: &str = "APIGW.0101";
}

/// A refusal in the vendor's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error_code`.
    pub code: &'static str,
    /// `error_msg`.
    pub msg: String,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            msg: msg.into(),
        }
    }
    /// 400 with a code.
    pub fn bad(code: &'static str, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, msg)
    }
    /// 400 `CBC.0100` naming the parameter.
    pub fn param(field: &str, why: &str) -> Self {
        Self::bad(
            codes::INVALID_PARAMETER,
            format!("Invalid parameter: {field}: {why}"),
        )
    }
    /// 403 `CBC.0151`.
    pub fn denied(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, codes::ACCESS_DENIED, msg)
    }
    /// 401 `CBC.0151`.
    pub fn unauthenticated(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, codes::ACCESS_DENIED, msg)
    }
    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error_code": self.code, "error_msg": self.msg})
    }
    /// One `error_details[]` entry of a batch answer.
    pub fn detail(&self, id: &str) -> Value {
        json!({"error_code": self.code, "error_msg": self.msg, "id": id})
    }
}
