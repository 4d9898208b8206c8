//! The `notify_support` workflow's action: tell the tenant's support inbox that a customer
//! wrote about an order (ids only; support reads the text in orderdesk).

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::notifications as notify;
use crate::domain::support::NotifySupportInput;
use crate::upstream::Notification;
use crate::workflows::step::{StepCtx, StepError};

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
        notify::send(&ctx, &message, notify::Recipient::Support).await
    })
}
