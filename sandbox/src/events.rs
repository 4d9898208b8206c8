//! Signed domain events to orderdesk's ingest endpoint, sent after the change is committed,
//! in the background with a few retries: a slow or absent receiver never blocks a handler.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio_util::task::TaskTracker;

use super::{SandboxConfig, new_id};
use crate::wire::Order;

/// The header orderdesk's ingest endpoint verifies.
const SIGNATURE_HEADER: &str = "x-orderdesk-signature";

pub const ORDER_CANCELLED: &str = "order.cancelled";
pub const ORDER_REINSTATED: &str = "order.reinstated";
pub const ORDER_HELD: &str = "order.held";
pub const ORDER_RELEASED: &str = "order.released";
/// Address changes, confirm, close and reopen: orderdesk's timeline tells them apart by the
/// status after.
pub const ORDER_UPDATED: &str = "order.updated";
pub const PAYMENT_REFUNDED: &str = "payment.refunded";
pub const SHIPMENT_UPDATED: &str = "shipment.updated";

/// One event about one order: its type and the whole order after the change. (The
/// sandbox sends `order.updated` only for the changes with no more specific type.)
pub struct OrderEvent {
    pub kind: &'static str,
    pub order: Order,
}

struct Target {
    url: String,
    secret: Vec<u8>,
    http: reqwest::Client,
}

/// Sends events to `SandboxConfig::events_url`; does nothing when it is not set.
#[derive(Clone)]
pub struct Emitter {
    target: Option<Arc<Target>>,
    deliveries: TaskTracker,
}

impl Emitter {
    pub fn new(cfg: SandboxConfig, deliveries: TaskTracker) -> Emitter {
        let target = cfg.events_url.map(|url| {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default();
            Arc::new(Target {
                url,
                secret: cfg.events_secret,
                http,
            })
        });
        Emitter { target, deliveries }
    }

    pub fn emit(&self, event: OrderEvent) {
        let Some(target) = self.target.clone() else {
            return;
        };
        let id = new_id("evt");
        let body = json!({
            "id": id,
            "type": event.kind,
            "tenant_id": event.order.tenant_id,
            "occurred_at": Utc::now(),
            "order": event.order,
        })
        .to_string();
        self.deliveries.spawn(deliver(target, id, body));
    }
}

struct Failure {
    retryable: bool,
    reason: String,
}

async fn deliver(target: Arc<Target>, id: String, body: String) {
    let attempt = || async {
        // Signed at each attempt so a late retry still falls within the receiver's tolerance.
        let signature = sign(&target.secret, Utc::now().timestamp(), body.as_bytes());
        let res = target
            .http
            .post(&target.url)
            .header(SIGNATURE_HEADER, signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| Failure {
                retryable: true,
                reason: e.to_string(),
            })?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        Err(Failure {
            retryable: status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429,
            reason: format!("answered {status}"),
        })
    };
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(5)
        .with_jitter();
    let sent = attempt
        .retry(policy)
        .when(|f: &Failure| f.retryable)
        .notify(|f: &Failure, after: Duration| {
            tracing::debug!(event = %id, reason = %f.reason, ?after, "event delivery retried");
        })
        .await;
    if let Err(f) = sent {
        tracing::warn!(event = %id, url = %target.url, reason = %f.reason, "event not delivered");
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as the ingest endpoint
/// expects (`docs/upstream-contract.md`, Events): the timestamp is signed with the body.
fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}
