//! Agents working support cases (`support_cases`): giving one to an agent or a team, and
//! closing it with a resolution. The conversation itself is `db::support`'s.

use sqlx::PgConnection;

use crate::db::support::CaseRow;
use crate::domain::ids::{OrderId, TenantId};

/// The case `case_id` of the order, locked until the transaction ends, so two agents acting
/// on one case at once decide one after the other; `None` when the order has no such case.
pub async fn lock(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    case_id: &str,
) -> sqlx::Result<Option<CaseRow>> {
    sqlx::query_as!(
        CaseRow,
        "SELECT tenant_id, id, order_id, customer_id, status, subject, message_count,
                last_message_at, assigned_agent, assigned_team, resolution, closed_by, closed_at,
                created_at, updated_at
         FROM support_cases WHERE tenant_id = $1 AND order_id = $2 AND id = $3
         FOR UPDATE",
        tenant_id.as_str(),
        order_id.as_str(),
        case_id,
    )
    .fetch_optional(conn)
    .await
}

/// Gives the case to an agent or to a team (one of them; the other is cleared).
pub async fn assign(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    case_id: &str,
    (agent, team): (Option<&str>, Option<&str>),
) -> sqlx::Result<CaseRow> {
    sqlx::query_as!(
        CaseRow,
        "UPDATE support_cases SET assigned_agent = $3, assigned_team = $4, updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING tenant_id, id, order_id, customer_id, status, subject, message_count,
                   last_message_at, assigned_agent, assigned_team, resolution, closed_by,
                   closed_at, created_at, updated_at",
        tenant_id.as_str(),
        case_id,
        agent,
        team,
    )
    .fetch_one(conn)
    .await
}

/// Closes the case with `resolution`, by `closed_by`: it leaves the `cases` queue until the
/// customer writes again.
pub async fn close(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    case_id: &str,
    resolution: &str,
    closed_by: &str,
) -> sqlx::Result<CaseRow> {
    sqlx::query_as!(
        CaseRow,
        "UPDATE support_cases SET status = 'closed', resolution = $3, closed_by = $4,
                                  closed_at = now(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING tenant_id, id, order_id, customer_id, status, subject, message_count,
                   last_message_at, assigned_agent, assigned_team, resolution, closed_by,
                   closed_at, created_at, updated_at",
        tenant_id.as_str(),
        case_id,
        resolution,
        closed_by,
    )
    .fetch_one(conn)
    .await
}
