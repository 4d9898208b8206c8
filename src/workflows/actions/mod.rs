//! Actions: the Rust functions that `workflows.toml` names. THE one registration list is
//! [`ACTIONS`]; adding a step = one function (in its own file) + one line here + one TOML
//! block.
//!
//! An action gets a [`StepCtx`] and returns its output (checkpointed as the step's output)
//! or a [`StepError`]. An output object may hold a `"result"` object: the run's `result` is
//! the shallow merge of those members, in step order, so an action decides what is public.

mod address;
mod diagnostic;
mod exchanges;
mod gdpr;
mod inventory;
mod notifications;
mod orders;
mod payments;
mod reorder;
mod returns;
mod support;

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Map, Value};

use super::spec::WorkflowSpec;
use crate::db::runs::RunRow;
use crate::error::Problem;
use crate::state::AppState;
use crate::upstream::{UpstreamError, problem};

/// What an action is called with.
pub struct StepCtx<'a> {
    pub state: &'a AppState,
    pub run: &'a RunRow,
    /// The step being run (for a compensation: the step being undone).
    pub step: &'a str,
    /// `{run_id}:{step}`, or `{run_id}:{step}:compensate`: the same on every attempt, so an
    /// upstream answers a retry from its memory. Suffix it for several calls in one step.
    pub idempotency_key: &'a str,
    /// 1 for the first attempt of this step.
    pub attempt: u32,
    /// Outputs of the steps already done, by step name.
    pub outputs: &'a Map<String, Value>,
    pub workflow: &'a WorkflowSpec,
}

impl StepCtx<'_> {
    pub fn input(&self) -> &Value {
        &self.run.input
    }
    pub fn tenant(&self) -> &str {
        &self.run.tenant_id
    }
    /// A string member of the run input.
    pub fn input_str(&self, key: &str) -> Result<&str, StepError> {
        self.input()
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| StepError::invalid_input(&format!("input.{key} must be a string")))
    }
    /// The output of the earlier step that ran `action`, which this action depends on (by
    /// action rather than step name, so the TOML may name its steps freely).
    pub fn output_of_action(&self, action: &str) -> Result<&Value, StepError> {
        self.workflow
            .steps
            .iter()
            .filter(|s| s.action.name == action)
            .find_map(|s| self.outputs.get(&s.name))
            .ok_or_else(|| {
                StepError::Permanent(Box::new(problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "workflow.missing_output",
                    format!(
                        "step `{}` needs the output of an earlier `{action}` step",
                        self.step
                    ),
                )))
            })
    }
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
    pub fn invalid_input(detail: &str) -> StepError {
        StepError::Permanent(Box::new(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "workflow.invalid_input",
            detail,
        )))
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

/// THE registration list: action name → function.
pub const ACTIONS: &[(&str, ActionFn)] = &[
    // diagnostics (benchmarks, tests of retries and compensation)
    ("noop", diagnostic::noop),
    ("fail", diagnostic::fail),
    ("flaky", diagnostic::flaky),
    // cancel_order
    (
        "orders.check_cancel_eligibility",
        orders::check_cancel_eligibility,
    ),
    ("orders.cancel", orders::cancel),
    ("orders.reinstate", orders::reinstate),
    ("orders.refresh_view", orders::refresh_view),
    ("inventory.release", inventory::release),
    ("inventory.reserve", inventory::reserve),
    ("payments.refund", payments::refund),
    (
        "notifications.order_cancelled",
        notifications::order_cancelled,
    ),
    // return_order, exchange_order
    ("returns.check_eligibility", returns::check_eligibility),
    ("returns.create_rma", returns::create_rma),
    ("returns.notify_customer", returns::notify_customer),
    ("returns.finish", returns::finish),
    (
        "exchanges.reserve_replacement",
        exchanges::reserve_replacement,
    ),
    (
        "exchanges.release_replacement",
        exchanges::release_replacement,
    ),
    // reorder
    ("reorder.plan", reorder::plan),
    ("orders.create_cart", reorder::create_cart),
    // update_address
    ("orders.update_address", address::update_at_orders),
    ("orders.revert_address", address::revert_at_orders),
    ("fulfillment.update_address", address::update_at_fulfillment),
    ("notifications.address_changed", address::notify_changed),
    // notify_support, erase_customer (issue 4)
    ("notifications.support_message", support::support_message),
    // notify_shipment_update
    (
        "notifications.shipment_update_email",
        notifications::shipment_update_email,
    ),
    (
        "notifications.shipment_update_sms",
        notifications::shipment_update_sms,
    ),
    (
        "notifications.shipment_update_push",
        notifications::shipment_update_push,
    ),
    ("gdpr.check_legal_hold", gdpr::check_legal_hold),
    ("gdpr.anonymise_local", gdpr::anonymise_local),
    ("orders.erase_customer", gdpr::erase_at_orders),
    ("notifications.erasure_completed", gdpr::erasure_completed),
];

pub fn find(name: &str) -> Option<ActionFn> {
    ACTIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    ACTIONS.iter().map(|(n, _)| *n)
}

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
    #[test]
    fn action_names_are_unique() {
        let mut names: Vec<_> = super::names().collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
