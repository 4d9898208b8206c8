//! Work queues (`queue_items`, a view over open work) and agents' claims on their items
//! (`queue_claims`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::domain::ids::TenantId;
use crate::domain::queues::QueueId;
use crate::domain::settings::QueueSlas;

/// One queue's figures, as counted now.
pub struct QueueCounts {
    pub queue: String,
    pub count: i64,
    /// Items under a live claim.
    pub claimed: i64,
    pub oldest_at: Option<DateTime<Utc>>,
    /// Items waiting longer than the queue's SLA.
    pub sla_breaches: i64,
}

/// The figures of every queue that has items, breaches judged by the tenant's `slas`; a
/// queue without any is absent.
pub async fn counts(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    slas: &QueueSlas,
) -> sqlx::Result<Vec<QueueCounts>> {
    let names: Vec<String> = QueueId::ALL
        .iter()
        .map(|q| q.as_str().to_string())
        .collect();
    let slas: Vec<i32> = QueueId::ALL
        .iter()
        .map(|q| i32::try_from(slas.of(*q)).unwrap_or(i32::MAX))
        .collect();
    sqlx::query_as!(
        QueueCounts,
        r#"SELECT i.queue AS "queue!", count(*) AS "count!", count(c.item_id) AS "claimed!",
                  min(i.since) AS oldest_at,
                  count(*) FILTER (WHERE i.since < now() - make_interval(mins => s.sla))
                      AS "sla_breaches!"
           FROM queue_items i
           JOIN unnest($2::text[], $3::int[]) AS s(queue, sla) ON s.queue = i.queue
           LEFT JOIN queue_claims c
                  ON c.tenant_id = i.tenant_id AND c.queue = i.queue AND c.item_id = i.item_id
                 AND c.expires_at > now()
           WHERE i.tenant_id = $1
           GROUP BY i.queue"#,
        tenant_id.as_str(),
        &names,
        &slas,
    )
    .fetch_all(conn)
    .await
}

/// An item an agent claimed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimedItem {
    /// An order id (`fraud_review`), a request id (`cancel_review`), a case id (`cases`) or
    /// a task id (`tasks`).
    pub item_id: String,
    /// The order the item concerns (absent for a task without one).
    pub order_id: Option<String>,
    /// When it entered its queue.
    pub since: DateTime<Utc>,
    pub claimed_by: String,
    pub claimed_at: DateTime<Utc>,
    /// After this, the item can be claimed again.
    pub expires_at: DateTime<Utc>,
}

/// An item of a queue, as found for a claim: the one a claim would take next.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueItem {
    pub item_id: String,
    pub order_id: Option<String>,
    pub since: DateTime<Utc>,
}

/// Serialises the claims on one tenant's queue until the transaction ends, so two agents
/// claiming at once never get the same item.
pub async fn lock_queue(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    queue: QueueId,
) -> sqlx::Result<()> {
    let key = format!("queue-claim:{}:{}", tenant_id.as_str(), queue.as_str());
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The oldest item of `queue` without a live claim.
pub async fn oldest_unclaimed(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    queue: QueueId,
) -> sqlx::Result<Option<QueueItem>> {
    sqlx::query_as!(
        QueueItem,
        r#"SELECT i.item_id AS "item_id!", i.order_id, i.since AS "since!"
           FROM queue_items i
           WHERE i.tenant_id = $1 AND i.queue = $2
             AND NOT EXISTS (
                 SELECT 1 FROM queue_claims c
                 WHERE c.tenant_id = $1 AND c.queue = $2 AND c.item_id = i.item_id
                   AND c.expires_at > now())
           ORDER BY i.since, i.item_id
           LIMIT 1"#,
        tenant_id.as_str(),
        queue.as_str(),
    )
    .fetch_optional(conn)
    .await
}

/// Claims `item` for `agent` for `minutes`; `None` when a live claim holds it (which the
/// lock of [`lock_queue`] rules out, and this re-checks).
pub async fn claim(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    queue: QueueId,
    item: QueueItem,
    agent: &str,
    minutes: i64,
) -> sqlx::Result<Option<ClaimedItem>> {
    let minutes = i32::try_from(minutes).unwrap_or(i32::MAX);
    let row = sqlx::query!(
        "INSERT INTO queue_claims (tenant_id, queue, item_id, claimed_by, claimed_at, expires_at)
         VALUES ($1, $2, $3, $4, now(), now() + make_interval(mins => $5))
         ON CONFLICT (tenant_id, queue, item_id) DO UPDATE
         SET claimed_by = EXCLUDED.claimed_by, claimed_at = EXCLUDED.claimed_at,
             expires_at = EXCLUDED.expires_at
         WHERE queue_claims.expires_at <= now()
         RETURNING claimed_by, claimed_at, expires_at",
        tenant_id.as_str(),
        queue.as_str(),
        &item.item_id,
        agent,
        minutes,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| ClaimedItem {
        item_id: item.item_id,
        order_id: item.order_id,
        since: item.since,
        claimed_by: r.claimed_by,
        claimed_at: r.claimed_at,
        expires_at: r.expires_at,
    }))
}

/// Deletes at most `limit` claims (of every tenant) that expired more than `older_than` ago;
/// returns how many. An expired claim holds nothing (a claim overwrites it), so only the
/// worker's sweeper keeps the table from growing with every claim ever made. Oldest first,
/// `SKIP LOCKED` so two sweepers share the work and a claim being taken is left alone.
pub async fn delete_expired_claims(
    conn: &mut PgConnection,
    older_than: Duration,
    limit: i64,
) -> sqlx::Result<u64> {
    let secs = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
    let done = sqlx::query!(
        "WITH old AS (
             SELECT tenant_id, queue, item_id FROM queue_claims
             WHERE expires_at < now() - $1::bigint * interval '1 second'
             ORDER BY expires_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
         DELETE FROM queue_claims c USING old
         WHERE c.tenant_id = old.tenant_id AND c.queue = old.queue AND c.item_id = old.item_id",
        secs,
        limit,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
