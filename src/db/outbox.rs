//! The outbox of run triggers (`outbox.kind = 'trigger'`): written in the request's
//! transaction, by the statement that inserts the run (`db::runs::insert`). `jobs::dispatch`
//! pushes the trigger right after the commit and records it on the run (`runs.pushed_at`, a
//! primary-key write); the relay then pushes what dispatch did not and takes every trigger
//! out of the outbox, in batches. Other outbox kinds (events, kept as history) belong to
//! their own modules.

use std::time::Duration;

use sqlx::PgConnection;

use crate::domain::ids::RunId;

/// The channel NOTIFYed (at commit) when a trigger is written that no caller will push
/// itself, and by `jobs::dispatch` when its push failed; the relay LISTENs to it.
pub const CHANNEL: &str = "orderdesk_outbox";

/// Wakes the relay (a NOTIFY committed on its own) when a trigger was written without one.
pub async fn announce(pool: &sqlx::PgPool) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_notify($1, '')", CHANNEL)
        .execute(pool)
        .await?;
    Ok(())
}

/// An unsent trigger claimed by the relay.
pub struct Unsent {
    pub outbox_id: i64,
    pub run_id: RunId,
    /// The run's queue (`None` when the run is gone: nothing to push).
    pub queue: Option<String>,
    /// Whether the run needs no push: its trigger was pushed already (by `jobs::dispatch`),
    /// or a worker has taken the run (it is no longer queued). The row only needs removing.
    pub pushed: bool,
}

/// Up to `room` of the oldest unsent triggers of each queue of `rooms` (each queue's oldest
/// first), locked for this transaction (`SKIP LOCKED`, so relays in several processes share the
/// work). A queue that is not in `rooms` (full, or named by no workflow) is not read at all:
/// each queue's triggers are one keyed look in `outbox_triggers_unsent_by_queue`.
/// Triggers written without their queue (before migration 0050, or by an api of an earlier
/// release during a rolling upgrade) are found through their run: up to the largest room of
/// them besides, whichever queue of `rooms` their runs are in.
pub async fn claim_unsent(
    conn: &mut PgConnection,
    rooms: &[(String, usize)],
) -> sqlx::Result<Vec<Unsent>> {
    let (queues, limits): (Vec<&str>, Vec<i64>) = rooms
        .iter()
        .map(|(q, room)| (q.as_str(), i64::try_from(*room).unwrap_or(i64::MAX)))
        .unzip();
    let legacy = limits.iter().copied().max().unwrap_or(0);
    // The queue is matched as a range of one value, not with `=`: with an equality the
    // generic plan may walk an index in id order and filter on the queue (seen with one
    // queue's backlog analyzed), reading every other row to find none of this queue's; with
    // a range, only the index by queue gives the order asked for without a sort.
    let rows = sqlx::query!(
        r#"SELECT c.id AS "id!", c.run_id AS "run_id!", c.queue AS "queue?", c.pushed AS "pushed!"
         FROM unnest($1::text[], $2::int8[]) AS room(queue, n)
         CROSS JOIN LATERAL (
             SELECT o.id, o.run_id, r.queue,
                    (r.pushed_at IS NOT NULL OR r.status IS DISTINCT FROM 'queued') AS pushed
             FROM outbox o LEFT JOIN runs r ON r.id = o.run_id
             WHERE o.sent_at IS NULL AND o.kind = 'trigger'
               AND o.queue >= room.queue AND o.queue <= room.queue
             ORDER BY o.queue, o.id LIMIT room.n
             FOR UPDATE OF o SKIP LOCKED) c
         UNION ALL
         SELECT * FROM (
             SELECT o.id, o.run_id, r.queue,
                    (r.pushed_at IS NOT NULL OR r.status IS DISTINCT FROM 'queued')
             FROM outbox o LEFT JOIN runs r ON r.id = o.run_id
             WHERE o.sent_at IS NULL AND o.kind = 'trigger' AND o.queue IS NULL
               AND (r.queue IS NULL OR r.queue = ANY($1))
             ORDER BY o.queue, o.id LIMIT $3
             FOR UPDATE OF o SKIP LOCKED) without_queue"#,
        &queues as &[&str],
        &limits,
        legacy,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Unsent {
            outbox_id: r.id,
            run_id: RunId::from(r.run_id),
            queue: r.queue,
            pushed: r.pushed,
        })
        .collect())
}

/// Takes sent triggers out of the outbox, and marks the runs whose trigger this relay pushed
/// as pushed. A sent trigger is read by nobody, so it is deleted rather than marked: a
/// deleted row is one mark on the tuple, where an update wrote a new version and a new
/// index entry, and left the row for a later delete. Commits without waiting for the WAL
/// flush (in a transaction: the whole transaction does): a lost write only means one more
/// push, which the run's claim turns into a no-op.
pub async fn remove_sent(
    conn: &mut PgConnection,
    ids: &[i64],
    pushed: &[RunId],
) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH u AS (DELETE FROM outbox WHERE id = ANY($1) AND kind = 'trigger'),
              r AS (UPDATE runs SET pushed_at = now() WHERE id = ANY($2))
         SELECT 1 AS done FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit",
        ids,
        &pushed.iter().map(|r| r.as_uuid()).collect::<Vec<_>>(),
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// Undoes [`remove_sent`] for triggers whose push to Redis failed after it committed: the
/// triggers are written back under their own ids (so they keep their place, oldest first),
/// with their run's queue, for the next relay pass, and the runs `pushed` unmarked.
pub async fn restore_unsent(
    conn: &mut PgConnection,
    triggers: &[&Unsent],
    pushed: &[RunId],
) -> sqlx::Result<()> {
    let ids: Vec<i64> = triggers.iter().map(|t| t.outbox_id).collect();
    let runs: Vec<uuid::Uuid> = triggers.iter().map(|t| t.run_id.as_uuid()).collect();
    let queues: Vec<Option<&str>> = triggers.iter().map(|t| t.queue.as_deref()).collect();
    sqlx::query!(
        "WITH u AS (INSERT INTO outbox (id, kind, run_id, queue)
                    SELECT id, 'trigger', run_id, queue
                    FROM unnest($1::bigint[], $2::uuid[], $3::text[]) AS t(id, run_id, queue)
                    ON CONFLICT (id) DO NOTHING),
              r AS (UPDATE runs SET pushed_at = NULL WHERE id = ANY($4))
         SELECT 1 AS done FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit",
        &ids,
        &runs,
        &queues as &[Option<&str>],
        &pushed.iter().map(|r| r.as_uuid()).collect::<Vec<_>>(),
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

pub async fn count_unsent(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "unsent!" FROM outbox WHERE sent_at IS NULL AND kind = 'trigger'"#
    )
    .fetch_one(conn)
    .await
}

/// Deletes the events (kept as the history replay reads) sent more than 30 days ago, and
/// triggers marked sent more than `older_than` ago (the relay removes the triggers it sends;
/// a relay of a release before 2026-12-03 marked them, and may still run during a rolling
/// deploy), among the `window` oldest outbox rows; returns how many. Looking only at the
/// oldest rows (primary-key order) keeps the cost bounded however large the table is.
pub async fn prune_sent(
    conn: &mut PgConnection,
    older_than: Duration,
    window: i64,
) -> sqlx::Result<u64> {
    let res = sqlx::query!(
        "DELETE FROM outbox WHERE id IN (
             SELECT id FROM (SELECT id, kind, sent_at FROM outbox ORDER BY id LIMIT $2) o
             WHERE (kind = 'trigger' AND sent_at < now() - $1::bigint * interval '1 millisecond')
                OR (kind = 'event' AND sent_at < now() - interval '30 days'))",
        i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX),
        window,
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}
