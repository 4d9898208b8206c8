//! Workflow runs and their steps (`runs`, `run_steps`): acceptance, the claim/lease protocol,
//! checkpoints, retries, the finish, the reads behind the job resource, and the sweeper's
//! due-run scan.
//!
//! Durability rule: only the acceptance (`insert`, in the request's transaction) must be
//! durable. Every write the engine makes afterwards (claim, checkpoint, failure, finish)
//! commits with `synchronous_commit = off`: a write lost in a Postgres crash only means a
//! step runs again under the same upstream Idempotency-Key and gets the same answer. The
//! setting is made inside the statement itself (`ASYNC`), so each engine write stays one
//! round trip instead of BEGIN / SET LOCAL / write / COMMIT.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// Appended as `FROM {ASYNC}` to an engine write: turns off the WAL flush of its commit.
pub(crate) const ASYNC: &str =
    "(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit";

/// A run's status. Terminal: succeeded, failed, compensated, cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Compensated,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Compensated,
        RunStatus::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Compensated => "compensated",
            RunStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<RunStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// One row of `runs`.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct RunRow {
    pub id: Uuid,
    pub tenant_id: String,
    pub kind: String,
    pub subject_id: Option<String>,
    pub customer_id: Option<String>,
    pub requested_by: String,
    pub input: Value,
    /// See [`RunStatus`]; [`RunRow::status`] parses it.
    pub status: String,
    pub progress_done: i32,
    /// The steps that run for this input (skipped steps are not counted).
    pub progress_total: i32,
    pub current_step: Option<String>,
    /// How many times a worker claimed the run.
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub result: Option<Value>,
    /// A problem+json body (`code`, `detail`, …) when the run did not succeed.
    pub error: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl RunRow {
    pub fn status(&self) -> RunStatus {
        RunStatus::parse(&self.status).unwrap_or(RunStatus::Queued)
    }
}

/// One row of `run_steps`. Status: pending, done, skipped, failed, compensated (`running` is
/// not written: the run's `current_step` names the step in progress).
#[derive(Debug, Clone, FromRow, Serialize, Deserialize)]
pub struct StepRow {
    pub run_id: Uuid,
    pub idx: i32,
    pub name: String,
    pub status: String,
    pub attempts: i32,
    pub output: Option<Value>,
    pub last_error: Option<Value>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

/// A run to insert, with its steps in order (`true` = skipped because its `when` is false).
pub struct NewRunRow<'a> {
    pub id: Uuid,
    pub tenant_id: &'a str,
    pub kind: &'a str,
    pub subject_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    pub requested_by: &'a str,
    pub input: &'a Value,
    pub steps: &'a [(&'a str, bool)],
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Inserts the run and its steps (in the caller's transaction: the acceptance).
pub async fn insert(conn: &mut PgConnection, new: &NewRunRow<'_>) -> sqlx::Result<RunRow> {
    let names: Vec<&str> = new.steps.iter().map(|(n, _)| *n).collect();
    let skipped: Vec<bool> = new.steps.iter().map(|(_, s)| *s).collect();
    let total = skipped.iter().filter(|s| !**s).count() as i32;
    let first = new.steps.iter().find(|(_, s)| !s).map(|(n, _)| *n);
    sqlx::query_as(
        "WITH r AS (
             INSERT INTO runs (id, tenant_id, kind, subject_id, customer_id, requested_by, input,
                               progress_total, current_step)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *),
         s AS (
             INSERT INTO run_steps (run_id, idx, name, status)
             SELECT $1, t.ord - 1, t.name, CASE WHEN t.skipped THEN 'skipped' ELSE 'pending' END
             FROM unnest($10::text[], $11::bool[]) WITH ORDINALITY AS t(name, skipped, ord))
         SELECT * FROM r",
    )
    .bind(new.id)
    .bind(new.tenant_id)
    .bind(new.kind)
    .bind(new.subject_id)
    .bind(new.customer_id)
    .bind(new.requested_by)
    .bind(new.input)
    .bind(total)
    .bind(first)
    .bind(&names)
    .bind(&skipped)
    .fetch_one(conn)
    .await
}

/// Claims the run for `worker` until now + `lease`, returning it with its steps; `None` when
/// it is finished, leased by a live worker, or a queued retry not yet due (a duplicate or
/// early trigger: ack it and move on).
pub async fn claim(
    conn: &mut PgConnection,
    run_id: Uuid,
    worker: &str,
    lease: Duration,
) -> sqlx::Result<Option<(RunRow, Vec<StepRow>)>> {
    #[derive(FromRow)]
    struct Claimed {
        #[sqlx(flatten)]
        run: RunRow,
        steps: Json<Vec<StepRow>>,
    }
    let row: Option<Claimed> = sqlx::query_as(&format!(
        "WITH c AS (
             UPDATE runs SET status = 'running', lease_owner = $2,
                 lease_until = now() + $3 * interval '1 millisecond',
                 attempts = attempts + 1, started_at = coalesce(started_at, now()),
                 updated_at = now()
             WHERE id = $1 AND status IN ('queued', 'running')
               AND (lease_until IS NULL OR lease_until < now())
               AND (status = 'running' OR next_attempt_at <= now())
             RETURNING *)
         SELECT c.*, (SELECT coalesce(json_agg(s ORDER BY s.idx), '[]')
                      FROM run_steps s WHERE s.run_id = c.id) AS steps
         FROM c, {ASYNC}"
    ))
    .bind(run_id)
    .bind(worker)
    .bind(ms(lease))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|c| (c.run, c.steps.0)))
}

/// Pushes the lease of a run `worker` holds to now + `lease`; false if it lost the lease.
pub async fn extend_lease(
    conn: &mut PgConnection,
    run_id: Uuid,
    worker: &str,
    lease: Duration,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "WITH r AS (UPDATE runs SET lease_until = now() + $3 * interval '1 millisecond'
                    WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING 1)
         SELECT (SELECT count(*) FROM r) FROM {ASYNC}"
    ))
    .bind(run_id)
    .bind(worker)
    .bind(ms(lease))
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// How a run ends.
pub struct Finish<'a> {
    pub status: RunStatus,
    pub result: Option<&'a Value>,
    pub error: Option<&'a Value>,
}

/// A step that succeeded.
#[derive(Debug, Clone)]
pub struct StepDone {
    pub idx: i32,
    pub output: Value,
    pub attempts: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// One or more steps that succeeded (the engine coalesces fast consecutive steps).
pub struct Checkpoint<'a> {
    pub run_id: Uuid,
    pub worker: &'a str,
    pub lease: Duration,
    pub steps: &'a [StepDone],
    /// The run's progress after these steps.
    pub progress_done: i32,
    pub next_step: Option<&'a str>,
    /// Set when nothing runs between these steps and the run's end: finishes it too.
    pub finish: Option<Finish<'a>>,
}

/// Marks steps done with their outputs, moves the run's progress and lease on (and finishes
/// the run when `finish` is set), in one statement. False if the worker lost the lease.
pub async fn checkpoint(conn: &mut PgConnection, cp: &Checkpoint<'_>) -> sqlx::Result<bool> {
    let status = cp.finish.as_ref().map(|f| f.status.as_str());
    let idx: Vec<i32> = cp.steps.iter().map(|s| s.idx).collect();
    let outputs: Vec<&Value> = cp.steps.iter().map(|s| &s.output).collect();
    let attempts: Vec<i32> = cp.steps.iter().map(|s| s.attempts).collect();
    let started: Vec<DateTime<Utc>> = cp.steps.iter().map(|s| s.started_at).collect();
    let finished: Vec<DateTime<Utc>> = cp.steps.iter().map(|s| s.finished_at).collect();
    let n: i64 = sqlx::query_scalar(&format!(
        "WITH r AS (
             UPDATE runs SET progress_done = $7, current_step = $8, updated_at = now(),
                 lease_until = CASE WHEN $9::text IS NULL
                     THEN now() + $3 * interval '1 millisecond' END,
                 lease_owner = CASE WHEN $9::text IS NULL THEN lease_owner END,
                 status = coalesce($9, status),
                 result = CASE WHEN $9::text IS NULL THEN result ELSE $10 END,
                 error = CASE WHEN $9::text IS NULL THEN error ELSE $11 END,
                 finished_at = CASE WHEN $9::text IS NULL THEN NULL ELSE now() END
             WHERE id = $1 AND lease_owner = $2 RETURNING id),
         s AS (
             UPDATE run_steps SET status = 'done', output = t.output, attempts = t.attempts,
                 last_error = NULL, started_at = t.started_at, finished_at = t.finished_at,
                 duration_ms = (extract(epoch FROM t.finished_at - t.started_at) * 1000)::bigint
             FROM unnest($4::int[], $5::jsonb[], $6::int[], $12::timestamptz[],
                         $13::timestamptz[]) AS t(idx, output, attempts, started_at, finished_at)
             WHERE run_steps.run_id = (SELECT id FROM r) AND run_steps.idx = t.idx RETURNING 1)
         SELECT (SELECT count(*) FROM s) FROM {ASYNC}"
    ))
    .bind(cp.run_id)
    .bind(cp.worker)
    .bind(ms(cp.lease))
    .bind(&idx)
    .bind(&outputs)
    .bind(&attempts)
    .bind(cp.progress_done)
    .bind(cp.next_step)
    .bind(status)
    .bind(cp.finish.as_ref().and_then(|f| f.result))
    .bind(cp.finish.as_ref().and_then(|f| f.error))
    .bind(&started)
    .bind(&finished)
    .fetch_one(conn)
    .await?;
    Ok(n == cp.steps.len() as i64)
}

/// A failed attempt of a step.
pub struct StepFailure<'a> {
    pub run_id: Uuid,
    pub worker: &'a str,
    pub idx: i32,
    pub attempts: i32,
    pub error: &'a Value,
    /// `failed` when no attempt is left (or the failure is permanent); else `pending`.
    pub step_status: &'a str,
    /// Release the lease and let the sweeper re-push the run after this delay.
    pub retry_in: Option<Duration>,
    /// Progress after this failure (a failed non-critical step counts as processed).
    pub progress_done: i32,
}

/// Records a step's failed attempt; with `retry_in`, also puts the run back to `queued`
/// with its `next_attempt_at` and releases the lease. False if the worker lost the lease.
pub async fn record_step_failure(
    conn: &mut PgConnection,
    f: &StepFailure<'_>,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "WITH r AS (
             UPDATE runs SET updated_at = now(), progress_done = $8,
                 status = CASE WHEN $7::bigint IS NULL THEN status ELSE 'queued' END,
                 next_attempt_at = CASE WHEN $7::bigint IS NULL THEN next_attempt_at
                     ELSE now() + $7 * interval '1 millisecond' END,
                 lease_owner = CASE WHEN $7::bigint IS NULL THEN lease_owner END,
                 lease_until = CASE WHEN $7::bigint IS NULL THEN lease_until END
             WHERE id = $1 AND lease_owner = $2 RETURNING id),
         s AS (
             UPDATE run_steps SET attempts = $4, last_error = $5, status = $6,
                 finished_at = CASE WHEN $6 = 'failed' THEN now() END
             WHERE run_id = (SELECT id FROM r) AND idx = $3 RETURNING 1)
         SELECT (SELECT count(*) FROM s) FROM {ASYNC}"
    ))
    .bind(f.run_id)
    .bind(f.worker)
    .bind(f.idx)
    .bind(f.attempts)
    .bind(f.error)
    .bind(f.step_status)
    .bind(f.retry_in.map(ms))
    .bind(f.progress_done)
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// Sets a step's status (`compensated`, or `done` again with the compensation's error in
/// `last_error`) and the run's `current_step`; `finished_at` becomes the time of this
/// change. False if the worker lost the lease.
pub async fn set_step_status(
    conn: &mut PgConnection,
    run_id: Uuid,
    worker: &str,
    idx: i32,
    status: &str,
    last_error: Option<&Value>,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "WITH r AS (UPDATE runs SET updated_at = now(),
                        current_step = (SELECT name FROM run_steps WHERE run_id = $1 AND idx = $3)
                    WHERE id = $1 AND lease_owner = $2 RETURNING id),
         s AS (UPDATE run_steps SET status = $4, last_error = coalesce($5, last_error),
                   finished_at = clock_timestamp()
               WHERE run_id = (SELECT id FROM r) AND idx = $3 RETURNING 1)
         SELECT (SELECT count(*) FROM s) FROM {ASYNC}"
    ))
    .bind(run_id)
    .bind(worker)
    .bind(idx)
    .bind(status)
    .bind(last_error)
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// Ends a run held by `worker` (status, result, error, finished_at; lease released).
pub async fn finish(
    conn: &mut PgConnection,
    run_id: Uuid,
    worker: &str,
    f: &Finish<'_>,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "WITH r AS (UPDATE runs SET status = $3, result = $4, error = $5, finished_at = now(),
                        updated_at = now(), current_step = NULL,
                        lease_owner = NULL, lease_until = NULL
                    WHERE id = $1 AND lease_owner = $2 RETURNING 1)
         SELECT (SELECT count(*) FROM r) FROM {ASYNC}"
    ))
    .bind(run_id)
    .bind(worker)
    .bind(f.status.as_str())
    .bind(f.result)
    .bind(f.error)
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

mod reads;
pub use reads::*;
