//! Reads of runs for the job resource and the sweeper's scan for runs to re-push.

use std::time::Duration;

use crate::domain::ids::{CustomerId, RunId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{RunRow, RunStatus, StepRow, StoredStep, ms, step_rows};

/// One run of the tenant.
pub async fn get(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: RunId,
) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as!(
        RunRow,
        r#"SELECT id, tenant_id, kind, subject_id, customer_id AS "customer_id: CustomerId", requested_by, input,
                status AS "status: RunStatus", progress_done, progress_total, current_step,
                attempts, lease_owner, lease_until, next_attempt_at, pushed_at, result, error,
                created_at, started_at, finished_at, updated_at, correlation_id, queue, cancel_requested_at, retries, progress_unit, progress_failed
         FROM runs WHERE id = $2 AND (tenant_id = $1) IS TRUE"#,
        tenant.as_str(),
        id.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

/// One run of the tenant that belongs to this customer (else `None`: never confirm others').
pub async fn get_for_customer(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: RunId,
    customer_id: &CustomerId,
) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as!(
        RunRow,
        r#"SELECT id, tenant_id, kind, subject_id, customer_id AS "customer_id: CustomerId", requested_by, input,
                status AS "status: RunStatus", progress_done, progress_total, current_step,
                attempts, lease_owner, lease_until, next_attempt_at, pushed_at, result, error,
                created_at, started_at, finished_at, updated_at, correlation_id, queue, cancel_requested_at, retries, progress_unit, progress_failed
         FROM runs WHERE id = $2 AND (tenant_id = $1) IS TRUE AND customer_id = $3"#,
        tenant.as_str(),
        id.as_uuid(),
        customer_id.as_str(),
    )
    .fetch_optional(conn)
    .await
}

/// The steps of a run of the tenant, in order (none when the tenant has no such run).
pub async fn steps(
    conn: &mut PgConnection,
    tenant: &TenantId,
    run_id: RunId,
) -> sqlx::Result<Vec<StepRow>> {
    let steps = sqlx::query_scalar!(
        r#"SELECT steps AS "steps: Json<Vec<StoredStep>>"
           FROM runs WHERE tenant_id = $1 AND id = $2"#,
        tenant.as_str(),
        run_id.as_uuid(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(steps.map_or_else(Vec::new, |s| step_rows(run_id, s.0)))
}

/// Filters of a run list; newest first, keyset on (created_at, id).
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub kind: Option<String>,
    pub status: Option<RunStatus>,
    pub customer_id: Option<CustomerId>,
    /// The queue the runs wait or waited in.
    pub queue: Option<String>,
    /// (created_at, id) of the last run of the previous page.
    pub before: Option<(DateTime<Utc>, RunId)>,
    pub limit: i64,
}

pub async fn list(
    conn: &mut PgConnection,
    tenant: &TenantId,
    f: &RunFilter,
) -> sqlx::Result<Vec<RunRow>> {
    let (at, id) = match f.before {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    sqlx::query_as!(
        RunRow,
        r#"SELECT id, tenant_id, kind, subject_id, customer_id AS "customer_id: CustomerId", requested_by, input,
                status AS "status: RunStatus", progress_done, progress_total, current_step,
                attempts, lease_owner, lease_until, next_attempt_at, pushed_at, result, error,
                created_at, started_at, finished_at, updated_at, correlation_id, queue, cancel_requested_at, retries, progress_unit, progress_failed
         FROM runs
         WHERE tenant_id = $1
           AND ($2::text IS NULL OR kind = $2)
           AND ($3::text IS NULL OR status = $3)
           AND ($4::text IS NULL OR customer_id = $4)
           AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
           AND ($8::text IS NULL OR queue = $8)
         ORDER BY created_at DESC, id DESC
         LIMIT $7"#,
        tenant.as_str(),
        f.kind.as_deref(),
        f.status as Option<RunStatus>,
        f.customer_id.as_ref().map(|c| c.as_str()),
        at,
        id.map(|id| id.as_uuid()),
        f.limit,
        f.queue.as_deref(),
    )
    .fetch_all(conn)
    .await
}

/// The runs of the tenant among `ids` (any order; ids of other tenants or deleted runs are
/// simply absent). By primary key: the console's event stream reads its page's jobs so.
pub async fn get_many(
    conn: &mut PgConnection,
    tenant: &TenantId,
    ids: &[RunId],
) -> sqlx::Result<Vec<RunRow>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    sqlx::query_as!(
        RunRow,
        r#"SELECT id, tenant_id, kind, subject_id, customer_id AS "customer_id: CustomerId", requested_by, input,
                status AS "status: RunStatus", progress_done, progress_total, current_step,
                attempts, lease_owner, lease_until, next_attempt_at, pushed_at, result, error,
                created_at, started_at, finished_at, updated_at, correlation_id, queue, cancel_requested_at, retries, progress_unit, progress_failed
         FROM runs WHERE tenant_id = $1 AND id = ANY($2)"#,
        tenant.as_str(),
        &ids,
    )
    .fetch_all(conn)
    .await
}

/// What the console's job search looks for: one term that may be a job id, a request id
/// (whose run it names), an order id (the run's subject or its input's `order_id`, a
/// request about the order, or a bulk job with the order among its items) or a correlation
/// id.
#[derive(Debug, Clone)]
pub struct RunSearch {
    pub term: String,
    /// Narrowed like a listing.
    pub kind: Option<String>,
    pub status: Option<RunStatus>,
    pub queue: Option<String>,
    pub limit: i64,
}

/// The tenant's runs that `s.term` names, newest first, at most `s.limit`: by their id,
/// their request's id, their order (subject or input), the bulk jobs that had the order as
/// an item, or their correlation id. The ids are found by key (`runs` and `requests`
/// primary keys, `requests_by_order`, `run_items_by_subject`); the subject, input and
/// correlation id are compared within the tenant's runs.
pub async fn search(
    conn: &mut PgConnection,
    tenant: &TenantId,
    s: &RunSearch,
) -> sqlx::Result<Vec<RunRow>> {
    let as_uuid = Uuid::parse_str(s.term.trim()).ok();
    sqlx::query_as!(
        RunRow,
        r#"SELECT id, tenant_id, kind, subject_id, customer_id AS "customer_id: CustomerId", requested_by, input,
                status AS "status: RunStatus", progress_done, progress_total, current_step,
                attempts, lease_owner, lease_until, next_attempt_at, pushed_at, result, error,
                created_at, started_at, finished_at, updated_at, correlation_id, queue, cancel_requested_at, retries, progress_unit, progress_failed
         FROM runs
         WHERE tenant_id = $1
           AND ($4::text IS NULL OR kind = $4)
           AND ($5::text IS NULL OR status = $5)
           AND ($6::text IS NULL OR queue = $6)
           AND (id = $2
                OR id IN (SELECT q.run_id FROM requests q
                          WHERE q.tenant_id = $1 AND q.run_id IS NOT NULL
                            AND (q.id = $2 OR q.order_id = $3))
                OR subject_id = $3
                OR id IN (SELECT i.run_id FROM run_items i
                          WHERE i.tenant_id = $1 AND i.subject_id = $3)
                OR input ->> 'order_id' = $3
                OR correlation_id = $3)
         ORDER BY created_at DESC, id DESC
         LIMIT $7"#,
        tenant.as_str(),
        as_uuid,
        s.term.trim(),
        s.kind.as_deref(),
        s.status as Option<RunStatus>,
        s.queue.as_deref(),
        s.limit,
    )
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
    tenant: &TenantId,
    id: RunId,
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
/// Runs never pushed are the outbox's job, not this scan's. A run never claimed can have
/// lost its trigger only once it was pushed more than `redeliver_after` ago, so it was due
/// before then: the scan reads that part of the queue, and the runs queued again after a
/// claim, never the backlog the relay is still delivering (`runs_due` holds `attempts`).
/// Each kind is its own range of the index, locked as it is read; a pass may lock up to
/// three times `limit` runs and push `limit` of them (the rest wait for the next pass).
pub async fn due_for_push(
    conn: &mut PgConnection,
    redeliver_after: Duration,
    limit: i64,
    full: &[String],
) -> sqlx::Result<Vec<(RunId, String)>> {
    let rows = sqlx::query!(
        r#"WITH retries AS (
             SELECT id, queue, next_attempt_at FROM runs
             WHERE status = 'queued' AND attempts > 0 AND next_attempt_at <= now()
               AND pushed_at IS NOT NULL
               AND (pushed_at < next_attempt_at
                    OR pushed_at < now() - $1::bigint * interval '1 millisecond')
               AND queue <> ALL($3)
             ORDER BY next_attempt_at LIMIT $2
             FOR UPDATE SKIP LOCKED),
           lost AS (
             SELECT id, queue, next_attempt_at FROM runs
             WHERE status = 'queued' AND attempts = 0
               AND next_attempt_at < now() - $1::bigint * interval '1 millisecond'
               AND pushed_at < now() - $1::bigint * interval '1 millisecond'
               AND queue <> ALL($3)
             ORDER BY next_attempt_at LIMIT $2
             FOR UPDATE SKIP LOCKED),
           expired AS (
             SELECT id, queue, next_attempt_at FROM runs
             WHERE status = 'running' AND lease_until < now()
               AND (pushed_at IS NULL OR pushed_at < lease_until
                    OR pushed_at < now() - $1::bigint * interval '1 millisecond')
               AND queue <> ALL($3)
             ORDER BY next_attempt_at LIMIT $2
             FOR UPDATE SKIP LOCKED)
         SELECT id AS "id!: RunId", queue AS "queue!" FROM (
             SELECT * FROM retries UNION ALL SELECT * FROM lost UNION ALL SELECT * FROM expired) d
         ORDER BY next_attempt_at
         LIMIT $2"#,
        ms(redeliver_after),
        limit,
        full,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.queue)).collect())
}

/// Records that the triggers of these runs were pushed now (without waiting for the WAL
/// flush: a lost mark means one more harmless push).
pub async fn mark_pushed(conn: &mut PgConnection, ids: &[RunId]) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH r AS (UPDATE runs SET pushed_at = now() WHERE id = ANY($1))
         SELECT 1 AS done FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit",
        &ids.iter().map(|r| r.as_uuid()).collect::<Vec<_>>(),
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// Records that `jobs::dispatch` pushed this run's trigger, so that a relay pass that finds
/// the run still queued (waiting in Redis) only removes its outbox row. False when there
/// was nothing to record: a push recorded already (by the relay), or a worker that has
/// taken the run, or is taking it now (its row is locked: the mark does not wait for the
/// claim, and the relay leaves a run that is no longer queued alone anyway).
pub async fn mark_dispatched(conn: &mut PgConnection, id: RunId) -> sqlx::Result<bool> {
    let n = sqlx::query_scalar!(
        r#"WITH r AS (UPDATE runs SET pushed_at = now()
                    WHERE id = (SELECT id FROM runs WHERE id = $1 AND pushed_at IS NULL
                                AND status = 'queued' FOR UPDATE SKIP LOCKED)
                    RETURNING 1)
         SELECT (SELECT count(*) FROM r) AS "marked!"
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        id.as_uuid(),
    )
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}
