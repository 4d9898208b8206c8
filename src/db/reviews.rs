//! Fraud review assignments (`review_assignments`): who reviews an order flagged for fraud.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::domain::ids::{OrderId, TenantId};

/// Who reviews an order flagged for fraud.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewAssignment {
    /// The agent, when given to one.
    pub agent_id: Option<String>,
    /// The team, when given to one.
    pub team: Option<String>,
    /// Internal; never shown to the customer.
    pub notes: Option<String>,
    pub assigned_by: String,
    pub assigned_at: DateTime<Utc>,
}

/// A new assignment of an order's review.
pub struct NewAssignment<'a> {
    pub tenant_id: &'a TenantId,
    pub order_id: &'a OrderId,
    pub agent_id: Option<&'a str>,
    pub team: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub assigned_by: &'a str,
}

/// Gives the order's review to an agent or team, replacing an earlier assignment.
pub async fn assign(
    conn: &mut PgConnection,
    a: &NewAssignment<'_>,
) -> sqlx::Result<ReviewAssignment> {
    sqlx::query_as!(
        ReviewAssignment,
        "INSERT INTO review_assignments
             (tenant_id, order_id, agent_id, team, notes, assigned_by, assigned_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (tenant_id, order_id) DO UPDATE
         SET agent_id = $3, team = $4, notes = $5, assigned_by = $6, assigned_at = now()
         RETURNING agent_id, team, notes, assigned_by, assigned_at",
        a.tenant_id.as_str(),
        a.order_id.as_str(),
        a.agent_id,
        a.team,
        a.notes,
        a.assigned_by,
    )
    .fetch_one(conn)
    .await
}

/// Drops the order's assignment: a new flag starts a new review.
pub async fn clear(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM review_assignments WHERE tenant_id = $1 AND order_id = $2",
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Erasure: what agents wrote of the reviews of the customer's orders may name them; that
/// the reviews were assigned stays.
pub async fn redact_of_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &crate::domain::ids::CustomerId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE review_assignments SET notes = $3
         WHERE tenant_id = $1 AND notes IS NOT NULL AND notes <> $3
           AND order_id IN (SELECT id FROM order_views WHERE tenant_id = $1 AND customer_id = $2)",
        tenant_id.as_str(),
        customer_id.as_str(),
        crate::db::gdpr::REDACTED,
    )
    .execute(conn)
    .await?;
    Ok(())
}
