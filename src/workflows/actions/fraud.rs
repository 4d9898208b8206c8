//! Actions of `flag_fraud` and `unflag_fraud`: the re-check and the change of the order's
//! fraud state at the Orders service.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::domain::fraud::{FraudAction, FraudRunInput, check};
use crate::domain::order::FraudState;
use crate::error::problem;
use crate::workflows::step::{StepCtx, StepError};

/// Re-reads the order and fails permanently with the `order.blocked.*` code when the action
/// no longer applies (another agent may have flagged or cleared it since acceptance).
pub fn check_fraud(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: FraudRunInput = ctx.input_as()?;
        let action = match input.state {
            FraudState::Review => FraudAction::Flag,
            _ => FraudAction::Unflag,
        };
        let order = ctx
            .state
            .upstream
            .get_order(ctx.tenant(), &input.order_id)
            .await?;
        if let Err(blocked) = check(action, order.fraud_state) {
            let p = problem(StatusCode::CONFLICT, &blocked.code, &blocked.message);
            return Err(StepError::Permanent(Box::new(p)));
        }
        Ok(json!({ "fraud_state_before": order.fraud_state }))
    })
}

/// Sets the run's fraud state at the Orders service.
pub fn set_state(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: FraudRunInput = ctx.input_as()?;
        let order = ctx
            .state
            .upstream
            .set_fraud_state(
                ctx.tenant(),
                &input.order_id,
                input.state,
                &input.reason,
                ctx.idempotency_key,
            )
            .await?;
        Ok(json!({ "fraud_state": order.fraud_state, "version": order.version }))
    })
}
