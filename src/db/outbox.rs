//! The outbox of run triggers (`outbox.kind = 'trigger'`): written in the request's
//! transaction, delivered to Redis by `jobs::dispatch` right after the commit or, failing
//! that, by the relay. Other outbox kinds (events) belong to their own modules.

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

use super::runs::ASYNC;

/// The channel NOTIFYed (at commit) when a trigger is written; the relay LISTENs to it.
pub const CHANNEL: &str = "orderdesk_outbox";

/// Writes the trigger of `run_id` and NOTIFYs the relay (delivered at commit).
pub async fn insert_trigger(conn: &mut PgConnection, run_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "WITH o AS (INSERT INTO outbox (kind, run_id) VALUES ('trigger', $1))
         SELECT pg_notify($2, '')",
    )
    .bind(run_id)
    .bind(CHANNEL)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the unsent trigger of one run for an immediate push: marks it sent and the run
/// pushed. False when there is none to take (already sent, or the relay holds it now).
/// Undo with [`unmark_run`] if the push then fails.
pub async fn take_for_run(conn: &mut PgConnection, run_id: Uuid) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "WITH o AS (SELECT id FROM outbox
                    WHERE run_id = $1 AND kind = 'trigger' AND sent_at IS NULL
                    FOR UPDATE SKIP LOCKED),
              u AS (UPDATE outbox SET sent_at = now() FROM o WHERE outbox.id = o.id
                    RETURNING outbox.run_id),
              r AS (UPDATE runs SET pushed_at = now() WHERE id IN (SELECT run_id FROM u))
         SELECT (SELECT count(*) FROM u) FROM {ASYNC}"
    ))
    .bind(run_id)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Puts a run's trigger back to unsent after a failed push, for the relay to retry.
pub async fn unmark_run(conn: &mut PgConnection, run_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "WITH u AS (UPDATE outbox SET sent_at = NULL
                    WHERE run_id = $1 AND kind = 'trigger' AND sent_at IS NOT NULL),
              r AS (UPDATE runs SET pushed_at = NULL WHERE id = $1)
         SELECT 1 FROM {ASYNC}"
    ))
    .bind(run_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Up to `limit` unsent triggers, oldest first, locked for this transaction (`SKIP LOCKED`,
/// so relays in several processes share the work). Returns (outbox id, run id).
pub async fn claim_unsent(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<(i64, Uuid)>> {
    sqlx::query_as(
        "SELECT id, run_id FROM outbox
         WHERE sent_at IS NULL AND kind = 'trigger'
         ORDER BY id LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Marks triggers sent and their runs pushed. Commits without waiting for the WAL flush
/// (in a transaction: the whole transaction does): a lost mark only means one more push,
/// which the run's claim turns into a no-op.
pub async fn mark_sent(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "WITH u AS (UPDATE outbox SET sent_at = now() WHERE id = ANY($1) RETURNING run_id),
              r AS (UPDATE runs SET pushed_at = now() WHERE id IN (SELECT run_id FROM u))
         SELECT 1 FROM {ASYNC}"
    ))
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn count_unsent(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND kind = 'trigger'")
        .fetch_one(conn)
        .await
}

/// Deletes the triggers sent more than `older_than` ago among the `window` oldest outbox
/// rows; returns how many. Looking only at the oldest rows (primary-key order) keeps the
/// cost bounded however large the table is.
pub async fn prune_sent(
    conn: &mut PgConnection,
    older_than: Duration,
    window: i64,
) -> sqlx::Result<u64> {
    let res = sqlx::query(
        "DELETE FROM outbox WHERE id IN (
             SELECT id FROM (SELECT id, kind, sent_at FROM outbox ORDER BY id LIMIT $2) o
             WHERE kind = 'trigger' AND sent_at < now() - $1 * interval '1 millisecond')",
    )
    .bind(i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX))
    .bind(window)
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}
