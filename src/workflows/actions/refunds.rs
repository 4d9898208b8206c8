//! Actions of `refund_payment`: an agent's refund of one payment, judged again against the
//! Payments service, made there once under the step's Idempotency-Key, and told to the
//! customer.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::notifications::{Recipient, send};
use crate::db;
use crate::domain::payments::{RefundRunInput, check_refund};
use crate::upstream::Notification;
use reqwest::StatusCode;

use crate::error::{Problem, problem};
use crate::upstream::UpstreamError;
use crate::workflows::step::{StepCtx, StepError, with_result};

const EXCEEDS: &str = "refund.failed.exceeds_refundable";

/// The payment as the Payments service says now: still captured, and the amount still
/// refundable (permanent `refund.failed.*` otherwise: money may have gone back since the
/// refund was accepted).
pub fn check_refundable(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RefundRunInput = ctx.input_as()?;
        let payment = ctx
            .state
            .upstream
            .get_payment(ctx.tenant(), input.payment_id.as_str())
            .await?;
        if let Err(refusal) = check_refund(&payment, &[], input.amount_minor) {
            return Err(StepError::Permanent(Box::new(Problem::from(&refusal))));
        }
        Ok(json!({ "refundable_minor_before": payment.refundable_minor() }))
    })
}

/// `POST /v1/payments/{id}/refunds` under `{run}:{step}`: a retry after a lost answer gets
/// the first refund back instead of a second one. No compensation: money sent back is not
/// taken again. The refund's id is the run's `result.refund_id`.
pub fn refund_at_payments(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RefundRunInput = ctx.input_as()?;
        let (payment_id, amount) = (input.payment_id.as_str(), input.amount_minor);
        let made = ctx
            .state
            .upstream
            .refund_payment(
                ctx.tenant(),
                payment_id,
                amount,
                &input.reason,
                ctx.idempotency_key,
            )
            .await;
        let refund = match made {
            Ok(refund) => refund,
            // refunded meanwhile by someone else: say so in orderdesk's words
            Err(UpstreamError::Permanent(p)) if p.code == "refund.exceeds_captured" => {
                let theirs = *p;
                let mut ours = problem(StatusCode::UNPROCESSABLE_ENTITY, EXCEEDS, theirs.detail);
                ours.extra = theirs.extra;
                return Err(StepError::Permanent(Box::new(ours)));
            }
            Err(e) => return Err(e.into()),
        };
        let result = json!({
            "payment_id": payment_id,
            "refund_id": refund.id,
            "amount_minor": refund.amount_minor,
        });
        Ok(with_result(result, json!({ "refund_id": refund.id })))
    })
}

/// The fact [`refund_at_payments`] wrote.
#[derive(Debug, serde::Deserialize)]
struct RefundMade {
    refund_id: String,
}

/// `POST /v1/messages` with template `refund_issued` to the order's email (declared
/// non-critical: the money went back whether or not the message goes out).
pub fn notify_refunded(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RefundRunInput = ctx.input_as()?;
        let made: RefundMade = ctx.earlier()?;
        let order = {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            db::orders::get(&mut conn, ctx.tenant(), &input.order_id, None)
                .await
                .map_err(StepError::database)?
        };
        let order = order.ok_or_else(|| {
            StepError::missing_output(format!("order {} is not in the read model", input.order_id))
        })?;
        let message = Notification {
            order_id: input.order_id.as_str(),
            to: &order.email,
            template: "refund_issued",
            data: json!({
                "order_number": order.number,
                "amount_minor": input.amount_minor,
                "currency": order.currency,
                "refund_id": made.refund_id,
            }),
        };
        send(&ctx, &message, Recipient::Customer).await
    })
}
