//! Customer notifications: the cancellation notice of `cancel_order` (declared
//! non-critical) and the shipment updates subscribers asked for.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{StepCtx, StepError, with_result};
use crate::db;
use crate::db::subscriptions::Which;
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

/// `notify_shipment_update`: one message with template `shipment_update` to each channel
/// the customer is subscribed to *now* (an unsubscribe between the event and the send is
/// honoured). Each channel's message has its own key, `{run_id}:{step}:{channel}`, so a
/// retry after a partial send repeats none.
pub fn shipment_update(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let customer_id = ctx.input_str("customer_id")?;
        let input = ctx.input();
        let subscriptions = {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            db::subscriptions::list(
                &mut conn,
                ctx.tenant(),
                order_id,
                customer_id,
                Which::Active,
            )
            .await
            .map_err(StepError::database)?
        };
        let mut sent = Vec::new();
        for s in &subscriptions {
            let Some(to) = s.destination.as_deref() else {
                continue;
            };
            let message = Notification {
                order_id,
                to,
                template: "shipment_update",
                data: json!({
                    "channel": s.channel,
                    "order_number": input.get("order_number"),
                    "updates": input.get("updates"),
                }),
            };
            let key = format!("{}:{}", ctx.idempotency_key, s.channel);
            let answer = ctx
                .state
                .upstream
                .send_notification(ctx.tenant(), &message, &key)
                .await?;
            sent.push(json!({"channel": s.channel, "message_id": answer.get("id")}));
        }
        let channels: Vec<&str> = subscriptions.iter().map(|s| s.channel.as_str()).collect();
        Ok(with_result(
            json!({"notified_channels": channels}),
            json!({"messages": sent}),
        ))
    })
}
