//! The orders a bulk job or an export acts on: the ids a search's criteria match.

use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::criteria::push_criteria;
use crate::domain::ids::TenantId;
use crate::domain::search::Criteria;

/// Up to `limit` ids of the tenant's orders that `criteria` matches, oldest first (ask for
/// one more than allowed to learn that there are too many).
pub async fn matching_ids(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    criteria: &Criteria,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    let mut qb: QueryBuilder<'_, Postgres> =
        QueryBuilder::new("SELECT v.id FROM order_views v WHERE ");
    push_criteria(&mut qb, tenant_id, criteria);
    qb.push(" ORDER BY v.placed_at, v.id LIMIT ")
        .push_bind(limit);
    qb.build_query_scalar()
        .persistent(false)
        .fetch_all(conn)
        .await
}

/// Which of `ids` are orders of the tenant (an import's lines name them).
pub async fn existing_ids(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    ids: &[String],
) -> sqlx::Result<std::collections::HashSet<String>> {
    let found = sqlx::query_scalar!(
        "SELECT id FROM order_views WHERE tenant_id = $1 AND id = ANY($2)",
        tenant_id.as_str(),
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(found.into_iter().collect())
}
