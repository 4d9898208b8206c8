//! The Fulfillment service (`/fulfillment/v1/shipments`), plus the sandbox-only
//! `POST /sandbox/orders/{id}/ship` that ships an order so tests can race a shipment
//! against a cancellation.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Params, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, events, new_id, store};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::wire::{OrderStatus, Shipment, ShipmentLine};

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/v1/shipments", get(list_shipments))
}

/// Mounted under `/sandbox`, without fault injection.
pub fn sandbox_routes() -> Router<SandboxState> {
    Router::new().route("/orders/{id}/ship", post(ship_order))
}

#[derive(Debug, Deserialize)]
pub struct OrderParams {
    pub order_id: Option<String>,
}

impl OrderParams {
    pub fn required(self) -> Result<String> {
        self.order_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::unprocessable("request.invalid_query", "order_id is required"))
    }
}

/// `GET /v1/shipments?order_id=`: `{"data":[shipment…]}`; unknown order → 404.
async fn list_shipments(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(p): Params<OrderParams>,
) -> Result<Json<Value>> {
    let order_id = p.required()?;
    let mut conn = s.db.acquire().await?;
    let order = store::orders::get(&mut conn, &tenant, &order_id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    Ok(Json(json!({ "data": order.shipments })))
}

#[derive(Debug, Default, Deserialize)]
struct ShipIn {
    carrier: Option<String>,
}

/// `POST /sandbox/orders/{id}/ship`: ships every unshipped unit in one shipment and marks
/// the order `shipped`. Already shipped or delivered → 200 as is; cancelled or closed →
/// 409 `order.not_shippable`.
async fn ship_order(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<ShipIn>,
) -> Result<Response> {
    let mut m = match idempotency::begin(&s.db, Service::Fulfillment, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = ship(&mut m, &tenant, &id, input).await;
    m.finish(outcome, &s.events).await
}

async fn ship(m: &mut Mutation, tenant: &str, id: &str, input: ShipIn) -> Result<Answer> {
    let store::orders::LockedOrder {
        mut order,
        prev_status,
    } = store::orders::lock(m.conn(), tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    match order.status {
        OrderStatus::Shipped | OrderStatus::Delivered => {
            return Answer::new(StatusCode::OK, &order);
        }
        OrderStatus::Cancelled | OrderStatus::Closed => {
            return Err(Error::conflict(
                "order.not_shippable",
                format!("an order that is {} cannot ship", order.status.as_str()),
            ));
        }
        _ => {}
    }
    let mut shipped: HashMap<&str, i32> = HashMap::new();
    for line in order.shipments.iter().flat_map(|s| &s.lines) {
        *shipped.entry(&line.line_id).or_default() += line.qty;
    }
    let lines: Vec<ShipmentLine> = order
        .lines
        .iter()
        .map(|l| ShipmentLine {
            line_id: l.id.clone(),
            qty: l.qty - shipped.get(l.id.as_str()).copied().unwrap_or(0),
        })
        .filter(|l| l.qty > 0)
        .collect();
    let now = Utc::now();
    let shipment = Shipment {
        id: new_id("shp"),
        carrier: input.carrier.unwrap_or_else(|| "sandbox-post".into()),
        tracking_number: format!("SBX{}", now.timestamp_millis()),
        status: "in_transit".into(),
        lines,
        shipped_at: Some(now),
        eta: Some(now + chrono::Duration::days(3)),
        delivered_at: None,
    };
    let detail = json!({ "shipment_id": shipment.id, "lines": shipment.lines });
    order.shipments.push(shipment);
    order.status = OrderStatus::Shipped;
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    m.effect(id, "fulfillment.ship", detail).await?;
    Ok(Answer::new(StatusCode::OK, &order)?.with_event(events::SHIPMENT_UPDATED, &order))
}
