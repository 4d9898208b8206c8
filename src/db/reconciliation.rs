//! Finance's resolutions of an order's money differences (`reconciliation_resolutions`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::{CustomerId, OrderId, TenantId};

/// Why one difference is accounted for, and who said so.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResolutionRow {
    pub id: Uuid,
    pub code: String,
    pub subject: String,
    pub difference_minor: i64,
    pub note: String,
    pub reference: Option<String>,
    pub resolved_by: String,
    pub created_at: DateTime<Utc>,
}

/// What a new resolution records.
pub struct NewResolution<'a> {
    pub code: &'a str,
    pub subject: &'a str,
    pub difference_minor: i64,
    pub note: &'a str,
    pub reference: Option<&'a str>,
    pub resolved_by: &'a str,
}

pub async fn insert(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    customer_id: &CustomerId,
    new: NewResolution<'_>,
) -> sqlx::Result<ResolutionRow> {
    sqlx::query_as!(
        ResolutionRow,
        "INSERT INTO reconciliation_resolutions
            (id, tenant_id, order_id, customer_id, code, subject, difference_minor, note,
             reference, resolved_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING id, code, subject, difference_minor, note, reference, resolved_by, created_at",
        Uuid::now_v7(),
        tenant_id.as_str(),
        order_id.as_str(),
        customer_id.as_str(),
        new.code,
        new.subject,
        new.difference_minor,
        new.note,
        new.reference,
        new.resolved_by,
    )
    .fetch_one(conn)
    .await
}

/// The order's resolutions, oldest first (at most `limit`).
pub async fn of_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    limit: i64,
) -> sqlx::Result<Vec<ResolutionRow>> {
    sqlx::query_as!(
        ResolutionRow,
        "SELECT id, code, subject, difference_minor, note, reference, resolved_by, created_at
         FROM reconciliation_resolutions
         WHERE tenant_id = $1 AND order_id = $2
         ORDER BY created_at, id
         LIMIT $3",
        tenant_id.as_str(),
        order_id.as_str(),
        limit,
    )
    .fetch_all(conn)
    .await
}

/// What finance wrote about the customer's orders may name them: the notes and references
/// are erased, that a difference was resolved stays.
pub async fn redact_of_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE reconciliation_resolutions
         SET note = $3, reference = CASE WHEN reference IS NULL THEN NULL ELSE $3 END
         WHERE tenant_id = $1 AND customer_id = $2 AND (note <> $3 OR reference <> $3)",
        tenant_id.as_str(),
        customer_id.as_str(),
        crate::db::gdpr::REDACTED,
    )
    .execute(conn)
    .await?;
    Ok(())
}
