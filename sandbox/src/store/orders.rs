//! `sandbox.orders` (the whole order document), `sandbox.payments` (payment → order) and
//! `sandbox.invoices`.

use chrono::Utc;
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::wire::{Order, OrderStatus};

/// An order read for a change: the document and the status a cancel or hold replaced.
pub struct LockedOrder {
    pub order: Order,
    pub prev_status: Option<OrderStatus>,
}

pub async fn get(conn: &mut PgConnection, tenant: &str, id: &str) -> sqlx::Result<Option<Order>> {
    let row: Option<(Json<Order>,)> =
        sqlx::query_as("SELECT doc FROM sandbox.orders WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(Json(o),)| o))
}

/// Reads the order and locks its row until the transaction ends, so changes to one order
/// are serialized.
pub async fn lock(
    conn: &mut PgConnection,
    tenant: &str,
    id: &str,
) -> sqlx::Result<Option<LockedOrder>> {
    let row: Option<(Json<Order>, Option<String>)> = sqlx::query_as(
        "SELECT doc, prev_status FROM sandbox.orders
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(Json(order), prev)| LockedOrder {
        order,
        prev_status: prev.as_deref().and_then(OrderStatus::parse),
    }))
}

/// Writes a changed order: `version` grows by one and `updated_at` becomes now, in the
/// document and in the row alike.
pub async fn save(
    conn: &mut PgConnection,
    order: &mut Order,
    prev_status: Option<OrderStatus>,
) -> sqlx::Result<()> {
    order.version += 1;
    order.updated_at = Utc::now();
    sqlx::query(
        "UPDATE sandbox.orders
         SET doc = $3, version = $4, prev_status = $5, updated_at = $6
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&order.tenant_id)
    .bind(&order.id)
    .bind(Json(&*order))
    .bind(order.version)
    .bind(prev_status.map(OrderStatus::as_str))
    .bind(order.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Newest first, optionally one customer's only.
pub async fn list(
    conn: &mut PgConnection,
    tenant: &str,
    customer_id: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Order>> {
    let rows: Vec<(Json<Order>,)> = sqlx::query_as(
        "SELECT doc FROM sandbox.orders
         WHERE tenant_id = $1 AND ($2::text IS NULL OR customer_id = $2)
         ORDER BY placed_at DESC, id
         LIMIT $3",
    )
    .bind(tenant)
    .bind(customer_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(Json(o),)| o).collect())
}

/// The id of the order that holds payment `payment_id`.
pub async fn order_of_payment(
    conn: &mut PgConnection,
    tenant: &str,
    payment_id: &str,
) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT order_id FROM sandbox.payments WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(payment_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(id,)| id))
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Invoice {
    pub id: String,
    pub order_id: String,
    pub total_minor: i64,
    pub currency: String,
}

pub async fn invoices(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: &str,
) -> sqlx::Result<Vec<Invoice>> {
    sqlx::query_as(
        "SELECT id, order_id, total_minor, currency FROM sandbox.invoices
         WHERE tenant_id = $1 AND order_id = $2 ORDER BY id",
    )
    .bind(tenant)
    .bind(order_id)
    .fetch_all(conn)
    .await
}

/// Sets the total of the order's invoice (`PUT /sandbox/invoices/{order_id}`): Billing
/// drifting from the order, for reconciliation to find. False when the order has none.
pub async fn set_invoice_total(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: &str,
    total_minor: i64,
) -> sqlx::Result<bool> {
    let res = sqlx::query(
        "UPDATE sandbox.invoices SET total_minor = $3 WHERE tenant_id = $1 AND order_id = $2",
    )
    .bind(tenant)
    .bind(order_id)
    .bind(total_minor)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Records that payment `payment_id` belongs to `order_id` (a charge made after the order).
pub async fn add_payment(
    conn: &mut PgConnection,
    tenant: &str,
    payment_id: &str,
    order_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sandbox.payments (tenant_id, id, order_id) VALUES ($1, $2, $3)")
        .bind(tenant)
        .bind(payment_id)
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets the total of the order's invoice and answers the total it replaced; `None` when the
/// order has no invoice. Locks the invoice row first.
pub async fn adjust_invoice(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: &str,
    total_minor: i64,
) -> sqlx::Result<Option<i64>> {
    let previous: Option<(i64,)> = sqlx::query_as(
        "SELECT total_minor FROM sandbox.invoices
         WHERE tenant_id = $1 AND order_id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((previous,)) = previous else {
        return Ok(None);
    };
    set_invoice_total(conn, tenant, order_id, total_minor).await?;
    Ok(Some(previous))
}
