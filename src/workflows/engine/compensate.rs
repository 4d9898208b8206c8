//! Compensation: after a critical step failed for good, undo the done steps in reverse
//! order, each with key `{step key}:compensate` (`runs::step_key`), retried a few times.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tracing::warn;

use super::Runner;
use crate::db::runs::{self, RunStatus, StepStatus};
use crate::error::{Problem, problem};
use crate::workflows::step::StepError;

/// Attempts of one compensation before the run is left `failed` for a person.
const COMPENSATION_ATTEMPTS: u32 = 5;
const COMPENSATION_MAX_DELAY: Duration = Duration::from_secs(2);

impl Runner<'_> {
    /// Someone asked to cancel the run and step `next_idx` is next: compensates the done
    /// steps before it and ends the run `cancelled` (code `job.cancelled`).
    pub(super) async fn cancel(self, next_idx: usize) -> anyhow::Result<()> {
        let cause = json!(problem(
            StatusCode::CONFLICT,
            crate::workflows::step::CANCELLED,
            "the job was cancelled on request; its done steps were compensated where they \
             declare a compensation",
        ));
        tracing::info!(
            next_step = next_idx,
            "cancel requested: compensating and stopping"
        );
        self.compensate(next_idx, cause, RunStatus::Cancelled).await
    }

    /// Compensates the done steps before `failed_idx` in reverse, then ends the run:
    /// `outcome` (`compensated`, or `cancelled` on request) with the problem `cause`, or
    /// `failed` (code `workflow.compensation_failed`, with `cause` and `compensation`
    /// members) if a compensation cannot finish — that run needs a person.
    pub(super) async fn compensate(
        mut self,
        failed_idx: usize,
        cause: Value,
        outcome: RunStatus,
    ) -> anyhow::Result<()> {
        let mut broken: Option<(String, Problem)> = None;
        let spec = self.spec;
        for idx in (0..failed_idx).rev() {
            let step = &spec.steps[idx];
            let Some(comp) = &step.compensate else {
                continue;
            };
            if self.steps[idx].status != StepStatus::Done {
                continue;
            }
            let key = format!("{}:compensate", self.steps[idx].key());
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
                Ok(()) => (StepStatus::Compensated, None),
                Err(p) => (StepStatus::Done, Some(json!({"compensation_error": p}))),
            };
            let mut conn = self.state.db.acquire().await?;
            let idx32 = idx as i32;
            if !runs::set_step_status(
                &mut conn,
                self.run.id,
                self.worker,
                idx32,
                status,
                err.as_ref(),
            )
            .await?
            {
                return self.lost_lease();
            }
            self.steps[idx].status = status;
            if let Err(p) = outcome {
                warn!(step = %step.name, code = %p.code, "compensation cannot finish; run needs a person");
                broken = Some((step.name.clone(), p));
                break;
            }
        }
        match broken {
            None => self.end(outcome, None, Some(cause)).await,
            Some((step, p)) => {
                let mut e = problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "workflow.compensation_failed",
                    format!(
                        "a step failed with `{}` and the compensation of step `{step}` failed \
                         with `{}`; the run needs a person",
                        cause["code"].as_str().unwrap_or("?"),
                        p.code
                    ),
                );
                e.extra.insert("cause".into(), cause);
                e.extra
                    .insert("compensation".into(), json!({"step": step, "error": p}));
                self.end(RunStatus::Failed, None, Some(json!(e))).await
            }
        }
    }
}
