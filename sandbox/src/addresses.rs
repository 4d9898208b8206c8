//! Shipping-address changes: at Orders (`/orders/v1/orders/{id}/address` and its
//! compensation `/address/revert`) and at Fulfillment (`/fulfillment/v1/orders/{id}/address`).
//! Both lock the order row, so a change and `POST /sandbox/orders/{id}/ship` are serialized:
//! whichever commits second sees the other.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::store::commerce as commerce_store;
use super::{SandboxState, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;
use crate::wire::{Address, OrderStatus};

/// Merged into the Orders service's routes.
pub fn orders_routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/orders/{id}/address", post(change_address))
        .route("/v1/orders/{id}/address/revert", post(revert_address))
}

/// Merged into the Fulfillment service's routes.
pub fn fulfillment_routes() -> Router<SandboxState> {
    Router::new().route(
        "/v1/orders/{id}/address",
        post(change_fulfillment_address).get(get_fulfillment_address),
    )
}

#[derive(Debug, Deserialize)]
struct AddressIn {
    address: Address,
    /// Orders only: the version the order must be at (optimistic concurrency), 412
    /// `order.version_mismatch` otherwise.
    #[serde(default)]
    expected_version: Option<i64>,
}

fn validate(a: &Address) -> Result<()> {
    let fields = [
        ("address.name", &a.name),
        ("address.line1", &a.line1),
        ("address.city", &a.city),
        ("address.postal_code", &a.postal_code),
        ("address.country", &a.country),
    ];
    let errors: Vec<FieldError> = fields
        .iter()
        .filter(|(_, v)| v.trim().is_empty())
        .map(|(f, _)| FieldError {
            field: (*f).into(),
            message: "required".into(),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

#[derive(Clone, Copy)]
enum Change {
    /// Refused once anything shipped or the order ended.
    Update,
    /// The compensation of an update: always allowed.
    Revert,
}

/// `POST /v1/orders/{id}/address` `{"address":{…}}`: 200 `{"order","previous_address"}`;
/// the same address again → 200 as is (no effect); shipped, partially shipped, delivered,
/// closed or cancelled → 409 `order.address_locked`; `expected_version` other than the
/// order's → 412 `order.version_mismatch` (judged first).
async fn change_address(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<AddressIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, Change::Update).await
}

/// `POST /v1/orders/{id}/address/revert` `{"address":{…}}`: puts an earlier address back
/// whatever the order's status (it undoes a change Fulfillment refused).
async fn revert_address(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<AddressIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, Change::Revert).await
}

async fn mutate(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<AddressIn>,
    change: Change,
) -> Result<Response> {
    validate(&input.address)?;
    let mut m = match idempotency::begin(&s.db, Service::Orders, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = apply(&mut m, &tenant, &id, input, change).await;
    m.finish(outcome, &s.events).await
}

async fn apply(
    m: &mut Mutation,
    tenant: &str,
    id: &str,
    input: AddressIn,
    change: Change,
) -> Result<Answer> {
    let store::orders::LockedOrder {
        mut order,
        prev_status,
    } = store::orders::lock(m.conn(), tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    super::orders::expect_version(&order, input.expected_version)?;
    let address = input.address;
    let open = matches!(
        order.status,
        OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::OnHold
    ) && order.shipments.is_empty();
    if matches!(change, Change::Update) && !open {
        return Err(Error::conflict(
            "order.address_locked",
            format!(
                "the address of an order that is {} cannot change",
                order.status.as_str()
            ),
        ));
    }
    let previous = order.shipping_address.clone();
    if previous == address {
        return Answer::new(
            StatusCode::OK,
            &json!({ "order": order, "previous_address": previous }),
        );
    }
    order.shipping_address = address;
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    let kind = match change {
        Change::Update => "order.address_update",
        Change::Revert => "order.address_revert",
    };
    let detail =
        json!({ "from": previous, "to": order.shipping_address, "version": order.version });
    m.effect(id, kind, detail).await?;
    let body = json!({ "order": order, "previous_address": previous });
    Ok(Answer::new(StatusCode::OK, &body)?.with_event(super::events::ORDER_UPDATED, &order))
}

/// `POST /fulfillment/v1/orders/{id}/address` `{"address":{…}}`: 200
/// `{"order_id","address","updated_at"}`; anything shipped → 409
/// `fulfillment.already_shipped`; a cancelled or closed order → 409 `fulfillment.order_closed`.
async fn change_fulfillment_address(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<AddressIn>,
) -> Result<Response> {
    validate(&input.address)?;
    let mut m = match idempotency::begin(&s.db, Service::Fulfillment, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = apply_fulfillment(&mut m, &tenant, &id, input.address).await;
    m.finish(outcome, &s.events).await
}

async fn apply_fulfillment(
    m: &mut Mutation,
    tenant: &str,
    id: &str,
    address: Address,
) -> Result<Answer> {
    let order = store::orders::lock(m.conn(), tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?
        .order;
    if !order.shipments.is_empty() {
        return Err(Error::conflict(
            "fulfillment.already_shipped",
            "a shipment of this order is on its way; its address cannot change",
        ));
    }
    if matches!(order.status, OrderStatus::Cancelled | OrderStatus::Closed) {
        return Err(Error::conflict(
            "fulfillment.order_closed",
            format!("the order is {}", order.status.as_str()),
        ));
    }
    let updated_at =
        commerce_store::set_fulfillment_address(m.conn(), tenant, id, &address).await?;
    m.effect(id, "fulfillment.address_update", json!({ "to": address }))
        .await?;
    let body = json!({ "order_id": id, "address": address, "updated_at": updated_at });
    Answer::new(StatusCode::OK, &body)
}

/// `GET /fulfillment/v1/orders/{id}/address`: where Fulfillment will ship (the order's
/// address until a change reached Fulfillment).
async fn get_fulfillment_address(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let order = store::orders::get(&mut conn, &tenant, &id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    let (address, updated_at) =
        match commerce_store::fulfillment_address(&mut conn, &tenant, &id).await? {
            Some((a, at)) => (a, Some(at)),
            None => (order.shipping_address, None),
        };
    Ok(Json(
        json!({ "order_id": id, "address": address, "updated_at": updated_at }),
    ))
}
