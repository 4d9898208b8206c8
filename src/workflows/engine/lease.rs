//! Calling an action while keeping the run's lease: the step timeout, panics, lease
//! extension (which also brings news of a cancel request), and writing unwritten
//! checkpoints once an action runs long enough.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::FutureExt;
use reqwest::StatusCode;
use serde_json::Value;

use super::{COALESCE_WINDOW, Runner};
use crate::db::runs::{self, Checkpoint, Finish, Lease, RunEnd};
use crate::error::problem;
use crate::workflows::spec::{ActionRef, StepSpec};
use crate::workflows::step::{StepCtx, StepError};

impl Runner<'_> {
    /// Calls an action under the step's timeout; a panic is a permanent failure.
    pub(super) async fn call(
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
            cancel_requested: &self.cancel_requested,
        };
        let fut = AssertUnwindSafe((action.run)(ctx)).catch_unwind();
        // the run's upstream calls carry the correlation id of the request that started it
        let correlation = self.run.correlation_id.clone().unwrap_or_default();
        let fut = crate::upstream::CORRELATION_ID.scope(correlation, fut);
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

    /// Runs `fut` while keeping the run's lease: unwritten checkpoints are written once `fut`
    /// has run for [`COALESCE_WINDOW`], and the lease is extended every third of it. `None`
    /// if the lease was lost.
    pub(super) async fn leased<T>(
        &self,
        fut: impl Future<Output = T>,
    ) -> anyhow::Result<Option<T>> {
        let lease = self.state.config.lease;
        let every = (lease / 3).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let flush_due = tokio::time::sleep(COALESCE_WINDOW);
        tokio::pin!(fut, flush_due);
        let mut flushed = false;
        loop {
            tokio::select! {
                out = &mut fut => return Ok(Some(out)),
                _ = &mut flush_due, if !flushed => {
                    flushed = true;
                    if !self.flush(None).await? {
                        self.lost_lease()?;
                        return Ok(None);
                    }
                }
                _ = tick.tick() => {
                    let mut conn = self.state.db.acquire().await?;
                    match runs::extend_lease(&mut conn, self.run.id, self.worker, lease).await? {
                        Lease::Lost => {
                            self.lost_lease()?;
                            return Ok(None);
                        }
                        Lease::Held { cancel_requested } => {
                            if cancel_requested {
                                self.cancel_requested.store(true, Ordering::Release);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes the unwritten checkpoints (and the finish, if given) in one statement — the
    /// finish in a batch with other runs' (`batch`). False if the lease was lost.
    pub(super) async fn flush(&self, finish: Option<Finish<'_>>) -> anyhow::Result<bool> {
        let u = std::mem::take(&mut *self.unwritten.lock().expect("unwritten lock"));
        if let Some(f) = finish {
            let end = RunEnd {
                run_id: self.run.id,
                worker: self.worker.to_string(),
                status: f.status,
                result: f.result.cloned(),
                error: f.error.cloned(),
                progress_done: (!u.steps.is_empty()).then_some(u.progress_done),
                steps: u.steps,
                step_names: self.steps.iter().map(|s| s.name.clone()).collect(),
            };
            return self.state.batches.end(&self.state.db, end).await;
        }
        if u.steps.is_empty() {
            return Ok(true);
        }
        let cp = Checkpoint {
            run_id: self.run.id,
            worker: self.worker,
            lease: self.state.config.lease,
            steps: &u.steps,
            progress_done: u.progress_done,
            next_step: u.next_step.as_deref(),
        };
        let mut conn = self.state.db.acquire().await?;
        Ok(runs::checkpoint(&mut conn, &cp).await?)
    }
}
