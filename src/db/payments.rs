//! Payments as agents refund and capture them: the order holding a payment (read model),
//! the payment's lock, and the refund and capture runs accepted for it (`runs`, migration
//! 0027).

use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::ids::{PaymentId, TenantId};
use crate::domain::order::Order;
use crate::domain::payments::{AcceptedRefund, CAPTURE_WORKFLOW, REFUND_WORKFLOW};
use crate::domain::return_refund::REFUND_RETURN_WORKFLOW;

/// The order of `tenant_id` holding payment `payment_id`, as the read model has it.
pub async fn order_with_payment(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    payment_id: &PaymentId,
) -> sqlx::Result<Option<Order>> {
    let doc = sqlx::query_scalar!(
        r#"SELECT doc AS "doc: Json<Order>" FROM order_views
         WHERE tenant_id = $1
           AND jsonb_path_query_array(doc, '$.payments[*].id') @> jsonb_build_array($2::text)
         LIMIT 1"#,
        tenant_id.as_str(),
        payment_id.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(doc.map(|Json(order)| order))
}

/// Serialises the acceptance of refunds and captures of one payment until the transaction
/// ends: each counts what the ones before it accepted.
pub async fn lock_payment(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    payment_id: &PaymentId,
) -> sqlx::Result<()> {
    let key = format!(
        "payment-money:{}:{}",
        tenant_id.as_str(),
        payment_id.as_str()
    );
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The refunds of the payment accepted before (an agent's refund of it, or a return's card
/// refund) that may still move money or moved it unseen:
/// runs not yet ended, and succeeded runs whose refund is not among `known_refund_ids` (the
/// refunds the read model's payment shows).
pub async fn accepted_refunds(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    payment_id: &PaymentId,
    known_refund_ids: &[String],
) -> sqlx::Result<Vec<AcceptedRefund>> {
    let rows = sqlx::query!(
        r#"SELECT (input ->> 'amount_minor')::bigint AS "amount_minor!",
                  result ->> 'refund_id' AS refund_id
         FROM runs
         WHERE tenant_id = $1 AND (input ->> 'payment_id') = $2
           AND kind IN ('refund_payment', 'capture_payment', 'refund_return')
           AND kind = ANY($3)
           AND status IN ('queued', 'running', 'succeeded')
           AND (status <> 'succeeded' OR NOT coalesce(result ->> 'refund_id', '') = ANY($4))"#,
        tenant_id.as_str(),
        payment_id.as_str(),
        &[REFUND_WORKFLOW, REFUND_RETURN_WORKFLOW] as &[&str],
        known_refund_ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AcceptedRefund {
            amount_minor: r.amount_minor,
            refund_id: r.refund_id,
        })
        .collect())
}

/// Whether a cancellation of order `order_id` that refunds its payments was accepted and has
/// not ended: its refund takes all that is left of each payment when it runs.
pub async fn cancel_refund_in_flight(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM runs
               WHERE tenant_id = $1 AND subject_id = $2
                 AND kind = 'cancel_order' AND kind = $3
                 AND status IN ('queued', 'running')
                 AND coalesce((input ->> 'refund')::boolean, false)
           ) AS "in_flight!""#,
        tenant_id.as_str(),
        order_id,
        crate::domain::cancel::WORKFLOW,
    )
    .fetch_one(conn)
    .await
}

/// Whether a capture of the payment was accepted and has not ended.
pub async fn capture_in_flight(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    payment_id: &PaymentId,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM runs
               WHERE tenant_id = $1 AND (input ->> 'payment_id') = $2
                 AND kind IN ('refund_payment', 'capture_payment') AND kind = $3
                 AND status IN ('queued', 'running')
           ) AS "in_flight!""#,
        tenant_id.as_str(),
        payment_id.as_str(),
        CAPTURE_WORKFLOW,
    )
    .fetch_one(conn)
    .await
}
