//! Customer notifications: the cancellation notice of `cancel_order` (declared
//! non-critical) and the shipment updates subscribers asked for.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::orders::CancelEligibility;
use super::payments::Refunded;
use crate::db;
use crate::db::subscriptions::Which;
use crate::domain::cancel::CancelRunInput;
use crate::domain::shipment_updates::ShipmentNoticeInput;
use crate::domain::subscription::Channel;
use crate::upstream::Notification;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// `POST /v1/messages` with template `order_cancelled` to the order's email.
pub fn order_cancelled(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CancelRunInput = ctx.input_as()?;
        let order = ctx.earlier::<CancelEligibility>()?.order;
        let refunded = ctx.earlier::<Refunded>()?.refunded_minor;
        let message = Notification {
            order_id: input.order_id.as_str(),
            to: &order.email,
            template: "order_cancelled",
            data: json!({
                "order_number": order.number,
                "reason": input.reason,
                "refunded_minor": refunded,
                "currency": order.currency,
            }),
        };
        send(&ctx, &message, Recipient::Customer).await
    })
}

/// Who a step's message is for, which names the facts it records (kept as they were, since
/// run results are read by clients).
#[derive(Clone, Copy)]
pub(super) enum Recipient {
    /// `{"notified": true}` and the run result's `message_id`.
    Customer,
    /// `{"support_notified": true}` and the run result's `notification_id`.
    Support,
}

/// Sends `message` under the step's idempotency key (a retry sends nothing twice) and
/// answers the step's output: the fact that it was sent, and the message id for the run's
/// result.
pub(super) async fn send(
    ctx: &StepCtx<'_>,
    message: &Notification<'_>,
    to: Recipient,
) -> Result<Value, StepError> {
    let sent = ctx
        .state
        .upstream
        .send_notification(ctx.tenant(), message, ctx.idempotency_key)
        .await?;
    let id = sent.get("id");
    Ok(match to {
        Recipient::Customer => with_result(json!({"notified": true}), json!({"message_id": id})),
        Recipient::Support => with_result(
            json!({"support_notified": true}),
            json!({"notification_id": id}),
        ),
    })
}

/// `notify_shipment_update`'s step for `channel`: one message with template
/// `shipment_update` to the channel's destination, if the customer is still subscribed on it
/// when the step runs (else the step is done with `sent: false`). Its key is the step's own
/// `{run_id}:{step}`, so a retry after a lost answer sends nothing twice.
fn shipment_update(ctx: StepCtx<'_>, channel: Channel) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: ShipmentNoticeInput = ctx.input_as()?;
        let subscriptions = {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            db::subscriptions::list(
                &mut conn,
                ctx.tenant(),
                &input.order_id,
                &input.customer_id,
                Which::Active,
            )
            .await
            .map_err(StepError::database)?
        };
        let destination = subscriptions
            .into_iter()
            .find(|s| s.channel == channel.as_str())
            .and_then(|s| s.destination);
        let Some(to) = destination else {
            return Ok(json!({"sent": false, "reason": "unsubscribed"}));
        };
        let message = Notification {
            order_id: input.order_id.as_str(),
            to: &to,
            template: "shipment_update",
            data: json!({
                "channel": channel.as_str(),
                "order_number": input.order_number,
                "updates": input.updates,
            }),
        };
        let answer = ctx
            .state
            .upstream
            .send_notification(ctx.tenant(), &message, ctx.idempotency_key)
            .await?;
        Ok(json!({"sent": true, "message_id": answer.get("id")}))
    })
}

pub fn shipment_update_email(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    shipment_update(ctx, Channel::Email)
}

pub fn shipment_update_sms(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    shipment_update(ctx, Channel::Sms)
}

pub fn shipment_update_push(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    shipment_update(ctx, Channel::Push)
}
