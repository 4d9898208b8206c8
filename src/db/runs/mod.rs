//! Workflow runs and their steps (`runs`, a run's steps in its `steps` column): acceptance,
//! the claim/lease protocol, checkpoints, retries, the finish, the reads behind the job
//! resource, and the sweeper's due-run scan.
//!
//! Durability rule: only the acceptance (`insert`, in the request's transaction) must be
//! durable. Every write the engine makes afterwards (claim, checkpoint, failure, finish)
//! commits with `synchronous_commit = off`: a write lost in a Postgres crash only means a
//! step runs again under the same upstream Idempotency-Key and gets the same answer. The
//! setting is made inside the statement itself, so each engine write stays one round trip
//! instead of BEGIN / SET LOCAL / write / COMMIT: such a statement ends in
//! `FROM …, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit` (spelled
//! out in each, as the checked macros take the SQL only as one literal).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::ids::{CustomerId, RequestId, RunId, TenantId};
use crate::domain::request::RequestStatus;

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

/// A request follows its run: once the run exists, the request's status is the run's.
impl From<RunStatus> for RequestStatus {
    fn from(s: RunStatus) -> RequestStatus {
        match s {
            RunStatus::Queued => RequestStatus::Queued,
            RunStatus::Running => RequestStatus::Running,
            RunStatus::Succeeded => RequestStatus::Succeeded,
            RunStatus::Failed => RequestStatus::Failed,
            RunStatus::Compensated => RequestStatus::Compensated,
            RunStatus::Cancelled => RequestStatus::Cancelled,
        }
    }
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
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: RunId,
    pub tenant_id: TenantId,
    pub kind: String,
    pub subject_id: Option<String>,
    pub customer_id: Option<CustomerId>,
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
    /// The correlation id of the request that started it; its upstream calls send it.
    pub correlation_id: Option<String>,
    /// Its workflow's queue (`workflows.toml`), as it was when the run was accepted.
    pub queue: String,
    /// Set when someone asked to cancel it: the engine stops at the next step (or item)
    /// boundary, compensates, and ends it `cancelled`.
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// How many times an operator retried it (its upstream keys carry the number).
    pub retries: i32,
    /// What `progress_done` / `progress_total` count: `steps`, or a long job's `items`,
    /// `rows`, `parts`.
    pub progress_unit: String,
    /// A long job's items that failed so far.
    pub progress_failed: i32,
}

impl RunRow {
    /// The upstream Idempotency-Key of its `on_finish` action: `{run}:on_finish`, and
    /// `{run}:on_finish:r{n}` once an operator retried the run `n` times (each end of the
    /// run is a new outcome to announce, so an earlier end's saved answer must not be
    /// replayed). A step's key is [`step_key`].
    pub fn on_finish_key(&self) -> String {
        step_key(self.id, "on_finish", self.retries)
    }
}

/// The upstream Idempotency-Key of step `step` of run `run`: `{run}:{step}`, or
/// `{run}:{step}:r{n}` when the step runs under the key of the run's `n`th operator retry
/// ([`StepRow::key_retry`], chosen by [`StoredStep::renews_key_on_retry`]).
pub fn step_key(run: RunId, step: &str, key_retry: i32) -> String {
    match key_retry {
        0 => format!("{run}:{step}"),
        n => format!("{run}:{step}:r{n}"),
    }
}

impl RunRow {
    pub fn status(&self) -> RunStatus {
        self.status
    }
}

/// A step's status. The table's CHECK constraint also allows `running`, which is never
/// written: the run's `current_step` names the step in progress.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Done,
    Skipped,
    Failed,
    Compensated,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
            StepStatus::Compensated => "compensated",
        }
    }
}

/// One step of a run (an element of `runs.steps`, with the run's id and its position).
#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub run_id: RunId,
    pub idx: i32,
    pub name: String,
    pub status: StepStatus,
    pub attempts: i32,
    pub output: Option<Value>,
    pub last_error: Option<Value>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// The operator retry whose key the step runs under (0: the run's first key), see
    /// [`step_key`].
    pub key_retry: i32,
}

impl StepRow {
    /// The upstream Idempotency-Key this step sends (its compensation sends
    /// `{key}:compensate`).
    pub fn key(&self) -> String {
        step_key(self.run_id, &self.name, self.key_retry)
    }
}

/// A step as `runs.steps` holds it: its position in the array is its index. Every key is
/// written, `null` when unset (see migration 0044).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredStep {
    name: String,
    status: StepStatus,
    attempts: i32,
    output: Option<Value>,
    last_error: Option<Value>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    /// Absent in runs accepted before operator retries kept keys per step: 0.
    #[serde(default)]
    key_retry: i32,
}

impl StoredStep {
    /// Whether an operator's retry gives this step a new upstream Idempotency-Key (the
    /// retry's `:r{n}`). Only where no effect of its earlier calls can stand: a `compensated`
    /// step (its effect was undone), and a `failed` one whose last error was a definitive
    /// refusal — a 4xx answer other than 408 and 429, which are retried (the upstream
    /// contract stores a refusal under its key and
    /// serialises calls of one key, so it answers no "in progress") — so that the retry
    /// asks afresh instead of being answered the saved refusal. A step that makes several
    /// calls reports a refusal after one of them took effect as a 502
    /// (`StepError::after_partial_effect`), so it keeps its key. Every other
    /// step keeps the key it last ran under: a step that failed on a 5xx, a timeout or a
    /// lost answer may have acted (a refund answered 503 until its attempts ran out), and a
    /// new key would act a second time; a `done` step (one without a compensation, or whose
    /// compensation failed) does not run again; a `pending` or `skipped` one never called.
    pub(crate) fn renews_key_on_retry(&self) -> bool {
        match self.status {
            StepStatus::Compensated => true,
            StepStatus::Failed => {
                let answered = self
                    .last_error
                    .as_ref()
                    .and_then(|e| e.get("status"))
                    .and_then(Value::as_u64);
                // 408 and 429 are retried: a step that ran out of attempts on them was
                // never answered
                matches!(answered, Some(400..=499)) && !matches!(answered, Some(408 | 429))
            }
            _ => false,
        }
    }

    /// A step of a new run: pending, or skipped (its `when` is false).
    fn new(name: &str, skipped: bool) -> StoredStep {
        StoredStep {
            name: name.to_string(),
            status: if skipped {
                StepStatus::Skipped
            } else {
                StepStatus::Pending
            },
            attempts: 0,
            output: None,
            last_error: None,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            key_retry: 0,
        }
    }
}

/// The steps of run `run_id` as `runs.steps` holds them, in order.
pub(crate) fn step_rows(run_id: RunId, steps: Vec<StoredStep>) -> Vec<StepRow> {
    steps
        .into_iter()
        .enumerate()
        .map(|(idx, s)| StepRow {
            run_id,
            idx: idx as i32,
            name: s.name,
            status: s.status,
            attempts: s.attempts,
            output: s.output,
            last_error: s.last_error,
            started_at: s.started_at,
            finished_at: s.finished_at,
            duration_ms: s.duration_ms,
            key_retry: s.key_retry,
        })
        .collect()
}

/// A run to insert, with its steps in order (`true` = skipped because its `when` is false).
pub struct NewRunRow<'a> {
    pub id: RunId,
    pub tenant_id: &'a TenantId,
    pub kind: &'a str,
    pub subject_id: Option<&'a str>,
    pub customer_id: Option<&'a CustomerId>,
    pub requested_by: &'a str,
    pub input: &'a Value,
    pub steps: &'a [(&'a str, bool)],
    pub correlation_id: Option<&'a str>,
    /// Its workflow's queue.
    pub queue: &'a str,
    /// NOTIFY the relay at commit. PostgreSQL serializes the commits of transactions that
    /// NOTIFY (each waits for the one before it to be flushed), so an acceptance whose
    /// caller pushes the trigger itself right after the commit does not.
    pub announce: bool,
    /// The request the run carries out: moved to `queued` with this run, `decided_by` set
    /// when given.
    pub request: Option<RequestId>,
    pub decided_by: Option<&'a str>,
}

impl<'a> NewRunRow<'a> {
    /// The steps that run for its input (skipped ones are not counted).
    fn progress_total(&self) -> i32 {
        self.steps.iter().filter(|(_, skipped)| !skipped).count() as i32
    }

    /// The step it starts at: its first one not skipped.
    fn first_step(&self) -> Option<&'a str> {
        self.steps
            .iter()
            .find(|(_, skipped)| !skipped)
            .map(|(name, _)| *name)
    }

    /// Its steps as `runs.steps` holds them.
    fn stored_steps(&self) -> Vec<StoredStep> {
        self.steps
            .iter()
            .map(|(name, skipped)| StoredStep::new(name, *skipped))
            .collect()
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Inserts the run with its steps, and its trigger (an outbox row, announced to the relay
/// by a NOTIFY delivered at commit when `new.announce`), in the caller's transaction — the
/// acceptance — and in one statement: one round trip and one statement to plan less per
/// accepted run than a separate outbox insert.
pub async fn insert(conn: &mut PgConnection, new: &NewRunRow<'_>) -> sqlx::Result<RunRow> {
    let (total, first, steps) = (new.progress_total(), new.first_step(), new.stored_steps());
    // `n` makes the NOTIFY part of the statement (a CTE that only selects runs only if
    // something reads it); CASE evaluates it only when asked
    sqlx::query_as!(
        RunRow,
        r#"WITH o AS (INSERT INTO outbox (kind, run_id, queue) VALUES ('trigger', $1, $14)),
         r AS (UPDATE requests SET status = 'queued', run_id = $1,
                      decided_by = COALESCE($11, decided_by), updated_at = now()
               WHERE id = $16 AND (tenant_id = $2) IS TRUE)
         INSERT INTO runs (id, tenant_id, kind, subject_id, customer_id, requested_by, input,
                           progress_total, current_step, correlation_id, queue, steps)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $13, $14, $10::jsonb FROM (SELECT CASE WHEN $15 THEN pg_notify($12, '')::text END) AS n
         RETURNING id, tenant_id, kind, subject_id, customer_id AS "customer_id: CustomerId", requested_by, input,
                   status AS "status: RunStatus", progress_done, progress_total, current_step,
                   attempts, lease_owner, lease_until, next_attempt_at, pushed_at, result, error,
                   created_at, started_at, finished_at, updated_at, correlation_id, queue, cancel_requested_at, retries, progress_unit, progress_failed"#,
        new.id.as_uuid(),
        new.tenant_id.as_str(),
        new.kind,
        new.subject_id,
        new.customer_id.map(|id| id.as_str()),
        new.requested_by,
        new.input,
        total,
        first,
        Json(&steps) as _,
        new.decided_by,
        super::outbox::CHANNEL,
        new.correlation_id,
        new.queue,
        new.announce,
        new.request.map(|id| id.as_uuid()),
    )
    .fetch_one(conn)
    .await
}

/// Inserts `runs` with their steps and triggers in one statement: a producer's batch of
/// runs accepted together (as BullMQ's `addBulk` is one pipeline) costs one round trip and
/// one plan, not one per run. The relay is announced at commit when any row asks for it.
/// A request's run is accepted with its request by [`insert`], never here.
pub async fn insert_many(conn: &mut PgConnection, runs: &[NewRunRow<'_>]) -> sqlx::Result<()> {
    debug_assert!(runs.iter().all(|r| r.request.is_none()));
    let mut cols = ManyRuns::default();
    for r in runs {
        cols.id.push(r.id.as_uuid());
        cols.tenant_id.push(r.tenant_id.as_str());
        cols.kind.push(r.kind);
        cols.subject_id.push(r.subject_id);
        cols.customer_id.push(r.customer_id.map(|id| id.as_str()));
        cols.requested_by.push(r.requested_by);
        cols.input.push(r.input);
        cols.total.push(r.progress_total());
        cols.first.push(r.first_step());
        cols.correlation_id.push(r.correlation_id);
        cols.queue.push(r.queue);
        cols.steps.push(Json(r.stored_steps()));
    }
    let announce = runs.iter().any(|r| r.announce);
    sqlx::query!(
        r#"WITH new AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::jsonb[], $8::int4[], $9::text[], $10::text[],
                                  $11::text[], $12::jsonb[])
                    AS t(id, tenant_id, kind, subject_id, customer_id, requested_by, input,
                         progress_total, current_step, correlation_id, queue, steps)),
           o AS (INSERT INTO outbox (kind, run_id, queue) SELECT 'trigger', id, queue FROM new ORDER BY id)
         INSERT INTO runs (id, tenant_id, kind, subject_id, customer_id, requested_by, input,
                           progress_total, current_step, correlation_id, queue, steps)
         SELECT new.* FROM new, (SELECT CASE WHEN $13 THEN pg_notify($14, '')::text END) AS n"#,
        &cols.id,
        &cols.tenant_id as &[&str],
        &cols.kind as &[&str],
        &cols.subject_id as &[Option<&str>],
        &cols.customer_id as &[Option<&str>],
        &cols.requested_by as &[&str],
        &cols.input as _,
        &cols.total,
        &cols.first as &[Option<&str>],
        &cols.correlation_id as &[Option<&str>],
        &cols.queue as &[&str],
        &cols.steps as _,
        announce,
        super::outbox::CHANNEL,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// [`insert_many`]'s rows as the columns `unnest` takes.
#[derive(Default)]
struct ManyRuns<'a> {
    id: Vec<uuid::Uuid>,
    tenant_id: Vec<&'a str>,
    kind: Vec<&'a str>,
    subject_id: Vec<Option<&'a str>>,
    customer_id: Vec<Option<&'a str>>,
    requested_by: Vec<&'a str>,
    input: Vec<&'a Value>,
    total: Vec<i32>,
    first: Vec<Option<&'a str>>,
    correlation_id: Vec<Option<&'a str>>,
    queue: Vec<&'a str>,
    steps: Vec<Json<Vec<StoredStep>>>,
}

/// Claims the run for `worker` until now + `lease`, returning it with its steps; `None` when
/// it is finished, leased by a live worker, or a queued retry not yet due (a duplicate or
/// early trigger: ack it and move on). One run of [`claim_many`].
pub async fn claim(
    conn: &mut PgConnection,
    run_id: RunId,
    worker: &str,
    lease: Duration,
) -> sqlx::Result<Option<(RunRow, Vec<StepRow>)>> {
    let mut claimed = claim_many(conn, &[(run_id, worker)], lease).await?;
    Ok(claimed.pop())
}

mod batch;
mod control;
pub mod items;
mod progress;
mod queue_stats;
mod reads;
mod retention;
pub use batch::*;
pub use control::*;
pub use progress::*;
pub use queue_stats::*;
pub use reads::*;
pub use retention::*;

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a compensated step gets the retry's new key; a failed one (its call may have
    /// committed with the answer lost) and every other keeps the key it ran under.
    #[test]
    fn a_retry_renews_the_key_of_steps_whose_effect_cannot_stand_only() {
        let step = |status: &str, last_error: Value| -> StoredStep {
            serde_json::from_value(serde_json::json!({"name": "refund", "status": status,
                "attempts": 3, "output": null, "last_error": last_error, "started_at": null,
                "finished_at": null, "duration_ms": null}))
            .unwrap()
        };
        let refused = serde_json::json!({"status": 422, "code": "payment.not_refundable"});
        let lost = serde_json::json!({"status": 503, "code": "upstream.unavailable"});
        let conflict = serde_json::json!({"status": 409, "code": "fulfillment.insufficient_stock"});
        let partial = serde_json::json!({"status": 502, "code": "payment.not_refundable"});
        assert!(step("compensated", Value::Null).renews_key_on_retry());
        assert!(
            step("failed", refused.clone()).renews_key_on_retry(),
            "refused: nothing done"
        );
        assert!(
            !step("failed", lost).renews_key_on_retry(),
            "may have acted"
        );
        assert!(
            step("failed", conflict).renews_key_on_retry(),
            "a 409 is a refusal too"
        );
        for unanswered in [408, 429] {
            let e = serde_json::json!({"status": unanswered, "code": "upstream.throttled"});
            assert!(!step("failed", e).renews_key_on_retry(), "{unanswered}");
        }
        assert!(
            !step("failed", partial).renews_key_on_retry(),
            "some calls took effect"
        );
        assert!(!step("failed", Value::Null).renews_key_on_retry());
        for status in ["pending", "done", "skipped"] {
            assert!(
                !step(status, refused.clone()).renews_key_on_retry(),
                "{status}"
            );
        }

        let run = RunId::from_uuid(uuid::Uuid::nil());
        assert_eq!(step_key(run, "refund", 0), format!("{run}:refund"));
        assert_eq!(step_key(run, "refund", 2), format!("{run}:refund:r2"));
        let old: StoredStep =
            serde_json::from_value(serde_json::json!({"name": "refund", "status": "failed",
                "attempts": 3, "output": null, "last_error": null, "started_at": null,
                "finished_at": null, "duration_ms": null}))
            .unwrap();
        assert_eq!(
            old.key_retry, 0,
            "a step stored before keys were kept per step"
        );
    }
}
