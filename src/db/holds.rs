//! Holds on orders: the agents' holds (`order_holds`, at most one open per order) and legal
//! holds that name an order (`legal_holds.order_id`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::{CustomerId, OrderId, RunId, TenantId};

/// An agent's hold on an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldRow {
    pub id: Uuid,
    pub reason: String,
    /// The agent who placed it.
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    /// When the expiry releases it; `None`: until an agent does.
    pub expires_at: Option<DateTime<Utc>>,
    /// The run releasing it, once one was started.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub release_run_id: Option<RunId>,
    /// The agent who released it, or `system:hold-expiry`.
    pub released_by: Option<String>,
    pub resolution: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
}

/// A legal hold on one order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderLegalHold {
    pub id: Uuid,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    pub released_by: Option<String>,
    pub release_reason: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
}

/// The open hold and the legal hold in force on an order, read in the transaction that
/// decides on an action (under its lock: see [`lock_order`]).
#[derive(Debug, Default)]
pub struct OrderHolds {
    pub open: Option<HoldRow>,
    pub legal: Option<OrderLegalHold>,
}

/// Serialises decisions on one order's holds: two agents placing, releasing or legally
/// holding the same order at once decide one after the other.
pub async fn lock_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<()> {
    let key = format!("order-holds:{}:{}", tenant_id.as_str(), order_id.as_str());
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn of_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<OrderHolds> {
    let open = sqlx::query_as!(
        HoldRow,
        r#"SELECT id, reason, placed_by, placed_at, expires_at,
                  release_run_id AS "release_run_id: RunId", released_by, resolution, released_at
           FROM order_holds
           WHERE tenant_id = $1 AND order_id = $2 AND released_at IS NULL"#,
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    let legal = sqlx::query_as!(
        OrderLegalHold,
        "SELECT id, reason, placed_by, placed_at, released_by, release_reason, released_at
         FROM legal_holds
         WHERE tenant_id = $1 AND order_id = $2 AND released_at IS NULL
           AND (until IS NULL OR until > now())",
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(OrderHolds { open, legal })
}

/// The order's holds, newest first (at most 50: the view shows the recent ones).
pub async fn history(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<Vec<HoldRow>> {
    sqlx::query_as!(
        HoldRow,
        r#"SELECT id, reason, placed_by, placed_at, expires_at,
                  release_run_id AS "release_run_id: RunId", released_by, resolution, released_at
           FROM order_holds WHERE tenant_id = $1 AND order_id = $2
           ORDER BY placed_at DESC LIMIT 50"#,
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_all(conn)
    .await
}

pub struct NewHold<'a> {
    pub tenant_id: &'a TenantId,
    pub id: Uuid,
    pub order_id: &'a OrderId,
    pub reason: &'a str,
    pub placed_by: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub place_run_id: RunId,
}

/// Inserts the hold; `None` when another is open on the order.
pub async fn insert(conn: &mut PgConnection, h: &NewHold<'_>) -> sqlx::Result<Option<HoldRow>> {
    sqlx::query_as!(
        HoldRow,
        r#"INSERT INTO order_holds
               (tenant_id, id, order_id, reason, placed_by, expires_at, place_run_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant_id, order_id) WHERE released_at IS NULL DO NOTHING
           RETURNING id, reason, placed_by, placed_at, expires_at,
                     release_run_id AS "release_run_id: RunId", released_by, resolution,
                     released_at"#,
        h.tenant_id.as_str(),
        h.id,
        h.order_id.as_str(),
        h.reason,
        h.placed_by,
        h.expires_at,
        h.place_run_id.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

/// Gives the open hold `hold_id` its releasing run; false when another release has it.
pub async fn claim_release(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    hold_id: Uuid,
    run_id: RunId,
) -> sqlx::Result<bool> {
    let res = sqlx::query!(
        "UPDATE order_holds SET release_run_id = $3
         WHERE tenant_id = $1 AND id = $2 AND released_at IS NULL AND release_run_id IS NULL",
        tenant_id.as_str(),
        hold_id,
        run_id.as_uuid(),
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Closes the hold (once: a retried step changes nothing more).
pub async fn mark_released(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    hold_id: Uuid,
    released_by: &str,
    resolution: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE order_holds SET released_at = now(), released_by = $3, resolution = $4
         WHERE tenant_id = $1 AND id = $2 AND released_at IS NULL",
        tenant_id.as_str(),
        hold_id,
        released_by,
        resolution,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A release that failed for good gives the hold back, so it can be released again.
pub async fn abandon_release(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    hold_id: Uuid,
    run_id: RunId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE order_holds SET release_run_id = NULL
         WHERE tenant_id = $1 AND id = $2 AND release_run_id = $3 AND released_at IS NULL",
        tenant_id.as_str(),
        hold_id,
        run_id.as_uuid(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An open hold past its expiry that no release has claimed yet.
#[derive(Debug, Clone)]
pub struct ExpiredHold {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub order_id: OrderId,
}

/// Up to `limit` expired holds, locked for the caller's transaction (another scheduler
/// skips them).
pub async fn expired(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<ExpiredHold>> {
    sqlx::query_as!(
        ExpiredHold,
        r#"SELECT tenant_id AS "tenant_id: TenantId", id, order_id AS "order_id: OrderId"
           FROM order_holds
           WHERE released_at IS NULL AND release_run_id IS NULL AND expires_at <= now()
           ORDER BY expires_at LIMIT $1
           FOR UPDATE SKIP LOCKED"#,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Places a legal hold on one order (and so on its customer's data); `None` when one is in
/// force on the order already.
pub async fn place_legal(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    customer_id: &CustomerId,
    reason: &str,
    placed_by: &str,
) -> sqlx::Result<Option<OrderLegalHold>> {
    sqlx::query_as!(
        OrderLegalHold,
        "INSERT INTO legal_holds (tenant_id, id, customer_id, order_id, reason, placed_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, order_id) WHERE order_id IS NOT NULL AND released_at IS NULL
         DO NOTHING
         RETURNING id, reason, placed_by, placed_at, released_by, release_reason, released_at",
        tenant_id.as_str(),
        Uuid::now_v7(),
        customer_id.as_str(),
        order_id.as_str(),
        reason,
        placed_by,
    )
    .fetch_optional(conn)
    .await
}

/// Removes the order's legal hold; `None` when none was in force.
pub async fn remove_legal(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    released_by: &str,
    reason: &str,
) -> sqlx::Result<Option<OrderLegalHold>> {
    sqlx::query_as!(
        OrderLegalHold,
        "UPDATE legal_holds SET released_at = now(), released_by = $3, release_reason = $4
         WHERE tenant_id = $1 AND order_id = $2 AND released_at IS NULL
         RETURNING id, reason, placed_by, placed_at, released_by, release_reason, released_at",
        tenant_id.as_str(),
        order_id.as_str(),
        released_by,
        reason,
    )
    .fetch_optional(conn)
    .await
}
