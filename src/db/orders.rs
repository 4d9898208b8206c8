//! The read model: `order_views` and `order_events`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::order::Order;

/// Stores `order` unless a newer version is already there. Returns whether it was written.
pub async fn upsert_view(conn: &mut PgConnection, order: &Order) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "INSERT INTO order_views (tenant_id, id, number, customer_id, email, status, currency,
                                  total_minor, placed_at, doc, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
         ON CONFLICT (tenant_id, id) DO UPDATE SET
             status = EXCLUDED.status, email = EXCLUDED.email, total_minor = EXCLUDED.total_minor,
             doc = EXCLUDED.doc, version = EXCLUDED.version, updated_at = now()
         WHERE order_views.version < EXCLUDED.version",
    )
    .bind(&order.tenant_id)
    .bind(&order.id)
    .bind(&order.number)
    .bind(&order.customer_id)
    .bind(&order.email)
    .bind(order.status.as_str())
    .bind(&order.currency)
    .bind(order.totals.total_minor)
    .bind(order.placed_at)
    .bind(Json(order))
    .bind(order.version)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// One order of the tenant; `customer_id` narrows it to that customer's own.
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: &str,
    order_id: &str,
    customer_id: Option<&str>,
) -> sqlx::Result<Option<Order>> {
    let row: Option<(Json<Order>,)> = sqlx::query_as(
        "SELECT doc FROM order_views
         WHERE tenant_id = $1 AND id = $2 AND ($3::text IS NULL OR customer_id = $3)",
    )
    .bind(tenant_id)
    .bind(order_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0.0))
}

/// Filters of a customer's order list.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Keyset position: (placed_at, id) of the last order of the previous page.
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: i64,
    /// Only this order (a guest token's scope).
    pub only_order: Option<String>,
}

/// A customer's orders, newest first, served by `order_views_by_customer`.
pub async fn list_for_customer(
    conn: &mut PgConnection,
    tenant_id: &str,
    customer_id: &str,
    f: &ListFilter,
) -> sqlx::Result<Vec<Order>> {
    let (after_at, after_id) = match &f.after {
        Some((at, id)) => (Some(*at), Some(id.as_str())),
        None => (None, None),
    };
    let rows: Vec<(Json<Order>,)> = sqlx::query_as(
        "SELECT doc FROM order_views
         WHERE tenant_id = $1 AND customer_id = $2
           AND ($3::text IS NULL OR status = $3)
           AND ($4::timestamptz IS NULL OR placed_at >= $4)
           AND ($5::timestamptz IS NULL OR placed_at < $5)
           AND ($6::timestamptz IS NULL OR (placed_at, id) < ($6, $7))
           AND ($9::text IS NULL OR id = $9)
         ORDER BY placed_at DESC, id DESC
         LIMIT $8",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(f.status.as_deref())
    .bind(f.from)
    .bind(f.to)
    .bind(after_at)
    .bind(after_id)
    .bind(f.limit)
    .bind(f.only_order.as_deref())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0.0).collect())
}

pub async fn count_for_tenant(conn: &mut PgConnection, tenant_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM order_views WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(conn)
        .await
}

/// Records an event once per `event_id`; returns false for a duplicate.
pub async fn insert_event(
    conn: &mut PgConnection,
    tenant_id: &str,
    order_id: &str,
    event_id: &str,
    event_type: &str,
    payload: &serde_json::Value,
    occurred_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "INSERT INTO order_events (tenant_id, order_id, event_id, type, payload, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, event_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(order_id)
    .bind(event_id)
    .bind(event_type)
    .bind(payload)
    .bind(occurred_at)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// The columns of an order a guest lookup needs, without its document.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderHead {
    pub id: String,
    pub number: String,
    pub customer_id: String,
    pub email: String,
    pub status: String,
    pub currency: String,
    pub total_minor: i64,
    pub placed_at: DateTime<Utc>,
}

/// One order of the tenant by its number (`order_views_by_number`), header columns only.
pub async fn head_by_number(
    conn: &mut PgConnection,
    tenant_id: &str,
    number: &str,
) -> sqlx::Result<Option<OrderHead>> {
    sqlx::query_as(
        "SELECT id, number, customer_id, email, status, currency, total_minor, placed_at
         FROM order_views WHERE tenant_id = $1 AND number = $2",
    )
    .bind(tenant_id)
    .bind(number)
    .fetch_optional(conn)
    .await
}
