//! Actions on the Orders service for `cancel_order`: eligibility, cancel, its compensation
//! (reinstate), and the read-model refresh run when the workflow ends.

use chrono::Utc;
use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{StepCtx, StepError, with_result};
use crate::domain::cancel::{Canceller, plan_cancel};
use crate::upstream::problem;

fn flag(ctx: &StepCtx<'_>, key: &str) -> bool {
    ctx.input()
        .get(key)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn reason(ctx: &StepCtx<'_>) -> String {
    ctx.input()
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("cancelled")
        .to_string()
}

/// Re-reads the order, applies `domain::cancel::plan_cancel` for the canceller of the input
/// and fails permanently with the first blocked reason's code when blocked. Its output holds
/// the plan, the refunds to make (fixed now, so a retried refund repeats the same amounts)
/// and what later steps need of the order.
pub fn check_cancel_eligibility(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let who = match ctx.input().get("canceller").and_then(Value::as_str) {
            Some("customer") => Canceller::Customer,
            Some("agent") => Canceller::Agent,
            _ => {
                return Err(StepError::invalid_input(
                    "input.canceller must be \"customer\" or \"agent\"",
                ));
            }
        };
        let (refund, restock) = (flag(&ctx, "refund"), flag(&ctx, "restock"));
        let order = ctx.state.upstream.get_order(ctx.tenant(), order_id).await?;
        if let Some(customer) = &ctx.run.customer_id
            && &order.customer_id != customer
        {
            return Err(StepError::Permanent(Box::new(problem(
                StatusCode::NOT_FOUND,
                "order.not_found",
                "no such order",
            ))));
        }
        let settings = {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            crate::db::tenants::settings(&mut conn, ctx.tenant())
                .await
                .map_err(StepError::database)?
        };
        let plan = plan_cancel(&order, &settings, who, refund, restock, Utc::now());
        if let Some(first) = plan.blocked_reasons.first() {
            let mut p = problem(StatusCode::CONFLICT, &first.code, &first.message);
            p.extra
                .insert("blocked_reasons".into(), json!(plan.blocked_reasons));
            return Err(StepError::Permanent(Box::new(p)));
        }
        let refunds: Vec<Value> = if refund {
            order
                .payments
                .iter()
                .filter(|p| p.status == "captured" || p.status == "partially_refunded")
                .filter(|p| p.amount_minor > p.refunded_minor)
                .map(|p| json!({"payment_id": p.id, "amount_minor": p.amount_minor - p.refunded_minor}))
                .collect()
        } else {
            Vec::new()
        };
        Ok(with_result(
            json!({
                "order_id": order.id,
                "refunded_minor": 0,
                "currency": order.currency,
                "restocked_lines": 0,
                "notified": false,
            }),
            json!({
                "plan": plan,
                "refunds": refunds,
                "order": {
                    "number": order.number,
                    "email": order.email,
                    "currency": order.currency,
                    "version": order.version,
                },
            }),
        ))
    })
}

/// `POST /v1/orders/{id}/cancel`.
pub fn cancel(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let order = ctx
            .state
            .upstream
            .cancel_order(ctx.tenant(), order_id, &reason(&ctx), ctx.idempotency_key)
            .await?;
        Ok(json!({ "status": order.status, "version": order.version }))
    })
}

/// Compensation of `cancel`: `POST /v1/orders/{id}/reinstate`.
pub fn reinstate(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = ctx.input_str("order_id")?;
        let why = format!("undo of a failed cancellation ({})", reason(&ctx));
        let order = ctx
            .state
            .upstream
            .reinstate_order(ctx.tenant(), order_id, &why, ctx.idempotency_key)
            .await?;
        Ok(json!({ "status": order.status, "version": order.version }))
    })
}

/// Reads the order from the Orders service into the read model (`upsert_view` keeps a newer
/// version if one arrived meanwhile).
pub fn refresh_view(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = match ctx.run.subject_id.as_deref() {
            Some(id) => id,
            None => ctx.input_str("order_id")?,
        };
        let order = ctx.state.upstream.get_order(ctx.tenant(), order_id).await?;
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let written = crate::db::orders::upsert_view(&mut conn, &order)
            .await
            .map_err(StepError::database)?;
        Ok(json!({ "version": order.version, "written": written }))
    })
}
