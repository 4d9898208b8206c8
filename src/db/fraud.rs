//! The orders the Orders service assessed for fraud risk, riskiest first
//! (`risk_score`/`risk_rules` of the read model, migration 0011).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::ids::{OrderId, TenantId};

/// Which assessed orders to list, and after which (score, id) of the previous page.
#[derive(Debug, Clone)]
pub struct RiskFilter {
    pub score_min: i32,
    pub score_max: i32,
    /// Only orders where this rule triggered.
    pub rule: Option<String>,
    pub after: Option<(i32, String)>,
    pub limit: i64,
}

/// An assessed order as the fraud list shows it: its header and its assessment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RiskRow {
    pub id: String,
    pub number: String,
    pub customer_id: String,
    pub email: String,
    pub status: String,
    pub currency: String,
    pub total_minor: i64,
    pub placed_at: DateTime<Utc>,
    /// `review`, `cleared` or `confirmed`; absent when never flagged.
    pub fraud_state: Option<String>,
    pub risk_score: i32,
    pub risk_rules: Vec<String>,
}

/// One page, by `order_views_by_risk`: score descending, then id descending.
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    f: &RiskFilter,
) -> sqlx::Result<Vec<RiskRow>> {
    let (after_score, after_id) = match &f.after {
        Some((score, id)) => (Some(*score), Some(id.as_str())),
        None => (None, None),
    };
    let rows = sqlx::query!(
        r#"SELECT id, number, customer_id, email, status, currency, total_minor, placed_at,
                  fraud_state, risk_score AS "risk_score!",
                  coalesce(risk_rules, '[]') AS "risk_rules!: sqlx::types::Json<Vec<String>>"
         FROM order_views
         WHERE tenant_id = $1 AND risk_score IS NOT NULL
           AND risk_score BETWEEN $2 AND $3
           AND ($4::text IS NULL OR risk_rules ? $4)
           AND ($5::int IS NULL OR (risk_score, id) < ($5, $6))
         ORDER BY risk_score DESC, id DESC
         LIMIT $7"#,
        tenant_id.as_str(),
        f.score_min,
        f.score_max,
        f.rule.as_deref(),
        after_score,
        after_id,
        f.limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RiskRow {
            id: r.id,
            number: r.number,
            customer_id: r.customer_id,
            email: r.email,
            status: r.status,
            currency: r.currency,
            total_minor: r.total_minor,
            placed_at: r.placed_at,
            fraud_state: r.fraud_state,
            risk_score: r.risk_score,
            risk_rules: r.risk_rules.0,
        })
        .collect())
}

/// Whether a run that changes the order's fraud state (`flag_fraud`, `unflag_fraud`) is
/// queued or running. Read under `db::holds::lock_order` in the acceptance of the next
/// change, so two concurrent flags cannot both start one (migration 0019's partial index
/// serves it; its predicate names the same workflows).
pub async fn change_in_flight(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM runs
               WHERE tenant_id = $1 AND subject_id = $2
                 AND kind IN ('flag_fraud', 'unflag_fraud') AND status IN ('queued', 'running')
           ) AS "in_flight!""#,
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_one(conn)
    .await
}
