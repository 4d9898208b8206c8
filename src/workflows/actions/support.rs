//! The `notify_support` workflow's action: tell the tenant's support inbox that a customer
//! wrote about an order (ids only; support reads the text in orderdesk).

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::domain::support::NotifySupportInput;
use crate::upstream::Notification;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// `POST /v1/messages` with template `support_message` to the input's `to`.
pub fn support_message(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: NotifySupportInput = ctx.input_as()?;
        let message = Notification {
            order_id: input.order_id.as_str(),
            to: &input.to,
            template: "support_message",
            data: json!({
                "order_number": input.order_number,
                "case_id": input.case_id,
                "message_id": input.message_id,
                "case_created": input.case_created,
                "has_attachment": input.has_attachment,
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
