//! `sandbox.stock` (on hand per SKU) and `sandbox.stock_movements` (every change to it).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Movement {
    pub delta: i64,
    pub reason: String,
    #[serde(rename = "ref")]
    pub ref_: Option<String>,
    pub order_id: Option<String>,
    pub at: DateTime<Utc>,
}

pub async fn on_hand(
    conn: &mut PgConnection,
    tenant: &str,
    sku: &str,
) -> sqlx::Result<Option<i64>> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT on_hand FROM sandbox.stock WHERE tenant_id = $1 AND sku = $2")
            .bind(tenant)
            .bind(sku)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(n,)| n))
}

/// Oldest first.
pub async fn movements(
    conn: &mut PgConnection,
    tenant: &str,
    sku: &str,
) -> sqlx::Result<Vec<Movement>> {
    sqlx::query_as(
        r#"SELECT delta, reason, ref AS "ref_", order_id, at FROM sandbox.stock_movements
           WHERE tenant_id = $1 AND sku = $2 ORDER BY seq"#,
    )
    .bind(tenant)
    .bind(sku)
    .fetch_all(conn)
    .await
}

/// Adds `delta` to a SKU's stock. A positive delta makes an unknown SKU known; a negative
/// one that would take the stock below zero (or hits an unknown SKU) changes nothing and
/// returns `None`.
pub async fn adjust(
    conn: &mut PgConnection,
    tenant: &str,
    sku: &str,
    delta: i64,
) -> sqlx::Result<Option<i64>> {
    let sql = if delta >= 0 {
        "INSERT INTO sandbox.stock AS s (tenant_id, sku, on_hand) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, sku) DO UPDATE SET on_hand = s.on_hand + excluded.on_hand
         RETURNING on_hand"
    } else {
        "UPDATE sandbox.stock SET on_hand = on_hand + $3
         WHERE tenant_id = $1 AND sku = $2 AND on_hand + $3 >= 0
         RETURNING on_hand"
    };
    let row: Option<(i64,)> = sqlx::query_as(sql)
        .bind(tenant)
        .bind(sku)
        .bind(delta)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(n,)| n))
}

pub async fn record_movement(
    conn: &mut PgConnection,
    tenant: &str,
    sku: &str,
    delta: i64,
    reason: &str,
    ref_: Option<&str>,
    order_id: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.stock_movements (tenant_id, sku, delta, reason, ref, order_id)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(sku)
    .bind(delta)
    .bind(reason)
    .bind(ref_)
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(())
}
