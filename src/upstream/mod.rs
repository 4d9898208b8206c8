//! HTTP client of the canonical services (`docs/upstream-contract.md`): per-service base
//! URLs, timeouts, `X-Tenant-ID`, `Idempotency-Key` on every mutation, and the mapping of
//! answers to retryable or permanent errors. The workflow engine's step retry policy is the
//! real retry loop; this client only retries a refused connection once, quickly.

mod commerce;

use std::time::Duration;

use anyhow::Context;
use backon::{ConstantBuilder, Retryable};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Config, Service};
use crate::domain::order::{Order, Refund};
use crate::domain::returns::{Rma, RmaKind, RmaLine};
use crate::domain::tracking::Tracking;
use crate::error::{Problem, problem};

pub use commerce::{
    AddressChange, Cart, CartLine, CartLineIn, CartRejection, CouponPreview, NewCart, PreviewLine,
};

/// Why an upstream call failed, classified as the contract says.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// 404, 409, 422 (and other 4xx): retrying cannot help. Keeps the upstream's `code`.
    #[error("permanent upstream error {}: {}", .0.code, .0.detail)]
    Permanent(Box<Problem>),
    /// 408, 429, 5xx, timeouts and transport errors.
    #[error("retryable upstream error {}: {}", .0.code, .0.detail)]
    Retryable(Box<Problem>),
}

impl UpstreamError {
    pub fn problem(&self) -> &Problem {
        match self {
            UpstreamError::Permanent(p) | UpstreamError::Retryable(p) => p,
        }
    }
    pub fn is_retryable(&self) -> bool {
        matches!(self, UpstreamError::Retryable(_))
    }
}

/// One line of an inventory release or reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub sku: String,
    pub qty: i32,
}

/// A message for the Notifications service.
#[derive(Debug, Clone, Serialize)]
pub struct Notification<'a> {
    pub order_id: &'a str,
    pub to: &'a str,
    pub template: &'a str,
    pub data: Value,
}

/// An RMA to create at the Returns API (`POST /fulfillment/v1/returns`).
#[derive(Debug, Clone, Serialize)]
pub struct NewRma<'a> {
    /// orderdesk's id for it, so a repeat finds the same RMA.
    pub id: &'a str,
    pub order_id: &'a str,
    pub kind: RmaKind,
    pub method: &'a str,
    pub preferred_refund: Option<&'a str>,
    pub lines: &'a [RmaLine],
}

/// Client of the six canonical services. Cheap to clone (one connection pool inside).
#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    orders: String,
    payments: String,
    inventory: String,
    notifications: String,
    fulfillment: String,
    billing: String,
    tracking: String,
    promotions: String,
}

impl Upstream {
    pub fn new(cfg: &Config) -> anyhow::Result<Upstream> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.upstream_timeout.min(Duration::from_secs(2)))
            .timeout(cfg.upstream_timeout)
            .pool_max_idle_per_host(64)
            .user_agent(concat!("orderdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the upstream HTTP client")?;
        Ok(Upstream {
            http,
            orders: cfg.upstream_url(Service::Orders).to_string(),
            payments: cfg.upstream_url(Service::Payments).to_string(),
            inventory: cfg.upstream_url(Service::Inventory).to_string(),
            notifications: cfg.upstream_url(Service::Notifications).to_string(),
            fulfillment: cfg.upstream_url(Service::Fulfillment).to_string(),
            billing: cfg.upstream_url(Service::Billing).to_string(),
            tracking: cfg.upstream_url(Service::Tracking).to_string(),
            promotions: cfg.upstream_url(Service::Promotions).to_string(),
        })
    }

    /// `GET /v1/orders/{id}`.
    pub async fn get_order(&self, tenant: &str, order_id: &str) -> Result<Order, UpstreamError> {
        let url = format!("{}/v1/orders/{}", self.orders, seg(order_id));
        self.call(Method::GET, &url, tenant, None, None).await
    }

    /// `POST /v1/orders/{id}/cancel`: the cancelled order (200 also when already cancelled).
    pub async fn cancel_order(
        &self,
        tenant: &str,
        order_id: &str,
        reason: &str,
        key: &str,
    ) -> Result<Order, UpstreamError> {
        let url = format!("{}/v1/orders/{}/cancel", self.orders, seg(order_id));
        let body = json!({ "reason": reason });
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /v1/orders/{id}/reinstate`: compensation of a cancel.
    pub async fn reinstate_order(
        &self,
        tenant: &str,
        order_id: &str,
        reason: &str,
        key: &str,
    ) -> Result<Order, UpstreamError> {
        let url = format!("{}/v1/orders/{}/reinstate", self.orders, seg(order_id));
        let body = json!({ "reason": reason });
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /v1/payments/{id}/refunds`.
    pub async fn refund_payment(
        &self,
        tenant: &str,
        payment_id: &str,
        amount_minor: i64,
        reason: &str,
        key: &str,
    ) -> Result<Refund, UpstreamError> {
        let url = format!("{}/v1/payments/{}/refunds", self.payments, seg(payment_id));
        let body = json!({ "amount_minor": amount_minor, "reason": reason });
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /v1/releases`: stock of each sku grows by its qty.
    pub async fn release_inventory(
        &self,
        tenant: &str,
        order_id: &str,
        lines: &[StockLine],
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = format!("{}/v1/releases", self.inventory);
        let body = json!({ "order_id": order_id, "lines": lines });
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /v1/reservations`: compensation of a release.
    pub async fn reserve_inventory(
        &self,
        tenant: &str,
        order_id: &str,
        lines: &[StockLine],
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = format!("{}/v1/reservations", self.inventory);
        let body = json!({ "order_id": order_id, "lines": lines });
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /v1/messages`: `{"id":"msg_…"}`.
    pub async fn send_notification(
        &self,
        tenant: &str,
        message: &Notification<'_>,
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = format!("{}/v1/messages", self.notifications);
        let body = serde_json::to_value(message).unwrap_or(Value::Null);
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `GET /inventory/v1/stock/{sku}`: units on hand; an unknown SKU → `Ok(None)`.
    pub async fn get_stock(&self, tenant: &str, sku: &str) -> Result<Option<i64>, UpstreamError> {
        let url = format!("{}/v1/stock/{}", self.inventory, seg(sku));
        match self
            .call::<Value>(Method::GET, &url, tenant, None, None)
            .await
        {
            Ok(v) => Ok(Some(v["on_hand"].as_i64().unwrap_or(0))),
            Err(UpstreamError::Permanent(p)) if p.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /fulfillment/v1/returns`: creates the RMA (201), or answers the one that
    /// already has `rma.id` (200).
    pub async fn create_rma(
        &self,
        tenant: &str,
        rma: &NewRma<'_>,
        key: &str,
    ) -> Result<Rma, UpstreamError> {
        let url = format!("{}/v1/returns", self.fulfillment);
        let body = serde_json::to_value(rma).unwrap_or(Value::Null);
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `GET /fulfillment/v1/returns?order_id=`: the order's RMAs.
    pub async fn list_rmas(&self, tenant: &str, order_id: &str) -> Result<Vec<Rma>, UpstreamError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<Rma>,
        }
        let url = format!("{}/v1/returns?order_id={}", self.fulfillment, seg(order_id));
        let page: Page = self.call(Method::GET, &url, tenant, None, None).await?;
        Ok(page.data)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        tenant: &str,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<T, UpstreamError> {
        let send = || async {
            let mut req = self
                .http
                .request(method.clone(), url)
                .header("X-Tenant-ID", tenant);
            if let Some(key) = idempotency_key {
                req = req.header("Idempotency-Key", key);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            req.send().await
        };
        // A refused connection never reached the service, so one quick retry is safe even
        // for a mutation; anything else is left to the step's retry policy.
        let res = send
            .retry(
                ConstantBuilder::default()
                    .with_delay(Duration::from_millis(50))
                    .with_max_times(1),
            )
            .when(|e: &reqwest::Error| e.is_connect())
            .await
            .map_err(|e| transport_error(url, &e))?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| transport_error(url, &e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                tracing::warn!(%method, url, error = %e, "upstream answered an unexpected body");
                UpstreamError::Permanent(Box::new(problem(
                    StatusCode::BAD_GATEWAY,
                    "upstream.bad_response",
                    "an upstream service answered with a body orderdesk does not understand",
                )))
            });
        }
        Err(classify(status, &bytes, &method, url))
    }
}

/// GDPR (issue 4).
impl Upstream {
    /// `POST /v1/customers/{id}/erase` at Orders: `{"customer_id","orders_erased"}`;
    /// idempotent (a second call erases nothing more).
    pub async fn erase_customer(
        &self,
        tenant: &str,
        customer_id: &str,
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = format!("{}/v1/customers/{}/erase", self.orders, seg(customer_id));
        self.call(Method::POST, &url, tenant, Some(key), Some(&json!({})))
            .await
    }
}

/// Percent-encodes one path segment (ids are plain, but never trust them to be).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What callers see (stored on the step and the run) is a code and a sentence; the URL and
/// reqwest's text, which name internal hosts, go to the log only.
fn transport_error(url: &str, e: &reqwest::Error) -> UpstreamError {
    let (code, detail) = if e.is_timeout() {
        (
            "upstream.timeout",
            "an upstream service did not answer in time",
        )
    } else {
        (
            "upstream.unreachable",
            "an upstream service could not be reached",
        )
    };
    tracing::warn!(url, error = %format!("{e:#}"), code, "upstream call failed");
    UpstreamError::Retryable(Box::new(problem(StatusCode::BAD_GATEWAY, code, detail)))
}

/// Maps a non-2xx answer per the contract, keeping the upstream's problem `code`.
fn classify(status: StatusCode, body: &[u8], method: &Method, url: &str) -> UpstreamError {
    let upstream: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        upstream
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let code = field("code").unwrap_or_else(|| format!("upstream.http_{}", status.as_u16()));
    let detail = field("detail").unwrap_or_else(|| {
        tracing::warn!(%method, url, %status, "upstream answered an error without a problem body");
        format!("an upstream service answered {status}")
    });
    let mut p = problem(status, &code, detail);
    if let Some(Value::Object(map)) = upstream {
        for (k, v) in map {
            if !matches!(
                k.as_str(),
                "type" | "title" | "status" | "detail" | "code" | "request_id"
            ) {
                p.extra.insert(k, v);
            }
        }
    }
    let retryable = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    if retryable {
        UpstreamError::Retryable(Box::new(p))
    } else {
        UpstreamError::Permanent(Box::new(p))
    }
}

/// An invoice as the Billing service lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub order_id: String,
    pub total_minor: i64,
    pub currency: String,
}

#[derive(Deserialize)]
struct DataOf<T> {
    data: Vec<T>,
}

/// Reads for the customer's order pages (issue 4, reads).
impl Upstream {
    /// Billing `GET /v1/invoices?order_id=`: the order's invoices.
    pub async fn invoices_of_order(
        &self,
        tenant: &str,
        order_id: &str,
    ) -> Result<Vec<Invoice>, UpstreamError> {
        let url = format!("{}/v1/invoices?order_id={}", self.billing, seg(order_id));
        let page: DataOf<Invoice> = self.call(Method::GET, &url, tenant, None, None).await?;
        Ok(page.data)
    }

    /// Tracking `GET /v1/trackings/{tracking_number}`: the carrier's live view of a parcel;
    /// a number the carrier has not scanned yet is a permanent 404 `tracking.not_found`.
    pub async fn track_shipment(
        &self,
        tenant: &str,
        tracking_number: &str,
    ) -> Result<Tracking, UpstreamError> {
        let url = format!("{}/v1/trackings/{}", self.tracking, seg(tracking_number));
        self.call(Method::GET, &url, tenant, None, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_follow_the_contract() {
        let body = br#"{"status":409,"code":"order.not_cancellable","detail":"shipped"}"#;
        let e = classify(StatusCode::CONFLICT, body, &Method::POST, "u");
        assert!(!e.is_retryable());
        assert_eq!(e.problem().code, "order.not_cancellable");
        for s in [404, 422] {
            let e = classify(StatusCode::from_u16(s).unwrap(), b"", &Method::GET, "u");
            assert!(!e.is_retryable(), "{s}");
        }
        for s in [408, 429, 500, 502, 503] {
            let e = classify(
                StatusCode::from_u16(s).unwrap(),
                b"not json",
                &Method::GET,
                "u",
            );
            assert!(e.is_retryable(), "{s}");
            assert_eq!(e.problem().code, format!("upstream.http_{s}"));
        }
    }

    #[test]
    fn an_answer_without_a_problem_body_does_not_name_the_url() {
        let url = "http://payments.internal:9000/v1/payments/p1/refunds";
        let e = classify(StatusCode::BAD_GATEWAY, b"<html>", &Method::POST, url);
        let detail = &e.problem().detail;
        assert!(
            detail.contains("502") && !detail.contains("payments.internal"),
            "{detail}"
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("ord_1"), "ord_1");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }
}
