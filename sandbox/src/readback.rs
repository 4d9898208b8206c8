//! `/sandbox/*` read-back for tests and demos: effects, payments, messages, stock, orders,
//! RMAs. No fault injection here, so a test can always look at what really happened.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Params, Tenant};
use super::{SandboxState, payments, store};
use crate::error::{Error, Result};
use crate::wire::{Order, Payment, Rma};

/// Most effects `/sandbox/effects` lists without an `order_id`.
const MAX_EFFECTS: i64 = 1000;

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/effects", get(list_effects))
        .route("/payments/{id}", get(get_payment))
        .route("/notifications", get(list_notifications))
        .route("/inventory/{sku}", get(get_inventory))
        .route("/orders/{id}", get(get_order))
        .route("/returns/{id}", get(get_return))
}

#[derive(Debug, Deserialize)]
struct OrderFilter {
    order_id: Option<String>,
}

/// `GET /sandbox/effects?order_id=`: `{"data":[{"service","kind","key","at","detail"}]}`,
/// oldest first; every effect of the tenant (the newest 1000) without `order_id`.
async fn list_effects(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(f): Params<OrderFilter>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let effects =
        store::effects::list(&mut conn, &tenant, f.order_id.as_deref(), MAX_EFFECTS).await?;
    Ok(Json(json!({ "data": effects })))
}

/// `GET /sandbox/payments/{id}`: the payment with every refund made.
async fn get_payment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Payment>> {
    let mut conn = s.db.acquire().await?;
    Ok(Json(payments::find_payment(&mut conn, &tenant, &id).await?))
}

/// `GET /sandbox/notifications?order_id=`: `{"data":[message…]}`, oldest first.
async fn list_notifications(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(f): Params<OrderFilter>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let messages = store::messages::list(&mut conn, &tenant, f.order_id.as_deref()).await?;
    Ok(Json(json!({ "data": messages })))
}

/// `GET /sandbox/inventory/{sku}`: `{"sku","on_hand","movements":[…]}`.
async fn get_inventory(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(sku): Path<String>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let on_hand = store::stock::on_hand(&mut conn, &tenant, &sku)
        .await?
        .ok_or_else(|| Error::not_found("sku"))?;
    let movements = store::stock::movements(&mut conn, &tenant, &sku).await?;
    Ok(Json(
        json!({ "sku": sku, "on_hand": on_hand, "movements": movements }),
    ))
}

/// `GET /sandbox/orders/{id}`: the order, even while faults are injected on `/orders`.
async fn get_order(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Order>> {
    let mut conn = s.db.acquire().await?;
    store::orders::get(&mut conn, &tenant, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Error::not_found("order"))
}

/// `GET /sandbox/returns/{id}`: the RMA with its approval and inspections, even while
/// faults are injected on `/fulfillment`.
async fn get_return(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Rma>> {
    let mut conn = s.db.acquire().await?;
    store::returns::get(&mut conn, &tenant, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Error::not_found("return"))
}
