//! Actions of the `update_address` workflow: change the address at Orders (undone by
//! `orders.revert_address` when a later step fails for good), then at Fulfillment, then
//! tell the customer. A 409 from either service means the order shipped meanwhile; it
//! becomes `address.already_shipped`, the code `allowed_actions.update_address` gives for a
//! shipped order.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::notifications as notify;
use crate::domain::address::AddressRunInput;
use crate::domain::order::Address;
use crate::error::problem;
use crate::upstream::{Notification, UpstreamError};
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What `update_at_orders` found out: the address it replaced (for the revert) and the
/// order after the change (for the notice).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressChanged {
    pub previous_address: Address,
    pub order: ChangedOrder,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangedOrder {
    pub number: String,
    pub email: String,
    /// The address Orders now holds.
    pub address: Address,
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
        let input: AddressRunInput = ctx.input_as()?;
        let change = ctx
            .state
            .upstream
            .change_address(
                ctx.tenant(),
                &input.order_id,
                &input.address,
                input.expected_version,
                ctx.idempotency_key,
            )
            .await
            .map_err(shipped_meanwhile)?;
        let order = change.order;
        let facts = AddressChanged {
            previous_address: change.previous_address,
            order: ChangedOrder {
                number: order.number,
                email: order.email,
                address: order.shipping_address.clone(),
            },
        };
        Ok(with_result(
            json!({ "order_id": order.id, "address": order.shipping_address, "version": order.version }),
            json!(facts),
        ))
    })
}

/// Compensation of `update_at_orders`: `POST /v1/orders/{id}/address/revert` with the
/// address it replaced.
pub fn revert_at_orders(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: AddressRunInput = ctx.input_as()?;
        let previous = ctx.earlier::<AddressChanged>()?.previous_address;
        let change = ctx
            .state
            .upstream
            .revert_address(
                ctx.tenant(),
                &input.order_id,
                &previous,
                ctx.idempotency_key,
            )
            .await?;
        Ok(json!({ "version": change.order.version }))
    })
}

/// `fulfillment.update_address`: `POST /fulfillment/v1/orders/{id}/address`.
pub fn update_at_fulfillment(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: AddressRunInput = ctx.input_as()?;
        let answer = ctx
            .state
            .upstream
            .change_fulfillment_address(
                ctx.tenant(),
                &input.order_id,
                &input.address,
                ctx.idempotency_key,
            )
            .await
            .map_err(shipped_meanwhile)?;
        Ok(json!({ "fulfillment": answer }))
    })
}

/// `notifications.address_changed`: template `address_changed` to the order's email.
pub fn notify_changed(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: AddressRunInput = ctx.input_as()?;
        let order = ctx.earlier::<AddressChanged>()?.order;
        let message = Notification {
            order_id: input.order_id.as_str(),
            to: &order.email,
            template: "address_changed",
            data: json!({
                "order_number": order.number,
                "address": order.address,
            }),
        };
        notify::send(&ctx, &message, notify::Recipient::Customer).await
    })
}
