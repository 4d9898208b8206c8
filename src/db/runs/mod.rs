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

/// A run's status. Terminal: succeeded, failed, compensated, cancelled. Stored as text
/// (the table's CHECK constraint lists the same names).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
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
    pub status: RunStatus,
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
        self.status
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

mod progress;
mod reads;
mod retention;
pub use progress::*;
pub use reads::*;
pub use retention::*;
