//! Stock actions of `exchange_order`: reserve the replacement units at the Inventory
//! service, and release them again as the compensation.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::domain::ids::OrderId;
use crate::domain::returns::RmaRunInput;
use crate::upstream::StockLine;
use crate::workflows::step::{StepCtx, StepError, with_result};

fn stock_lines(ctx: &StepCtx<'_>) -> Result<(OrderId, Vec<StockLine>), StepError> {
    let input: RmaRunInput = ctx.input_as()?;
    let lines = input
        .replacement_stock
        .into_iter()
        .filter(|(_, qty)| *qty > 0)
        .map(|(sku, qty)| StockLine { sku, qty })
        .collect();
    Ok((input.order_id, lines))
}

/// `POST /inventory/v1/reservations` with the replacement units; not enough stock is a
/// permanent 409 `inventory.insufficient_stock`.
pub fn reserve_replacement(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let (order_id, lines) = stock_lines(&ctx)?;
        if lines.is_empty() {
            return Err(StepError::invalid_input(
                "an exchange needs replacement units",
            ));
        }
        let reservation = ctx
            .state
            .upstream
            .reserve_inventory(ctx.tenant(), &order_id, &lines, ctx.idempotency_key)
            .await?;
        let units: i32 = lines.iter().map(|l| l.qty).sum();
        Ok(with_result(
            json!({"reserved_units": units}),
            json!({"reservation": reservation}),
        ))
    })
}

/// Compensation of `reserve_replacement`: `POST /inventory/v1/releases` with the same units.
pub fn release_replacement(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let (order_id, lines) = stock_lines(&ctx)?;
        if lines.is_empty() {
            return Ok(json!({}));
        }
        let release = ctx
            .state
            .upstream
            .release_inventory(ctx.tenant(), &order_id, &lines, ctx.idempotency_key)
            .await?;
        Ok(json!({"release": release}))
    })
}
