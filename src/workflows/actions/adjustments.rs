//! Actions of `adjust_price`: the credit note or invoice adjustment at Billing (once, under
//! the step's key) and the customer told.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::return_review::tell_customer;
use crate::domain::price_adjustment::{AdjustPriceRunInput, AdjustmentKind};
use crate::upstream::InvoiceChangeIn;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// The order's invoice at Billing, then `POST .../credit-notes` (credit) or
/// `.../adjustments` (debit) under `{run}:{step}`: a retry after a lost answer gets the first
/// one back. The run's `result.credit_note_id` or `result.adjustment_id`.
pub fn adjust_invoice(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: AdjustPriceRunInput = ctx.input_as()?;
        let upstream = &ctx.state.upstream;
        let invoices = upstream
            .invoices_of_order(ctx.tenant(), &input.order_id)
            .await?;
        let Some(invoice) = invoices.first() else {
            return Err(StepError::permanent(
                StatusCode::CONFLICT,
                "adjustment.no_invoice",
                "Billing has no invoice for the order",
            ));
        };
        let change = InvoiceChangeIn {
            amount_minor: input.amount_minor,
            line_id: input.line_id.as_deref(),
            reason: &input.reason,
        };
        let credit = input.kind == AdjustmentKind::Credit;
        let made = upstream
            .change_invoice(
                ctx.tenant(),
                &invoice.id,
                credit,
                &change,
                ctx.idempotency_key,
            )
            .await?;
        let id_name = if credit {
            "credit_note_id"
        } else {
            "adjustment_id"
        };
        Ok(with_result(
            json!({
                id_name: made.id, "invoice_id": made.invoice_id, "kind": input.kind,
                "amount_minor": made.amount_minor, "line_id": made.line_id,
            }),
            json!({ "invoice_change_id": made.id }),
        ))
    })
}

/// Template `price_adjusted` to the order's email (declared non-critical).
pub fn notify_adjusted(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: AdjustPriceRunInput = ctx.input_as()?;
        let data = json!({
            "kind": input.kind, "amount_minor": input.amount_minor, "currency": input.currency,
        });
        tell_customer(&ctx, &input.order_id, "price_adjusted", data).await
    })
}
