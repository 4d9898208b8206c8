//! Diagnostic actions with no side effect: benchmarks and tests of retries and compensation.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::problem;
use crate::workflows::step::{StepCtx, StepError};

/// The input members the diagnostic actions read (any workflow's input may carry them).
#[derive(Deserialize)]
struct DiagnosticInput {
    fail_code: Option<String>,
    flaky_failures: Option<u64>,
    sleep_ms: Option<u64>,
}

/// Does nothing and succeeds with `{}`. Also usable as a compensation.
pub fn noop(_ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async { Ok(json!({})) })
}

/// Sleeps `input.sleep_ms` (default 1,000; bounded by the step's timeout), then succeeds
/// with `{}`: a step that is still running when the bench kills its worker (scenario (e)).
pub fn sleep(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let ms = ctx.input_as::<DiagnosticInput>()?.sleep_ms.unwrap_or(1000);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        Ok(json!({}))
    })
}

/// Fails permanently with code `input.fail_code` (default `diagnostic.fail`).
pub fn fail(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: DiagnosticInput = ctx.input_as()?;
        let code = input.fail_code.as_deref().unwrap_or("diagnostic.fail");
        Err(StepError::permanent(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            format!("step `{}` failed on purpose", ctx.step),
        ))
    })
}

/// Fails with a retryable error on its first `input.flaky_failures` attempts (default 1),
/// then succeeds with `{"attempt": n}`.
pub fn flaky(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let failures = ctx
            .input_as::<DiagnosticInput>()?
            .flaky_failures
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
