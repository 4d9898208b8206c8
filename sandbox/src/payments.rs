//! The Payments service (`/payments/v1/...`): read a payment, capture it, refund it; and
//! `POST /sandbox/settlements`, the processor settling a payment. Payments live inside their
//! order's document, so each of these is a change of the order.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;

use super::extract::{Body, IdempotencyKey, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, events, new_id, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;
use crate::wire::{Capture, Order, Payment, Refund, Settlement};

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/payments/{id}/refunds", post(refund_payment))
        .route("/v1/payments/{id}/captures", post(capture_payment))
        .merge(super::settlements::routes())
}

/// `/sandbox/*` routes of the Payments service (no faults).
pub fn sandbox_routes() -> Router<SandboxState> {
    Router::new().route("/settlements", post(settle_payment))
}

/// The payment `id` of `tenant`, with every refund made; also `GET /sandbox/payments/{id}`.
pub async fn find_payment(conn: &mut PgConnection, tenant: &str, id: &str) -> Result<Payment> {
    let order_id = store::orders::order_of_payment(conn, tenant, id).await?;
    let order = match order_id {
        Some(order_id) => store::orders::get(conn, tenant, &order_id).await?,
        None => None,
    };
    order
        .and_then(|o| o.payments.into_iter().find(|p| p.id == id))
        .ok_or_else(|| Error::not_found("payment"))
}

/// `GET /v1/payments/{id}`.
async fn get_payment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Payment>> {
    let mut conn = s.db.acquire().await?;
    Ok(Json(find_payment(&mut conn, &tenant, &id).await?))
}

#[derive(Debug, Deserialize)]
struct RefundIn {
    amount_minor: i64,
    reason: Option<String>,
}

/// `POST /v1/payments/{id}/refunds`: 201 the refund. More than is left to refund → 422
/// `refund.exceeds_captured`; a payment never captured → 409 `refund.not_captured`.
async fn refund_payment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<RefundIn>,
) -> Result<Response> {
    if input.amount_minor <= 0 {
        return Err(Error::validation(vec![FieldError {
            field: "amount_minor".into(),
            message: "must be greater than 0".into(),
        }]));
    }
    let mut m = match idempotency::begin(&s.db, Service::Payments, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = refund(&mut m, &tenant, &id, input).await;
    m.finish(outcome, &s.events).await
}

async fn refund(
    m: &mut Mutation,
    tenant: &str,
    payment_id: &str,
    input: RefundIn,
) -> Result<Answer> {
    let order_id = store::orders::order_of_payment(m.conn(), tenant, payment_id)
        .await?
        .ok_or_else(|| Error::not_found("payment"))?;
    let store::orders::LockedOrder {
        mut order,
        prev_status,
    } = store::orders::lock(m.conn(), tenant, &order_id)
        .await?
        .ok_or_else(|| Error::not_found("payment"))?;
    let payment = order
        .payments
        .iter_mut()
        .find(|p| p.id == payment_id)
        .ok_or_else(|| Error::not_found("payment"))?;
    if !matches!(
        payment.status.as_str(),
        "captured" | "partially_refunded" | "refunded"
    ) {
        return Err(Error::conflict(
            "refund.not_captured",
            format!(
                "the payment is {}; only captured money can be refunded",
                payment.status
            ),
        ));
    }
    let left = payment.refundable_minor();
    if input.amount_minor > left {
        return Err(Error::unprocessable(
            "refund.exceeds_captured",
            format!("{} exceeds the {left} left to refund", input.amount_minor),
        )
        .with_extra("refundable_minor", json!(left)));
    }
    let refund = Refund {
        id: new_id("ref"),
        amount_minor: input.amount_minor,
        reason: input.reason,
        created_at: Utc::now(),
    };
    payment.refunded_minor += refund.amount_minor;
    payment.status = if payment.refunded_minor == payment.amount_minor {
        "refunded".into()
    } else {
        "partially_refunded".into()
    };
    payment.refunds.push(refund.clone());
    let detail = json!({
        "payment_id": payment_id,
        "refund_id": refund.id,
        "amount_minor": refund.amount_minor,
        "refunded_minor": payment.refunded_minor,
    });
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    m.effect(&order_id, "payment.refund", detail).await?;
    Ok(Answer::new(StatusCode::CREATED, &refund)?.with_event(events::PAYMENT_REFUNDED, &order))
}

/// The order holding payment `payment_id`, locked for a change of it.
pub(crate) async fn lock_payment_order(
    m: &mut Mutation,
    tenant: &str,
    payment_id: &str,
) -> Result<(String, store::orders::LockedOrder)> {
    let order_id = store::orders::order_of_payment(m.conn(), tenant, payment_id)
        .await?
        .ok_or_else(|| Error::not_found("payment"))?;
    let locked = store::orders::lock(m.conn(), tenant, &order_id)
        .await?
        .ok_or_else(|| Error::not_found("payment"))?;
    Ok((order_id, locked))
}

pub(crate) fn payment_mut<'a>(order: &'a mut Order, payment_id: &str) -> Result<&'a mut Payment> {
    order
        .payments
        .iter_mut()
        .find(|p| p.id == payment_id)
        .ok_or_else(|| Error::not_found("payment"))
}

#[derive(Debug, Deserialize)]
struct CaptureIn {
    /// Defaults to the whole authorized amount.
    amount_minor: Option<i64>,
}

/// `POST /v1/payments/{id}/captures`: 201 the capture; the payment becomes `captured` with
/// that amount (a partial capture releases the rest of the authorization). Only an
/// `authorized` payment is captured, once: otherwise 409 `capture.not_authorized`; more than
/// authorized → 422 `capture.exceeds_authorized`.
async fn capture_payment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<CaptureIn>,
) -> Result<Response> {
    if input.amount_minor.is_some_and(|a| a <= 0) {
        return Err(Error::validation(vec![FieldError {
            field: "amount_minor".into(),
            message: "must be greater than 0".into(),
        }]));
    }
    let mut m = match idempotency::begin(&s.db, Service::Payments, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = capture(&mut m, &tenant, &id, input).await;
    m.finish(outcome, &s.events).await
}

async fn capture(
    m: &mut Mutation,
    tenant: &str,
    payment_id: &str,
    input: CaptureIn,
) -> Result<Answer> {
    let (order_id, locked) = lock_payment_order(m, tenant, payment_id).await?;
    let (mut order, prev_status) = (locked.order, locked.prev_status);
    let payment = payment_mut(&mut order, payment_id)?;
    if payment.status != "authorized" {
        return Err(Error::conflict(
            "capture.not_authorized",
            format!(
                "the payment is {}; only an authorized payment is captured, once",
                payment.status
            ),
        ));
    }
    let amount = input.amount_minor.unwrap_or(payment.amount_minor);
    if amount > payment.amount_minor {
        return Err(Error::unprocessable(
            "capture.exceeds_authorized",
            format!("{amount} exceeds the {} authorized", payment.amount_minor),
        )
        .with_extra("capturable_minor", json!(payment.amount_minor)));
    }
    let capture = Capture {
        id: new_id("cap"),
        amount_minor: amount,
        created_at: Utc::now(),
    };
    payment.captures.push(capture.clone());
    payment.status = "captured".into();
    let detail = json!({
        "payment_id": payment_id,
        "capture_id": capture.id,
        "amount_minor": amount,
    });
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    m.effect(&order_id, "payment.capture", detail).await?;
    Ok(Answer::new(StatusCode::CREATED, &capture)?.with_event(events::ORDER_UPDATED, &order))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettleIn {
    payment_id: String,
    /// The processor's fee, kept from the payout; 0 by default.
    fee_minor: Option<i64>,
}

/// `POST /sandbox/settlements` `{payment_id, fee_minor?}`: the processor settles the
/// payment's captured money less refunds (200 the payment). Settled once: a settled
/// payment answers as it is; one with nothing captured → 409 `settlement.nothing_captured`.
async fn settle_payment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Body(input): Body<SettleIn>,
) -> Result<Response> {
    if input.fee_minor.is_some_and(|f| f < 0) {
        return Err(Error::validation(vec![FieldError {
            field: "fee_minor".into(),
            message: "must be 0 or more".into(),
        }]));
    }
    let mut m = match idempotency::begin(&s.db, Service::Payments, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = settle(&mut m, &tenant, input).await;
    m.finish(outcome, &s.events).await
}

async fn settle(m: &mut Mutation, tenant: &str, input: SettleIn) -> Result<Answer> {
    let payment_id = input.payment_id.as_str();
    let (order_id, locked) = lock_payment_order(m, tenant, payment_id).await?;
    let (mut order, prev_status) = (locked.order, locked.prev_status);
    let payment = payment_mut(&mut order, payment_id)?;
    if payment.settlement.is_some() {
        return Answer::new(StatusCode::OK, &*payment);
    }
    let net = payment.refundable_minor();
    if payment.captured_minor() == 0 {
        return Err(Error::conflict(
            "settlement.nothing_captured",
            format!("the payment is {}; nothing to settle", payment.status),
        ));
    }
    payment.settlement = Some(Settlement {
        id: new_id("stl"),
        settled_at: Utc::now(),
        amount_minor: net,
        fee_minor: input.fee_minor.unwrap_or(0),
    });
    let answer = Answer::new(StatusCode::OK, &*payment)?;
    let detail = json!({ "payment_id": payment_id, "amount_minor": net });
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    m.effect(&order_id, "payment.settle", detail).await?;
    Ok(answer.with_event(events::ORDER_UPDATED, &order))
}
