//! The engine's queues as one tenant sees them: its runs waiting and running per queue (off
//! the `runs_due` partial index) and those that finished in a recent window (off
//! `runs_finished`, a range of the last minutes) — never a scan of the tenant's history.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::ids::TenantId;

/// One queue's figures for a tenant, as counted now.
pub struct QueueStatsRow {
    pub queue: String,
    /// Queued runs (ready now or waiting for a retry's backoff).
    pub queued: i64,
    /// Of `queued`, those whose next attempt is in the future (a retry's backoff).
    pub delayed: i64,
    /// When the oldest queued run was accepted.
    pub oldest_queued_at: Option<DateTime<Utc>>,
    pub running: i64,
    /// Runs that ended within the window, and of them those that failed (failed or
    /// compensated).
    pub finished: i64,
    pub failed: i64,
}

/// Per queue that has a tenant's run waiting, running or finished within `window`.
pub async fn queue_stats(
    conn: &mut PgConnection,
    tenant: &TenantId,
    window: Duration,
) -> sqlx::Result<Vec<QueueStatsRow>> {
    sqlx::query_as!(
        QueueStatsRow,
        r#"WITH live AS (
               SELECT queue,
                      count(*) FILTER (WHERE status = 'queued') AS queued,
                      count(*) FILTER (WHERE status = 'queued' AND next_attempt_at > now()) AS delayed,
                      min(created_at) FILTER (WHERE status = 'queued') AS oldest_queued_at,
                      count(*) FILTER (WHERE status = 'running') AS running
               FROM runs
               WHERE status IN ('queued', 'running') AND tenant_id = $1
               GROUP BY queue),
           recent AS (
               SELECT queue,
                      count(*) AS finished,
                      count(*) FILTER (WHERE status IN ('failed', 'compensated')) AS failed
               FROM runs
               WHERE finished_at >= now() - make_interval(secs => $2)
                 AND status NOT IN ('queued', 'running') AND tenant_id = $1
               GROUP BY queue)
           SELECT queue AS "queue!",
                  coalesce(l.queued, 0) AS "queued!", coalesce(l.delayed, 0) AS "delayed!",
                  l.oldest_queued_at, coalesce(l.running, 0) AS "running!",
                  coalesce(r.finished, 0) AS "finished!", coalesce(r.failed, 0) AS "failed!"
           FROM live l FULL JOIN recent r USING (queue)
           ORDER BY queue"#,
        tenant.as_str(),
        window.as_secs_f64(),
    )
    .fetch_all(conn)
    .await
}
