//! Runs one workflow run to its next resting point: claim it (a lease in Postgres), run its
//! pending steps in order with checkpoints, retry per step policy, compensate in reverse on
//! a critical failure, and finish. Postgres holds all of a run's truth; a delivery of the
//! same trigger twice finds nothing to claim.
//!
//! Performance rule: only the acceptance transaction (the request's) is durable. Claims,
//! checkpoints, failures and the finish commit with `synchronous_commit = off` (see
//! `db::runs`), and the checkpoints of steps that finish within [`COALESCE_WINDOW`] of each
//! other are written together: a checkpoint lost (Postgres crash, worker crash before the
//! write) only means the step runs again under the same upstream Idempotency-Key and gets
//! the same answer. A three-step run of fast steps costs two writes: claim, then steps +
//! finish; and the claims and finishes of the runs a worker process executes at the same
//! time are written together, one statement per batch (see `batch`).

mod batch;
mod compensate;
mod lease;

pub use batch::Batches;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

use super::WorkerCtx;
use super::spec::{StepSpec, WorkflowSpec};
use super::step::StepError;
use crate::db::runs::{
    self, Finish, RunEnd, RunRow, RunStatus, StepDone, StepFailure, StepRow, StepStatus,
};
use crate::domain::ids::RunId;
use crate::error::problem;
use crate::metrics;

/// Retries whose backoff ceiling exceeds this release the run; the sweeper re-pushes it
/// when due. Shorter ones sleep in-process, keeping the lease.
const IN_PROCESS_RETRY_MAX: Duration = Duration::from_secs(1);
/// A done step's checkpoint waits this long for the next step to finish too, so fast steps
/// share one write; a slower step never delays its predecessors' checkpoints by more.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(10);

/// Claims run `run_id` for `worker` and drives it as far as it can go now. Nothing to claim
/// (finished, leased elsewhere, retry not due) is success: the delivery was a duplicate.
/// Once `stop` is cancelled (the worker shuts down) the step in flight finishes and the run
/// is handed back to be claimed by another worker.
pub async fn execute(
    state: &WorkerCtx,
    run_id: RunId,
    worker: &str,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let span = tracing::info_span!("run", job_id = %run_id, kind = tracing::field::Empty);
    async move {
        let claimed = state
            .batches
            .claim(&state.db, run_id, worker, state.config.lease)
            .await?;
        let Some((run, steps)) = claimed else {
            debug!("nothing to claim: duplicate or early delivery");
            return Ok(());
        };
        tracing::Span::current().record("kind", run.kind.as_str());
        let _in_progress = metrics::run_claimed(&run.kind, run.attempts == 1);
        let Some(spec) = state.workflows.workflow(&run.kind) else {
            let p = problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "workflow.unknown",
                format!("no workflow `{}` in {}", run.kind, state.workflows.origin()),
            );
            let end = RunEnd {
                run_id: run.id,
                worker: worker.to_string(),
                status: RunStatus::Failed,
                result: None,
                error: Some(json!(p)),
                steps: vec![],
                step_names: vec![],
                progress_done: None,
            };
            state.batches.end(&state.db, end).await?;
            metrics::run_finished(&run.kind, RunStatus::Failed.as_str());
            warn!("run of an unknown workflow failed");
            return Ok(());
        };
        let matches = steps.len() == spec.steps.len()
            && steps.iter().zip(&spec.steps).all(|(r, s)| r.name == s.name);
        let runner = Runner::new(state, spec, run, steps, worker, stop);
        if !matches {
            let p = problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "workflow.changed",
                "the workflow's steps changed since this run was accepted",
            );
            return runner.end(RunStatus::Failed, None, Some(json!(p))).await;
        }
        runner.run().await
    }
    .instrument(span)
    .await
}

/// What became of a step's attempts.
enum Attempted {
    Succeeded(StepDone),
    Failed {
        problem: Value,
        attempts: i32,
    },
    /// The action stopped early for a cancel request (`StepError::cancelled`).
    Cancelled,
    /// Released for a later retry, or the lease was lost: stop here.
    Stopped,
}

/// Done steps whose checkpoint is not written yet, with the progress to write with them.
#[derive(Default)]
struct Unwritten {
    steps: Vec<StepDone>,
    progress_done: i32,
    next_step: Option<String>,
}

struct Runner<'a> {
    state: &'a WorkerCtx,
    spec: &'a WorkflowSpec,
    run: RunRow,
    steps: Vec<StepRow>,
    worker: &'a str,
    stop: &'a CancellationToken,
    outputs: Map<String, Value>,
    progress: i32,
    unwritten: Mutex<Unwritten>,
    /// Someone asked to cancel the run (seen at the claim or a lease extension).
    cancel_requested: AtomicBool,
}

impl<'a> Runner<'a> {
    fn new(
        state: &'a WorkerCtx,
        spec: &'a WorkflowSpec,
        run: RunRow,
        steps: Vec<StepRow>,
        worker: &'a str,
        stop: &'a CancellationToken,
    ) -> Self {
        let outputs = steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Done | StepStatus::Compensated))
            .map(|s| (s.name.clone(), s.output.clone().unwrap_or(Value::Null)))
            .collect();
        let progress = run.progress_done;
        let cancel_requested = AtomicBool::new(run.cancel_requested_at.is_some());
        Runner {
            state,
            spec,
            run,
            steps,
            worker,
            stop,
            outputs,
            progress,
            unwritten: Default::default(),
            cancel_requested,
        }
    }

    async fn run(mut self) -> anyhow::Result<()> {
        // a worker died while compensating: finish the compensation, never run on
        let failed = (0..self.steps.len())
            .find(|&i| self.steps[i].status == StepStatus::Failed && self.spec.steps[i].critical);
        if let Some(idx) = failed {
            let cause = self.steps[idx].last_error.clone().unwrap_or(Value::Null);
            return self.compensate(idx, cause, RunStatus::Compensated).await;
        }
        let spec = self.spec;
        for idx in 0..self.steps.len() {
            if self.steps[idx].status != StepStatus::Pending {
                continue;
            }
            if self.stop.is_cancelled() {
                return self.hand_back().await;
            }
            if self.cancel_requested.load(Ordering::Acquire) {
                // the done steps first, or the end's checkpoint of them would overwrite
                // what the compensation records on them
                if !self.flush(None).await? {
                    return self.lost_lease();
                }
                return self.cancel(idx).await;
            }
            let step = &spec.steps[idx];
            match self.attempt(idx).await? {
                Attempted::Stopped => return Ok(()),
                Attempted::Cancelled => {
                    if !self.flush(None).await? {
                        return self.lost_lease();
                    }
                    return self.cancel(idx).await;
                }
                Attempted::Succeeded(done) => {
                    self.progress += 1;
                    self.steps[idx].status = StepStatus::Done;
                    self.outputs.insert(step.name.clone(), done.output.clone());
                    let next = self.steps[idx + 1..]
                        .iter()
                        .find(|s| s.status == StepStatus::Pending);
                    let mut u = self.unwritten.lock().expect("unwritten lock");
                    u.steps.push(done);
                    u.progress_done = self.progress;
                    u.next_step = next.map(|s| s.name.clone());
                }
                Attempted::Failed { problem, attempts } => {
                    if !self.flush(None).await? {
                        return self.lost_lease();
                    }
                    if !step.critical {
                        self.progress += 1;
                    }
                    let failure = StepFailure {
                        run_id: self.run.id,
                        worker: self.worker,
                        idx: idx as i32,
                        attempts,
                        error: &problem,
                        step_status: StepStatus::Failed,
                        retry_in: None,
                        progress_done: self.progress,
                    };
                    let mut conn = self.state.db.acquire().await?;
                    if !runs::record_step_failure(&mut conn, &failure).await? {
                        return self.lost_lease();
                    }
                    self.steps[idx].status = StepStatus::Failed;
                    let code = problem["code"].as_str().unwrap_or("");
                    if step.critical {
                        warn!(step = %step.name, code, "critical step failed; compensating");
                        return self.compensate(idx, problem, RunStatus::Compensated).await;
                    }
                    warn!(step = %step.name, code, "non-critical step failed; going on");
                }
            }
        }
        let result = self.result();
        self.end(RunStatus::Succeeded, Some(&result), None).await
    }

    /// Runs step `idx` until it succeeds, fails for good, or is released for a later retry.
    async fn attempt(&self, idx: usize) -> anyhow::Result<Attempted> {
        let step = &self.spec.steps[idx];
        let key_retry = self.steps[idx].key_retry;
        let key = runs::step_key(self.run.id, &step.name, key_retry);
        let mut attempt = self.steps[idx].attempts as u32;
        loop {
            attempt += 1;
            let started_at = Utc::now();
            let started = std::time::Instant::now();
            let called = self.call(&step.action, step, &step.name, &key, attempt);
            let Some(res) = self.leased(called).await? else {
                return Ok(Attempted::Stopped);
            };
            let elapsed = started.elapsed();
            metrics::observe_step(&self.run.kind, &step.name, elapsed, outcome(&res));
            let err = match res {
                Ok(output) => {
                    debug!(step = %step.name, attempt, us = elapsed.as_micros() as u64, "step done");
                    return Ok(Attempted::Succeeded(StepDone {
                        idx: idx as i32,
                        output,
                        attempts: attempt as i32,
                        started_at,
                        finished_at: Utc::now(),
                        key_retry,
                    }));
                }
                Err(e) => e,
            };
            let attempts = attempt as i32;
            if err.is_cancelled() && self.cancel_requested.load(Ordering::Acquire) {
                return Ok(Attempted::Cancelled);
            }
            if matches!(err, StepError::Permanent(_)) || attempt >= step.retry.max_attempts {
                return Ok(Attempted::Failed {
                    problem: json!(err.problem()),
                    attempts,
                });
            }
            let delay = step.retry.delay(attempt);
            // decided on the policy's ceiling, not the jittered draw, so a step's retry path
            // is predictable: short backoffs keep the worker, long ones release the run
            let later =
                step.retry.ceiling(attempt) > IN_PROCESS_RETRY_MAX || self.stop.is_cancelled();
            warn!(step = %step.name, attempt, code = %err.problem().code,
                retry_in_ms = delay.as_millis() as u64, "step failed; will retry");
            if !self.flush(None).await? {
                self.lost_lease()?;
                return Ok(Attempted::Stopped);
            }
            let failure = StepFailure {
                run_id: self.run.id,
                worker: self.worker,
                idx: idx as i32,
                attempts,
                error: &json!(err.problem()),
                step_status: StepStatus::Pending,
                retry_in: later.then_some(delay),
                progress_done: self.progress,
            };
            if !runs::record_step_failure(&mut *self.state.db.acquire().await?, &failure).await? {
                self.lost_lease()?;
                return Ok(Attempted::Stopped);
            }
            if later || self.leased(tokio::time::sleep(delay)).await?.is_none() {
                return Ok(Attempted::Stopped);
            }
        }
    }

    /// Runs the `on_finish` action (best effort), then writes the run's final status with
    /// any unwritten checkpoints.
    async fn end(
        self,
        status: RunStatus,
        result: Option<&Value>,
        error: Option<Value>,
    ) -> anyhow::Result<()> {
        if let Some(hook) = &self.spec.on_finish {
            let key = self.run.on_finish_key();
            let step = StepSpec {
                name: "on_finish".into(),
                action: hook.clone(),
                retry: Default::default(),
                timeout: self.state.config.upstream_timeout + Duration::from_secs(1),
                compensate: None,
                when: None,
                critical: false,
            };
            match self
                .leased(self.call(hook, &step, "on_finish", &key, 1))
                .await?
            {
                None => return Ok(()),
                Some(Ok(_)) => {}
                Some(Err(e)) => warn!(action = %hook.name, code = %e.problem().code,
                    "on_finish action failed; the run's outcome stands"),
            }
        }
        let f = Finish {
            status,
            result,
            error: error.as_ref(),
        };
        if !self.flush(Some(f)).await? {
            return self.lost_lease();
        }
        metrics::run_finished(&self.run.kind, status.as_str());
        self.state.run_ends.notify_waiters();
        match error.as_ref().and_then(|e| e["code"].as_str()) {
            Some(code) => info!(status = status.as_str(), code, "run finished"),
            None => debug!(status = status.as_str(), "run finished"),
        }
        Ok(())
    }

    /// The worker shuts down: writes the done steps' checkpoints and hands the run back, so
    /// that another worker goes on with it at once instead of after the lease.
    async fn hand_back(&self) -> anyhow::Result<()> {
        if !self.flush(None).await? {
            return self.lost_lease();
        }
        let mut conn = self.state.db.acquire().await?;
        runs::hand_back(&mut conn, &[self.worker], Some(self.run.id)).await?;
        info!("worker shutting down: run handed back");
        Ok(())
    }

    fn lost_lease(&self) -> anyhow::Result<()> {
        warn!(
            worker = self.worker,
            "lease lost to another worker; stopping here"
        );
        Ok(())
    }

    /// The shallow merge of the steps' `result` members, in step order.
    fn result(&self) -> Value {
        let mut out = Map::new();
        for step in &self.spec.steps {
            if let Some(Value::Object(r)) =
                self.outputs.get(&step.name).and_then(|o| o.get("result"))
            {
                out.extend(r.clone());
            }
        }
        Value::Object(out)
    }
}

fn outcome(res: &Result<Value, StepError>) -> &'static str {
    match res {
        Ok(_) => "ok",
        Err(StepError::Retryable(_)) => "retryable",
        Err(StepError::Permanent(_)) => "permanent",
    }
}
