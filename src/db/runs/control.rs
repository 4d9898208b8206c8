//! Operators' control of runs: cancel (at once while nothing is done, else by a request the
//! engine honours at the next step boundary), retry of a failed or compensated run (its
//! unfinished steps again, its done steps kept), and the dead runs by kind. Each write is
//! part of the acceptance transaction of the operator's request, so it is durable.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use sqlx::types::Json;

use super::{RunRow, RunStatus, StoredStep};
use crate::domain::ids::{CustomerId, RunId, TenantId};

/// The run, locked until the caller's transaction ends (so a cancel and a retry of the same
/// run, or two of either, are decided one after the other).
pub async fn lock(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: RunId,
) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as!(
        RunRow,
        r#"SELECT id, tenant_id, kind, subject_id, customer_id AS "customer_id: CustomerId", requested_by, input,
                status AS "status: RunStatus", progress_done, progress_total, current_step,
                attempts, lease_owner, lease_until, next_attempt_at, pushed_at, result, error,
                created_at, started_at, finished_at, updated_at, correlation_id, queue,
                cancel_requested_at, retries, progress_unit, progress_failed
         FROM runs WHERE id = $2 AND (tenant_id = $1) IS TRUE FOR UPDATE"#,
        tenant.as_str(),
        id.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

/// Cancels a queued run that no worker holds and none of whose steps is done: nothing to
/// undo, so it ends `cancelled` now (with `error`), and so does the request it serves.
/// False when the run does not qualify.
pub async fn cancel_now(
    conn: &mut PgConnection,
    id: RunId,
    by: &str,
    error: &Value,
) -> sqlx::Result<bool> {
    let n = sqlx::query_scalar!(
        r#"WITH r AS (
             UPDATE runs SET status = 'cancelled', error = $3, finished_at = now(),
                 updated_at = now(), current_step = NULL,
                 cancel_requested_at = coalesce(cancel_requested_at, now()),
                 cancel_requested_by = coalesce(cancel_requested_by, $2)
             WHERE id = $1 AND status = 'queued'
               AND (lease_until IS NULL OR lease_until < now())
               AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(steps) s
                               WHERE s ->> 'status' = 'done')
             RETURNING id),
         q AS (UPDATE requests SET status = 'cancelled', updated_at = now()
               WHERE run_id IN (SELECT id FROM r))
         SELECT count(*) AS "cancelled!" FROM r"#,
        id.as_uuid(),
        by,
        error,
    )
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// Asks the engine to cancel a run that is under way (or waits for a retry with steps
/// done): the worker holding it stops at the next step or item boundary, compensates and
/// ends it `cancelled`. A waiting run falls due now, so a worker takes it at once.
pub async fn request_cancel(conn: &mut PgConnection, id: RunId, by: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE runs SET cancel_requested_at = coalesce(cancel_requested_at, now()),
             cancel_requested_by = coalesce(cancel_requested_by, $2), updated_at = now(),
             next_attempt_at = CASE WHEN status = 'queued' THEN least(next_attempt_at, now())
                                    ELSE next_attempt_at END
         WHERE id = $1 AND status IN ('queued', 'running')",
        id.as_uuid(),
        by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a failed or compensated run back in its queue: its failed and compensated steps
/// become pending (attempts from zero), its done and skipped steps stay (a long job's
/// failed and cancelled items become pending, its finished ones stay), the request it
/// serves follows it, and its trigger goes in the outbox (announced to the relay). The
/// retry count grows; a step that [`StoredStep::renews_key_on_retry`] (compensated, or
/// refused) runs under the retry's new upstream key, every other step keeps the key it last
/// ran under (`key_retry`, see `super::step_key`), so a failed step whose answer was lost is
/// answered from the upstream's memory instead of acting twice. The caller holds the run's
/// lock ([`lock`]), so the steps read here are those the update rewrites.
pub async fn retry(conn: &mut PgConnection, id: RunId, channel: &str) -> sqlx::Result<Retried> {
    let steps = sqlx::query_scalar!(
        r#"SELECT steps AS "steps: Json<Vec<StoredStep>>" FROM runs WHERE id = $1"#,
        id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    // positions (from 1, as WITH ORDINALITY counts) of the steps that get the new key
    let renewing: Vec<i64> = steps
        .map(|s| s.0)
        .unwrap_or_default()
        .iter()
        .zip(1..)
        .filter(|(step, _)| step.renews_key_on_retry())
        .map(|(_, ord)| ord)
        .collect();
    let n = sqlx::query_scalar!(
        r#"WITH r AS (
             UPDATE runs SET status = 'queued', retries = retries + 1, next_attempt_at = now(),
                 error = NULL, result = NULL, finished_at = NULL, lease_owner = NULL,
                 lease_until = NULL, pushed_at = NULL, cancel_requested_at = NULL,
                 cancel_requested_by = NULL, progress_failed = 0, updated_at = now(),
                 progress_done = CASE WHEN progress_unit = 'steps'
                     THEN (SELECT count(*) FROM jsonb_array_elements(steps) s
                           WHERE s ->> 'status' = 'done')::int
                     ELSE progress_done END,
                 current_step = (SELECT s ->> 'name' FROM jsonb_array_elements(steps)
                                     WITH ORDINALITY AS t(s, ord)
                                 WHERE s ->> 'status' IN ('pending', 'failed', 'compensated')
                                 ORDER BY ord LIMIT 1),
                 steps = (SELECT coalesce(jsonb_agg(
                              CASE WHEN s ->> 'status' IN ('failed', 'compensated')
                                   THEN s || '{"status": "pending", "attempts": 0,
                                               "last_error": null, "output": null,
                                               "started_at": null, "finished_at": null,
                                               "duration_ms": null}'
                                        || CASE WHEN ord = ANY($3)
                                                THEN jsonb_build_object('key_retry', retries + 1)
                                                ELSE '{}' END
                                   ELSE s END ORDER BY ord), '[]')
                          FROM jsonb_array_elements(steps) WITH ORDINALITY AS t(s, ord))
             WHERE id = $1 AND status IN ('failed', 'compensated')
             RETURNING id, queue),
         q AS (UPDATE requests SET status = 'queued', updated_at = now()
               WHERE run_id IN (SELECT id FROM r)),
         i AS (UPDATE run_items SET status = 'pending', child_run_id = NULL, code = NULL,
                   detail = NULL, updated_at = now()
               WHERE run_id IN (SELECT id FROM r) AND status IN ('failed', 'cancelled')),
         o AS (INSERT INTO outbox (kind, run_id, queue) SELECT 'trigger', id, queue FROM r)
         SELECT count(*) AS "retried!" FROM r, (SELECT pg_notify($2, '')) AS n"#,
        id.as_uuid(),
        channel,
        &renewing,
    )
    .fetch_one(conn)
    .await;
    match n {
        Ok(1) => Ok(Retried::Queued),
        Ok(_) => Ok(Retried::NotRetryable),
        // the order has a newer open request of the same kind than the one this run serves
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("requests_one_open") => {
            Ok(Retried::Superseded)
        }
        Err(e) => Err(e),
    }
}

/// What [`retry`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retried {
    Queued,
    /// Not failed or compensated.
    NotRetryable,
    /// The request it serves was replaced by a newer one of the same kind for the order;
    /// the statement failed, so the caller's transaction (or savepoint) must roll back.
    Superseded,
}

/// The dead runs (failed or compensated) of one kind.
#[derive(Debug, Clone)]
pub struct DeadKind {
    pub kind: String,
    pub queue: String,
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
    /// `{code: count}` of their errors' problem codes.
    pub codes: Value,
}

/// The tenant's dead runs by kind, most first.
pub async fn dead_by_kind(
    conn: &mut PgConnection,
    tenant: &TenantId,
) -> sqlx::Result<Vec<DeadKind>> {
    sqlx::query_as!(
        DeadKind,
        r#"SELECT kind AS "kind!", min(queue) AS "queue!", sum(n)::bigint AS "count!",
                  min(oldest) AS oldest, max(newest) AS newest,
                  jsonb_object_agg(code, n) AS "codes!"
         FROM (SELECT kind, queue, coalesce(error->>'code', 'unknown') AS code, count(*) AS n,
                      min(finished_at) AS oldest, max(finished_at) AS newest
               FROM runs WHERE tenant_id = $1 AND status IN ('failed', 'compensated')
               GROUP BY kind, queue, 3) d
         GROUP BY kind
         ORDER BY 3 DESC, kind"#,
        tenant.as_str(),
    )
    .fetch_all(conn)
    .await
}

/// Up to `limit` dead runs of `kind`, oldest first, locked for the caller's transaction
/// (`SKIP LOCKED`: a run another operator is retrying right now is left to them).
pub async fn lock_dead(
    conn: &mut PgConnection,
    tenant: &TenantId,
    kind: &str,
    limit: i64,
) -> sqlx::Result<Vec<RunId>> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id: RunId" FROM runs
         WHERE tenant_id = $1 AND kind = $2 AND status IN ('failed', 'compensated')
         ORDER BY finished_at LIMIT $3
         FOR UPDATE SKIP LOCKED"#,
        tenant.as_str(),
        kind,
        limit,
    )
    .fetch_all(conn)
    .await
}
