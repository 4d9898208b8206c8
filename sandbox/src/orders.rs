//! The Orders service (`/orders/v1/...`): read, list, and the status transitions cancel,
//! reinstate, hold, release, confirm, close and reopen; and the fraud state of an order.
//! A transition's body may name the version the order must be at (`expected_version`):
//! any other → 412 `order.version_mismatch` with `current_version`, judged before the rule.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Params, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, events, store};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::wire::{Order, OrderStatus};

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/orders", get(list_orders))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/cancel", post(cancel_order))
        .route("/v1/orders/{id}/reinstate", post(reinstate_order))
        .route("/v1/orders/{id}/hold", post(hold_order))
        .route("/v1/orders/{id}/release", post(release_order))
        .route("/v1/orders/{id}/confirm", post(confirm_order))
        .route("/v1/orders/{id}/close", post(close_order))
        .route("/v1/orders/{id}/reopen", post(reopen_order))
        .route("/v1/orders/{id}/fraud", post(set_fraud_state))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    customer_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /v1/orders?customer_id=&limit=`: newest first, `limit` 1..=200 (default 50).
async fn list_orders(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(p): Params<ListParams>,
) -> Result<Json<Value>> {
    let limit = p.limit.unwrap_or(50).clamp(1, 200);
    let mut conn = s.db.acquire().await?;
    let orders = store::orders::list(&mut conn, &tenant, p.customer_id.as_deref(), limit).await?;
    Ok(Json(json!({ "data": orders })))
}

/// `GET /v1/orders/{id}`.
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

/// The optional body of every order mutation.
#[derive(Debug, Default, Deserialize)]
struct ReasonIn {
    reason: Option<String>,
    /// The version the order must be at (optimistic concurrency): 412 otherwise.
    expected_version: Option<i64>,
}

/// 412 `order.version_mismatch` unless the order is at `expected` (when one was given).
pub(crate) fn expect_version(order: &Order, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(v) if v != order.version => Err(Error::new(
            StatusCode::PRECONDITION_FAILED,
            "order.version_mismatch",
            format!("the order is at version {}, not {v}", order.version),
        )
        .with_extra("current_version", json!(order.version))),
        _ => Ok(()),
    }
}

/// What one order mutation does to a locked order: `Ok(true)` when it changed it,
/// `Ok(false)` when the order already is as asked (answered as is, no effect).
type Change = fn(&mut Order, &mut Option<OrderStatus>, Option<String>) -> Result<bool>;

/// How each mutation is recorded: effect kind, event type, and the rule.
struct Transition {
    kind: &'static str,
    event: &'static str,
    change: Change,
}

const CANCEL: Transition = Transition {
    kind: "order.cancel",
    event: events::ORDER_CANCELLED,
    change: |order, prev, reason| match order.status {
        OrderStatus::Cancelled => Ok(false),
        OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::OnHold => {
            *prev = Some(order.status);
            order.status = OrderStatus::Cancelled;
            order.cancel_reason = reason;
            Ok(true)
        }
        other => Err(Error::conflict(
            "order.not_cancellable",
            format!("an order that is {} cannot be cancelled", other.as_str()),
        )),
    },
};

const REINSTATE: Transition = Transition {
    kind: "order.reinstate",
    event: events::ORDER_REINSTATED,
    change: |order, prev, _| {
        if order.status != OrderStatus::Cancelled {
            return Ok(false);
        }
        order.status = prev.take().unwrap_or(OrderStatus::Confirmed);
        order.cancel_reason = None;
        Ok(true)
    },
};

const HOLD: Transition = Transition {
    kind: "order.hold",
    event: events::ORDER_HELD,
    change: |order, prev, _| match order.status {
        OrderStatus::OnHold => Ok(false),
        OrderStatus::Pending | OrderStatus::Confirmed => {
            *prev = Some(order.status);
            order.status = OrderStatus::OnHold;
            Ok(true)
        }
        other => Err(Error::conflict(
            "order.not_holdable",
            format!("an order that is {} cannot be put on hold", other.as_str()),
        )),
    },
};

const RELEASE: Transition = Transition {
    kind: "order.release",
    event: events::ORDER_RELEASED,
    change: |order, prev, _| {
        if order.status != OrderStatus::OnHold {
            return Ok(false);
        }
        order.status = prev.take().unwrap_or(OrderStatus::Confirmed);
        Ok(true)
    },
};

const CONFIRM: Transition = Transition {
    kind: "order.confirm",
    event: events::ORDER_UPDATED,
    change: |order, _, _| match order.status {
        OrderStatus::Pending => {
            order.status = OrderStatus::Confirmed;
            Ok(true)
        }
        OrderStatus::Confirmed => Ok(false),
        other => Err(Error::conflict(
            "order.not_confirmable",
            format!("an order that is {} cannot be confirmed", other.as_str()),
        )),
    },
};

const CLOSE: Transition = Transition {
    kind: "order.close",
    event: events::ORDER_UPDATED,
    change: |order, prev, _| match order.status {
        OrderStatus::Closed => Ok(false),
        OrderStatus::Delivered | OrderStatus::Cancelled => {
            *prev = Some(order.status);
            order.status = OrderStatus::Closed;
            Ok(true)
        }
        other => Err(Error::conflict(
            "order.not_closable",
            format!("an order that is {} cannot be closed", other.as_str()),
        )),
    },
};

const REOPEN: Transition = Transition {
    kind: "order.reopen",
    event: events::ORDER_UPDATED,
    change: |order, prev, _| {
        if order.status != OrderStatus::Closed {
            return Ok(false);
        }
        order.status = prev.take().unwrap_or(OrderStatus::Delivered);
        Ok(true)
    },
};

/// `POST /v1/orders/{id}/cancel`: already cancelled → 200 as is; shipped, partially
/// shipped, delivered or closed → 409 `order.not_cancellable`.
async fn cancel_order(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<ReasonIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, &CANCEL).await
}

/// `POST /v1/orders/{id}/reinstate`: a cancelled order returns to its status before the
/// cancel (`confirmed` if unknown); any other order is answered as is.
async fn reinstate_order(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<ReasonIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, &REINSTATE).await
}

/// `POST /v1/orders/{id}/hold`: pending or confirmed → `on_hold`; already on hold → as is;
/// otherwise 409 `order.not_holdable`.
async fn hold_order(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<ReasonIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, &HOLD).await
}

/// `POST /v1/orders/{id}/release`: an order on hold returns to its previous status; any
/// other order is answered as is.
async fn release_order(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<ReasonIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, &RELEASE).await
}

/// `POST /v1/orders/{id}/confirm`: pending → `confirmed`; already confirmed → as is;
/// otherwise 409 `order.not_confirmable`.
async fn confirm_order(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<ReasonIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, &CONFIRM).await
}

/// `POST /v1/orders/{id}/close`: delivered or cancelled → `closed`; already closed → as is;
/// otherwise 409 `order.not_closable`.
async fn close_order(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<ReasonIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, &CLOSE).await
}

/// `POST /v1/orders/{id}/reopen`: a closed order returns to its status before the close
/// (`delivered` if unknown); any other order is answered as is.
async fn reopen_order(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<ReasonIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, &REOPEN).await
}

async fn mutate(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<ReasonIn>,
    transition: &Transition,
) -> Result<Response> {
    let mut m = match idempotency::begin(&s.db, Service::Orders, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = apply(&mut m, &tenant, &id, input, transition).await;
    m.finish(outcome, &s.events).await
}

async fn apply(
    m: &mut Mutation,
    tenant: &str,
    id: &str,
    input: ReasonIn,
    transition: &Transition,
) -> Result<Answer> {
    let store::orders::LockedOrder {
        mut order,
        mut prev_status,
    } = store::orders::lock(m.conn(), tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    expect_version(&order, input.expected_version)?;
    let (from, reason) = (order.status, input.reason);
    if !(transition.change)(&mut order, &mut prev_status, reason.clone())? {
        return Answer::new(StatusCode::OK, &order);
    }
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    let detail =
        json!({ "from": from, "to": order.status, "reason": reason, "version": order.version });
    m.effect(id, transition.kind, detail).await?;
    Ok(Answer::new(StatusCode::OK, &order)?.with_event(transition.event, &order))
}

/// The fraud states of an order.
const FRAUD_STATES: [&str; 3] = ["review", "cleared", "confirmed"];

#[derive(Debug, Deserialize)]
struct FraudIn {
    state: String,
    reason: Option<String>,
}

/// `POST /v1/orders/{id}/fraud` `{"state","reason"}`: sets the order's fraud state
/// (`review`, `cleared`, `confirmed`; anything else 422 `order.fraud_state_unknown`); already
/// in that state → answered as is.
async fn set_fraud_state(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<FraudIn>,
) -> Result<Response> {
    if !FRAUD_STATES.contains(&input.state.as_str()) {
        let detail = format!("fraud state must be one of {}", FRAUD_STATES.join(", "));
        return Err(Error::unprocessable("order.fraud_state_unknown", detail));
    }
    let mut m = match idempotency::begin(&s.db, Service::Orders, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = apply_fraud_state(&mut m, &tenant, &id, input).await;
    m.finish(outcome, &s.events).await
}

async fn apply_fraud_state(
    m: &mut Mutation,
    tenant: &str,
    id: &str,
    input: FraudIn,
) -> Result<Answer> {
    let store::orders::LockedOrder {
        mut order,
        prev_status,
    } = store::orders::lock(m.conn(), tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    if order.fraud_state.as_deref() == Some(input.state.as_str()) {
        return Answer::new(StatusCode::OK, &order);
    }
    let from = order.fraud_state.replace(input.state.clone());
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    let detail = json!({ "from": from, "to": input.state, "reason": input.reason,
                         "version": order.version });
    m.effect(id, "order.fraud_state", detail).await?;
    Ok(Answer::new(StatusCode::OK, &order)?.with_event(events::ORDER_UPDATED, &order))
}
