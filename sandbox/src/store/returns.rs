//! `sandbox.returns`: the RMAs of the Returns API (the whole RMA document in `doc`).

use sqlx::PgConnection;
use sqlx::types::Json;

use crate::wire::Rma;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sandbox.returns (
    tenant_id   text NOT NULL,
    id          text NOT NULL,
    order_id    text NOT NULL,
    doc         jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS returns_by_order ON sandbox.returns (tenant_id, order_id, created_at);
"#;

/// Creates the table if missing; called by `store::migrate` inside its locked transaction.
pub async fn migrate(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::raw_sql(SCHEMA).execute(conn).await?;
    Ok(())
}

pub async fn insert(conn: &mut PgConnection, tenant: &str, rma: &Rma) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.returns (tenant_id, id, order_id, doc, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant)
    .bind(&rma.id)
    .bind(&rma.order_id)
    .bind(Json(rma))
    .bind(rma.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut PgConnection, tenant: &str, id: &str) -> sqlx::Result<Option<Rma>> {
    let row: Option<(Json<Rma>,)> =
        sqlx::query_as("SELECT doc FROM sandbox.returns WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(Json(r),)| r))
}

/// The order's RMAs, oldest first.
pub async fn list_for_order(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: &str,
) -> sqlx::Result<Vec<Rma>> {
    let rows: Vec<(Json<Rma>,)> = sqlx::query_as(
        "SELECT doc FROM sandbox.returns WHERE tenant_id = $1 AND order_id = $2
         ORDER BY created_at, id",
    )
    .bind(tenant)
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(Json(r),)| r).collect())
}

/// An RMA by id in any tenant: label links are opened without `X-Tenant-ID`.
pub async fn by_label_id(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Rma>> {
    let row: Option<(Json<Rma>,)> =
        sqlx::query_as("SELECT doc FROM sandbox.returns WHERE id = $1 LIMIT 1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(Json(r),)| r))
}

/// The RMA, locked until the transaction ends, so two changes of one RMA apply in turn.
pub async fn lock(conn: &mut PgConnection, tenant: &str, id: &str) -> sqlx::Result<Option<Rma>> {
    let row: Option<(Json<Rma>,)> = sqlx::query_as(
        "SELECT doc FROM sandbox.returns WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(Json(r),)| r))
}

/// Writes the RMA's document back.
pub async fn save(conn: &mut PgConnection, tenant: &str, rma: &Rma) -> sqlx::Result<()> {
    sqlx::query("UPDATE sandbox.returns SET doc = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(&rma.id)
        .bind(Json(rma))
        .execute(conn)
        .await?;
    Ok(())
}
