//! `notification_subscriptions`: who wants shipment updates of an order, per channel.

use crate::domain::ids::{CustomerId, OrderId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone)]
pub struct SubscriptionRow {
    pub channel: String,
    pub subscribed: bool,
    pub destination: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Sets one channel of (order, customer): subscribed with `destination`, or unsubscribed
/// (the destination is forgotten). Setting the same state again changes nothing but
/// `updated_at`.
pub async fn set(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    customer_id: &CustomerId,
    channel: &str,
    destination: Option<&str>,
) -> sqlx::Result<SubscriptionRow> {
    sqlx::query_as!(
        SubscriptionRow,
        "INSERT INTO notification_subscriptions
             (tenant_id, order_id, customer_id, channel, subscribed, destination)
         VALUES ($1, $2, $3, $4, $5::text IS NOT NULL, $5)
         ON CONFLICT (tenant_id, order_id, customer_id, channel) DO UPDATE SET
             subscribed = EXCLUDED.subscribed, destination = EXCLUDED.destination,
             updated_at = now()
         RETURNING channel, subscribed, destination, updated_at",
        tenant_id.as_str(),
        order_id.as_str(),
        customer_id.as_str(),
        channel,
        destination,
    )
    .fetch_one(conn)
    .await
}

/// Which channels of (order, customer) to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Every channel ever set, subscribed or not.
    All,
    /// The subscribed channels that have somewhere to send to.
    Active,
}

/// The channels of (order, customer), by channel name.
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    customer_id: &CustomerId,
    which: Which,
) -> sqlx::Result<Vec<SubscriptionRow>> {
    sqlx::query_as!(
        SubscriptionRow,
        "SELECT channel, subscribed, destination, updated_at FROM notification_subscriptions
         WHERE tenant_id = $1 AND order_id = $2 AND customer_id = $3
           AND (NOT $4 OR (subscribed AND destination IS NOT NULL))
         ORDER BY channel",
        tenant_id.as_str(),
        order_id.as_str(),
        customer_id.as_str(),
        which == Which::Active,
    )
    .fetch_all(conn)
    .await
}
