//! Actions on the Fulfillment service for `resync_fulfillment`: the order's shipments read
//! from it into the read model.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::domain::ids::OrderId;
use crate::workflows::step::{StepCtx, StepError};

/// Reads the order's shipments from the Fulfillment service and writes them into the read
/// model (the rest of the order, and its version, are the Orders service's and stay).
pub fn refresh_shipments(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let order_id = match &ctx.run.subject_id {
            Some(id) => OrderId::new(id.as_str()),
            None => return Err(StepError::invalid_input("the run names no order")),
        };
        let shipments = ctx
            .state
            .upstream
            .list_shipments(ctx.tenant(), &order_id)
            .await?;
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let written =
            crate::db::orders::set_shipments(&mut conn, ctx.tenant(), &order_id, &shipments)
                .await
                .map_err(StepError::database)?;
        let tracking: Vec<&str> = shipments
            .iter()
            .map(|s| s.tracking_number.as_str())
            .collect();
        Ok(
            json!({ "shipments": shipments.len(), "tracking_numbers": tracking,
                   "written": written }),
        )
    })
}
