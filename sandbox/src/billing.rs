//! The Billing service (`/billing/v1/invoices`): one invoice per seeded order.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract::{Params, Tenant};
use super::fulfillment::OrderParams;
use super::{SandboxState, store};
use crate::error::{Error, Result};

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/v1/invoices", get(list_invoices))
}

/// `GET /v1/invoices?order_id=`: `{"data":[{"id","order_id","total_minor","currency"}]}`;
/// unknown order → 404.
async fn list_invoices(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(p): Params<OrderParams>,
) -> Result<Json<Value>> {
    let order_id = p.required()?;
    let mut conn = s.db.acquire().await?;
    if store::orders::get(&mut conn, &tenant, &order_id)
        .await?
        .is_none()
    {
        return Err(Error::not_found("order"));
    }
    let invoices = store::orders::invoices(&mut conn, &tenant, &order_id).await?;
    Ok(Json(json!({ "data": invoices })))
}
