//! Actions of `approve_return` and `inspect_return`: record the approval or the inspection
//! at the Returns API under the step's key (so a retry after a lost answer records nothing
//! twice), copy what it confirmed onto orderdesk's `returns` row, and tell the customer.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::notifications as notify;
use crate::db;
use crate::domain::ids::OrderId;
use crate::domain::return_review::{ApproveReturnRunInput, InspectReturnRunInput, RmaInspection};
use crate::upstream::{Notification, RmaApprovalIn, RmaInspectionIn};
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What `approve` found out: the RMA's status after it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Approved {
    pub rma_status: String,
}

/// What `inspect` found out: the inspection the Returns API recorded.
#[derive(Debug, Serialize, Deserialize)]
pub struct Inspected {
    pub inspection: RmaInspection,
}

/// `POST /fulfillment/v1/returns/{id}/approve`, then the approval on the `returns` row.
pub fn approve(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: ApproveReturnRunInput = ctx.input_as()?;
        let asked = RmaApprovalIn {
            method: input.method,
        };
        let rma = ctx
            .state
            .upstream
            .approve_rma(ctx.tenant(), &input.rma_id, &asked, ctx.idempotency_key)
            .await?;
        let Some(approval) = &rma.approval else {
            return Err(StepError::missing_output(
                "the Returns API answered an approval without one",
            ));
        };
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        db::returns::record_approval(
            &mut conn,
            ctx.tenant(),
            &rma.id,
            &rma.status,
            approval.method.as_str(),
            approval.approved_at,
        )
        .await
        .map_err(StepError::database)?;
        Ok(with_result(
            json!({"rma_id": rma.id, "status": rma.status, "approval": approval}),
            json!(Approved {
                rma_status: rma.status.clone()
            }),
        ))
    })
}

/// `POST /fulfillment/v1/returns/{id}/inspections`, then the inspection and its proposed
/// settlement on the `returns` row.
pub fn inspect(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: InspectReturnRunInput = ctx.input_as()?;
        let asked = RmaInspectionIn {
            condition: input.condition,
            restockable: input.restockable,
            disposition: input.disposition,
            notes: input.notes.as_deref(),
        };
        let rma = ctx
            .state
            .upstream
            .inspect_rma(ctx.tenant(), &input.rma_id, &asked, ctx.idempotency_key)
            .await?;
        let Some(inspection) = rma.inspections.last().cloned() else {
            return Err(StepError::missing_output(
                "the Returns API answered an inspection without one",
            ));
        };
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let (tenant, settlement) = (ctx.tenant(), &input.settlement);
        db::returns::record_inspection(
            &mut conn,
            tenant,
            &rma.id,
            &rma.status,
            &inspection,
            settlement,
        )
        .await
        .map_err(StepError::database)?;
        Ok(with_result(
            json!({
                "rma_id": rma.id, "status": rma.status, "inspection_id": inspection.id,
                "restocked": inspection.restocked, "proposed_settlement": settlement,
            }),
            json!(Inspected { inspection }),
        ))
    })
}

/// Template `return_approved` to the order's email (declared non-critical).
pub fn notify_approved(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: ApproveReturnRunInput = ctx.input_as()?;
        let data = json!({"rma_id": input.rma_id, "method": input.method});
        tell_customer(&ctx, &input.order_id, "return_approved", data).await
    })
}

/// Template `return_inspected` to the order's email (declared non-critical): the
/// outcome and the proposed settlement, never the inspector's notes.
pub fn notify_inspected(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: InspectReturnRunInput = ctx.input_as()?;
        let data = json!({
            "rma_id": input.rma_id,
            "disposition": input.disposition,
            "settlement": input.settlement,
        });
        tell_customer(&ctx, &input.order_id, "return_inspected", data).await
    })
}

/// Sends `template` to the email of the order as the read model has it.
pub(super) async fn tell_customer(
    ctx: &StepCtx<'_>,
    order_id: &OrderId,
    template: &str,
    mut data: Value,
) -> Result<Value, StepError> {
    let order = {
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        db::orders::get(&mut conn, ctx.tenant(), order_id, None)
            .await
            .map_err(StepError::database)?
    };
    let Some(order) = order else {
        return Err(StepError::missing_output("the order left the read model"));
    };
    data["order_number"] = json!(order.number);
    let message = Notification {
        order_id: order_id.as_str(),
        to: &order.email,
        template,
        data,
    };
    notify::send(ctx, &message, notify::Recipient::Customer).await
}
