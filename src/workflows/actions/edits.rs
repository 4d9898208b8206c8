//! Actions of the `edit_order` workflow (applying a quote): the edit at Orders (undone by
//! putting back what it replaced), the invoice at Billing (undone by restoring its total),
//! the money difference at Payments (a charge undone by refunding it, a refund undone by
//! charging it again), the stock at Inventory (reservations and releases undone by their
//! inverse), and the customer's notice. Each upstream call carries `{run}:{step}`, with a
//! suffix where one step makes two calls.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::notifications as notify;
use crate::domain::quote::{EditRunInput, Settle, StockMove};
use crate::upstream::{Notification, OrderContent, StockLine};
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What `apply_at_orders` found out: what the edit replaced (for the revert) and whom to
/// tell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditApplied {
    pub edit_previous: OrderContent,
    pub order_number: String,
    pub order_email: String,
}

/// What `reprice_invoice` replaced: `None` when the order has no invoice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceRepriced {
    pub invoice_previous_total_minor: Option<i64>,
}

/// What `settle_difference` did at Payments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DifferenceSettled {
    #[serde(default)]
    pub charged_payment_id: Option<String>,
    #[serde(default)]
    pub refund_id: Option<String>,
}

/// `orders.apply_edit`: `POST /v1/orders/{id}/edit` at the quote's version.
pub fn apply_at_orders(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        let content = OrderContent {
            lines: input.lines.clone(),
            totals: input.totals.clone(),
            shipping_address: input.shipping_address.clone(),
            shipping_method: input.shipping_method.map(|m| m.as_str().to_string()),
        };
        let edited = ctx
            .state
            .upstream
            .edit_order(
                ctx.tenant(),
                &input.order_id,
                &content,
                input.expected_version,
                ctx.idempotency_key,
            )
            .await?;
        let facts = EditApplied {
            edit_previous: edited.previous,
            order_number: edited.order.number.clone(),
            order_email: edited.order.email.clone(),
        };
        let result = json!({
            "order_id": edited.order.id,
            "version": edited.order.version,
            "total_minor": edited.order.totals.total_minor,
        });
        Ok(with_result(result, json!(facts)))
    })
}

/// Compensation of `apply_at_orders`: `POST /v1/orders/{id}/edit/revert` with what it
/// replaced.
pub fn revert_at_orders(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        let previous = ctx.earlier::<EditApplied>()?.edit_previous;
        let reverted = ctx
            .state
            .upstream
            .revert_order_edit(
                ctx.tenant(),
                &input.order_id,
                &previous,
                ctx.idempotency_key,
            )
            .await?;
        Ok(json!({ "version": reverted.order.version }))
    })
}

/// `billing.reprice_invoice`: the order's invoice follows the new total (an order without
/// an invoice has nothing to reprice).
pub fn reprice_invoice(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        let adjusted = ctx
            .state
            .upstream
            .adjust_invoice(
                ctx.tenant(),
                &input.order_id,
                input.totals.total_minor,
                false,
                ctx.idempotency_key,
            )
            .await;
        let previous = match adjusted {
            Ok(a) => Some(a.previous_total_minor),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let facts = InvoiceRepriced {
            invoice_previous_total_minor: previous,
        };
        let result = json!({ "invoice_total_minor": previous.map(|_| input.totals.total_minor) });
        Ok(with_result(result, json!(facts)))
    })
}

/// Compensation of `reprice_invoice`: the invoice's total as it was.
pub fn restore_invoice(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        let Some(previous) = ctx
            .earlier::<InvoiceRepriced>()?
            .invoice_previous_total_minor
        else {
            return Ok(json!({}));
        };
        let (tenant, key) = (ctx.tenant(), ctx.idempotency_key);
        let upstream = &ctx.state.upstream;
        upstream
            .adjust_invoice(tenant, &input.order_id, previous, true, key)
            .await?;
        Ok(json!({ "invoice_total_minor": previous }))
    })
}

fn no_payment() -> StepError {
    StepError::permanent(
        reqwest::StatusCode::CONFLICT,
        "quote.refund_not_possible",
        "no payment of the order has enough left to refund the difference",
    )
}

/// `payments.settle_difference`: a charge of the difference, or its refund from the quote's
/// payment.
pub fn settle_difference(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        let (tenant, key, upstream) = (ctx.tenant(), ctx.idempotency_key, &ctx.state.upstream);
        let amount = input.amount_minor;
        let (facts, result) = match input.settle {
            Settle::None => return Ok(json!({})),
            Settle::Charge => {
                let reason = &input.reason;
                let paid = upstream
                    .charge_order(tenant, &input.order_id, amount, reason, key)
                    .await?;
                let result = json!({ "charged_minor": amount, "payment_id": paid.id });
                let facts = DifferenceSettled {
                    charged_payment_id: Some(paid.id),
                    refund_id: None,
                };
                (facts, result)
            }
            Settle::Refund => {
                let payment = input.payment_id.as_deref().ok_or_else(no_payment)?;
                let refund = upstream
                    .refund_payment(tenant, payment, amount, &input.reason, key)
                    .await?;
                let result = json!({ "refunded_minor": amount, "refund_id": refund.id });
                let facts = DifferenceSettled {
                    charged_payment_id: None,
                    refund_id: Some(refund.id),
                };
                (facts, result)
            }
        };
        Ok(with_result(result, json!(facts)))
    })
}

/// Compensation of `settle_difference`: a charge is refunded. A refund cannot be undone —
/// taking money back from the customer needs their consent, and a compensation has none —
/// so it is refused (409 `edit.refund_not_reversible`): the step stays `done` (its refund
/// standing, never run again, not even by an operator's retry), the compensation stops
/// there and the job ends `failed` for a person to decide, the edit still applied at Orders
/// and Billing as the refund paid for. It runs when an operator cancels the job after the
/// money moved (at the step boundary before `notify_customer`); no later step's failure runs
/// it, as `notify_customer` is not critical.
pub fn reverse_settlement(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        let settled: DifferenceSettled = ctx.earlier()?;
        let (tenant, key, upstream) = (ctx.tenant(), ctx.idempotency_key, &ctx.state.upstream);
        let (amount, reason) = (input.amount_minor, "order edit undone");
        if let Some(payment) = settled.charged_payment_id {
            let refund = upstream
                .refund_payment(tenant, &payment, amount, reason, key)
                .await?;
            return Ok(json!({ "reversal_refund_id": refund.id }));
        }
        if let Some(refund_id) = settled.refund_id {
            return Err(StepError::permanent(
                StatusCode::CONFLICT,
                "edit.refund_not_reversible",
                format!(
                    "the edit's difference was refunded ({refund_id}); a refund is never charged \
                     back without the customer's consent, so the edit stays applied"
                ),
            ));
        }
        Ok(json!({}))
    })
}

fn stock(moves: &[StockMove]) -> Vec<StockLine> {
    moves
        .iter()
        .map(|m| StockLine {
            sku: m.sku.clone(),
            qty: m.qty,
        })
        .collect()
}

/// Reserves `reserve` and releases `release`, each under the step's key with a suffix.
async fn move_stock(
    ctx: &StepCtx<'_>,
    reserve: &[StockMove],
    release: &[StockMove],
) -> Result<(), StepError> {
    let input: EditRunInput = ctx.input_as()?;
    let (tenant, upstream) = (ctx.tenant(), &ctx.state.upstream);
    if !reserve.is_empty() {
        let key = format!("{}:reserve", ctx.idempotency_key);
        let lines = stock(reserve);
        upstream
            .reserve_inventory(tenant, &input.order_id, &lines, &key)
            .await?;
    }
    if !release.is_empty() {
        let key = format!("{}:release", ctx.idempotency_key);
        let lines = stock(release);
        upstream
            .release_inventory(tenant, &input.order_id, &lines, &key)
            .await
            .map_err(|e| match reserve.is_empty() {
                true => StepError::from(e),
                false => StepError::from(e).after_partial_effect(),
            })?;
    }
    Ok(())
}

/// `inventory.adjust_for_edit`: reserves the units the edit adds, releases those it takes
/// away.
pub fn adjust_inventory(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        move_stock(&ctx, &input.reserve, &input.release).await?;
        let result = json!({ "reserved": input.reserve, "released": input.release });
        Ok(with_result(result, json!({})))
    })
}

/// Compensation of `adjust_inventory`: the inverse movements.
pub fn undo_inventory(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        move_stock(&ctx, &input.release, &input.reserve).await?;
        Ok(json!({ "undone": true }))
    })
}

/// `notifications.order_edited`: template `order_edited` to the order's email.
pub fn notify_edited(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EditRunInput = ctx.input_as()?;
        let applied: EditApplied = ctx.earlier()?;
        let message = Notification {
            order_id: input.order_id.as_str(),
            to: &applied.order_email,
            template: "order_edited",
            data: json!({
                "order_number": applied.order_number,
                "total_minor": input.totals.total_minor,
                "settle": input.settle,
                "amount_minor": input.amount_minor,
            }),
        };
        notify::send(&ctx, &message, notify::Recipient::Customer).await
    })
}
