//! The engine's writes on a claimed run: lease extension, checkpoints, failed attempts,
//! compensation marks and the finish. Each is one statement, fenced by `lease_owner` (a
//! worker that lost its lease writes nothing), committed without waiting for the WAL flush.

use std::time::Duration;

use crate::domain::ids::RunId;
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{RunEnd, RunStatus, StepStatus, end_many, ms};

/// What a lease extension found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Still held; `cancel_requested` when someone asked to cancel the run meanwhile.
    Held {
        cancel_requested: bool,
    },
    Lost,
}

/// Pushes the lease of a run `worker` holds to now + `lease`, and reads whether a cancel
/// was asked for (so a long step learns of it within a third of a lease).
pub async fn extend_lease(
    conn: &mut PgConnection,
    run_id: RunId,
    worker: &str,
    lease: Duration,
) -> sqlx::Result<Lease> {
    let held = sqlx::query_scalar!(
        r#"WITH r AS (UPDATE runs SET lease_until = now() + $3::bigint * interval '1 millisecond'
                    WHERE id = $1 AND lease_owner = $2 AND status = 'running'
                    RETURNING cancel_requested_at IS NOT NULL AS cancel)
         SELECT (SELECT cancel FROM r) AS "cancel?"
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        run_id.as_uuid(),
        worker,
        ms(lease),
    )
    .fetch_one(conn)
    .await?;
    Ok(match held {
        Some(cancel_requested) => Lease::Held { cancel_requested },
        None => Lease::Lost,
    })
}

/// Hands back the runs held by any of `workers` (only `run`, when given): queued, due now,
/// lease released, so that any worker may claim them at once — the sweeper re-pushes their
/// triggers. For a worker shutting down. Returns how many runs were handed back.
pub async fn hand_back(
    conn: &mut PgConnection,
    workers: &[&str],
    run: Option<RunId>,
) -> sqlx::Result<u64> {
    let n = sqlx::query_scalar!(
        r#"WITH r AS (UPDATE runs SET status = 'queued', next_attempt_at = now(),
                        lease_owner = NULL, lease_until = NULL, updated_at = now()
                    WHERE lease_owner = ANY($1) AND status = 'running'
                      AND ($2::uuid IS NULL OR id = $2)
                    RETURNING 1)
         SELECT (SELECT count(*) FROM r) AS "handed_back!"
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        workers as &[&str],
        run.map(|id| id.as_uuid()),
    )
    .fetch_one(conn)
    .await?;
    Ok(n as u64)
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
    /// The operator retry whose key it ran under ([`super::StepRow::key_retry`]), kept.
    pub key_retry: i32,
}

impl StepDone {
    /// The changes of `runs.steps` that mark `steps` done (`orderdesk_steps_patched`). Times
    /// in microseconds, as PostgreSQL keeps every other time of a run.
    pub(super) fn patches(steps: &[StepDone]) -> Value {
        Value::Array(
            steps
                .iter()
                .map(|s| {
                    let mut patch = s.done_fields();
                    patch.insert("idx".into(), s.idx.into());
                    Value::Object(patch)
                })
                .collect(),
        )
    }

    /// The whole of `runs.steps` once `steps` are done, when they are every step of `names`
    /// (the run's steps, in order), each once and in order: a done step's element is its name
    /// (which never changes) and what [`Self::patches`] writes over every other key, so nothing
    /// of the stored array is left. The end then writes the array as it is instead of patching
    /// each element in SQL (`orderdesk_steps_patched`, a fifth of the end's cost in
    /// PostgreSQL). `None` otherwise: a step done before, skipped, or not done.
    pub(super) fn whole(names: &[String], steps: &[StepDone]) -> Option<Value> {
        let in_order = steps.iter().enumerate().all(|(i, s)| s.idx as usize == i);
        if names.is_empty() || names.len() != steps.len() || !in_order {
            return None;
        }
        Some(Value::Array(
            names
                .iter()
                .zip(steps)
                .map(|(name, s)| {
                    let mut element = s.done_fields();
                    element.insert("name".into(), name.as_str().into());
                    Value::Object(element)
                })
                .collect(),
        ))
    }

    /// Every key of a step's element but its name, as this step done leaves them.
    fn done_fields(&self) -> serde_json::Map<String, Value> {
        let (started, finished) = (
            self.started_at.trunc_subsecs(6),
            self.finished_at.trunc_subsecs(6),
        );
        serde_json::Map::from_iter([
            ("status".to_string(), json!(StepStatus::Done)),
            ("output".to_string(), self.output.clone()),
            ("attempts".to_string(), self.attempts.into()),
            ("last_error".to_string(), Value::Null),
            ("started_at".to_string(), json!(started)),
            ("finished_at".to_string(), json!(finished)),
            (
                "duration_ms".to_string(),
                (finished - started).num_milliseconds().into(),
            ),
            ("key_retry".to_string(), self.key_retry.into()),
        ])
    }
}

/// One or more steps that succeeded (the engine coalesces fast consecutive steps), written
/// while the run goes on; a run's last steps are written with its end ([`end_many`]).
pub struct Checkpoint<'a> {
    pub run_id: RunId,
    pub worker: &'a str,
    pub lease: Duration,
    pub steps: &'a [StepDone],
    /// The run's progress after these steps.
    pub progress_done: i32,
    pub next_step: Option<&'a str>,
}

/// Marks steps done with their outputs and moves the run's progress and lease on, in one
/// statement. False if the worker lost the lease.
pub async fn checkpoint(conn: &mut PgConnection, cp: &Checkpoint<'_>) -> sqlx::Result<bool> {
    let patches = StepDone::patches(cp.steps);
    let n = sqlx::query_scalar!(
        r#"WITH r AS (
             UPDATE runs SET current_step = $5, updated_at = now(),
                 steps = orderdesk_steps_patched(steps, $4),
                 -- a long job counts its items itself (`items`), not its steps
                 progress_done = CASE WHEN progress_unit = 'steps' THEN $6 ELSE progress_done END,
                 lease_until = now() + $3::bigint * interval '1 millisecond'
             WHERE id = $1 AND lease_owner = $2
             RETURNING id)
         SELECT (SELECT count(*) FROM r) AS "done!"
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        cp.run_id.as_uuid(),
        cp.worker,
        ms(cp.lease),
        &patches,
        cp.next_step,
        cp.progress_done,
    )
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// A failed attempt of a step.
pub struct StepFailure<'a> {
    pub run_id: RunId,
    pub worker: &'a str,
    pub idx: i32,
    pub attempts: i32,
    pub error: &'a Value,
    /// `Failed` when no attempt is left (or the failure is permanent); else `Pending`.
    pub step_status: StepStatus,
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
    let n = sqlx::query_scalar!(
        r#"WITH r AS (
             UPDATE runs SET updated_at = now(),
                 steps = orderdesk_steps_patched(steps, jsonb_build_array(jsonb_build_object(
                     'idx', $3::int, 'attempts', $4::int, 'last_error', $5::jsonb,
                     'status', $6::text,
                     'finished_at', CASE WHEN $6 = 'failed' THEN now() END))),
                 progress_done = CASE WHEN progress_unit = 'steps' THEN $8 ELSE progress_done END,
                 status = CASE WHEN $7::bigint IS NULL THEN status ELSE 'queued' END,
                 next_attempt_at = CASE WHEN $7::bigint IS NULL THEN next_attempt_at
                     ELSE now() + $7 * interval '1 millisecond' END,
                 lease_owner = CASE WHEN $7::bigint IS NULL THEN lease_owner END,
                 lease_until = CASE WHEN $7::bigint IS NULL THEN lease_until END
             WHERE id = $1 AND lease_owner = $2 RETURNING id)
         SELECT (SELECT count(*) FROM r) AS "recorded!"
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        f.run_id.as_uuid(),
        f.worker,
        f.idx,
        f.attempts,
        f.error,
        f.step_status as StepStatus,
        f.retry_in.map(ms),
        f.progress_done,
    )
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// Sets a step's status (`compensated`, or `done` again with the compensation's error in
/// `last_error`) and the run's `current_step`; `finished_at` becomes the time of this
/// change. False if the worker lost the lease.
pub async fn set_step_status(
    conn: &mut PgConnection,
    run_id: RunId,
    worker: &str,
    idx: i32,
    status: StepStatus,
    last_error: Option<&Value>,
) -> sqlx::Result<bool> {
    let n = sqlx::query_scalar!(
        r#"WITH r AS (UPDATE runs SET updated_at = now(), current_step = steps -> $3::int ->> 'name',
                        steps = orderdesk_steps_patched(steps, jsonb_build_array(jsonb_build_object(
                            'idx', $3::int, 'status', $4::text,
                            'last_error', coalesce($5::jsonb, steps -> $3::int -> 'last_error'),
                            'finished_at', clock_timestamp())))
                    WHERE id = $1 AND lease_owner = $2 RETURNING id)
         SELECT (SELECT count(*) FROM r) AS "set!"
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        run_id.as_uuid(),
        worker,
        idx,
        status as StepStatus,
        last_error,
    )
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// Ends a run held by `worker` (status, result, error, finished_at; lease released), with
/// what goes with a run's end (see [`end_many`]). False if the worker lost the lease.
pub async fn finish(
    conn: &mut PgConnection,
    run_id: RunId,
    worker: &str,
    f: &Finish<'_>,
) -> sqlx::Result<bool> {
    let end = RunEnd {
        run_id,
        worker: worker.into(),
        status: f.status,
        result: f.result.cloned(),
        error: f.error.cloned(),
        steps: vec![],
        step_names: vec![],
        progress_done: None,
    };
    Ok(!end_many(conn, &[end]).await?.is_empty())
}

/// A long job's progress in its own unit (`rows`, `parts`…), while `worker` holds it: `done`
/// and `total`, each when given (the work may be counted while it is done; a total of 0
/// means "not known yet"). Not waiting for the WAL flush: a lost report is corrected by the
/// next one.
pub async fn report(
    conn: &mut PgConnection,
    run_id: RunId,
    worker: &str,
    unit: &str,
    done: Option<i32>,
    total: Option<i32>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"WITH r AS (UPDATE runs SET progress_unit = $3, progress_done = coalesce($4, progress_done),
                        progress_total = coalesce($5, progress_total), updated_at = now()
                    WHERE id = $1 AND lease_owner = $2)
         SELECT 1 AS "done!" FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"#,
        run_id.as_uuid(),
        worker,
        unit,
        done,
        total,
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(idx: i32) -> StepDone {
        let at = Utc::now();
        StepDone {
            idx,
            output: json!({ "idx": idx }),
            attempts: 1,
            started_at: at,
            finished_at: at,
            key_retry: 0,
        }
    }

    /// Whole only when the done steps are every step, in order; then each element has
    /// exactly the keys a stored step has, its name, and the step's patch.
    #[test]
    fn steps_are_whole_only_when_every_step_is_done_in_order() {
        let names: Vec<String> = ["one", "two"].map(String::from).to_vec();
        let both = [done(0), done(1)];
        let whole = StepDone::whole(&names, &both).expect("every step done");
        let stored = serde_json::to_value(super::super::StoredStep::new("one", false)).unwrap();
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let patches = StepDone::patches(&both);
        for i in 0..2 {
            assert_eq!(keys(&whole[i]), keys(&stored));
            assert_eq!(whole[i]["name"], json!(names[i]));
            assert_eq!(whole[i]["status"], "done");
            assert_eq!(whole[i]["output"], json!({ "idx": i }));
            assert_eq!(whole[i]["started_at"], patches[i]["started_at"]);
        }
        assert_eq!(
            StepDone::whole(&names, &[done(1)]),
            None,
            "a step done before"
        );
        assert_eq!(StepDone::whole(&names, &[done(1), done(0)]), None);
        assert_eq!(StepDone::whole(&names, &[done(0), done(0)]), None);
        assert_eq!(StepDone::whole(&[], &[]), None, "names not known");
        assert_eq!(StepDone::whole(&names[..1], &both), None);
    }
}
