//! `sandbox.effects`: one row per effect, written in the transaction that made it, so tests
//! can count effects to prove exactly-once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;

use crate::service::Service;

/// What a handler did, recorded next to the change itself.
pub struct NewEffect<'a> {
    pub tenant: &'a str,
    pub order_id: &'a str,
    pub service: Service,
    /// e.g. `order.cancel`, `payment.refund`, `inventory.release`, `notification.send`.
    pub kind: &'a str,
    /// The Idempotency-Key of the call, if it had one.
    pub key: Option<&'a str>,
    pub detail: Value,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Effect {
    pub service: String,
    pub kind: String,
    pub key: Option<String>,
    pub at: DateTime<Utc>,
    pub detail: Value,
}

pub async fn record(conn: &mut PgConnection, e: NewEffect<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.effects (tenant_id, order_id, service, kind, key, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(e.tenant)
    .bind(e.order_id)
    .bind(e.service.name())
    .bind(e.kind)
    .bind(e.key)
    .bind(e.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// In the order they happened; all of the tenant's when `order_id` is `None` (newest
/// `limit`, still oldest first).
pub async fn list(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Effect>> {
    sqlx::query_as(
        "SELECT service, kind, key, at, detail FROM (
            SELECT seq, service, kind, key, at, detail FROM sandbox.effects
            WHERE tenant_id = $1 AND ($2::text IS NULL OR order_id = $2)
            ORDER BY seq DESC LIMIT $3
         ) newest ORDER BY seq",
    )
    .bind(tenant)
    .bind(order_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}
