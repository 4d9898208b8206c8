//! Diagnostic actions with no side effect: benchmarks and tests of retries and compensation.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{StepCtx, StepError};
use crate::upstream::problem;

/// Does nothing and succeeds with `{}`. Also usable as a compensation.
pub fn noop(_ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async { Ok(json!({})) })
}

/// Fails permanently with code `input.fail_code` (default `diagnostic.fail`).
pub fn fail(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let code = ctx
            .input()
            .get("fail_code")
            .and_then(Value::as_str)
            .unwrap_or("diagnostic.fail");
        Err(StepError::Permanent(Box::new(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            format!("step `{}` failed on purpose", ctx.step),
        ))))
    })
}

/// Fails with a retryable error on its first `input.flaky_failures` attempts (default 1),
/// then succeeds with `{"attempt": n}`.
pub fn flaky(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let failures = ctx
            .input()
            .get("flaky_failures")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        if u64::from(ctx.attempt) <= failures {
            return Err(StepError::Retryable(Box::new(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "diagnostic.flaky",
                format!(
                    "attempt {} of step `{}` fails on purpose",
                    ctx.attempt, ctx.step
                ),
            ))));
        }
        Ok(json!({ "attempt": ctx.attempt }))
    })
}
