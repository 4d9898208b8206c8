//! `sandbox.warehouses`, `sandbox.warehouse_stock` (on hand per warehouse and SKU) and
//! `sandbox.fulfillments` (the whole fulfilment document in `doc`).

use sqlx::PgConnection;
use sqlx::types::Json;

use crate::wire::Fulfillment;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sandbox.warehouse_stock (
    tenant_id  text NOT NULL,
    warehouse  text NOT NULL,
    sku        text NOT NULL,
    on_hand    bigint NOT NULL CHECK (on_hand >= 0),
    PRIMARY KEY (tenant_id, warehouse, sku)
);

CREATE TABLE IF NOT EXISTS sandbox.fulfillments (
    tenant_id   text NOT NULL,
    id          text NOT NULL,
    order_id    text NOT NULL,
    doc         jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS fulfillments_by_order
    ON sandbox.fulfillments (tenant_id, order_id, created_at);
"#;

/// Every tenant's warehouses, with the stock each holds of a SKU it has not seen yet:
/// `wh_east` and `wh_west` stock everything, `wh_north` nothing (a split there lacks stock).
pub const WAREHOUSES: [(&str, &str, i64); 3] = [
    ("wh_east", "East coast DC", 100),
    ("wh_west", "West coast DC", 100),
    ("wh_north", "North overflow", 0),
];

/// Creates the tables if missing; called by `store::migrate` inside its locked transaction.
pub async fn migrate(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::raw_sql(SCHEMA).execute(conn).await?;
    Ok(())
}

/// The seeded stock of `sku` at `warehouse` (`None`: no such warehouse).
pub fn initial_stock(warehouse: &str) -> Option<i64> {
    WAREHOUSES
        .iter()
        .find(|(code, _, _)| *code == warehouse)
        .map(|(_, _, n)| *n)
}

/// On hand of `sku` at `warehouse`, seeding it on first sight.
pub async fn on_hand(
    conn: &mut PgConnection,
    tenant: &str,
    warehouse: &str,
    sku: &str,
) -> sqlx::Result<i64> {
    let seed = initial_stock(warehouse).unwrap_or(0);
    sqlx::query(
        "INSERT INTO sandbox.warehouse_stock (tenant_id, warehouse, sku, on_hand)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(warehouse)
    .bind(sku)
    .bind(seed)
    .execute(&mut *conn)
    .await?;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT on_hand FROM sandbox.warehouse_stock
         WHERE tenant_id = $1 AND warehouse = $2 AND sku = $3 FOR UPDATE",
    )
    .bind(tenant)
    .bind(warehouse)
    .bind(sku)
    .fetch_one(conn)
    .await?;
    Ok(n)
}

/// Adds `delta` to the stock of `sku` at `warehouse` (seeded first); false (nothing changed)
/// when that would take it below zero.
pub async fn adjust(
    conn: &mut PgConnection,
    tenant: &str,
    warehouse: &str,
    sku: &str,
    delta: i64,
) -> sqlx::Result<bool> {
    if on_hand(conn, tenant, warehouse, sku).await? + delta < 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE sandbox.warehouse_stock SET on_hand = on_hand + $4
         WHERE tenant_id = $1 AND warehouse = $2 AND sku = $3",
    )
    .bind(tenant)
    .bind(warehouse)
    .bind(sku)
    .bind(delta)
    .execute(conn)
    .await?;
    Ok(true)
}

/// The stock rows of the tenant seen so far, by warehouse then SKU.
pub async fn stock(
    conn: &mut PgConnection,
    tenant: &str,
) -> sqlx::Result<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT warehouse, sku, on_hand FROM sandbox.warehouse_stock
         WHERE tenant_id = $1 ORDER BY warehouse, sku",
    )
    .bind(tenant)
    .fetch_all(conn)
    .await
}

pub async fn insert(conn: &mut PgConnection, tenant: &str, f: &Fulfillment) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.fulfillments (tenant_id, id, order_id, doc, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant)
    .bind(&f.id)
    .bind(&f.order_id)
    .bind(Json(f))
    .bind(f.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The fulfilment, locked for update when `lock`.
pub async fn get(
    conn: &mut PgConnection,
    tenant: &str,
    id: &str,
    lock: bool,
) -> sqlx::Result<Option<Fulfillment>> {
    let sql = if lock {
        "SELECT doc FROM sandbox.fulfillments WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
    } else {
        "SELECT doc FROM sandbox.fulfillments WHERE tenant_id = $1 AND id = $2"
    };
    let row: Option<(Json<Fulfillment>,)> = sqlx::query_as(sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(Json(f),)| f))
}

pub async fn save(conn: &mut PgConnection, tenant: &str, f: &Fulfillment) -> sqlx::Result<()> {
    sqlx::query("UPDATE sandbox.fulfillments SET doc = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(&f.id)
        .bind(Json(f))
        .execute(conn)
        .await?;
    Ok(())
}

/// The order's fulfilments, oldest first.
pub async fn list_for_order(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: &str,
) -> sqlx::Result<Vec<Fulfillment>> {
    let rows: Vec<(Json<Fulfillment>,)> = sqlx::query_as(
        "SELECT doc FROM sandbox.fulfillments WHERE tenant_id = $1 AND order_id = $2
         ORDER BY created_at, id",
    )
    .bind(tenant)
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(Json(f),)| f).collect())
}
