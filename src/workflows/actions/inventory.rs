//! Actions on the Inventory service for `cancel_order`: release the order's stock, and
//! reserve it again as the compensation.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{StepCtx, StepError, with_result};
use crate::upstream::StockLine;

/// The lines to restock, from the eligibility step's plan.
fn restock_lines(ctx: &StepCtx<'_>) -> Result<Vec<StockLine>, StepError> {
    let plan = &ctx.output_of_action("orders.check_cancel_eligibility")?["plan"];
    let lines = plan["restock_lines"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default();
    Ok(lines
        .iter()
        .filter_map(|l| {
            Some(StockLine {
                sku: l["sku"].as_str()?.to_string(),
                qty: i32::try_from(l["qty"].as_i64()?).ok()?,
            })
        })
        .filter(|l| l.qty > 0)
        .collect())
}

/// `POST /v1/releases` with the order's lines.
pub fn release(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let lines = restock_lines(&ctx)?;
        if lines.is_empty() {
            return Ok(with_result(json!({"restocked_lines": 0}), json!({})));
        }
        let release = ctx
            .state
            .upstream
            .release_inventory(ctx.tenant(), order_id, &lines, ctx.idempotency_key)
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
        let order_id = ctx.input_str("order_id")?;
        let lines = restock_lines(&ctx)?;
        if lines.is_empty() {
            return Ok(json!({}));
        }
        let reservation = ctx
            .state
            .upstream
            .reserve_inventory(ctx.tenant(), order_id, &lines, ctx.idempotency_key)
            .await?;
        Ok(json!({"reservation": reservation}))
    })
}
