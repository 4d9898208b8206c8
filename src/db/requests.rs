//! Customers' and agents' asks (cancel, and later return, exchange…) and their review state.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ids::{CustomerId, OrderId, RequestId, RunId, TenantId};

use crate::domain::request::RequestStatus;

#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: RequestId,
    pub tenant_id: TenantId,
    pub kind: String,
    /// The order it concerns; for an erasure, the customer (see `db::gdpr::REQUEST_KIND`).
    pub order_id: String,
    pub customer_id: CustomerId,
    pub status: RequestStatus,
    pub input: serde_json::Value,
    pub run_id: Option<RunId>,
    pub decided_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewRequest<'a> {
    pub tenant_id: &'a TenantId,
    pub kind: &'a str,
    /// The order it concerns; for an erasure, the customer.
    pub order_id: &'a str,
    pub customer_id: &'a CustomerId,
    pub status: RequestStatus,
    pub input: &'a serde_json::Value,
    pub run_id: Option<RunId>,
    pub decided_by: Option<&'a str>,
    pub event: OpenedEvent<'a>,
}

/// The domain event that opening a request records, written by the same statement.
pub struct OpenedEvent<'a> {
    /// `customer.cancel_requested`, `admin.cancelled`, …
    pub type_: &'a str,
    /// Who asked, as the event's `by` names them.
    pub by: &'a str,
    /// The order the event is filed under; `None` for an erasure, which concerns a customer.
    pub order_id: Option<&'a str>,
}

/// Inserts a request and records its [`OpenedEvent`]; `None` (and no event) when an open
/// request of the same kind exists for the order.
pub async fn insert(
    conn: &mut PgConnection,
    r: &NewRequest<'_>,
) -> sqlx::Result<Option<RequestRow>> {
    // the event's data: the keys and values both callers built in Rust before (webhook
    // subscribers read them), now from the inserted row
    sqlx::query_as!(
        RequestRow,
        r#"WITH opened AS (
             INSERT INTO requests (id, tenant_id, kind, order_id, customer_id, status, input, run_id, decided_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (tenant_id, order_id, kind) WHERE status IN ('pending_review','approved','queued','running')
             DO NOTHING
             RETURNING *),
           event AS (
             INSERT INTO outbox (kind, tenant_id, order_id, payload)
             SELECT 'event', $2, $12, orderdesk_event_envelope($2, $10, jsonb_build_object(
                      'order_id', o.order_id, 'customer_id', o.customer_id, 'request_id', o.id,
                      'kind', o.kind, 'status', o.status, 'by', $11::text))
             FROM opened o)
         SELECT id AS "id!", tenant_id AS "tenant_id!", kind AS "kind!", order_id AS "order_id!",
                customer_id AS "customer_id!", status AS "status!: RequestStatus", input AS "input!", run_id AS "run_id: RunId", decided_by, created_at AS "created_at!",
                updated_at AS "updated_at!"
         FROM opened"#,
        Uuid::now_v7(),
        r.tenant_id.as_str(),
        r.kind,
        r.order_id,
        r.customer_id.as_str(),
        r.status as RequestStatus,
        r.input,
        r.run_id.map(|id| id.as_uuid()),
        r.decided_by,
        r.event.type_,
        r.event.by,
        r.event.order_id,
    )
    .fetch_optional(conn)
    .await
}

/// A request of the tenant; `customer_id` narrows it to that customer's own.
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: RequestId,
    customer_id: Option<&CustomerId>,
) -> sqlx::Result<Option<RequestRow>> {
    sqlx::query_as!(
        RequestRow,
        r#"SELECT id, tenant_id, kind, order_id, customer_id, status AS "status: RequestStatus",
                  input, run_id AS "run_id: RunId", decided_by, created_at, updated_at
         FROM requests
         WHERE id = $2 AND (tenant_id = $1) IS TRUE AND ($3::text IS NULL OR customer_id = $3)"#,
        tenant_id.as_str(),
        id.as_uuid(),
        customer_id.map(|id| id.as_str()),
    )
    .fetch_optional(conn)
    .await
}

/// The open request of `kind` for an order, locked for the decision being made.
pub async fn open_for_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    kind: &str,
) -> sqlx::Result<Option<RequestRow>> {
    sqlx::query_as!(
        RequestRow,
        r#"SELECT id, tenant_id, kind, order_id, customer_id, status AS "status: RequestStatus",
                  input, run_id AS "run_id: RunId", decided_by, created_at, updated_at
         FROM requests
         WHERE tenant_id = $1 AND order_id = $2 AND kind = $3
           AND status IN ('pending_review','approved','queued','running')
         FOR UPDATE"#,
        tenant_id.as_str(),
        order_id.as_str(),
        kind,
    )
    .fetch_optional(conn)
    .await
}

/// Whether a request of `kind` for the order is in progress, so that another cannot open:
/// approved, or queued or running with a run that has not ended. (One whose run ended is
/// closed by [`close_if_run_finished`] when the next opens; one waiting for review is
/// taken over.) Reads only: a dry run's judgement.
pub async fn in_progress(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    kind: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
             SELECT 1 FROM requests r LEFT JOIN runs ON runs.id = r.run_id
             WHERE r.tenant_id = $1 AND r.order_id = $2 AND r.kind = $3
               AND (r.status = 'approved'
                    OR (r.status IN ('queued','running')
                        AND (runs.id IS NULL OR runs.status IN ('queued','running'))))
           ) AS "in_progress!""#,
        tenant_id.as_str(),
        order_id.as_str(),
        kind,
    )
    .fetch_one(conn)
    .await
}

/// Moves a request on (e.g. `pending_review` → `queued` with its run).
pub async fn set_status(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: RequestId,
    status: RequestStatus,
    run_id: Option<RunId>,
    decided_by: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE requests SET status = $3, run_id = COALESCE($4, run_id),
                decided_by = COALESCE($5, decided_by), updated_at = now()
         WHERE id = $2 AND (tenant_id = $1) IS TRUE",
        tenant_id.as_str(),
        id.as_uuid(),
        status as RequestStatus,
        run_id.map(|id| id.as_uuid()),
        decided_by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes the open request of `kind` for an order whose run has already ended (the request
/// takes the run's status). The engine closes requests when their run ends; this mends
/// rows written before it did, so an old open request never blocks the next. True when one
/// was closed.
pub async fn close_if_run_finished(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &str,
    kind: &str,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "UPDATE requests r SET status = runs.status, updated_at = now()
         FROM runs
         WHERE r.run_id = runs.id AND r.tenant_id = $1 AND r.order_id = $2 AND r.kind = $3
           AND r.status IN ('queued','running') AND runs.status NOT IN ('queued','running')",
        tenant_id.as_str(),
        order_id,
        kind,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}
