//! Actions of the `update_address` workflow: change the address at Orders (undone by
//! `orders.revert_address` when a later step fails for good), then at Fulfillment, then
//! tell the customer. A 409 from either service means the order shipped meanwhile; it
//! becomes `address.already_shipped`, the code `allowed_actions.update_address` gives for a
//! shipped order.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{StepCtx, StepError, with_result};
use crate::domain::order::Address;
use crate::upstream::{Notification, UpstreamError, problem};

/// The new address of the run input.
fn new_address(ctx: &StepCtx<'_>) -> Result<Address, StepError> {
    serde_json::from_value(ctx.input().get("address").cloned().unwrap_or_default())
        .map_err(|_| StepError::invalid_input("input.address must be an address"))
}

/// A 409 (shipped or ended meanwhile) as orderdesk's stable code; other errors as they are.
fn shipped_meanwhile(e: UpstreamError) -> StepError {
    match e {
        UpstreamError::Permanent(p) if p.status == StatusCode::CONFLICT.as_u16() => {
            let mut shipped = problem(
                StatusCode::CONFLICT,
                "address.already_shipped",
                "the order shipped before the address could change; nothing was changed",
            );
            shipped.extra.insert("upstream_code".into(), json!(p.code));
            StepError::Permanent(Box::new(shipped))
        }
        other => other.into(),
    }
}

/// `orders.update_address`: `POST /v1/orders/{id}/address`. Its output keeps the address
/// it replaced (from the upstream's answer, which a retried call replays, so a retry never
/// mistakes the new address for the old one).
pub fn update_at_orders(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let address = new_address(&ctx)?;
        let change = ctx
            .state
            .upstream
            .change_address(ctx.tenant(), order_id, &address, ctx.idempotency_key)
            .await
            .map_err(shipped_meanwhile)?;
        let order = change.order;
        Ok(with_result(
            json!({ "order_id": order.id, "address": order.shipping_address, "version": order.version }),
            json!({
                "previous_address": change.previous_address,
                "order": { "number": order.number, "email": order.email },
            }),
        ))
    })
}

/// Compensation of `update_at_orders`: `POST /v1/orders/{id}/address/revert` with the
/// address it replaced.
pub fn revert_at_orders(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let done = ctx.output_of_action("orders.update_address")?;
        let previous: Address = serde_json::from_value(done["previous_address"].clone())
            .map_err(|_| StepError::invalid_input("no previous address to put back"))?;
        let change = ctx
            .state
            .upstream
            .revert_address(ctx.tenant(), order_id, &previous, ctx.idempotency_key)
            .await?;
        Ok(json!({ "version": change.order.version }))
    })
}

/// `fulfillment.update_address`: `POST /fulfillment/v1/orders/{id}/address`.
pub fn update_at_fulfillment(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let address = new_address(&ctx)?;
        let answer = ctx
            .state
            .upstream
            .change_fulfillment_address(ctx.tenant(), order_id, &address, ctx.idempotency_key)
            .await
            .map_err(shipped_meanwhile)?;
        Ok(json!({ "fulfillment": answer }))
    })
}

/// `notifications.address_changed`: template `address_changed` to the order's email.
pub fn notify_changed(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let done = ctx.output_of_action("orders.update_address")?;
        let Some(email) = done["order"]["email"].as_str() else {
            return Err(StepError::invalid_input("the order has no email to notify"));
        };
        let message = Notification {
            order_id,
            to: email,
            template: "address_changed",
            data: json!({
                "order_number": done["order"]["number"],
                "address": done["result"]["address"],
            }),
        };
        let sent = ctx
            .state
            .upstream
            .send_notification(ctx.tenant(), &message, ctx.idempotency_key)
            .await?;
        Ok(with_result(
            json!({ "notified": true }),
            json!({ "message_id": sent.get("id") }),
        ))
    })
}
