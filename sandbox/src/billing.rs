//! The Billing service (`/billing/v1/invoices`): one invoice per seeded order.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract::{Body, Params, Tenant};
use super::fulfillment::OrderParams;
use super::{SandboxState, store};
use crate::error::{Error, Result};

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/v1/invoices", get(list_invoices))
}

/// Under `/sandbox`: Billing's invoices set by hand, so reconciliation can be shown a
/// difference.
pub fn sandbox_routes() -> Router<SandboxState> {
    Router::new().route("/invoices/{order_id}", put(set_invoice_total))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InvoiceTotalIn {
    total_minor: i64,
}

/// `PUT /sandbox/invoices/{order_id}` `{total_minor}`: the order's invoice now totals that
/// (200 `{"order_id","total_minor"}`); an order without an invoice → 404.
async fn set_invoice_total(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(order_id): Path<String>,
    Body(input): Body<InvoiceTotalIn>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let total = input.total_minor;
    if !store::orders::set_invoice_total(&mut conn, &tenant, &order_id, total).await? {
        return Err(Error::not_found("invoice"));
    }
    Ok(Json(json!({ "order_id": order_id, "total_minor": total })))
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
