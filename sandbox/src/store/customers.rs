//! A customer's orders, locked for erasure (`POST /orders/v1/customers/{id}/erase`).

use sqlx::PgConnection;
use sqlx::types::Json;

use super::orders::LockedOrder;
use crate::wire::{Order, OrderStatus};

/// Every order of the customer, locked until the transaction ends, oldest first.
pub async fn lock_orders(
    conn: &mut PgConnection,
    tenant: &str,
    customer_id: &str,
) -> sqlx::Result<Vec<LockedOrder>> {
    let rows: Vec<(Json<Order>, Option<String>)> = sqlx::query_as(
        "SELECT doc, prev_status FROM sandbox.orders
         WHERE tenant_id = $1 AND customer_id = $2
         ORDER BY placed_at, id FOR UPDATE",
    )
    .bind(tenant)
    .bind(customer_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(Json(order), prev)| LockedOrder {
            order,
            prev_status: prev.as_deref().and_then(OrderStatus::parse),
        })
        .collect())
}
