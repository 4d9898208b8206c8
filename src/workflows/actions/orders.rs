//! Actions on the Orders service for `cancel_order`: eligibility, cancel, its compensation
//! (reinstate), and the read-model refresh run when the workflow ends.

use chrono::Utc;
use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::cancel::{CancelPlan, CancelRunInput, plan_cancel};
use crate::domain::ids::{OrderId, PaymentId};
use crate::domain::order::Order;
use crate::domain::transitions::legal_hold_blocks;
use crate::error::problem;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What `check_cancel_eligibility` fixes for the later steps of `cancel_order`: the plan
/// (its restock lines), the refunds to make, and the order's contact details.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelEligibility {
    pub plan: CancelPlan,
    pub refunds: Vec<PlannedRefund>,
    pub order: OrderContact,
}

/// What is left to refund on one captured payment, fixed when eligibility was checked so a
/// retried refund repeats the same amount.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedRefund {
    pub payment_id: String,
    pub amount_minor: i64,
}

/// The order as a notification needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderContact {
    pub number: String,
    pub email: String,
    pub currency: String,
    pub version: i64,
}

/// The reason given to Orders: the input's, or a plain one.
fn reason(input: &CancelRunInput) -> &str {
    input.reason.as_deref().unwrap_or("cancelled")
}

/// What is left to refund of each captured payment of `order` (what was captured, not the
/// authorized amount, less its refunds), less the agents' and returns'
/// refunds accepted before and not yet done (they take their share when they run).
async fn planned_refunds(
    ctx: &StepCtx<'_>,
    order: &Order,
) -> Result<Vec<PlannedRefund>, StepError> {
    let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
    let mut planned = Vec::new();
    for p in order
        .payments
        .iter()
        .filter(|p| p.status == "captured" || p.status == "partially_refunded")
    {
        let known: Vec<String> = p.refunds.iter().map(|r| r.id.clone()).collect();
        let id = PaymentId::new(p.id.as_str());
        let pending: i64 =
            crate::db::payments::accepted_refunds(&mut conn, ctx.tenant(), &id, &known)
                .await
                .map_err(StepError::database)?
                .iter()
                .map(|r| r.amount_minor)
                .sum();
        // captured less refunded: an authorization captured in part refunds only its capture
        let left = p.refundable_minor() - pending;
        if left > 0 {
            planned.push(PlannedRefund {
                payment_id: p.id.clone(),
                amount_minor: left,
            });
        }
    }
    Ok(planned)
}

/// Re-reads the order, applies `domain::cancel::plan_cancel` for the canceller of the input
/// and fails permanently with the first blocked reason's code when blocked. Its output holds
/// the plan, the refunds to make (fixed now, so a retried refund repeats the same amounts)
/// and what later steps need of the order.
pub fn check_cancel_eligibility(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CancelRunInput = ctx.input_as()?;
        let (refund, restock) = (input.refund, input.restock);
        let order = ctx
            .state
            .upstream
            .get_order(ctx.tenant(), &input.order_id)
            .await?;
        if let Some(customer) = &ctx.run.customer_id
            && &order.customer_id != customer
        {
            return Err(StepError::permanent(
                StatusCode::NOT_FOUND,
                "order.not_found",
                "no such order",
            ));
        }
        let (settings, holds) = {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            let settings = crate::db::tenants::settings(&mut conn, ctx.tenant())
                .await
                .map_err(StepError::database)?;
            let holds = crate::db::holds::of_order(&mut conn, ctx.tenant(), &input.order_id)
                .await
                .map_err(StepError::database)?;
            (settings, holds)
        };
        let mut plan = plan_cancel(
            &order,
            &settings,
            input.canceller,
            refund,
            restock,
            Utc::now(),
        );
        if holds.legal.is_some() {
            plan.blocked_reasons.insert(0, legal_hold_blocks());
        }
        if let Some(first) = plan.blocked_reasons.first() {
            let mut p = problem(StatusCode::CONFLICT, &first.code, &first.message);
            p.extra
                .insert("blocked_reasons".into(), json!(plan.blocked_reasons));
            return Err(StepError::Permanent(Box::new(p)));
        }
        let refunds = if refund {
            planned_refunds(&ctx, &order).await?
        } else {
            Vec::new()
        };
        let facts = CancelEligibility {
            plan,
            refunds,
            order: OrderContact {
                number: order.number,
                email: order.email,
                currency: order.currency.clone(),
                version: order.version,
            },
        };
        Ok(with_result(
            json!({
                "order_id": order.id,
                "refunded_minor": 0,
                "currency": order.currency,
                "restocked_lines": 0,
                "notified": false,
            }),
            json!(facts),
        ))
    })
}

/// `POST /v1/orders/{id}/cancel`, at the version the agent's precondition named if any
/// (412 `order.version_mismatch` from Orders fails the run for good).
pub fn cancel(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CancelRunInput = ctx.input_as()?;
        let order = ctx
            .state
            .upstream
            .cancel_order(
                ctx.tenant(),
                &input.order_id,
                reason(&input),
                input.expected_version,
                ctx.idempotency_key,
            )
            .await?;
        Ok(json!({ "status": order.status, "version": order.version }))
    })
}

/// Compensation of `cancel`: `POST /v1/orders/{id}/reinstate`.
pub fn reinstate(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CancelRunInput = ctx.input_as()?;
        let why = format!("undo of a failed cancellation ({})", reason(&input));
        let order = ctx
            .state
            .upstream
            .reinstate_order(ctx.tenant(), &input.order_id, &why, ctx.idempotency_key)
            .await?;
        Ok(json!({ "status": order.status, "version": order.version }))
    })
}

/// The member every workflow that ends with `refresh_view` has in its input.
#[derive(Deserialize)]
struct OrderSubject {
    order_id: OrderId,
}

/// Reads the order from the Orders service into the read model (`upsert_view` keeps a newer
/// version if one arrived meanwhile).
pub fn refresh_view(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move { refresh(&ctx).await })
}

/// [`refresh_view`], for the `on_finish` actions that do more. The order is the input's
/// `order_id` when it has one (a run on a return or a payment names its order there), else
/// the run's subject.
pub(super) async fn refresh(ctx: &StepCtx<'_>) -> Result<Value, StepError> {
    let order_id = match (ctx.input_as::<OrderSubject>(), &ctx.run.subject_id) {
        (Ok(input), _) => input.order_id,
        (Err(_), Some(id)) => OrderId::new(id.as_str()),
        (Err(e), None) => return Err(e),
    };
    refresh_order(ctx, &order_id).await
}

/// The read model of `order_id` as the Orders service says it is now (for a run whose
/// subject is not the order, say a return).
async fn refresh_order(ctx: &StepCtx<'_>, order_id: &OrderId) -> Result<Value, StepError> {
    let order = ctx.state.upstream.get_order(ctx.tenant(), order_id).await?;
    let mut tx = ctx.state.db.begin().await.map_err(StepError::database)?;
    let written = crate::db::orders::upsert_view(&mut tx, &order)
        .await
        .map_err(StepError::database)?;
    if written {
        let source = json!({ "job_id": ctx.run.id });
        let data = crate::events::order_updated(&order, None, source);
        let (tenant, id) = (ctx.tenant(), Some(order.id.as_str()));
        crate::db::events::record(&mut tx, tenant, "order.updated", id, data)
            .await
            .map_err(StepError::database)?;
    }
    tx.commit().await.map_err(StepError::database)?;
    Ok(json!({ "version": order.version, "written": written }))
}
