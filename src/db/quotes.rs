//! Quotes of order edits (`quotes`): staged changes, their preview and delta, and where the
//! quote stands (`open`, `applied`, `aborted`; `expired` once past `expires_at`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ids::{CustomerId, OrderId, QuoteId, TenantId};

/// One quote as stored.
#[derive(Debug, Clone)]
pub struct QuoteRow {
    pub id: String,
    pub order_id: String,
    pub customer_id: String,
    pub order_version: i64,
    pub changes: Value,
    pub preview: Value,
    pub delta: Value,
    pub status: String,
    pub expires_at: DateTime<Utc>,
    pub created_by: String,
    pub run_id: Option<Uuid>,
    pub closed_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a quote is made of (a new one, or the changes of an open one replaced).
pub struct Staged<'a> {
    pub order_version: i64,
    pub changes: &'a Value,
    pub preview: &'a Value,
    pub delta: &'a Value,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    (id, order_id, customer_id): (&QuoteId, &OrderId, &CustomerId),
    staged: &Staged<'_>,
    created_by: &str,
) -> sqlx::Result<QuoteRow> {
    sqlx::query_as!(
        QuoteRow,
        "INSERT INTO quotes (id, tenant_id, order_id, customer_id, order_version, changes,
                             preview, delta, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING id, order_id, customer_id, order_version, changes, preview, delta, status,
                   expires_at, created_by, run_id, closed_reason, created_at, updated_at",
        id.as_str(),
        tenant_id.as_str(),
        order_id.as_str(),
        customer_id.as_str(),
        staged.order_version,
        staged.changes,
        staged.preview,
        staged.delta,
        staged.expires_at,
        created_by,
    )
    .fetch_one(conn)
    .await
}

/// The quote of the tenant; `lock` holds its row until the transaction ends.
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: &QuoteId,
    lock: bool,
) -> sqlx::Result<Option<QuoteRow>> {
    if lock {
        return sqlx::query_as!(
            QuoteRow,
            "SELECT id, order_id, customer_id, order_version, changes, preview, delta, status,
                    expires_at, created_by, run_id, closed_reason, created_at, updated_at
             FROM quotes WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            tenant_id.as_str(),
            id.as_str(),
        )
        .fetch_optional(conn)
        .await;
    }
    sqlx::query_as!(
        QuoteRow,
        "SELECT id, order_id, customer_id, order_version, changes, preview, delta, status,
                expires_at, created_by, run_id, closed_reason, created_at, updated_at
         FROM quotes WHERE tenant_id = $1 AND id = $2",
        tenant_id.as_str(),
        id.as_str(),
    )
    .fetch_optional(conn)
    .await
}

/// Replaces an open quote's changes (re-priced on the order's `order_version`).
pub async fn restage(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: &QuoteId,
    staged: &Staged<'_>,
) -> sqlx::Result<QuoteRow> {
    sqlx::query_as!(
        QuoteRow,
        "UPDATE quotes SET order_version = $3, changes = $4, preview = $5, delta = $6,
                           expires_at = $7, updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING id, order_id, customer_id, order_version, changes, preview, delta, status,
                   expires_at, created_by, run_id, closed_reason, created_at, updated_at",
        tenant_id.as_str(),
        id.as_str(),
        staged.order_version,
        staged.changes,
        staged.preview,
        staged.delta,
        staged.expires_at,
    )
    .fetch_one(conn)
    .await
}

/// Closes a quote: `applied` (with the run applying it) or `aborted`, with the reason.
pub async fn close(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: &QuoteId,
    (status, run_id, reason): (&str, Option<Uuid>, &str),
) -> sqlx::Result<QuoteRow> {
    sqlx::query_as!(
        QuoteRow,
        "UPDATE quotes SET status = $3, run_id = $4, closed_reason = $5, updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING id, order_id, customer_id, order_version, changes, preview, delta, status,
                   expires_at, created_by, run_id, closed_reason, created_at, updated_at",
        tenant_id.as_str(),
        id.as_str(),
        status,
        run_id,
        reason,
    )
    .fetch_one(conn)
    .await
}

/// The addresses staged for the customer and the agents' reasons may name them: erased,
/// that the quotes were made stays.
pub async fn redact_of_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE quotes
         SET changes = redact_pii(changes), preview = redact_pii(preview),
             closed_reason = CASE WHEN closed_reason IS NULL THEN NULL ELSE $3 END
         WHERE tenant_id = $1 AND customer_id = $2
           AND (changes IS DISTINCT FROM redact_pii(changes)
                OR preview IS DISTINCT FROM redact_pii(preview) OR closed_reason <> $3)",
        tenant_id.as_str(),
        customer_id.as_str(),
        crate::db::gdpr::REDACTED,
    )
    .execute(conn)
    .await?;
    Ok(())
}
