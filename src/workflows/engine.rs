//! Runs one workflow run to its next resting point: claim it (a lease in Postgres), run its
//! pending steps in order with checkpoints, retry per step policy, compensate in reverse on
//! a critical failure, and finish. Postgres holds all of a run's truth; a delivery of the
//! same trigger twice finds nothing to claim.
//!
//! Performance rule: only the acceptance transaction (the request's) is durable. Claims,
//! checkpoints, failures and the finish commit with `synchronous_commit = off` (see
//! `db::runs`): a checkpoint lost in a Postgres crash only means the step runs again under
//! the same upstream Idempotency-Key and gets the same answer.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use tracing::{Instrument, debug, info, warn};
use uuid::Uuid;

use super::actions::{StepCtx, StepError};
use super::metrics;
use super::spec::{ActionRef, StepSpec, WorkflowSpec};
use crate::db::runs::{self, Checkpoint, Finish, RunRow, RunStatus, StepFailure, StepRow};
use crate::error::Problem;
use crate::state::AppState;
use crate::upstream::problem;

/// Retries whose backoff ceiling exceeds this release the run; the sweeper re-pushes it
/// when due. Shorter ones sleep in-process, keeping the lease.
const IN_PROCESS_RETRY_MAX: Duration = Duration::from_secs(1);
/// Attempts of one compensation before the run is left `failed` for a person.
const COMPENSATION_ATTEMPTS: u32 = 5;
const COMPENSATION_MAX_DELAY: Duration = Duration::from_secs(2);

/// Claims run `run_id` for `worker` and drives it as far as it can go now. Nothing to claim
/// (finished, leased elsewhere, retry not due) is success: the delivery was a duplicate.
pub async fn execute(state: &AppState, run_id: Uuid, worker: &str) -> anyhow::Result<()> {
    let span = tracing::info_span!("run", job_id = %run_id, kind = tracing::field::Empty);
    async move {
        let claimed = {
            let mut conn = state.db.acquire().await?;
            runs::claim(&mut conn, run_id, worker, state.config.lease).await?
        };
        let Some((run, steps)) = claimed else {
            debug!("nothing to claim: duplicate or early delivery");
            return Ok(());
        };
        tracing::Span::current().record("kind", run.kind.as_str());
        let Some(spec) = state.workflows.workflow(&run.kind) else {
            let p = problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "workflow.unknown",
                format!("no workflow `{}` in {}", run.kind, state.workflows.origin()),
            );
            let error = json!(p);
            let f = Finish {
                status: RunStatus::Failed,
                result: None,
                error: Some(&error),
            };
            runs::finish(&mut *state.db.acquire().await?, run.id, worker, &f).await?;
            metrics::observe_run(&run.kind, RunStatus::Failed);
            warn!("run of an unknown workflow failed");
            return Ok(());
        };
        let matches = steps.len() == spec.steps.len()
            && steps.iter().zip(&spec.steps).all(|(r, s)| r.name == s.name);
        let runner = Runner::new(state, spec, run, steps, worker);
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
    Succeeded {
        output: Value,
        attempts: i32,
        duration_ms: i64,
    },
    Failed {
        problem: Problem,
        attempts: i32,
    },
    /// Released for a later retry, or the lease was lost: stop here.
    Stopped,
}

struct Runner<'a> {
    state: &'a AppState,
    spec: &'a WorkflowSpec,
    run: RunRow,
    steps: Vec<StepRow>,
    worker: &'a str,
    outputs: Map<String, Value>,
    progress: i32,
}

impl<'a> Runner<'a> {
    fn new(
        state: &'a AppState,
        spec: &'a WorkflowSpec,
        run: RunRow,
        steps: Vec<StepRow>,
        worker: &'a str,
    ) -> Self {
        let outputs = steps
            .iter()
            .filter(|s| s.status == "done" || s.status == "compensated")
            .map(|s| (s.name.clone(), s.output.clone().unwrap_or(Value::Null)))
            .collect();
        let progress = run.progress_done;
        Runner {
            state,
            spec,
            run,
            steps,
            worker,
            outputs,
            progress,
        }
    }

    async fn run(mut self) -> anyhow::Result<()> {
        // a worker died while compensating: finish the compensation, never run on
        let failed = (0..self.steps.len())
            .find(|&i| self.steps[i].status == "failed" && self.spec.steps[i].critical);
        if let Some(idx) = failed {
            let cause = self.steps[idx].last_error.clone().unwrap_or(Value::Null);
            return self.compensate(idx, cause).await;
        }
        for idx in 0..self.steps.len() {
            if self.steps[idx].status != "pending" {
                continue;
            }
            let spec = self.spec;
            let step = &spec.steps[idx];
            match self.attempt(idx).await? {
                Attempted::Stopped => return Ok(()),
                Attempted::Succeeded {
                    output,
                    attempts,
                    duration_ms,
                } => {
                    self.progress += 1;
                    self.steps[idx].status = "done".into();
                    self.outputs.insert(step.name.clone(), output);
                    let next = self.steps[idx + 1..].iter().find(|s| s.status == "pending");
                    let last = next.is_none() && self.spec.on_finish.is_none();
                    let result = last.then(|| self.result());
                    let cp = Checkpoint {
                        run_id: self.run.id,
                        worker: self.worker,
                        lease: self.state.config.lease,
                        idx: idx as i32,
                        output: &self.outputs[&step.name],
                        attempts,
                        duration_ms,
                        progress_done: self.progress,
                        next_step: next.map(|s| s.name.as_str()),
                        finish: result.as_ref().map(|r| Finish {
                            status: RunStatus::Succeeded,
                            result: Some(r),
                            error: None,
                        }),
                    };
                    if !runs::checkpoint(&mut *self.state.db.acquire().await?, &cp).await? {
                        return self.lost_lease();
                    }
                    if last {
                        self.finished(RunStatus::Succeeded, None);
                        return Ok(());
                    }
                }
                Attempted::Failed { problem, attempts } => {
                    let critical = step.critical;
                    if !critical {
                        self.progress += 1;
                    }
                    let failure = StepFailure {
                        run_id: self.run.id,
                        worker: self.worker,
                        idx: idx as i32,
                        attempts,
                        error: &json!(problem),
                        step_status: "failed",
                        retry_in: None,
                        progress_done: self.progress,
                    };
                    if !runs::record_step_failure(&mut *self.state.db.acquire().await?, &failure)
                        .await?
                    {
                        return self.lost_lease();
                    }
                    self.steps[idx].status = "failed".into();
                    if critical {
                        warn!(step = %step.name, code = %problem.code, "critical step failed; compensating");
                        return self.compensate(idx, json!(problem)).await;
                    }
                    warn!(step = %step.name, code = %problem.code, "non-critical step failed; going on");
                }
            }
        }
        let result = self.result();
        self.end(RunStatus::Succeeded, Some(&result), None).await
    }

    /// Runs step `idx` until it succeeds, fails for good, or is released for a later retry.
    async fn attempt(&self, idx: usize) -> anyhow::Result<Attempted> {
        let step = &self.spec.steps[idx];
        let key = format!("{}:{}", self.run.id, step.name);
        let mut attempt = self.steps[idx].attempts as u32;
        loop {
            attempt += 1;
            let started = Instant::now();
            let called = self.call(&step.action, step, &step.name, &key, attempt);
            let Some(res) = self.leased(called).await? else {
                return Ok(Attempted::Stopped);
            };
            let elapsed = started.elapsed();
            metrics::observe_step(&self.run.kind, &step.name, elapsed, outcome(&res));
            let err = match res {
                Ok(output) => {
                    debug!(step = %step.name, attempt, ms = elapsed.as_millis() as u64, "step done");
                    return Ok(Attempted::Succeeded {
                        output,
                        attempts: attempt as i32,
                        duration_ms: elapsed.as_millis() as i64,
                    });
                }
                Err(e) => e,
            };
            let attempts = attempt as i32;
            if matches!(err, StepError::Permanent(_)) || attempt >= step.retry.max_attempts {
                return Ok(Attempted::Failed {
                    problem: err.into_problem(),
                    attempts,
                });
            }
            let delay = step.retry.delay(attempt);
            // decided on the policy's ceiling, not the jittered draw, so a step's retry path
            // is predictable: short backoffs keep the worker, long ones release the run
            let later = step.retry.ceiling(attempt) > IN_PROCESS_RETRY_MAX;
            warn!(step = %step.name, attempt, code = %err.problem().code,
                retry_in_ms = delay.as_millis() as u64, "step failed; will retry");
            let failure = StepFailure {
                run_id: self.run.id,
                worker: self.worker,
                idx: idx as i32,
                attempts,
                error: &json!(err.problem()),
                step_status: "pending",
                retry_in: later.then_some(delay),
                progress_done: self.progress,
            };
            if !runs::record_step_failure(&mut *self.state.db.acquire().await?, &failure).await? {
                self.lost_lease()?;
                return Ok(Attempted::Stopped);
            }
            if later {
                return Ok(Attempted::Stopped);
            }
            if self.leased(tokio::time::sleep(delay)).await?.is_none() {
                return Ok(Attempted::Stopped);
            }
        }
    }

    /// Calls an action under the step's timeout; a panic is a permanent failure.
    async fn call(
        &self,
        action: &ActionRef,
        step: &StepSpec,
        step_name: &str,
        key: &str,
        attempt: u32,
    ) -> Result<Value, StepError> {
        let ctx = StepCtx {
            state: self.state,
            run: &self.run,
            step: step_name,
            idempotency_key: key,
            attempt,
            outputs: &self.outputs,
            workflow: self.spec,
        };
        let fut = AssertUnwindSafe((action.run)(ctx)).catch_unwind();
        match tokio::time::timeout(step.timeout, fut).await {
            Ok(Ok(res)) => res,
            Ok(Err(_panic)) => Err(StepError::Permanent(Box::new(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "step.panicked",
                format!("action `{}` panicked", action.name),
            )))),
            Err(_) => Err(StepError::Retryable(Box::new(problem(
                StatusCode::GATEWAY_TIMEOUT,
                "step.timeout",
                format!(
                    "action `{}` took longer than {:?}",
                    action.name, step.timeout
                ),
            )))),
        }
    }

    /// Runs `fut` while extending the lease every third of it; `None` if the lease was lost.
    async fn leased<T>(&self, fut: impl Future<Output = T>) -> anyhow::Result<Option<T>> {
        let lease = self.state.config.lease;
        let every = (lease / 3).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Ok(Some(out)),
                _ = tick.tick() => {
                    let mut conn = self.state.db.acquire().await?;
                    if !runs::extend_lease(&mut conn, self.run.id, self.worker, lease).await? {
                        self.lost_lease()?;
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Compensates the done steps before `failed_idx` in reverse, then ends the run:
    /// `compensated` with the failure's problem, or `failed` if a compensation cannot finish.
    async fn compensate(mut self, failed_idx: usize, cause: Value) -> anyhow::Result<()> {
        let mut broken: Option<(String, Problem)> = None;
        let spec = self.spec;
        for idx in (0..failed_idx).rev() {
            let step = &spec.steps[idx];
            let Some(comp) = &step.compensate else {
                continue;
            };
            if self.steps[idx].status != "done" {
                continue;
            }
            let key = format!("{}:{}:compensate", self.run.id, step.name);
            let mut attempt = 0;
            let outcome = loop {
                attempt += 1;
                let called = self.call(comp, step, &step.name, &key, attempt);
                let Some(res) = self.leased(called).await? else {
                    return Ok(());
                };
                match res {
                    Ok(_) => break Ok(()),
                    Err(StepError::Retryable(p)) if attempt < COMPENSATION_ATTEMPTS => {
                        warn!(step = %step.name, attempt, code = %p.code, "compensation failed; retrying");
                        let delay = step.retry.delay(attempt).min(COMPENSATION_MAX_DELAY);
                        if self.leased(tokio::time::sleep(delay)).await?.is_none() {
                            return Ok(());
                        }
                    }
                    Err(e) => break Err(e.into_problem()),
                }
            };
            let (status, err) = match &outcome {
                Ok(()) => ("compensated", None),
                Err(p) => ("done", Some(json!({"compensation_error": p}))),
            };
            let mut conn = self.state.db.acquire().await?;
            if !runs::set_step_status(
                &mut conn,
                self.run.id,
                self.worker,
                idx as i32,
                status,
                err.as_ref(),
            )
            .await?
            {
                return self.lost_lease();
            }
            self.steps[idx].status = status.into();
            if let Err(p) = outcome {
                warn!(step = %step.name, code = %p.code, "compensation cannot finish; run needs a person");
                broken = Some((step.name.clone(), p));
                break;
            }
        }
        match broken {
            None => self.end(RunStatus::Compensated, None, Some(cause)).await,
            Some((step, p)) => {
                let mut e = problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "workflow.compensation_failed",
                    format!(
                        "step failed with `{}` and the compensation of step `{step}` failed \
                         with `{}`; the run needs a person",
                        cause["code"].as_str().unwrap_or("?"),
                        p.code
                    ),
                );
                e.extra.insert("cause".into(), json!(cause));
                e.extra
                    .insert("compensation".into(), json!({"step": step, "error": p}));
                self.end(RunStatus::Failed, None, Some(json!(e))).await
            }
        }
    }

    /// Runs the `on_finish` action (best effort), then writes the run's final status.
    async fn end(
        self,
        status: RunStatus,
        result: Option<&Value>,
        error: Option<Value>,
    ) -> anyhow::Result<()> {
        if let Some(hook) = &self.spec.on_finish {
            let key = format!("{}:on_finish", self.run.id);
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
        let mut conn = self.state.db.acquire().await?;
        if !runs::finish(&mut conn, self.run.id, self.worker, &f).await? {
            return self.lost_lease();
        }
        self.finished(status, error.as_ref());
        Ok(())
    }

    fn finished(&self, status: RunStatus, error: Option<&Value>) {
        metrics::observe_run(&self.run.kind, status);
        match error.and_then(|e| e["code"].as_str()) {
            Some(code) => info!(status = status.as_str(), code, "run finished"),
            None => debug!(status = status.as_str(), "run finished"),
        }
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
