//! The Payments service (`/payments/v1/...`): read a payment, refund it. Payments live
//! inside their order's document, so a refund is a change of the order.

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
use crate::wire::{Payment, Refund};

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/payments/{id}/refunds", post(refund_payment))
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
    let left = payment.amount_minor - payment.refunded_minor;
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
