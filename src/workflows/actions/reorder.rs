//! Actions of the `reorder` workflow: plan the reorder against today's catalog and stock,
//! then create the cart at the Orders service.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::reorder::{
    self, ReorderLine, ReorderPlan, ReorderRunInput, Unavailable, UnavailableLine,
};
use crate::error::problem;
use crate::upstream::{CartLineIn, CartRejection, NewCart, UpstreamError};
use crate::workflows::step::{StepCtx, StepError, with_result};

fn nothing_available(unavailable: &[UnavailableLine]) -> StepError {
    let mut p = problem(
        StatusCode::CONFLICT,
        "reorder.nothing_available",
        "none of the order's lines can be bought again right now",
    );
    p.extra.insert("unavailable".into(), json!(unavailable));
    StepError::Permanent(Box::new(p))
}

/// What `reorder.plan` fixes for `create_cart`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Planned {
    pub plan: ReorderPlan,
}

/// `reorder.plan`: reads the order at Orders (it must be the run's customer's), then the
/// catalog entry and stock of each selected line. Output `{"plan": ReorderPlan}`; nothing
/// addable → permanent 409 `reorder.nothing_available` listing why.
pub fn plan(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: ReorderRunInput = ctx.input_as()?;
        let order = ctx
            .state
            .upstream
            .get_order(ctx.tenant(), &input.order_id)
            .await?;
        if ctx.run.customer_id.as_ref() != Some(&order.customer_id) {
            return Err(StepError::permanent(
                StatusCode::NOT_FOUND,
                "order.not_found",
                "no such order",
            ));
        }
        let lines =
            reorder::selected_lines(&order, input.line_ids.as_deref()).map_err(|unknown| {
                StepError::permanent(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "reorder.unknown_lines",
                    format!("the order has no lines {}", unknown.join(", ")),
                )
            })?;
        let plan = ctx.state.upstream.reorder_plan(&order, &lines).await?;
        if plan.lines.is_empty() {
            return Err(nothing_available(&plan.unavailable));
        }
        Ok(json!(Planned { plan }))
    })
}

/// `orders.create_cart`: `POST /v1/carts` with the plan's lines. The result holds the cart
/// id, its lines at the prices the cart service charged (next to the price paid) and every
/// line left out with its reason — the plan's and the ones the cart service refused.
pub fn create_cart(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let Planned { plan } = ctx.earlier()?;
        let Some(customer_id) = ctx.run.customer_id.as_ref() else {
            return Err(StepError::invalid_input("a reorder run needs a customer"));
        };
        let new = NewCart {
            customer_id: customer_id.as_str(),
            currency: &plan.currency,
            source_order_id: plan.order_id.as_str(),
            lines: plan
                .lines
                .iter()
                .map(|l| CartLineIn {
                    sku: l.sku.clone(),
                    qty: l.qty,
                    ref_: l.line_id.clone(),
                })
                .collect(),
        };
        let cart = match ctx
            .state
            .upstream
            .create_cart(ctx.tenant(), &new, ctx.idempotency_key)
            .await
        {
            Ok(cart) => cart,
            Err(UpstreamError::Permanent(p)) if p.code == "cart.nothing_addable" => {
                let rejected: Vec<CartRejection> =
                    serde_json::from_value(p.extra.get("rejected").cloned().unwrap_or_default())
                        .unwrap_or_default();
                let all: Vec<_> = plan
                    .unavailable
                    .iter()
                    .cloned()
                    .chain(refused(&plan, &rejected))
                    .collect();
                return Err(nothing_available(&all));
            }
            Err(e) => return Err(e.into()),
        };
        let lines: Vec<ReorderLine> = cart
            .lines
            .iter()
            .filter_map(|c| {
                let planned = plan
                    .lines
                    .iter()
                    .find(|l| c.ref_.as_ref() == Some(&l.line_id))?;
                Some(ReorderLine {
                    name: c.name.clone(),
                    unit_price_minor: c.unit_price_minor,
                    price_change_minor: c.unit_price_minor - planned.paid_unit_price_minor,
                    total_minor: c.total_minor,
                    ..planned.clone()
                })
            })
            .collect();
        let unavailable: Vec<UnavailableLine> = plan
            .unavailable
            .iter()
            .cloned()
            .chain(refused(&plan, &cart.rejected))
            .collect();
        Ok(with_result(
            json!({
                "order_id": plan.order_id,
                "cart_id": cart.id,
                "currency": cart.currency,
                "lines": lines,
                "unavailable": unavailable,
                "subtotal_minor": cart.subtotal_minor,
            }),
            json!({ "cart": cart }),
        ))
    })
}

/// Planned lines the cart service refused: the catalog changed between plan and cart.
fn refused(plan: &ReorderPlan, rejected: &[CartRejection]) -> Vec<UnavailableLine> {
    rejected
        .iter()
        .filter_map(|r| {
            let line = plan
                .lines
                .iter()
                .find(|l| r.ref_.as_ref() == Some(&l.line_id))?;
            let reason = if r.code == "cart.sku_discontinued" {
                Unavailable::Discontinued
            } else {
                Unavailable::NotSold
            };
            Some(UnavailableLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                name: line.name.clone(),
                qty: line.qty,
                reason,
                code: reason.code().into(),
                message: r.message.clone(),
                available_qty: None,
            })
        })
        .collect()
}
