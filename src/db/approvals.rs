//! Approvals of high-risk actions (`approvals`): held, decided by another agent, executed
//! once by their requester. Each change is one conditional UPDATE, so two agents deciding at
//! once (or a requester executing twice) change it once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::{CustomerId, TenantId};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalRow {
    pub id: Uuid,
    /// `key_creation`, `legal_hold_removal` or `impersonation`.
    pub action: String,
    /// The order it concerns; empty for a key.
    pub subject_id: String,
    /// The request as its requester sent it.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// `pending_approval`, `approved`, `rejected` or `executed`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    action: &str,
    subject_id: &str,
    payload: &serde_json::Value,
    requested_by: &str,
) -> sqlx::Result<ApprovalRow> {
    sqlx::query_as!(
        ApprovalRow,
        "INSERT INTO approvals (tenant_id, id, action, subject_id, payload, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, action, subject_id, payload, requested_by, requested_at, status,
                   decided_by, decided_at, decision_note, executed_at",
        tenant_id.as_str(),
        Uuid::now_v7(),
        action,
        subject_id,
        payload,
        requested_by,
    )
    .fetch_one(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
) -> sqlx::Result<Option<ApprovalRow>> {
    sqlx::query_as!(
        ApprovalRow,
        "SELECT id, action, subject_id, payload, requested_by, requested_at, status,
                decided_by, decided_at, decision_note, executed_at
         FROM approvals WHERE tenant_id = $1 AND id = $2",
        tenant_id.as_str(),
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The tenant's approvals (of one status, if given), newest first, before the id `before`.
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<ApprovalRow>> {
    sqlx::query_as!(
        ApprovalRow,
        "SELECT id, action, subject_id, payload, requested_by, requested_at, status,
                decided_by, decided_at, decision_note, executed_at
         FROM approvals
         WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)
           AND ($3::uuid IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4",
        tenant_id.as_str(),
        status,
        before,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Decides a pending approval (`approved` or `rejected`) by someone else than its
/// requester; `None` when it is not pending (or the decider asked for it).
pub async fn decide(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
    status: &str,
    decided_by: &str,
    note: Option<&str>,
) -> sqlx::Result<Option<ApprovalRow>> {
    sqlx::query_as!(
        ApprovalRow,
        "UPDATE approvals SET status = $3, decided_by = $4, decided_at = now(), decision_note = $5
         WHERE tenant_id = $1 AND id = $2 AND status = 'pending_approval' AND requested_by <> $4
         RETURNING id, action, subject_id, payload, requested_by, requested_at, status,
                   decided_by, decided_at, decision_note, executed_at",
        tenant_id.as_str(),
        id,
        status,
        decided_by,
        note,
    )
    .fetch_optional(conn)
    .await
}

/// Marks an approved approval executed by its requester; `None` when it is not approved
/// (or was executed already) or `requested_by` did not ask for it.
pub async fn mark_executed(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
    requested_by: &str,
) -> sqlx::Result<Option<ApprovalRow>> {
    sqlx::query_as!(
        ApprovalRow,
        "UPDATE approvals SET status = 'executed', executed_at = now()
         WHERE tenant_id = $1 AND id = $2 AND status = 'approved' AND requested_by = $3
         RETURNING id, action, subject_id, payload, requested_by, requested_at, status,
                   decided_by, decided_at, decision_note, executed_at",
        tenant_id.as_str(),
        id,
        requested_by,
    )
    .fetch_optional(conn)
    .await
}

/// The erasure's part: the held requests (their reasons) and decision notes of approvals
/// about the customer's orders, those orders' payments and the customer's returns.
pub async fn redact_of_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE approvals a
         SET payload = redact_pii(a.payload),
             decision_note = CASE WHEN a.decision_note IS NULL THEN NULL ELSE $3 END
         WHERE a.tenant_id = $1
           AND (a.subject_id IN (SELECT id FROM order_views WHERE tenant_id = $1 AND customer_id = $2)
                OR a.subject_id IN (SELECT p ->> 'id'
                                    FROM order_views o, jsonb_array_elements(o.doc -> 'payments') p
                                    WHERE o.tenant_id = $1 AND o.customer_id = $2)
                OR a.subject_id IN (SELECT rma_id FROM returns WHERE tenant_id = $1 AND customer_id = $2))
           AND (a.payload IS DISTINCT FROM redact_pii(a.payload) OR a.decision_note <> $3)",
        tenant_id.as_str(),
        customer_id.as_str(),
        crate::db::gdpr::REDACTED,
    )
    .execute(conn)
    .await?;
    Ok(())
}
