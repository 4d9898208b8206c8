//! Retention of finished runs: the worker's sweeper deletes runs (their steps go with them,
//! `ON DELETE CASCADE`) that ended longer ago than `ORDERDESK_RUN_RETENTION_DAYS`, in bounded
//! batches. A request outlives its run (`requests.run_id` is set to NULL) and keeps its own
//! final status; the audit log names runs by id as text, so its rows stay as written.

use std::time::Duration;

use sqlx::PgConnection;

/// Deletes at most `limit` runs that reached a final status more than `older_than` ago;
/// returns how many. A run whose request is still open is kept: the request takes the run's
/// status first (`db::requests::close_if_run_finished`). Oldest first, and `SKIP LOCKED`, so
/// two sweepers share the work.
pub async fn delete_finished(
    conn: &mut PgConnection,
    older_than: Duration,
    limit: i64,
) -> sqlx::Result<u64> {
    let secs = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
    let done = sqlx::query!(
        "WITH old AS (
             SELECT id FROM runs
             WHERE status NOT IN ('queued', 'running')
               AND finished_at < now() - $1::bigint * interval '1 second'
               AND NOT EXISTS (SELECT 1 FROM requests q WHERE q.run_id = runs.id
                               AND q.status IN ('pending_review', 'approved', 'queued', 'running'))
             ORDER BY finished_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
         DELETE FROM runs WHERE id IN (SELECT id FROM old)",
        secs,
        limit,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
