//! The vendor's bind notifications: verified with the vendor's key, recorded in the binding
//! table, audited, and forwarded to the reseller platform signed by Tiergate.

use super::{Sso, web};
use crate::admin_body;
use bytes::Bytes;
use http::{Response, StatusCode};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::ServerSession;
use pingora::upstreams::peer::HttpPeer;
use serde_json::json;
use std::sync::Arc;
use tiergate_broker::binding::{self, BindRequest, Binding};

impl Sso {
    /// `POST /saml/notify`.
    pub(super) async fn notify(self: &Arc<Self>, session: &mut ServerSession) -> Response<Vec<u8>> {
        let body = match admin_body::read(session).await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => return web::refused(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let req = match binding::verify_bind(body.trim(), &self.vendor.key) {
            Ok(r) => r,
            Err(e) => {
                self.record("bind", "refused", None, json!({"reason": e.to_string()}))
                    .await;
                return web::refused(StatusCode::BAD_REQUEST, &e.to_string());
            }
        };
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
            return web::refused(
                StatusCode::BAD_REQUEST,
                "xUserId is not a user of this broker",
            );
        };
        let stored = if req.bind_action.eq_ignore_ascii_case("unbind") {
            self.store.sso_unbind(&req.x_user_id).await
        } else {
            let b = Binding {
                x_user_id: req.x_user_id.clone(),
                reseller: reseller.clone(),
                customer_id: req.domain_id.clone(),
            };
            self.store.sso_bind(b, req.domain_name.clone()).await
        };
        if let Err(e) = stored {
            tracing::error!(error = %e, "binding table");
            return web::refused(StatusCode::SERVICE_UNAVAILABLE, "binding table unavailable");
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
        web::answer(
            StatusCode::OK,
            "application/json",
            json!({"result": "ok"}).to_string().into_bytes(),
            &[],
        )
    }

    /// POSTs the notification, signed by us, to the reseller platform.
    async fn forward(&self, url: &str, req: &BindRequest) -> Result<u16, String> {
        let body = binding::sign_bind(req, &self.key).map_err(|e| e.to_string())?;
        let u = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = u.host_str().ok_or("no host")?.to_owned();
        let port = u.port_or_known_default().ok_or("no port")?;
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("host does not resolve")?;
        let mut peer = HttpPeer::new(addr, u.scheme() == "https", host.clone());
        let t = Some(std::time::Duration::from_secs(10));
        peer.options.connection_timeout = t;
        peer.options.read_timeout = t;
        peer.options.write_timeout = t;
        let e = |x: Box<pingora::Error>| x.to_string();
        let connector = Connector::new(None);
        let (mut s, _) = connector.get_http_session(&peer).await.map_err(e)?;
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        };
        let mut h = RequestHeader::build("POST", path.as_bytes(), None).map_err(e)?;
        h.insert_header("host", host).map_err(e)?;
        h.insert_header("content-type", "application/x-www-form-urlencoded")
            .map_err(e)?;
        h.insert_header("content-length", body.len().to_string())
            .map_err(e)?;
        s.write_request_header(Box::new(h)).await.map_err(e)?;
        s.write_request_body(Bytes::from(body), true)
            .await
            .map_err(e)?;
        s.finish_request_body().await.map_err(e)?;
        s.read_response_header().await.map_err(e)?;
        let status = s.response_header().map_or(0, |h| h.status.as_u16());
        while s.read_response_body().await.map_err(e)?.is_some() {}
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(format!("status {status}"))
        }
    }
}
