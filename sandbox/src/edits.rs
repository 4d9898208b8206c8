//! Order edits across the services: at Orders, `POST /orders/v1/orders/{id}/edit` (lines,
//! totals, shipping method and address at once) and its compensation `/edit/revert`; at
//! Billing, `POST /billing/v1/invoices/{order_id}/adjust` (the invoice follows the new
//! total); at Payments, `POST /payments/v1/orders/{order_id}/charges` (an extra charge, a new
//! captured payment of the order, refundable like any other).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, events, new_id, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;
use crate::wire::{Address, OrderLine, OrderStatus, Payment, Totals};

/// Merged into the Orders service's routes.
pub fn orders_routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/orders/{id}/edit", post(edit_order))
        .route("/v1/orders/{id}/edit/revert", post(revert_edit))
}

/// Merged into the Billing service's routes.
pub fn billing_routes() -> Router<SandboxState> {
    Router::new().route("/v1/invoices/{order_id}/adjust", post(adjust_invoice))
}

/// Merged into the Payments service's routes.
pub fn payments_routes() -> Router<SandboxState> {
    Router::new().route("/v1/orders/{order_id}/charges", post(charge_order))
}

/// What an edit sets (and what it replaced, in the answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Edited {
    lines: Vec<OrderLine>,
    totals: Totals,
    shipping_address: Address,
    #[serde(default)]
    shipping_method: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditIn {
    lines: Vec<OrderLine>,
    totals: Totals,
    shipping_address: Address,
    #[serde(default)]
    shipping_method: Option<String>,
    /// Edit only: the version the order must be at, 412 `order.version_mismatch` otherwise.
    #[serde(default)]
    expected_version: Option<i64>,
}

fn validate(input: &EditIn) -> Result<()> {
    let sum: i64 = input.lines.iter().map(|l| l.total_minor).sum();
    let t = &input.totals;
    let bad = if input.lines.is_empty() {
        Some(("lines", "at least one line"))
    } else if input.lines.iter().any(|l| l.qty < 1) {
        Some(("lines", "every quantity 1 or more"))
    } else if sum != t.subtotal_minor
        || t.subtotal_minor + t.shipping_minor + t.tax_minor != t.total_minor
    {
        Some((
            "totals",
            "subtotal is the lines' sum; total is subtotal + shipping + tax",
        ))
    } else {
        None
    };
    match bad {
        Some((field, message)) => Err(Error::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])),
        None => Ok(()),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// Refused once anything shipped or the order ended.
    Edit,
    /// The compensation of an edit: always allowed.
    Revert,
}

/// `POST /v1/orders/{id}/edit` `{lines, totals, shipping_address, shipping_method?,
/// expected_version?}`: 200 `{"order","previous"}` (`previous`: the lines, totals, address
/// and method it replaced); shipped, partially shipped, delivered, closed or cancelled → 409
/// `order.not_editable`; `expected_version` other than the order's → 412
/// `order.version_mismatch` (judged first).
async fn edit_order(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<EditIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, Kind::Edit).await
}

/// `POST /v1/orders/{id}/edit/revert` `{lines, totals, shipping_address, shipping_method?}`:
/// puts what an edit replaced back, whatever the order's status.
async fn revert_edit(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    id: Path<String>,
    b: Body<EditIn>,
) -> Result<Response> {
    mutate(s, t, k, id, b, Kind::Revert).await
}

async fn mutate(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<EditIn>,
    kind: Kind,
) -> Result<Response> {
    validate(&input)?;
    let mut m = match idempotency::begin(&s.db, Service::Orders, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = apply(&mut m, &tenant, &id, input, kind).await;
    m.finish(outcome, &s.events).await
}

async fn apply(
    m: &mut Mutation,
    tenant: &str,
    id: &str,
    input: EditIn,
    kind: Kind,
) -> Result<Answer> {
    let store::orders::LockedOrder {
        mut order,
        prev_status,
    } = store::orders::lock(m.conn(), tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    super::orders::expect_version(&order, input.expected_version)?;
    let open = matches!(
        order.status,
        OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::OnHold
    ) && order.shipments.is_empty();
    if matches!(kind, Kind::Edit) && !open {
        return Err(Error::conflict(
            "order.not_editable",
            format!(
                "an order that is {} cannot be edited",
                order.status.as_str()
            ),
        ));
    }
    let method = |o: &crate::wire::Order| {
        o.extra
            .get("shipping_method")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let previous = Edited {
        lines: order.lines.clone(),
        totals: order.totals.clone(),
        shipping_address: order.shipping_address.clone(),
        shipping_method: method(&order),
    };
    order.lines = input.lines;
    order.totals = input.totals;
    order.shipping_address = input.shipping_address;
    match input.shipping_method {
        Some(m) => order.extra.insert("shipping_method".into(), json!(m)),
        None => order.extra.remove("shipping_method"),
    };
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    let effect = match kind {
        Kind::Edit => "order.edit",
        Kind::Revert => "order.edit_revert",
    };
    let detail = json!({
        "total_minor": order.totals.total_minor,
        "previous_total_minor": previous.totals.total_minor,
        "lines": order.lines.len(),
        "version": order.version,
    });
    m.effect(id, effect, detail).await?;
    let body = json!({ "order": order, "previous": previous });
    Ok(Answer::new(StatusCode::OK, &body)?.with_event(events::ORDER_UPDATED, &order))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustIn {
    total_minor: i64,
    /// `true` for the compensation of an adjustment (recorded as `invoice.restore`).
    #[serde(default)]
    restore: bool,
}

/// `POST /v1/invoices/{order_id}/adjust` `{total_minor, restore?}`: the order's invoice now
/// totals that; 200 `{"order_id","total_minor","previous_total_minor"}`; an order without an
/// invoice → 404 `invoice.not_found`; a negative total → 422.
async fn adjust_invoice(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(order_id): Path<String>,
    Body(input): Body<AdjustIn>,
) -> Result<Response> {
    if input.total_minor < 0 {
        return Err(Error::validation(vec![FieldError {
            field: "total_minor".into(),
            message: "must not be negative".into(),
        }]));
    }
    let mut m = match idempotency::begin(&s.db, Service::Billing, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = adjust(&mut m, &tenant, &order_id, input).await;
    m.finish(outcome, &s.events).await
}

async fn adjust(m: &mut Mutation, tenant: &str, order_id: &str, input: AdjustIn) -> Result<Answer> {
    let previous = store::orders::adjust_invoice(m.conn(), tenant, order_id, input.total_minor)
        .await?
        .ok_or_else(|| Error::not_found("invoice"))?;
    let kind = if input.restore {
        "invoice.restore"
    } else {
        "invoice.adjust"
    };
    let body = json!({
        "order_id": order_id,
        "total_minor": input.total_minor,
        "previous_total_minor": previous,
    });
    m.effect(order_id, kind, body.clone()).await?;
    Answer::new(StatusCode::OK, &body)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChargeIn {
    amount_minor: i64,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/orders/{order_id}/charges` `{amount_minor, reason?}`: 201 the new payment,
/// captured (the customer's method on file, as the order's first payment); an order not
/// known → 404; an amount below 1 → 422.
async fn charge_order(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(order_id): Path<String>,
    Body(input): Body<ChargeIn>,
) -> Result<Response> {
    if input.amount_minor < 1 {
        return Err(Error::validation(vec![FieldError {
            field: "amount_minor".into(),
            message: "must be greater than 0".into(),
        }]));
    }
    let mut m = match idempotency::begin(&s.db, Service::Payments, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = charge(&mut m, &tenant, &order_id, input).await;
    m.finish(outcome, &s.events).await
}

async fn charge(m: &mut Mutation, tenant: &str, order_id: &str, input: ChargeIn) -> Result<Answer> {
    let store::orders::LockedOrder {
        mut order,
        prev_status,
    } = store::orders::lock(m.conn(), tenant, order_id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    let method = order
        .payments
        .first()
        .map_or_else(|| "card".to_string(), |p| p.method.clone());
    let payment = Payment {
        id: new_id("pay"),
        status: "captured".into(),
        method,
        amount_minor: input.amount_minor,
        refunded_minor: 0,
        refunds: vec![],
        captures: vec![],
        settlement: None,
    };
    order.payments.push(payment.clone());
    store::orders::add_payment(m.conn(), tenant, &payment.id, order_id).await?;
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    let detail = json!({
        "payment_id": payment.id,
        "amount_minor": input.amount_minor,
        "reason": input.reason,
        "charged_at": Utc::now(),
    });
    m.effect(order_id, "payment.charge", detail).await?;
    Ok(Answer::new(StatusCode::CREATED, &payment)?.with_event(events::ORDER_UPDATED, &order))
}
