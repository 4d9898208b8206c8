//! Step plumbing shared by the engine and every action: what an action is called with
//! ([`StepCtx`]), how it fails ([`StepError`]) and its signature ([`ActionFn`]).
//!
//! An action returns its output, checkpointed as the step's output. An output object may
//! hold a `"result"` object: the run's `result` is the shallow merge of those members, in
//! step order, so an action decides what is public ([`with_result`]).
//!
//! Actions read typed data only: the run input as the workflow's input struct from
//! `domain/` ([`StepCtx::input_as`]), and what earlier steps found out as a struct of facts
//! ([`StepCtx::earlier`]) defined next to the action that writes them. The facts are the
//! shallow merge, in step order, of the done steps' outputs without their `result` members;
//! on a name collision the later step wins. No action names another action or step.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::WorkerCtx;
use super::spec::WorkflowSpec;
use crate::db::runs::RunRow;
use crate::domain::ids::TenantId;
use crate::error::{Problem, problem};
use crate::upstream::UpstreamError;

/// The problem code of a run cancelled on request.
pub const CANCELLED: &str = "job.cancelled";

/// What an action is called with.
pub struct StepCtx<'a> {
    pub state: &'a WorkerCtx,
    pub run: &'a RunRow,
    /// The step being run (for a compensation: the step being undone).
    pub step: &'a str,
    /// `{run_id}:{step}`, or `{run_id}:{step}:compensate` (with `:r{n}` after the step name
    /// once an operator retried the run): the same on every attempt, so an upstream answers
    /// a retry from its memory. Suffix it for several calls in one step.
    pub idempotency_key: &'a str,
    /// 1 for the first attempt of this step.
    pub attempt: u32,
    /// Outputs of the steps already done, by step name; read them with [`StepCtx::earlier`].
    pub outputs: &'a Map<String, Value>,
    pub workflow: &'a WorkflowSpec,
    /// Set once someone asked to cancel the run (read through [`StepCtx::cancel_requested`]).
    pub cancel_requested: &'a AtomicBool,
}

impl StepCtx<'_> {
    pub fn tenant(&self) -> &TenantId {
        &self.run.tenant_id
    }
    /// Whether someone asked to cancel the run: a long action (one working through items)
    /// checks it between items and returns early; the engine then cancels the run.
    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::Acquire)
    }
    /// The run input as its workflow's typed input (e.g. `domain::cancel::CancelRunInput`);
    /// one that does not fit is a permanent `workflow.invalid_input`.
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, StepError> {
        T::deserialize(&self.run.input).map_err(|e| {
            StepError::invalid_input(&format!("not a `{}` input: {e}", self.workflow.kind))
        })
    }
    /// The facts earlier steps wrote, as `T`: see [`facts`] for the merge rule. A fact `T`
    /// needs and no done step wrote is a permanent `workflow.missing_output`.
    pub fn earlier<T: DeserializeOwned>(&self) -> Result<T, StepError> {
        let names = self.workflow.steps.iter().map(|s| s.name.as_str());
        facts_as(names, self.outputs, self.step)
    }
}

/// [`facts`] as `T`, for step `step`.
fn facts_as<'a, T: DeserializeOwned>(
    steps: impl Iterator<Item = &'a str>,
    outputs: &Map<String, Value>,
    step: &str,
) -> Result<T, StepError> {
    T::deserialize(Value::Object(facts(steps, outputs))).map_err(|e| {
        StepError::missing_output(format!(
            "step `{step}` needs a fact no earlier step wrote: {e}"
        ))
    })
}

/// The facts of the done steps: the shallow merge of their outputs in step order, each
/// without its public `result` member. A later step's member overrides an earlier one of the
/// same name, so steps that write the same fact name mean the same thing by it (or pick
/// another name). Steps not done (pending, skipped, failed) add nothing.
fn facts<'a>(
    steps: impl Iterator<Item = &'a str>,
    outputs: &Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = Map::new();
    for name in steps {
        if let Some(Value::Object(output)) = outputs.get(name) {
            let rest = output.iter().filter(|(k, _)| *k != "result");
            merged.extend(rest.map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    merged
}

/// Why an action failed. Permanent overrides the step's retry policy.
#[derive(Debug, Clone)]
pub enum StepError {
    Retryable(Box<Problem>),
    Permanent(Box<Problem>),
}

impl StepError {
    pub fn problem(&self) -> &Problem {
        match self {
            StepError::Retryable(p) | StepError::Permanent(p) => p,
        }
    }
    pub fn into_problem(self) -> Problem {
        match self {
            StepError::Retryable(p) | StepError::Permanent(p) => *p,
        }
    }
    /// A failure retrying cannot help, with orderdesk's own stable code.
    pub fn permanent(status: StatusCode, code: &str, detail: impl Into<String>) -> StepError {
        StepError::Permanent(Box::new(problem(status, code, detail)))
    }
    /// What a long action answers when it stopped early because a cancel was asked for
    /// ([`StepCtx::cancel_requested`]): the engine then cancels the run (its done steps
    /// compensated) instead of treating the step as failed.
    pub fn cancelled() -> StepError {
        StepError::permanent(
            StatusCode::CONFLICT,
            CANCELLED,
            "stopped at an item boundary: the job was cancelled on request",
        )
    }

    /// Whether this is [`StepError::cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, StepError::Permanent(p) if p.code == CANCELLED)
    }

    pub fn invalid_input(detail: &str) -> StepError {
        StepError::permanent(
            StatusCode::UNPROCESSABLE_ENTITY,
            "workflow.invalid_input",
            detail,
        )
    }
    /// A step ran without what an earlier step should have found out: a workflow wired
    /// wrongly, which retrying cannot fix.
    pub fn missing_output(detail: impl Into<String>) -> StepError {
        StepError::permanent(
            StatusCode::INTERNAL_SERVER_ERROR,
            "workflow.missing_output",
            detail,
        )
    }
    /// This failure, of a call made after an earlier call of the same step took effect (a
    /// first payment refunded, stock reserved): a refusal (4xx) is reported as a 502 with
    /// `"partial": true`, so that an operator's retry keeps the step's upstream key
    /// (`db::runs::StoredStep::renews_key_on_retry`) and the calls that took effect are
    /// answered from the upstream's memory instead of made again. Its code stays the
    /// upstream's.
    pub fn after_partial_effect(self) -> StepError {
        let partial = |mut p: Box<Problem>| {
            if (400..500).contains(&p.status) {
                p.status = StatusCode::BAD_GATEWAY.as_u16();
                p.title = "Bad Gateway".into();
                p.extra.insert("partial".into(), Value::Bool(true));
            }
            p
        };
        match self {
            StepError::Permanent(p) => StepError::Permanent(partial(p)),
            // a 408 or 429 is retried, and its status is what the step keeps if it runs out
            StepError::Retryable(p) => StepError::Retryable(partial(p)),
        }
    }

    /// orderdesk's own database failed: worth retrying.
    pub fn database(e: sqlx::Error) -> StepError {
        tracing::warn!(error = %e, "database error in an action");
        StepError::Retryable(Box::new(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "internal.database",
            "orderdesk's database failed; the step will be retried",
        )))
    }
}

impl From<UpstreamError> for StepError {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::Retryable(p) => StepError::Retryable(p),
            UpstreamError::Permanent(p) => StepError::Permanent(p),
        }
    }
}

/// The signature of every action.
pub type ActionFn = for<'a> fn(StepCtx<'a>) -> BoxFuture<'a, Result<Value, StepError>>;

/// `{"result": result, ...rest}`: an output whose `result` member joins the run's result.
pub(crate) fn with_result(result: Value, rest: Value) -> Value {
    let mut out = match rest {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    out.insert("result".into(), result);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_refusal_after_a_partial_effect_is_a_502_that_keeps_its_code() {
        let refused = StepError::permanent(StatusCode::UNPROCESSABLE_ENTITY, "payment.x", "no");
        let p = refused.after_partial_effect().into_problem();
        assert_eq!((p.status, p.code.as_str()), (502, "payment.x"));
        assert_eq!(p.extra["partial"], json!(true));
        let unavailable = StepError::Retryable(Box::new(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream.unavailable",
            "later",
        )));
        assert!(matches!(
            unavailable.after_partial_effect(),
            StepError::Retryable(p) if p.status == 503
        ));
        let throttled = StepError::Retryable(Box::new(problem(
            StatusCode::TOO_MANY_REQUESTS,
            "upstream.rate_limited",
            "later",
        )));
        assert!(matches!(
            throttled.after_partial_effect(),
            StepError::Retryable(p) if p.status == 502 && p.extra["partial"] == json!(true)
        ));
    }

    fn outputs(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn facts_merge_in_step_order_without_results() {
        let done = outputs(json!({
            "refund": {"result": {"refunded_minor": 5}, "refunds_made": [1], "order": "late"},
            "check": {"result": {"order_id": "o1"}, "plan": {"lines": 2}, "order": "early"},
        }));
        let merged = facts(["check", "cancel", "refund"].into_iter(), &done);
        assert_eq!(
            Value::Object(merged),
            json!({"plan": {"lines": 2}, "refunds_made": [1], "order": "late"})
        );
        // step order, not the map's: the earlier step's member loses
        let merged = facts(["refund", "check"].into_iter(), &done);
        assert_eq!(merged["order"], json!("early"));
    }

    #[test]
    fn a_missing_fact_is_a_permanent_missing_output() {
        #[derive(serde::Deserialize, Debug)]
        struct Needs {
            plan: u32,
        }
        let done = outputs(json!({"check": {"result": {"plan": 1}}}));
        let err = facts_as::<Needs>(["check"].into_iter(), &done, "refund").unwrap_err();
        assert!(matches!(err, StepError::Permanent(_)));
        assert_eq!(err.problem().code, "workflow.missing_output");
        assert!(
            err.problem().detail.contains("`plan`"),
            "{}",
            err.problem().detail
        );
        let done = outputs(json!({"check": {"plan": 7}}));
        let found = facts_as::<Needs>(["check"].into_iter(), &done, "refund").unwrap();
        assert_eq!(found.plan, 7);
    }

    #[test]
    fn steps_not_done_add_nothing() {
        let done = outputs(json!({"check": {"plan": 1}}));
        let merged = facts(["check", "skipped"].into_iter(), &done);
        assert_eq!(Value::Object(merged), json!({"plan": 1}));
    }
}
