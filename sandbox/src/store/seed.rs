//! Loading canonical orders into the sandbox (`orderdesk seed`, tests).

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use crate::wire::Order;

/// Stock a SKU starts with when seeding first makes it known.
pub const INITIAL_STOCK: i64 = 100;

pub async fn seed_orders(pool: &PgPool, orders: &[Order]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for order in orders {
        upsert_order(&mut tx, order).await?;
        for line in &order.lines {
            ensure_stock(&mut tx, &order.tenant_id, &line.sku).await?;
            let (t, c, price) = (&order.tenant_id, &order.currency, line.unit_price_minor);
            super::commerce::ensure_catalog_item(&mut tx, t, &line.sku, c, &line.name, price)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn upsert_order(conn: &mut PgConnection, order: &Order) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.orders (tenant_id, id, customer_id, placed_at, doc, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, id) DO UPDATE SET
            customer_id = excluded.customer_id, placed_at = excluded.placed_at,
            doc = excluded.doc, version = excluded.version, prev_status = NULL,
            updated_at = excluded.updated_at",
    )
    .bind(&order.tenant_id)
    .bind(&order.id)
    .bind(&order.customer_id)
    .bind(order.placed_at)
    .bind(Json(order))
    .bind(order.version)
    .bind(order.updated_at)
    .execute(&mut *conn)
    .await?;
    for payment in &order.payments {
        sqlx::query(
            "INSERT INTO sandbox.payments (tenant_id, id, order_id) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, id) DO UPDATE SET order_id = excluded.order_id",
        )
        .bind(&order.tenant_id)
        .bind(&payment.id)
        .bind(&order.id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO sandbox.invoices (tenant_id, order_id, id, total_minor, currency)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, order_id) DO UPDATE SET
            total_minor = excluded.total_minor, currency = excluded.currency",
    )
    .bind(&order.tenant_id)
    .bind(&order.id)
    .bind(crate::new_id("inv"))
    .bind(order.totals.total_minor)
    .bind(&order.currency)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Makes a SKU known with [`INITIAL_STOCK`]; a SKU already known keeps its stock.
async fn ensure_stock(conn: &mut PgConnection, tenant: &str, sku: &str) -> sqlx::Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO sandbox.stock (tenant_id, sku, on_hand) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, sku) DO NOTHING",
    )
    .bind(tenant)
    .bind(sku)
    .bind(INITIAL_STOCK)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        super::stock::record_movement(conn, tenant, sku, INITIAL_STOCK, "seed", None, None).await?;
    }
    Ok(())
}
