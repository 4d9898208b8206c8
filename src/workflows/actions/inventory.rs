//! Actions on the Inventory service for `cancel_order`: release the order's stock, and
//! reserve it again as the compensation.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::orders::CancelEligibility;
use crate::domain::cancel::CancelRunInput;
use crate::upstream::StockLine;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// The lines to restock, from the eligibility step's plan.
fn restock_lines(ctx: &StepCtx<'_>) -> Result<Vec<StockLine>, StepError> {
    let eligibility: CancelEligibility = ctx.earlier()?;
    Ok(eligibility
        .plan
        .restock_lines
        .into_iter()
        .filter(|l| l.qty > 0)
        .map(|l| StockLine {
            sku: l.sku,
            qty: l.qty,
        })
        .collect())
}

/// `POST /v1/releases` with the order's lines.
pub fn release(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CancelRunInput = ctx.input_as()?;
        let lines = restock_lines(&ctx)?;
        if lines.is_empty() {
            return Ok(with_result(json!({"restocked_lines": 0}), json!({})));
        }
        let release = ctx
            .state
            .upstream
            .release_inventory(ctx.tenant(), &input.order_id, &lines, ctx.idempotency_key)
            .await?;
        Ok(with_result(
            json!({"restocked_lines": lines.len()}),
            json!({"release": release}),
        ))
    })
}

/// Compensation of `release`: `POST /v1/reservations` with the same lines.
pub fn reserve(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CancelRunInput = ctx.input_as()?;
        let lines = restock_lines(&ctx)?;
        if lines.is_empty() {
            return Ok(json!({}));
        }
        let reservation = ctx
            .state
            .upstream
            .reserve_inventory(ctx.tenant(), &input.order_id, &lines, ctx.idempotency_key)
            .await?;
        Ok(json!({"reservation": reservation}))
    })
}
