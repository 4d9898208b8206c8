//! `returns`: the returns and exchanges customers asked for, one row per RMA.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::ids::{CustomerId, OrderId, RequestId, TenantId};
use crate::domain::return_refund::MONEY_STEPS;
use crate::domain::return_review::{ProposedSettlement, RmaInspection};
use crate::domain::returns::RmaLine;

/// One RMA as orderdesk knows it.
#[derive(Debug, Clone)]
pub struct ReturnRow {
    pub tenant_id: TenantId,
    pub rma_id: String,
    pub kind: String,
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub request_id: RequestId,
    pub lines: Json<Vec<StoredLine>>,
    pub method: String,
    pub preferred_refund: Option<String>,
    pub status: String,
    pub instructions: String,
    pub label_url: Option<String>,
    pub refund_status: String,
    pub expected_refund_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `label` or `pickup`, once approved.
    pub approval_method: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// The latest inspection the Returns API recorded.
    pub inspection: Option<Json<RmaInspection>>,
    pub inspected_at: Option<DateTime<Utc>>,
    /// What the latest inspection proposes to give back.
    pub proposed_settlement: Option<Json<ProposedSettlement>>,
    /// `card` or `store_credit`, once the refund or credit was issued.
    pub refund_method: Option<String>,
    pub refund_amount_minor: Option<i64>,
    /// The refund's id at Payments or the store credit's at Billing.
    pub refund_reference: Option<String>,
    pub refund_issued_at: Option<DateTime<Utc>>,
}

/// A line of a stored RMA: the upstream's line plus what the customer sees of the order
/// line (SKU, name) and their comment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredLine {
    #[serde(flatten)]
    pub line: RmaLine,
    pub sku: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

pub struct NewReturn<'a> {
    pub tenant_id: &'a TenantId,
    pub rma_id: &'a str,
    pub kind: &'a str,
    pub order_id: &'a OrderId,
    pub customer_id: &'a CustomerId,
    pub request_id: RequestId,
    pub lines: &'a [StoredLine],
    pub method: &'a str,
    pub preferred_refund: Option<&'a str>,
    pub instructions: &'a str,
    pub refund_status: &'a str,
    pub expected_refund_minor: i64,
    pub currency: &'a str,
}

pub async fn insert(conn: &mut PgConnection, r: &NewReturn<'_>) -> sqlx::Result<ReturnRow> {
    sqlx::query_as!(
        ReturnRow,
        r#"INSERT INTO returns (tenant_id, rma_id, kind, order_id, customer_id, request_id, lines,
                              method, preferred_refund, instructions, refund_status,
                              expected_refund_minor, currency)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING tenant_id, rma_id, kind, order_id, customer_id, request_id,
                   lines AS "lines: Json<Vec<StoredLine>>", method, preferred_refund, status,
                   instructions, label_url, refund_status, expected_refund_minor, currency,
                   created_at, updated_at, approval_method, approved_at,
                   inspection AS "inspection: Json<RmaInspection>", inspected_at,
                   proposed_settlement AS "proposed_settlement: Json<ProposedSettlement>",
                   refund_method, refund_amount_minor, refund_reference, refund_issued_at"#,
        r.tenant_id.as_str(),
        r.rma_id,
        r.kind,
        r.order_id.as_str(),
        r.customer_id.as_str(),
        r.request_id.as_uuid(),
        Json(r.lines) as Json<&[StoredLine]>,
        r.method,
        r.preferred_refund,
        r.instructions,
        r.refund_status,
        r.expected_refund_minor,
        r.currency,
    )
    .fetch_one(conn)
    .await
}

/// An RMA of the tenant; `customer_id` narrows it to that customer's own.
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
    customer_id: Option<&CustomerId>,
) -> sqlx::Result<Option<ReturnRow>> {
    sqlx::query_as!(
        ReturnRow,
        r#"SELECT tenant_id, rma_id, kind, order_id, customer_id, request_id,
                   lines AS "lines: Json<Vec<StoredLine>>", method, preferred_refund, status,
                   instructions, label_url, refund_status, expected_refund_minor, currency,
                   created_at, updated_at, approval_method, approved_at,
                   inspection AS "inspection: Json<RmaInspection>", inspected_at,
                   proposed_settlement AS "proposed_settlement: Json<ProposedSettlement>",
                   refund_method, refund_amount_minor, refund_reference, refund_issued_at
         FROM returns
         WHERE tenant_id = $1 AND rma_id = $2 AND ($3::text IS NULL OR customer_id = $3)"#,
        tenant_id.as_str(),
        rma_id,
        customer_id.map(|id| id.as_str()),
    )
    .fetch_optional(conn)
    .await
}

/// Serializes returns and exchanges of one order until the transaction ends, so two
/// requests cannot both count the same returnable unit.
pub async fn lock_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('returns/' || $1::text || '/' || $2::text, 0))",
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The order's RMAs that hold units (every status but `failed`): (rma id, lines).
pub async fn holding_units(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<Vec<(String, Vec<RmaLine>)>> {
    let rows = sqlx::query!(
        r#"SELECT rma_id, lines AS "lines: Json<Vec<StoredLine>>" FROM returns
         WHERE tenant_id = $1 AND order_id = $2 AND status <> 'failed'"#,
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.rma_id, r.lines.0.into_iter().map(|l| l.line).collect()))
        .collect())
}

/// Records what the Returns API answered for the RMA: its status, label and instructions.
pub async fn record_upstream(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
    status: &str,
    label_url: Option<&str>,
    instructions: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE returns SET status = $3, label_url = $4, instructions = $5, updated_at = now()
         WHERE tenant_id = $1 AND rma_id = $2",
        tenant_id.as_str(),
        rma_id,
        status,
        label_url,
        instructions,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks an RMA that was never created upstream as `failed` (its units are free again).
pub async fn mark_failed(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE returns SET status = 'failed', refund_status = 'not_applicable', updated_at = now()
         WHERE tenant_id = $1 AND rma_id = $2",
        tenant_id.as_str(),
        rma_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An RMA of the tenant, locked until the transaction ends, so two agents' approvals or
/// inspections of it are judged in turn.
pub async fn lock(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
) -> sqlx::Result<Option<ReturnRow>> {
    sqlx::query_as!(
        ReturnRow,
        r#"SELECT tenant_id, rma_id, kind, order_id, customer_id, request_id,
                   lines AS "lines: Json<Vec<StoredLine>>", method, preferred_refund, status,
                   instructions, label_url, refund_status, expected_refund_minor, currency,
                   created_at, updated_at, approval_method, approved_at,
                   inspection AS "inspection: Json<RmaInspection>", inspected_at,
                   proposed_settlement AS "proposed_settlement: Json<ProposedSettlement>",
                   refund_method, refund_amount_minor, refund_reference, refund_issued_at
         FROM returns WHERE tenant_id = $1 AND rma_id = $2 FOR UPDATE"#,
        tenant_id.as_str(),
        rma_id,
    )
    .fetch_optional(conn)
    .await
}

/// Whether an approval or inspection of the RMA is queued or running.
pub async fn review_in_flight(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM runs
               WHERE tenant_id = $1 AND subject_id = $2
                 AND kind IN ('approve_return', 'inspect_return') AND status IN ('queued', 'running')
           ) AS "in_flight!""#,
        tenant_id.as_str(),
        rma_id,
    )
    .fetch_one(conn)
    .await
}

/// Records the approval the Returns API confirmed, with the RMA's status after it.
pub async fn record_approval(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
    status: &str,
    method: &str,
    approved_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE returns SET status = $3, approval_method = $4, approved_at = $5, updated_at = now()
         WHERE tenant_id = $1 AND rma_id = $2",
        tenant_id.as_str(),
        rma_id,
        status,
        method,
        approved_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an inspection the Returns API confirmed and the settlement it proposes, unless
/// a later inspection was recorded already (retries may finish out of order).
pub async fn record_inspection(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
    status: &str,
    inspection: &RmaInspection,
    settlement: &ProposedSettlement,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE returns SET status = $3, inspection = $4, inspected_at = $5,
                proposed_settlement = $6, updated_at = now()
         WHERE tenant_id = $1 AND rma_id = $2 AND (inspected_at IS NULL OR inspected_at <= $5)",
        tenant_id.as_str(),
        rma_id,
        status,
        Json(inspection) as Json<&RmaInspection>,
        inspection.inspected_at,
        Json(settlement) as Json<&ProposedSettlement>,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a refund or credit of the RMA was accepted (queued, running or made) or moved
/// money: a `refund_return` run not ended or succeeded, or one that ended otherwise
/// (cancelled, compensated, failed) after its money step (`refund` or `store_credit`) was
/// done — the money went back, whatever came after. A return is refunded once.
pub async fn refund_accepted(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM runs
               WHERE tenant_id = $1 AND subject_id = $2 AND kind = 'refund_return'
                 AND (status IN ('queued', 'running', 'succeeded')
                      OR EXISTS (SELECT 1 FROM jsonb_array_elements(steps) AS s
                                 WHERE s ->> 'name' = ANY($3) AND s ->> 'status' = 'done'))
           ) AS "accepted!""#,
        tenant_id.as_str(),
        rma_id,
        &MONEY_STEPS as &[&str],
    )
    .fetch_one(conn)
    .await
}

/// The refund or credit issued for an RMA, as Payments or Billing confirmed it.
pub struct IssuedRefund<'a> {
    pub method: &'a str,
    pub amount_minor: i64,
    pub reference: &'a str,
    pub issued_at: DateTime<Utc>,
}

/// Records the refund or credit issued for the RMA (`refund_status` → `issued`).
pub async fn record_refund(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    rma_id: &str,
    issued: &IssuedRefund<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE returns SET refund_status = 'issued', refund_method = $3,
                refund_amount_minor = $4, refund_reference = $5, refund_issued_at = $6,
                updated_at = now()
         WHERE tenant_id = $1 AND rma_id = $2",
        tenant_id.as_str(),
        rma_id,
        issued.method,
        issued.amount_minor,
        issued.reference,
        issued.issued_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}
