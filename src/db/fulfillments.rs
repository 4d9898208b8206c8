//! `fulfillments` (orderdesk's copy of the fulfilments the Fulfillment service confirmed)
//! and `shipment_labels` (the label versions of their shipments).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::fulfillments::{Fulfillment, FulfillmentLine};
use crate::domain::ids::{CustomerId, FulfillmentId, OrderId, TenantId};

/// One fulfilment as orderdesk last heard it confirmed.
#[derive(Debug, Clone)]
pub struct FulfillmentRow {
    pub tenant_id: TenantId,
    pub id: FulfillmentId,
    pub order_id: OrderId,
    pub warehouse: String,
    /// `open`, `shipped` or `cancelled` (`FulfillmentStatus`).
    pub status: String,
    pub lines: Json<Vec<FulfillmentLine>>,
    pub ship_after: Option<DateTime<Utc>>,
    pub shipment_id: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Carrier and tracking number of a shipped fulfilment.
pub struct Shipped<'a> {
    pub carrier: &'a str,
    pub tracking_number: &'a str,
}

/// Stores what the Fulfillment service answered about `f` (inserted the first time,
/// overwritten after); `shipped` once it shipped.
pub async fn record(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    f: &Fulfillment,
    shipped: Option<Shipped<'_>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO fulfillments (tenant_id, id, order_id, warehouse, status, lines, ship_after,
                                   shipment_id, carrier, tracking_number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, id) DO UPDATE SET
             status = EXCLUDED.status, ship_after = EXCLUDED.ship_after,
             shipment_id = COALESCE(EXCLUDED.shipment_id, fulfillments.shipment_id),
             carrier = COALESCE(EXCLUDED.carrier, fulfillments.carrier),
             tracking_number = COALESCE(EXCLUDED.tracking_number, fulfillments.tracking_number),
             updated_at = now()",
        tenant_id.as_str(),
        f.id.as_str(),
        f.order_id.as_str(),
        f.warehouse,
        f.status.as_str(),
        Json(&f.lines) as Json<&Vec<FulfillmentLine>>,
        f.ship_after,
        f.shipment_id.as_ref().map(|s| s.as_str()),
        shipped.as_ref().map(|s| s.carrier),
        shipped.as_ref().map(|s| s.tracking_number),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant's fulfilment; `lock` takes its row lock (an intake judging a change).
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: &str,
    lock: bool,
) -> sqlx::Result<Option<FulfillmentRow>> {
    if lock {
        sqlx::query_as!(
            FulfillmentRow,
            r#"SELECT tenant_id, id, order_id, warehouse, status,
                      lines AS "lines: Json<Vec<FulfillmentLine>>", ship_after, shipment_id,
                      carrier, tracking_number, created_at, updated_at
               FROM fulfillments WHERE tenant_id = $1 AND id = $2 FOR UPDATE"#,
            tenant_id.as_str(),
            id,
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            FulfillmentRow,
            r#"SELECT tenant_id, id, order_id, warehouse, status,
                      lines AS "lines: Json<Vec<FulfillmentLine>>", ship_after, shipment_id,
                      carrier, tracking_number, created_at, updated_at
               FROM fulfillments WHERE tenant_id = $1 AND id = $2"#,
            tenant_id.as_str(),
            id,
        )
        .fetch_optional(conn)
        .await
    }
}

/// The tenant's fulfilment that shipped as `shipment_id`.
pub async fn by_shipment(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    shipment_id: &str,
) -> sqlx::Result<Option<FulfillmentRow>> {
    sqlx::query_as!(
        FulfillmentRow,
        r#"SELECT tenant_id, id, order_id, warehouse, status,
                  lines AS "lines: Json<Vec<FulfillmentLine>>", ship_after, shipment_id,
                  carrier, tracking_number, created_at, updated_at
           FROM fulfillments WHERE tenant_id = $1 AND shipment_id = $2"#,
        tenant_id.as_str(),
        shipment_id,
    )
    .fetch_optional(conn)
    .await
}

/// The lines holding units of the order: those of its `open` fulfilments, and those of the
/// fulfilments accepted whose `create_fulfillment` job has not ended (not recorded yet), so
/// two fulfilments accepted one after the other never both take the last unit.
pub async fn open_lines(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<Vec<FulfillmentLine>> {
    let rows = sqlx::query_scalar!(
        r#"SELECT lines AS "lines!: Json<Vec<FulfillmentLine>>" FROM fulfillments
           WHERE tenant_id = $1 AND order_id = $2 AND status = 'open'
           UNION ALL
           SELECT r.input -> 'lines' FROM runs r
           WHERE r.tenant_id = $1 AND r.subject_id = $2 AND r.kind = 'create_fulfillment'
             AND r.status IN ('queued', 'running')
             AND NOT EXISTS (SELECT 1 FROM fulfillments f
                             WHERE f.tenant_id = $1 AND f.id = r.input ->> 'fulfillment_id')"#,
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().flat_map(|Json(lines)| lines).collect())
}

/// One version of a shipment's label.
#[derive(Debug, Clone)]
pub struct LabelRow {
    pub version: i32,
    /// `uploaded` or `rendered`.
    pub source: String,
    pub pdf: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// The newest label of the fulfilment's shipment.
pub async fn latest_label(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    fulfillment_id: &FulfillmentId,
) -> sqlx::Result<Option<LabelRow>> {
    sqlx::query_as!(
        LabelRow,
        "SELECT version, source, pdf, created_at FROM shipment_labels
         WHERE tenant_id = $1 AND fulfillment_id = $2 ORDER BY version DESC LIMIT 1",
        tenant_id.as_str(),
        fulfillment_id.as_str(),
    )
    .fetch_optional(conn)
    .await
}

/// Adds the next label version (the fulfilment's row lock, taken by the caller, serializes
/// versions); returns it.
pub async fn add_label(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    fulfillment_id: &FulfillmentId,
    source: &str,
    pdf: &[u8],
    created_by: &str,
) -> sqlx::Result<LabelRow> {
    sqlx::query_as!(
        LabelRow,
        "INSERT INTO shipment_labels (tenant_id, fulfillment_id, version, source, pdf, created_by)
         SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5 FROM shipment_labels
         WHERE tenant_id = $1 AND fulfillment_id = $2
         RETURNING version, source, pdf, created_at",
        tenant_id.as_str(),
        fulfillment_id.as_str(),
        source,
        pdf,
        created_by,
    )
    .fetch_one(conn)
    .await
}

/// GDPR erasure: the labels of the customer's orders (they print name and address).
pub async fn redact_of_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
) -> sqlx::Result<u64> {
    let res = sqlx::query!(
        "DELETE FROM shipment_labels WHERE tenant_id = $1 AND fulfillment_id IN (
             SELECT f.id FROM fulfillments f JOIN order_views o
                 ON o.tenant_id = f.tenant_id AND o.id = f.order_id
             WHERE f.tenant_id = $1 AND o.customer_id = $2)",
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}

/// Whether a ship, cancel or reschedule job of the fulfilment has not ended (the intake of
/// another change answers 409 meanwhile).
pub async fn change_running(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    fulfillment_id: &FulfillmentId,
) -> sqlx::Result<bool> {
    let running = sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM runs
               WHERE tenant_id = $1 AND subject_id = $2
                 AND kind IN ('ship_fulfillment', 'cancel_fulfillment', 'reschedule_fulfillment')
                 AND status IN ('queued', 'running') AND input ->> 'fulfillment_id' = $3
           ) AS "running!""#,
        tenant_id.as_str(),
        order_id.as_str(),
        fulfillment_id.as_str(),
    )
    .fetch_one(conn)
    .await?;
    Ok(running)
}
