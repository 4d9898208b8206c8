//! Domain events, in and out. In: the signed webhook format the upstream (and the sandbox)
//! send to orderdesk's ingest endpoint ([`signature`]). Out: events written to the outbox
//! by `db::events::record`, published to a Redis Stream and fanned out to webhook
//! deliveries by the [`relay`], and sent by the [`deliver`] loop, behind the [`ssrf`] guard.

pub mod deliver;
pub mod relay;
pub mod replay;
pub mod signature;
pub mod ssrf;
pub mod webhook;

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;

/// What the events relay and the delivery loop run on.
#[derive(Clone)]
pub struct EventsCtx {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub redis: redis::aio::ConnectionManager,
}

/// The `data` of `order.updated`: the order's new status and version, the status before
/// (when the read model had the order) and what brought the change (`source`).
pub fn order_updated(
    order: &crate::domain::order::Order,
    before: Option<&crate::domain::order::Order>,
    source: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "order_id": order.id,
        "customer_id": order.customer_id,
        "status": order.status,
        "version": order.version,
        "previous_status": before.map(|b| b.status),
        "updated_at": order.updated_at,
        "source": source,
    })
}
