//! The refund step of `cancel_order`: refunds what is left on each captured payment.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::orders::CancelEligibility;
use crate::domain::cancel::CancelRunInput;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What the refund step sent back; both members are absent (zero) when it did not run.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Refunded {
    #[serde(default)]
    pub refunded_minor: i64,
    #[serde(default)]
    pub refunds_made: Vec<RefundMade>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RefundMade {
    pub payment_id: String,
    pub refund_id: String,
    pub amount_minor: i64,
}

/// `POST /v1/payments/{id}/refunds` for each refund fixed by the eligibility step, each under
/// `{key}:{payment_id}` so a retry after a lost answer repeats the same call. No
/// compensation: money sent back is not taken again.
pub fn refund(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CancelRunInput = ctx.input_as()?;
        let eligibility: CancelEligibility = ctx.earlier()?;
        let reason = input.reason.as_deref().unwrap_or("order cancelled");
        let mut made = Refunded::default();
        for planned in eligibility.refunds.iter().filter(|r| r.amount_minor > 0) {
            let payment_id = &planned.payment_id;
            let key = format!("{}:{payment_id}", ctx.idempotency_key);
            let refund = ctx
                .state
                .upstream
                .refund_payment(ctx.tenant(), payment_id, planned.amount_minor, reason, &key)
                .await
                .map_err(|e| match made.refunds_made.is_empty() {
                    true => StepError::from(e),
                    false => StepError::from(e).after_partial_effect(),
                })?;
            made.refunded_minor += refund.amount_minor;
            made.refunds_made.push(RefundMade {
                payment_id: payment_id.clone(),
                refund_id: refund.id,
                amount_minor: refund.amount_minor,
            });
        }
        Ok(with_result(
            json!({"refunded_minor": made.refunded_minor}),
            json!(made),
        ))
    })
}
