//! Actions of `capture_payment` (an agent's capture of an authorized payment, judged again
//! against the Payments service, then made there once under the step's Idempotency-Key) and
//! of `link_settlement` (finance's link of a reported payout to its payment).

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::domain::payments::{CaptureRunInput, SettlementLinkInput, check_capture};
use crate::error::Problem;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// The payment as the Payments service says now: still authorized, the amount within it
/// (permanent `capture.failed.*` otherwise).
pub fn check_capturable(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CaptureRunInput = ctx.input_as()?;
        let payment = ctx
            .state
            .upstream
            .get_payment(ctx.tenant(), input.payment_id.as_str())
            .await?;
        match check_capture(&payment, false, input.amount_minor) {
            Ok(amount) => Ok(json!({ "capture_minor": amount })),
            Err(refusal) => Err(StepError::Permanent(Box::new(Problem::from(&refusal)))),
        }
    })
}

/// `POST /v1/payments/{id}/captures` under `{run}:{step}`. No compensation: the Payments
/// service cannot un-capture (a refund gives the money back). The capture's id is the run's
/// `result.capture_id`.
pub fn capture_at_payments(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CaptureRunInput = ctx.input_as()?;
        let payment_id = input.payment_id.as_str();
        let capture = ctx
            .state
            .upstream
            .capture_payment(
                ctx.tenant(),
                payment_id,
                input.amount_minor,
                ctx.idempotency_key,
            )
            .await?;
        let result = json!({
            "payment_id": payment_id,
            "capture_id": capture.id,
            "amount_minor": capture.amount_minor,
        });
        Ok(with_result(result, json!({ "capture_id": capture.id })))
    })
}

/// `link_settlement`'s step: `POST /v1/payments/{id}/settlement` under `{run}:{step}`; a
/// payout linked already is the Payments service's permanent 409, ending the run with it.
pub fn link_settlement(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: SettlementLinkInput = ctx.input_as()?;
        let upstream = &ctx.state.upstream;
        let payment = upstream
            .link_settlement(ctx.tenant(), &input, ctx.idempotency_key)
            .await?;
        let result = json!({
            "payment_id": payment.id,
            "settlement_id": input.settlement_id,
            "amount_minor": input.amount_minor,
            "fee_minor": input.fee_minor,
        });
        Ok(with_result(result.clone(), result))
    })
}
