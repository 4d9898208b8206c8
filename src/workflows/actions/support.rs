//! The `notify_support` workflow's action: tell the tenant's support inbox that a customer
//! wrote about an order (ids only; support reads the text in orderdesk).

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{StepCtx, StepError, with_result};
use crate::upstream::Notification;

/// `POST /v1/messages` with template `support_message` to the input's `to`.
pub fn support_message(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let to = ctx.input_str("to")?;
        let input = ctx.input();
        let message = Notification {
            order_id,
            to,
            template: "support_message",
            data: json!({
                "order_number": input.get("order_number"),
                "case_id": input.get("case_id"),
                "message_id": input.get("message_id"),
                "case_created": input.get("case_created"),
                "has_attachment": input.get("has_attachment"),
            }),
        };
        let sent = ctx
            .state
            .upstream
            .send_notification(ctx.tenant(), &message, ctx.idempotency_key)
            .await?;
        Ok(with_result(
            json!({"support_notified": true}),
            json!({"notification_id": sent.get("id")}),
        ))
    })
}
