//! Price adjustments of an order (`adjust_price` runs, migration 0032): the credits accepted
//! before, counted at acceptance under the order's adjustment lock so two credits of the
//! whole total at once answer 202 and 422.

use sqlx::PgConnection;

use crate::domain::ids::{OrderId, TenantId};
use crate::domain::price_adjustment::AcceptedCredit;

/// Serializes the price adjustments of one order until the transaction ends.
pub async fn lock_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('price-adjust/' || $1::text || '/' || $2::text, 0))",
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The credits of the order accepted before whose runs did not fail (queued, running, or
/// made at Billing).
pub async fn accepted_credits(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<Vec<AcceptedCredit>> {
    let rows = sqlx::query!(
        r#"SELECT (input ->> 'amount_minor')::bigint AS "amount_minor!",
                  input ->> 'line_id' AS line_id
         FROM runs
         WHERE tenant_id = $1 AND subject_id = $2
           AND kind = 'adjust_price' AND status IN ('queued', 'running', 'succeeded')
           AND input ->> 'kind' = 'credit'"#,
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AcceptedCredit {
            amount_minor: r.amount_minor,
            line_id: r.line_id,
        })
        .collect())
}
