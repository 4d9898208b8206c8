//! Actions of the status-transition workflows (`hold_order`, `release_order`,
//! `confirm_order`, `close_order`, `reopen_order`): the re-check, the change at the Orders
//! service, and the bookkeeping of orderdesk's hold objects.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::orders::refresh;
use crate::db;
use crate::domain::transitions::{OrderAction, Situation, TransitionRunInput, check};
use crate::error::problem;
use crate::upstream::StatusChange;
use crate::workflows::step::{StepCtx, StepError};

/// Re-reads the order and fails permanently with the `order.blocked.*` code when the action
/// no longer applies: the order may have moved, or a legal hold come, since acceptance.
pub fn check_transition(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: TransitionRunInput = ctx.input_as()?;
        let Some(action) = OrderAction::of_workflow(&ctx.workflow.kind) else {
            return Err(StepError::invalid_input("not a transition workflow"));
        };
        let order = ctx
            .state
            .upstream
            .get_order(ctx.tenant(), &input.order_id)
            .await?;
        let holds = {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            db::holds::of_order(&mut conn, ctx.tenant(), &input.order_id)
                .await
                .map_err(StepError::database)?
        };
        // The run's own hold is open while it runs: it decides nothing about itself.
        let situation = Situation {
            status: order.status,
            held: action == OrderAction::Release,
            release_running: false,
            legal_hold: holds.legal.is_some(),
        };
        if let Err(blocked) = check(action, &situation) {
            let p = problem(StatusCode::CONFLICT, &blocked.code, &blocked.message);
            return Err(StepError::Permanent(Box::new(p)));
        }
        Ok(json!({ "status_before": order.status }))
    })
}

/// The change at the Orders service, at the version the agent's precondition named if any
/// (412 `order.version_mismatch` from Orders fails the run for good).
async fn change(ctx: &StepCtx<'_>, change: StatusChange) -> Result<Value, StepError> {
    let input: TransitionRunInput = ctx.input_as()?;
    let order = ctx
        .state
        .upstream
        .change_status(
            ctx.tenant(),
            &input.order_id,
            change,
            &input.reason,
            input.expected_version,
            ctx.idempotency_key,
        )
        .await?;
    Ok(json!({ "status": order.status, "version": order.version, "changed_at_orders": true }))
}

pub fn hold(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move { change(&ctx, StatusChange::Hold).await })
}

pub fn release(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move { change(&ctx, StatusChange::Release).await })
}

pub fn confirm(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move { change(&ctx, StatusChange::Confirm).await })
}

pub fn close(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move { change(&ctx, StatusChange::Close).await })
}

pub fn reopen(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move { change(&ctx, StatusChange::Reopen).await })
}

/// Whether the change step did its work (its fact), for the `on_finish` actions.
#[derive(Deserialize)]
struct Changed {
    #[serde(default)]
    changed_at_orders: bool,
}

fn hold_of(input: &TransitionRunInput) -> Result<uuid::Uuid, StepError> {
    input
        .hold_id
        .ok_or_else(|| StepError::invalid_input("a hold workflow without `hold_id`"))
}

/// `on_finish` of `hold_order`: a hold the Orders service never placed is closed (so the
/// order can be held again), then the read model is refreshed.
pub fn after_place(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: TransitionRunInput = ctx.input_as()?;
        let placed = ctx.earlier::<Changed>()?.changed_at_orders;
        if !placed {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            let (tenant, hold) = (ctx.tenant(), hold_of(&input)?);
            db::holds::mark_released(&mut conn, tenant, hold, "system", "not placed")
                .await
                .map_err(StepError::database)?;
        }
        let mut out = refresh(&ctx).await?;
        out["placed"] = json!(placed);
        Ok(out)
    })
}

/// `release_order`'s last step: the hold is closed with the release's resolution.
pub fn mark_released(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: TransitionRunInput = ctx.input_as()?;
        let Some(hold) = input.hold_id else {
            // an order held at the Orders service without an orderdesk hold
            return Ok(json!({ "hold_released": false }));
        };
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let (tenant, by) = (ctx.tenant(), input.requested_by.as_str());
        db::holds::mark_released(&mut conn, tenant, hold, by, &input.reason)
            .await
            .map_err(StepError::database)?;
        Ok(json!({ "hold_released": true }))
    })
}

/// `on_finish` of `release_order`: a release that failed gives the hold back (it can be
/// released again), then the read model is refreshed.
pub fn after_release(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: TransitionRunInput = ctx.input_as()?;
        if !ctx.earlier::<Changed>()?.changed_at_orders
            && let Some(hold) = input.hold_id
        {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            db::holds::abandon_release(&mut conn, ctx.tenant(), hold, ctx.run.id)
                .await
                .map_err(StepError::database)?;
        }
        refresh(&ctx).await
    })
}
