//! The customer notification of `cancel_order` (declared non-critical).

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{StepCtx, StepError, with_result};
use crate::upstream::Notification;

/// `POST /v1/messages` with template `order_cancelled` to the order's email.
pub fn order_cancelled(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let eligibility = ctx.output_of_action("orders.check_cancel_eligibility")?;
        let order = &eligibility["order"];
        let Some(email) = order["email"].as_str() else {
            return Err(StepError::invalid_input("the order has no email to notify"));
        };
        let refunded: i64 = ctx
            .outputs
            .values()
            .filter_map(|o| o["result"]["refunded_minor"].as_i64())
            .sum();
        let message = Notification {
            order_id,
            to: email,
            template: "order_cancelled",
            data: json!({
                "order_number": order["number"],
                "reason": ctx.input().get("reason"),
                "refunded_minor": refunded,
                "currency": order["currency"],
            }),
        };
        let sent = ctx
            .state
            .upstream
            .send_notification(ctx.tenant(), &message, ctx.idempotency_key)
            .await?;
        Ok(with_result(
            json!({"notified": true}),
            json!({"message_id": sent.get("id")}),
        ))
    })
}
