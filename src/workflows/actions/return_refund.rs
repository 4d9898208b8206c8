//! Actions of `refund_return` besides the payment refund's own (`payments.check_refundable`,
//! `payments.refund_payment`, which read the card refund's input as theirs): the store credit
//! at Billing, the refund recorded on the `returns` row, the customer told, and the order's
//! read model refreshed. Each upstream call carries the step's key, so a lost answer never
//! pays twice.

use chrono::Utc;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::return_review::tell_customer;
use crate::db;
use crate::db::returns::IssuedRefund;
use crate::domain::return_refund::RefundReturnRunInput;
use crate::upstream::StoreCreditIn;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What `grant_store_credit` found out: the credit's id at Billing.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreditGranted {
    pub store_credit_id: String,
}

/// What the money steps found out: the payment's refund (`refund_id`) or the store credit.
#[derive(Debug, Deserialize)]
struct Paid {
    #[serde(default)]
    refund_id: Option<String>,
    #[serde(default)]
    store_credit_id: Option<String>,
}

/// `POST /billing/v1/store-credits` under `{run}:{step}`: the customer's credit of the
/// amount, granted once.
pub fn grant_store_credit(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RefundReturnRunInput = ctx.input_as()?;
        let credit = StoreCreditIn {
            customer_id: &input.customer_id,
            order_id: &input.order_id,
            amount_minor: input.amount_minor,
            currency: &input.currency,
            reason: &input.reason,
        };
        let granted = ctx
            .state
            .upstream
            .grant_store_credit(ctx.tenant(), &credit, ctx.idempotency_key)
            .await?;
        Ok(with_result(
            json!({ "store_credit_id": granted.id, "amount_minor": granted.amount_minor }),
            json!(CreditGranted {
                store_credit_id: granted.id
            }),
        ))
    })
}

/// The refund or credit on the `returns` row (`refund_status: issued`), what the customer's
/// read of the return shows.
pub fn record_refund(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RefundReturnRunInput = ctx.input_as()?;
        let paid: Paid = ctx.earlier()?;
        let Some(reference) = paid.refund_id.or(paid.store_credit_id) else {
            return Err(StepError::missing_output(
                "neither a refund nor a store credit was made",
            ));
        };
        let issued = IssuedRefund {
            method: input.method.as_str(),
            amount_minor: input.amount_minor,
            reference: &reference,
            issued_at: Utc::now(),
        };
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        db::returns::record_refund(&mut conn, ctx.tenant(), &input.rma_id, &issued)
            .await
            .map_err(StepError::database)?;
        Ok(with_result(
            json!({ "rma_id": input.rma_id, "method": input.method,
                    "amount_minor": input.amount_minor, "currency": input.currency }),
            json!({}),
        ))
    })
}

/// Template `return_refunded` to the order's email (declared non-critical).
pub fn notify_refunded(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RefundReturnRunInput = ctx.input_as()?;
        let data = json!({
            "rma_id": input.rma_id, "method": input.method,
            "amount_minor": input.amount_minor, "currency": input.currency,
        });
        tell_customer(&ctx, &input.order_id, "return_refunded", data).await
    })
}
