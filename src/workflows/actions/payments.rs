//! The refund step of `cancel_order`: refunds what is left on each captured payment.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{StepCtx, StepError, with_result};

/// `POST /v1/payments/{id}/refunds` for each refund fixed by the eligibility step, each under
/// `{key}:{payment_id}` so a retry after a lost answer repeats the same call. No
/// compensation: money sent back is not taken again.
pub fn refund(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let eligibility = ctx.output_of_action("orders.check_cancel_eligibility")?;
        let planned = eligibility["refunds"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default();
        let reason = ctx
            .input()
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("order cancelled");
        let mut total = 0i64;
        let mut refunds = Vec::new();
        for r in planned {
            let (Some(payment_id), Some(amount)) =
                (r["payment_id"].as_str(), r["amount_minor"].as_i64())
            else {
                continue;
            };
            if amount <= 0 {
                continue;
            }
            let key = format!("{}:{payment_id}", ctx.idempotency_key);
            let refund = ctx
                .state
                .upstream
                .refund_payment(ctx.tenant(), payment_id, amount, reason, &key)
                .await?;
            total += refund.amount_minor;
            refunds.push(json!({"payment_id": payment_id, "refund_id": refund.id, "amount_minor": refund.amount_minor}));
        }
        Ok(with_result(
            json!({"refunded_minor": total}),
            json!({"refunds": refunds}),
        ))
    })
}
