//! The vendor's bind notifications: verified with the vendor's key, fresh (their signed
//! timestamp) and used once for every gateway, recorded in the binding table, audited, and
//! forwarded to the reseller platform signed and stamped by Tiergate.

use super::{MAX_BODY, OnceOnly, Sso, browser};
use crate::rejection::Rejection;
use http::Response;
use pingora::protocols::http::ServerSession;
use serde_json::json;
use std::sync::Arc;
use tiergate_broker::binding::{self, BindRequest, Binding};

impl Sso {
    /// `POST /saml/notify`.
    pub(super) async fn notify(
        self: &Arc<Self>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, Rejection> {
        let body = crate::web::body::read(session, MAX_BODY).await?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let now = chrono::Utc::now();
        let notification = match binding::verify_bind(body.trim(), &self.saml.vendor.key, now) {
            Ok(n) => n,
            Err(e) => {
                // Unverified: counted into a summary, never written one by one.
                self.count_unverified("bind", "TG.7003", &e.to_string(), None);
                return Err(Rejection::SamlRefused(e.to_string()));
            }
        };
        // Claimed before it changes anything: of two arrivals at once, on any gateways, one
        // is applied.
        self.use_once(OnceOnly {
            operation: "bind",
            id: &notification.digest,
            until: notification.usable_until,
            what: "bind notification",
        })
        .await?;
        let req = notification.request;
        // Only our own users: `reseller:name_id` of a registered reseller.
        let reseller = req
            .x_user_id
            .split_once(':')
            .map(|(r, _)| r.to_owned())
            .filter(|r| self.registration(r).is_some());
        let Some(reseller) = reseller else {
            self.record(
                "bind",
                "refused",
                None,
                json!({"reason": "unknown xUserId", "x_user_id": req.x_user_id}),
            )
            .await;
            return Err(Rejection::SamlRefused(
                "xUserId is not a user of this broker".into(),
            ));
        };
        let stored = if req.bind_action.eq_ignore_ascii_case("unbind") {
            self.parts.store.bindings().unbind(&req.x_user_id).await
        } else {
            let b = Binding {
                x_user_id: req.x_user_id.clone(),
                reseller: reseller.clone(),
                customer_id: req.domain_id.clone(),
            };
            self.parts
                .store
                .bindings()
                .bind(b, req.domain_name.clone())
                .await
        };
        if let Err(e) = stored {
            tracing::error!(error = %e, "binding table");
            return Err(Rejection::SignInStoreUnavailable("binding table"));
        }
        self.record(
            "bind",
            "ok",
            Some(&reseller),
            json!({"x_user_id": req.x_user_id, "customer_id": req.domain_id,
                   "bind_action": req.bind_action}),
        )
        .await;
        // Forwarded after the vendor has its answer: a slow reseller platform must not hold
        // the vendor's notification (the outcome is audited either way).
        if let Some(url) = self
            .registration(&reseller)
            .and_then(|r| r.notify_url.clone())
        {
            let me = self.clone();
            tokio::spawn(async move {
                let outcome = match me.forward(&url, &req).await {
                    Ok(status) => format!("forwarded ({status})"),
                    Err(e) => {
                        tracing::warn!(error = %e, %url, "bind notification not forwarded");
                        format!("not forwarded: {e}")
                    }
                };
                let ok = if outcome.starts_with("forwarded") {
                    "ok"
                } else {
                    "error"
                };
                me.record(
                    "bind_forward",
                    ok,
                    Some(&reseller),
                    json!({"x_user_id": req.x_user_id, "url": url, "result": outcome}),
                )
                .await;
            });
        }
        let ok = json!({"result": "ok"}).to_string().into_bytes();
        Ok(browser::page("application/json", ok, &[]))
    }

    /// POSTs the notification, signed by us, to the reseller platform.
    async fn forward(&self, url: &str, req: &BindRequest) -> Result<u16, String> {
        let body = binding::sign_bind(req, &self.saml.key, chrono::Utc::now())
            .map_err(|e| e.to_string())?;
        let form = "application/x-www-form-urlencoded";
        let (status, _) =
            super::client::request("POST", url, Some(form), body.into_bytes(), 64 * 1024).await?;
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(format!("status {status}"))
        }
    }
}
