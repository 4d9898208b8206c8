//! The fulfilments of the Fulfillment service (`/fulfillment/v1/fulfillments`): units of an
//! order reserved at one of the tenant's warehouses, then shipped (the order's shipment,
//! with the carrier and tracking number given) or cancelled (the units back in stock);
//! `/v1/warehouses` lists the warehouses with their stock.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Params, Tenant};
use super::fulfillment::OrderParams;
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, events, new_id, store};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::wire::{Fulfillment, FulfillmentLine, Order, OrderStatus, Shipment, ShipmentLine};

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/warehouses", get(list_warehouses))
        .route("/v1/fulfillments", post(create_fulfillment))
        .route("/v1/fulfillments/{id}", get(get_fulfillment))
        .route("/v1/fulfillments/{id}/ship", post(ship_fulfillment))
        .route("/v1/fulfillments/{id}/cancel", post(cancel_fulfillment))
        .route(
            "/v1/fulfillments/{id}/reschedule",
            post(reschedule_fulfillment),
        )
}

/// Mounted under `/sandbox`, without fault injection.
pub fn sandbox_routes() -> Router<SandboxState> {
    Router::new().route("/fulfillments", get(list_fulfillments))
}

/// `GET /v1/warehouses`: `{"data":[{"code","name","stock":{sku: on_hand}}]}`; a SKU not
/// seen yet at a warehouse has its seeded stock (see `store::fulfillments::WAREHOUSES`),
/// listed under `default_stock`.
async fn list_warehouses(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let rows = store::fulfillments::stock(&mut conn, &tenant).await?;
    let data: Vec<Value> = store::fulfillments::WAREHOUSES
        .iter()
        .map(|(code, name, default)| {
            let stock: serde_json::Map<String, Value> = rows
                .iter()
                .filter(|(w, _, _)| w == code)
                .map(|(_, sku, n)| (sku.clone(), json!(n)))
                .collect();
            json!({"code": code, "name": name, "default_stock": default, "stock": stock})
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// `GET /sandbox/fulfillments?order_id=`: `{"data":[fulfillment…]}`, oldest first.
async fn list_fulfillments(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(p): Params<OrderParams>,
) -> Result<Json<Value>> {
    let order_id = p.required()?;
    let mut conn = s.db.acquire().await?;
    let list = store::fulfillments::list_for_order(&mut conn, &tenant, &order_id).await?;
    Ok(Json(json!({ "data": list })))
}

/// `GET /v1/fulfillments/{id}`.
async fn get_fulfillment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Fulfillment>> {
    let mut conn = s.db.acquire().await?;
    store::fulfillments::get(&mut conn, &tenant, &id, false)
        .await?
        .map(Json)
        .ok_or_else(|| Error::not_found("fulfillment"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfillmentIn {
    /// The caller's id (`ful_…`); a repeat with the same id answers the fulfilment.
    id: Option<String>,
    order_id: String,
    warehouse: String,
    lines: Vec<FulfillmentLine>,
    #[serde(default)]
    ship_after: Option<DateTime<Utc>>,
}

/// `POST /v1/fulfillments`: 201 the fulfilment (`open`), its units taken from the
/// warehouse's stock. One with the given `id` already → 200 with it. Unknown order → 404,
/// unknown warehouse → 422 `fulfillment.unknown_warehouse`; an order that cannot ship →
/// 409 `order.not_shippable`; more units than the line has unfulfilled → 409
/// `fulfillment.over_quantity`; not enough stock → 409 `fulfillment.insufficient_stock`.
async fn create_fulfillment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Body(input): Body<FulfillmentIn>,
) -> Result<Response> {
    if input.lines.is_empty() || input.lines.iter().any(|l| l.qty <= 0) {
        return Err(Error::unprocessable(
            "request.invalid",
            "lines must be non-empty with positive quantities",
        ));
    }
    let mut m = match idempotency::begin(&s.db, Service::Fulfillment, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = create(&mut m, &tenant, input).await;
    m.finish(outcome, &s.events).await
}

async fn create(m: &mut Mutation, tenant: &str, input: FulfillmentIn) -> Result<Answer> {
    // the order's row lock serializes the fulfilments of one order
    let order = store::orders::lock(m.conn(), tenant, &input.order_id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?
        .order;
    if let Some(id) = &input.id
        && let Some(existing) = store::fulfillments::get(m.conn(), tenant, id, false).await?
    {
        if existing.order_id != input.order_id {
            return Err(Error::conflict(
                "fulfillment.id_conflict",
                "this fulfillment id belongs to another order",
            ));
        }
        return Answer::new(StatusCode::OK, &existing);
    }
    if store::fulfillments::initial_stock(&input.warehouse).is_none() {
        return Err(Error::unprocessable(
            "fulfillment.unknown_warehouse",
            format!("no warehouse {:?}", input.warehouse),
        ));
    }
    if !matches!(
        order.status,
        OrderStatus::Confirmed | OrderStatus::PartiallyShipped | OrderStatus::Pending
    ) {
        return Err(Error::conflict(
            "order.not_shippable",
            format!("an order that is {} cannot ship", order.status.as_str()),
        ));
    }
    let earlier = store::fulfillments::list_for_order(m.conn(), tenant, &order.id).await?;
    check_quantities(&order, &earlier, &input.lines)?;
    for line in &input.lines {
        let sku = sku_of(&order, &line.line_id)?;
        let taken = store::fulfillments::adjust(
            m.conn(),
            tenant,
            &input.warehouse,
            sku,
            -i64::from(line.qty),
        )
        .await?;
        if !taken {
            return Err(Error::conflict(
                "fulfillment.insufficient_stock",
                format!("{} lacks stock of {sku}", input.warehouse),
            ));
        }
    }
    let now = Utc::now();
    let f = Fulfillment {
        id: input.id.unwrap_or_else(|| new_id("ful")),
        order_id: order.id.clone(),
        warehouse: input.warehouse,
        status: "open".into(),
        lines: input.lines,
        ship_after: input.ship_after,
        shipment_id: None,
        created_at: now,
        updated_at: now,
    };
    store::fulfillments::insert(m.conn(), tenant, &f).await?;
    let detail = json!({ "id": f.id, "warehouse": f.warehouse, "lines": f.lines });
    m.effect(&order.id, "fulfillment.create", detail).await?;
    Answer::new(StatusCode::CREATED, &f)
}

fn sku_of<'a>(order: &'a Order, line_id: &str) -> Result<&'a str> {
    order
        .lines
        .iter()
        .find(|l| l.id == line_id)
        .map(|l| l.sku.as_str())
        .ok_or_else(|| {
            Error::unprocessable("fulfillment.unknown_line", format!("no line {line_id}"))
        })
}

/// Units asked per line ≤ ordered − shipped − held by open fulfilments.
fn check_quantities(
    order: &Order,
    earlier: &[Fulfillment],
    asked: &[FulfillmentLine],
) -> Result<()> {
    let mut taken: HashMap<&str, i32> = HashMap::new();
    for f in earlier.iter().filter(|f| f.status != "cancelled") {
        for l in &f.lines {
            *taken.entry(&l.line_id).or_default() += l.qty;
        }
    }
    // units shipped outside any fulfilment (the sandbox's whole-order ship)
    let by_fulfilment: Vec<&str> = earlier
        .iter()
        .filter_map(|f| f.shipment_id.as_deref())
        .collect();
    for s in order
        .shipments
        .iter()
        .filter(|s| !by_fulfilment.contains(&s.id.as_str()))
    {
        for l in &s.lines {
            *taken.entry(&l.line_id).or_default() += l.qty;
        }
    }
    let mut wanted: HashMap<&str, i32> = HashMap::new();
    for l in asked {
        *wanted.entry(&l.line_id).or_default() += l.qty;
    }
    for (line_id, qty) in wanted {
        let line = order.lines.iter().find(|l| l.id == line_id);
        let line = line.ok_or_else(|| {
            Error::unprocessable("fulfillment.unknown_line", format!("no line {line_id}"))
        })?;
        let left = line.qty - taken.get(line_id).copied().unwrap_or(0);
        if qty > left {
            return Err(Error::conflict(
                "fulfillment.over_quantity",
                format!(
                    "line {line_id} has {} unfulfilled units, {qty} asked",
                    left.max(0)
                ),
            ));
        }
    }
    Ok(())
}

/// Locks the fulfilment for a change: unknown → 404, cancelled → 409
/// `fulfillment.cancelled`, shipped → 409 `fulfillment.already_shipped`.
async fn lock_open(m: &mut Mutation, tenant: &str, id: &str) -> Result<Fulfillment> {
    let f = store::fulfillments::get(m.conn(), tenant, id, true)
        .await?
        .ok_or_else(|| Error::not_found("fulfillment"))?;
    match f.status.as_str() {
        "cancelled" => Err(Error::conflict(
            "fulfillment.cancelled",
            "the fulfillment was cancelled",
        )),
        "shipped" => Err(Error::conflict(
            "fulfillment.already_shipped",
            "the fulfillment shipped",
        )),
        _ => Ok(f),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipIn {
    carrier: String,
    tracking_number: String,
}

/// `POST /v1/fulfillments/{id}/ship`: 200 `{"fulfillment","order"}`: the fulfilment
/// `shipped` and the order with its new shipment (`in_transit`, the fulfilment's lines);
/// the order is `shipped` once every unit shipped, else `partially_shipped`. Emits
/// `shipment.updated`. Not open → 409 (see `lock_open`).
async fn ship_fulfillment(
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
    let peek = store::fulfillments::get(m.conn(), tenant, id, false)
        .await?
        .ok_or_else(|| Error::not_found("fulfillment"))?;
    // the order first, then the fulfilment: the order the create path locks them in
    let store::orders::LockedOrder {
        mut order,
        prev_status,
    } = store::orders::lock(m.conn(), tenant, &peek.order_id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    if matches!(order.status, OrderStatus::Cancelled | OrderStatus::Closed) {
        return Err(Error::conflict(
            "order.not_shippable",
            format!("an order that is {} cannot ship", order.status.as_str()),
        ));
    }
    let mut f = lock_open(m, tenant, id).await?;
    let now = Utc::now();
    let shipment = Shipment {
        id: new_id("shp"),
        carrier: input.carrier,
        tracking_number: input.tracking_number,
        status: "in_transit".into(),
        lines: f
            .lines
            .iter()
            .map(|l| ShipmentLine {
                line_id: l.line_id.clone(),
                qty: l.qty,
            })
            .collect(),
        shipped_at: Some(now),
        eta: Some(now + chrono::Duration::days(3)),
        delivered_at: None,
    };
    f.status = "shipped".into();
    f.shipment_id = Some(shipment.id.clone());
    f.updated_at = now;
    let detail =
        json!({ "fulfillment_id": f.id, "shipment_id": shipment.id, "lines": shipment.lines });
    order.shipments.push(shipment);
    order.status = if everything_shipped(&order) {
        OrderStatus::Shipped
    } else {
        OrderStatus::PartiallyShipped
    };
    store::fulfillments::save(m.conn(), tenant, &f).await?;
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    m.effect(&order.id, "fulfillment.ship", detail).await?;
    let body = json!({ "fulfillment": f, "order": order });
    Ok(Answer::new(StatusCode::OK, &body)?.with_event(events::SHIPMENT_UPDATED, &order))
}

fn everything_shipped(order: &Order) -> bool {
    order.lines.iter().all(|line| {
        let shipped: i32 = order
            .shipments
            .iter()
            .flat_map(|s| &s.lines)
            .filter(|l| l.line_id == line.id)
            .map(|l| l.qty)
            .sum();
        shipped >= line.qty
    })
}

/// `POST /v1/fulfillments/{id}/cancel`: 200 the fulfilment `cancelled`, its units back in
/// the warehouse's stock; cancelled already → 200 as is; shipped → 409
/// `fulfillment.already_shipped`.
async fn cancel_fulfillment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
) -> Result<Response> {
    let mut m = match idempotency::begin(&s.db, Service::Fulfillment, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = cancel(&mut m, &tenant, &id).await;
    m.finish(outcome, &s.events).await
}

async fn cancel(m: &mut Mutation, tenant: &str, id: &str) -> Result<Answer> {
    let existing = store::fulfillments::get(m.conn(), tenant, id, true)
        .await?
        .ok_or_else(|| Error::not_found("fulfillment"))?;
    if existing.status == "cancelled" {
        return Answer::new(StatusCode::OK, &existing);
    }
    let mut f = lock_open(m, tenant, id).await?;
    let order = store::orders::get(m.conn(), tenant, &f.order_id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    for line in &f.lines {
        let sku = sku_of(&order, &line.line_id)?;
        store::fulfillments::adjust(m.conn(), tenant, &f.warehouse, sku, i64::from(line.qty))
            .await?;
    }
    f.status = "cancelled".into();
    f.updated_at = Utc::now();
    store::fulfillments::save(m.conn(), tenant, &f).await?;
    m.effect(
        &f.order_id,
        "fulfillment.cancel",
        json!({ "fulfillment_id": f.id }),
    )
    .await?;
    Answer::new(StatusCode::OK, &f)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RescheduleIn {
    ship_after: DateTime<Utc>,
}

/// `POST /v1/fulfillments/{id}/reschedule`: 200 the fulfilment with its new `ship_after`;
/// not open → 409 (see `lock_open`).
async fn reschedule_fulfillment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<RescheduleIn>,
) -> Result<Response> {
    let mut m = match idempotency::begin(&s.db, Service::Fulfillment, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = reschedule(&mut m, &tenant, &id, input).await;
    m.finish(outcome, &s.events).await
}

async fn reschedule(
    m: &mut Mutation,
    tenant: &str,
    id: &str,
    input: RescheduleIn,
) -> Result<Answer> {
    let mut f = lock_open(m, tenant, id).await?;
    f.ship_after = Some(input.ship_after);
    f.updated_at = Utc::now();
    store::fulfillments::save(m.conn(), tenant, &f).await?;
    let detail = json!({ "fulfillment_id": f.id, "ship_after": f.ship_after });
    m.effect(&f.order_id, "fulfillment.reschedule", detail)
        .await?;
    Answer::new(StatusCode::OK, &f)
}
