//! Reads of runs for the job resource and the sweeper's scan for runs to re-push.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{ASYNC, RunRow, RunStatus, StepRow, ms};

/// One run of the tenant.
pub async fn get(conn: &mut PgConnection, tenant: &str, id: Uuid) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as("SELECT * FROM runs WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// One run of the tenant that belongs to this customer (else `None`: never confirm others').
pub async fn get_for_customer(
    conn: &mut PgConnection,
    tenant: &str,
    id: Uuid,
    customer_id: &str,
) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as("SELECT * FROM runs WHERE tenant_id = $1 AND id = $2 AND customer_id = $3")
        .bind(tenant)
        .bind(id)
        .bind(customer_id)
        .fetch_optional(conn)
        .await
}

/// The steps of a run of the tenant, in order.
pub async fn steps(
    conn: &mut PgConnection,
    tenant: &str,
    run_id: Uuid,
) -> sqlx::Result<Vec<StepRow>> {
    sqlx::query_as(
        "SELECT s.* FROM run_steps s JOIN runs r ON r.id = s.run_id
         WHERE r.tenant_id = $1 AND s.run_id = $2 ORDER BY s.idx",
    )
    .bind(tenant)
    .bind(run_id)
    .fetch_all(conn)
    .await
}

/// Filters of a run list; newest first, keyset on (created_at, id).
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub kind: Option<String>,
    pub status: Option<RunStatus>,
    pub customer_id: Option<String>,
    /// (created_at, id) of the last run of the previous page.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list(
    conn: &mut PgConnection,
    tenant: &str,
    f: &RunFilter,
) -> sqlx::Result<Vec<RunRow>> {
    let (at, id) = match f.before {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    sqlx::query_as(
        "SELECT * FROM runs
         WHERE tenant_id = $1
           AND ($2::text IS NULL OR kind = $2)
           AND ($3::text IS NULL OR status = $3)
           AND ($4::text IS NULL OR customer_id = $4)
           AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
         ORDER BY created_at DESC, id DESC
         LIMIT $7",
    )
    .bind(tenant)
    .bind(f.kind.as_deref())
    .bind(f.status.map(RunStatus::as_str))
    .bind(f.customer_id.as_deref())
    .bind(at)
    .bind(id)
    .bind(f.limit)
    .fetch_all(conn)
    .await
}

/// Waits until the run is terminal or `timeout` passes (for `Prefer: wait=N`); returns the
/// run as it then is (`None` if it does not exist).
///
/// A short poll by primary key (10 ms, doubling up to 200 ms) rather than LISTEN: a LISTEN
/// would hold a dedicated connection per waiting request, and a 3-step run finishes within
/// a few polls, each costing a fraction of a millisecond.
pub async fn wait_finished(
    pool: &PgPool,
    tenant: &str,
    id: Uuid,
    timeout: Duration,
) -> sqlx::Result<Option<RunRow>> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        let run = get(&mut *pool.acquire().await?, tenant, id).await?;
        let now = tokio::time::Instant::now();
        match &run {
            Some(r) if !r.status().is_terminal() && now < deadline => {
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            _ => return Ok(run),
        }
    }
}

/// Runs whose trigger must be pushed (again), locked for this transaction (`SKIP LOCKED`:
/// two sweepers never take the same run):
/// - a queued retry that is due and was not pushed since it was scheduled;
/// - a running run whose lease expired (dead worker), not pushed since it expired;
/// - a queued or lease-expired run whose last push is older than `redeliver_after` (its
///   trigger was lost in Redis).
///
/// Runs never pushed are the outbox's job, not this scan's.
pub async fn due_for_push(
    conn: &mut PgConnection,
    redeliver_after: Duration,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM runs
         WHERE (status = 'queued' AND next_attempt_at <= now() AND pushed_at IS NOT NULL
                AND (pushed_at < next_attempt_at
                     OR pushed_at < now() - $1 * interval '1 millisecond'))
            OR (status = 'running' AND lease_until < now()
                AND (pushed_at IS NULL OR pushed_at < lease_until
                     OR pushed_at < now() - $1 * interval '1 millisecond'))
         ORDER BY next_attempt_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED",
    )
    .bind(ms(redeliver_after))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Records that the triggers of these runs were pushed now (without waiting for the WAL
/// flush: a lost mark means one more harmless push).
pub async fn mark_pushed(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "WITH r AS (UPDATE runs SET pushed_at = now() WHERE id = ANY($1)) SELECT 1 FROM {ASYNC}"
    ))
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that `jobs::dispatch` is pushing this run's trigger now; false if it was pushed
/// already (by the relay) or the run is no longer queued. Undo with [`unmark_pushed`].
pub async fn mark_dispatched(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "WITH r AS (UPDATE runs SET pushed_at = now()
                    WHERE id = $1 AND pushed_at IS NULL AND status = 'queued' RETURNING 1)
         SELECT (SELECT count(*) FROM r) FROM {ASYNC}"
    ))
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// Forgets a push that failed, so the relay delivers the trigger.
pub async fn unmark_pushed(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "WITH r AS (UPDATE runs SET pushed_at = NULL WHERE id = $1) SELECT 1 FROM {ASYNC}"
    ))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
