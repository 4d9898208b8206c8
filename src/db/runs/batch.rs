//! The engine's claims and ends of many runs in one statement each: a worker process
//! coalesces those of the runs it executes at the same time (`workflows::engine::batch`), so
//! Postgres pays one statement and one (asynchronous) commit for a batch instead of one per
//! run. Each run keeps its own fencing: a claim takes only a claimable run, an end only a run
//! its worker still leases.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

use super::{RunRow, RunStatus, StepDone, StepRow, StoredStep, ms, step_rows};
use crate::domain::ids::{CustomerId, RunId};

/// Claims each run for its worker until now + `lease`, returning the runs claimed with their
/// steps. A run that is finished, leased by a live worker, or a queued retry not yet due is
/// left out (a duplicate or early trigger: ack it and move on); so is a second entry of the
/// same run.
///
/// A run claimed had a trigger pushed at or before now: `pushed_at` says so when no push was
/// recorded (the worker took the trigger before `jobs::dispatch` recorded its push, which
/// then leaves the run alone), so that the sweeper re-pushes the run once it is queued again
/// for a retry or handed back (the sweeper leaves runs never pushed to the outbox).
///
/// The unfinished states are named as "not finished" (the same set, by the table's CHECK):
/// `status IN ('queued', 'running')` is the predicate of `runs_due`, and a generic plan made
/// while few runs were queued (a new database, statistics from a quiet hour) then drives the
/// claim from that index — every queued run read on every claim, 39 ms a claim under bench
/// (a)'s backlog of 20,000 where a lookup of the batch's few ids takes 2. And
/// `runs.id = ANY($1)` repeats the join for the planner, so that a plan made over statistics
/// that say "empty" cannot read the key index whole instead: the ids are the only way in.
pub async fn claim_many(
    conn: &mut PgConnection,
    runs: &[(RunId, &str)],
    lease: Duration,
) -> sqlx::Result<Vec<(RunRow, Vec<StepRow>)>> {
    let runs = in_lock_order(runs, |(id, _)| *id);
    let ids: Vec<uuid::Uuid> = runs.iter().map(|(id, _)| id.as_uuid()).collect();
    let workers: Vec<&str> = runs.iter().map(|(_, w)| *w).collect();
    let rows = sqlx::query!(
        r#"WITH c AS (
             UPDATE runs SET status = 'running', lease_owner = t.worker,
                 lease_until = now() + $3::bigint * interval '1 millisecond',
                 attempts = attempts + 1, started_at = coalesce(started_at, now()),
                 pushed_at = coalesce(runs.pushed_at, now()), updated_at = now()
             FROM unnest($1::uuid[], $2::text[]) AS t(id, worker)
             WHERE runs.id = t.id AND runs.id = ANY($1)
               AND runs.status NOT IN ('succeeded', 'failed', 'compensated', 'cancelled')
               AND (runs.lease_until IS NULL OR runs.lease_until < now())
               AND (runs.status = 'running' OR runs.next_attempt_at <= now())
             RETURNING runs.*)
         SELECT c.id, c.tenant_id, c.kind, c.subject_id, c.customer_id, c.requested_by, c.input,
                c.status AS "status: RunStatus", c.progress_done, c.progress_total,
                c.current_step, c.attempts, c.lease_owner, c.lease_until, c.next_attempt_at,
                c.pushed_at, c.result, c.error, c.created_at, c.started_at, c.finished_at,
                c.updated_at, c.correlation_id, c.queue, c.cancel_requested_at, c.retries,
                c.progress_unit, c.progress_failed, c.steps AS "steps: Json<Vec<StoredStep>>"
         FROM c, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        &ids,
        &workers as &[&str],
        ms(lease),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let run = RunRow {
                id: c.id.into(),
                tenant_id: c.tenant_id.into(),
                kind: c.kind,
                subject_id: c.subject_id,
                customer_id: c.customer_id.map(CustomerId::new),
                requested_by: c.requested_by,
                input: c.input,
                status: c.status,
                progress_done: c.progress_done,
                progress_total: c.progress_total,
                current_step: c.current_step,
                attempts: c.attempts,
                lease_owner: c.lease_owner,
                lease_until: c.lease_until,
                next_attempt_at: c.next_attempt_at,
                pushed_at: c.pushed_at,
                result: c.result,
                error: c.error,
                created_at: c.created_at,
                started_at: c.started_at,
                finished_at: c.finished_at,
                updated_at: c.updated_at,
                correlation_id: c.correlation_id,
                queue: c.queue,
                cancel_requested_at: c.cancel_requested_at,
                retries: c.retries,
                progress_unit: c.progress_unit,
                progress_failed: c.progress_failed,
            };
            (run, step_rows(c.id.into(), c.steps.0))
        })
        .collect())
}

/// How a run ends, with the checkpoints of its steps that are not written yet.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub run_id: RunId,
    /// The lease owner: the end is written only while it holds the run.
    pub worker: String,
    pub status: RunStatus,
    pub result: Option<Value>,
    /// A problem+json body when the run did not succeed.
    pub error: Option<Value>,
    /// Done steps to checkpoint with the end.
    pub steps: Vec<StepDone>,
    /// The run's steps by name, in order, as its worker claimed them (empty: not known).
    /// When `steps` are all of them, the end writes the run's steps whole
    /// ([`StepDone::whole`]) instead of patching them.
    pub step_names: Vec<String>,
    /// The run's progress after `steps`; `None` leaves it as it is.
    pub progress_done: Option<i32>,
}

/// Ends runs, each held by its worker, in one statement: status, result, error,
/// `finished_at`, lease released, and the done steps' checkpoints. With each run's end
/// goes what goes with it: the request it serves is closed (`q`: the order then accepts a new
/// request of that kind) and the outcome is appended to the audit log (`a`), under the order
/// when the run's input names one, else under the job: the job, its status and error code,
/// not its result (the run keeps that, where erasure and retention reach it). Returns the
/// runs ended; one whose worker lost its lease is left out, and nothing of it is written.
/// (Postgres runs data-modifying CTEs whether or not the final SELECT reads them.)
///
/// `runs.id = ANY($1)` repeats the join for the planner: a generic plan made over statistics
/// that say "empty" otherwise reads every run through the whole key index on each end (see
/// [`claim_many`]).
pub async fn end_many(conn: &mut PgConnection, ends: &[RunEnd]) -> sqlx::Result<Vec<RunId>> {
    let ends = in_lock_order(ends, |e| e.run_id);
    let ids: Vec<uuid::Uuid> = ends.iter().map(|e| e.run_id.as_uuid()).collect();
    let workers: Vec<&str> = ends.iter().map(|e| e.worker.as_str()).collect();
    let statuses: Vec<&str> = ends.iter().map(|e| e.status.as_str()).collect();
    // JSON null stands for "none" in the arrays (an element of a jsonb[] parameter is never
    // SQL NULL here); `nullif` turns it back into NULL
    let results: Vec<&Value> = ends
        .iter()
        .map(|e| e.result.as_ref().unwrap_or(&Value::Null))
        .collect();
    let errors: Vec<&Value> = ends
        .iter()
        .map(|e| e.error.as_ref().unwrap_or(&Value::Null))
        .collect();
    let progress: Vec<i32> = ends.iter().map(|e| e.progress_done.unwrap_or(-1)).collect();
    // each run's steps whole, or the patches of its done steps
    let (whole, steps): (Vec<bool>, Vec<Value>) = ends
        .iter()
        .map(|e| match StepDone::whole(&e.step_names, &e.steps) {
            Some(all) => (true, all),
            None => (false, StepDone::patches(&e.steps)),
        })
        .unzip();
    sqlx::query_scalar!(
        r#"WITH e AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[],
                                  $6::int[], $7::jsonb[], $8::bool[])
                 AS e(id, worker, status, result, error, progress_done, steps, whole)),
         r AS (
             UPDATE runs SET status = e.status, result = nullif(e.result, 'null'),
                 error = nullif(e.error, 'null'),
                 -- a whole array of another length than the run's is refused: NULL, which
                 -- the column's NOT NULL turns into an error of the statement
                 steps = CASE WHEN NOT e.whole
                              THEN orderdesk_steps_patched(runs.steps, e.steps)
                              WHEN jsonb_array_length(e.steps) = jsonb_array_length(runs.steps)
                              THEN e.steps END,
                 progress_done = CASE WHEN e.progress_done < 0 OR runs.progress_unit <> 'steps'
                                      THEN runs.progress_done
                                      ELSE e.progress_done END,
                 finished_at = now(), updated_at = now(), current_step = NULL,
                 lease_owner = NULL, lease_until = NULL
             FROM e WHERE runs.id = e.id AND runs.id = ANY($1) AND runs.lease_owner = e.worker
             RETURNING runs.id, runs.tenant_id, runs.kind, runs.input, runs.requested_by,
                       runs.status, runs.error),
         q AS (UPDATE requests SET status = r.status, updated_at = now()
               FROM r WHERE requests.run_id = r.id),
         a AS (INSERT INTO audit_log (tenant_id, actor_kind, actor_id, on_behalf_of, action,
                                      subject_type, subject_id, after)
               SELECT tenant_id, 'system', 'worker', requested_by, 'job.' || kind || '.' || status,
                      CASE WHEN input ? 'order_id' THEN 'order' ELSE 'job' END,
                      COALESCE(input->>'order_id', id::text),
                      -- not the result: it may hold personal data (a new address) that
                      -- an erasure redacts in the run but could not reach in this table
                      jsonb_build_object('job_id', id, 'status', status,
                                         'error_code', error->'code')
               FROM r),
         ev AS (INSERT INTO outbox (kind, tenant_id, order_id, payload)
                SELECT 'event', tenant_id, input->>'order_id',
                       orderdesk_event_envelope(tenant_id, 'job.finished',
                           jsonb_build_object('job_id', id, 'workflow', kind, 'status', status,
                                              'order_id', input->>'order_id',
                                              'error_code', error->'code'))
                FROM r)
         SELECT r.id AS "id: RunId"
         FROM r, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        &ids,
        &workers as &[&str],
        &statuses as &[&str],
        &results as &[&Value],
        &errors as &[&Value],
        &progress,
        &steps as &[Value],
        &whole,
    )
    .fetch_all(conn)
    .await
}

/// `items` sorted by run id: every statement that writes several runs locks them in id
/// order (the order in which `id = ANY(..)` reads the key index), so two batches over the
/// same runs (a claim of a duplicate trigger, an end, the relay's "pushed" mark) wait for
/// each other instead of deadlocking. In array order, bench (f) had a few deadlocks per run,
/// each a 1 s stall until `deadlock_timeout` and a batch written again run by run.
fn in_lock_order<T>(items: &[T], id: impl Fn(&T) -> RunId) -> Vec<&T> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by_key(|item| id(item));
    sorted
}
