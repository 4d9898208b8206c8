//! Fulfilments made by agents: create (units reserved at a warehouse; undone by cancelling
//! it), ship (the order's shipment; the read model and the customer's shipment notice
//! follow), cancel and reschedule at the Fulfillment service, each followed by a record
//! step that keeps orderdesk's copy of what the service confirmed.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::db;
use crate::domain::fulfillments::{
    CreateFulfillmentRunInput, Fulfillment, FulfillmentChangeRunInput, ShipFulfillmentRunInput,
};
use crate::domain::order::Order;
use crate::error::problem;
use crate::upstream::NewFulfillment;
use crate::workflows::step::{StepCtx, StepError, with_result};
use reqwest::StatusCode;

/// The fact every fulfilment step writes: the fulfilment as the service answered it.
#[derive(Serialize, Deserialize)]
struct Confirmed {
    fulfillment: Fulfillment,
}

/// The facts `ship` writes.
#[derive(Serialize, Deserialize)]
struct ShippedFacts {
    fulfillment: Fulfillment,
    order: Order,
}

fn confirmed(f: Fulfillment) -> Value {
    let result = json!({
        "fulfillment_id": f.id, "status": f.status, "ship_after": f.ship_after,
        "shipment_id": f.shipment_id,
    });
    with_result(result, json!({ "fulfillment": f }))
}

/// `POST /v1/fulfillments` with the run's fulfilment id: the units reserved at the
/// warehouse.
pub fn create(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CreateFulfillmentRunInput = ctx.input_as()?;
        let new = NewFulfillment {
            id: &input.fulfillment_id,
            order_id: &input.order_id,
            warehouse: &input.warehouse,
            lines: &input.lines,
        };
        let f = ctx
            .state
            .upstream
            .create_fulfillment(ctx.tenant(), &new, ctx.idempotency_key)
            .await?;
        Ok(confirmed(f))
    })
}

/// Compensation of [`create`]: cancels the fulfilment (its units back in stock); one the
/// service never made is nothing to undo.
pub fn uncreate(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: CreateFulfillmentRunInput = ctx.input_as()?;
        let (tenant, key) = (ctx.tenant(), ctx.idempotency_key);
        match ctx
            .state
            .upstream
            .cancel_fulfillment(tenant, &input.fulfillment_id, key)
            .await
        {
            Ok(f) => {
                record_fulfillment(&ctx, &f, None).await?;
                Ok(json!({ "cancelled": true }))
            }
            Err(e) if e.is_not_found() => Ok(json!({ "cancelled": false })),
            Err(e) => Err(e.into()),
        }
    })
}

/// `POST /v1/fulfillments/{id}/cancel`.
pub fn cancel(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: FulfillmentChangeRunInput = ctx.input_as()?;
        let (tenant, key) = (ctx.tenant(), ctx.idempotency_key);
        let f = ctx
            .state
            .upstream
            .cancel_fulfillment(tenant, &input.fulfillment_id, key)
            .await?;
        Ok(confirmed(f))
    })
}

/// `POST /v1/fulfillments/{id}/reschedule` to the run's `ship_after`.
pub fn reschedule(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: FulfillmentChangeRunInput = ctx.input_as()?;
        let Some(ship_after) = input.ship_after else {
            return Err(StepError::invalid_input("a reschedule needs ship_after"));
        };
        let (tenant, key) = (ctx.tenant(), ctx.idempotency_key);
        let f = ctx
            .state
            .upstream
            .reschedule_fulfillment(tenant, &input.fulfillment_id, ship_after, key)
            .await?;
        Ok(confirmed(f))
    })
}

/// Stores the fulfilment an earlier step confirmed in orderdesk's copy.
pub fn record(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let Confirmed { fulfillment } = ctx.earlier()?;
        record_fulfillment(&ctx, &fulfillment, None).await?;
        Ok(json!({ "recorded": true }))
    })
}

async fn record_fulfillment(
    ctx: &StepCtx<'_>,
    f: &Fulfillment,
    shipped: Option<db::fulfillments::Shipped<'_>>,
) -> Result<(), StepError> {
    let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
    db::fulfillments::record(&mut conn, ctx.tenant(), f, shipped)
        .await
        .map_err(StepError::database)
}

/// `POST /v1/fulfillments/{id}/ship` with the carrier and tracking number: the order's
/// shipment.
pub fn ship(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: ShipFulfillmentRunInput = ctx.input_as()?;
        let shipped = ctx
            .state
            .upstream
            .ship_fulfillment(
                ctx.tenant(),
                &input.fulfillment_id,
                &input.carrier,
                &input.tracking_number,
                ctx.idempotency_key,
            )
            .await?;
        let result = json!({
            "fulfillment_id": shipped.fulfillment.id, "status": shipped.fulfillment.status,
            "shipment_id": shipped.fulfillment.shipment_id,
        });
        let facts = ShippedFacts {
            fulfillment: shipped.fulfillment,
            order: shipped.order,
        };
        let facts =
            serde_json::to_value(facts).map_err(|e| StepError::invalid_input(&e.to_string()))?;
        Ok(with_result(result, facts))
    })
}

/// Stores the shipped fulfilment and the order version with its shipment in the read model;
/// when this step is what stored that version (the service's event may have brought it
/// first), it also starts the customer's `notify_shipment_update` in the same transaction —
/// so each subscribed channel hears of the shipment once.
pub fn record_shipment(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: ShipFulfillmentRunInput = ctx.input_as()?;
        let ShippedFacts { fulfillment, order } = ctx.earlier()?;
        let shipped = db::fulfillments::Shipped {
            carrier: &input.carrier,
            tracking_number: &input.tracking_number,
        };
        let mut tx = ctx.state.db.begin().await.map_err(StepError::database)?;
        db::fulfillments::record(&mut tx, ctx.tenant(), &fulfillment, Some(shipped))
            .await
            .map_err(StepError::database)?;
        let before = db::orders::lock_view(&mut tx, ctx.tenant(), &order.id)
            .await
            .map_err(StepError::database)?;
        let written = db::orders::upsert_view(&mut tx, &order)
            .await
            .map_err(StepError::database)?;
        let mut notice = None;
        if written {
            let source = json!({ "job_id": ctx.run.id });
            let data = crate::events::order_updated(&order, before.as_ref(), source);
            let (tenant, id) = (ctx.tenant(), Some(order.id.as_str()));
            db::events::record(&mut tx, tenant, "order.updated", id, data)
                .await
                .map_err(StepError::database)?;
            let by = format!("job:{}", ctx.run.id);
            notice = crate::jobs::shipment_notice::start(
                &mut tx,
                &ctx.state.workflows,
                before.as_ref(),
                &order,
                &by,
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "shipment notice not started");
                StepError::Retryable(Box::new(problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "internal.shipment_notice",
                    "the shipment notice could not be started; the step will be retried",
                )))
            })?
            .map(|run| run.id);
        }
        tx.commit().await.map_err(StepError::database)?;
        Ok(json!({ "read_model_written": written, "notice_job": notice }))
    })
}
