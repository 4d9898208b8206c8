//! `POST /payments/v1/payments/{id}/settlement`: finance links a payout the processor
//! reported (its id, amount and fee, from a settlement report) to the payment it settled.
//! Linked once: the same payout again answers the payment as it is, another one is refused.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::extract::{Body, IdempotencyKey, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::payments::{lock_payment_order, payment_mut};
use super::{SandboxState, events, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;
use crate::wire::Settlement;

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/v1/payments/{id}/settlement", post(link_settlement))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkIn {
    /// The processor's payout id.
    id: String,
    amount_minor: i64,
    #[serde(default)]
    fee_minor: i64,
    #[serde(default)]
    settled_at: Option<DateTime<Utc>>,
}

fn validate(input: &LinkIn) -> Result<()> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    if input.id.trim().is_empty() || input.id.len() > 100 {
        bad("id", "1 to 100 characters");
    }
    if input.amount_minor < 0 {
        bad("amount_minor", "must be 0 or more");
    }
    if input.fee_minor < 0 {
        bad("fee_minor", "must be 0 or more");
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(Error::validation(errors)),
    }
}

/// 201 the payment with its `settlement`; the same payout linked already → 200 the payment;
/// another payout linked → 409 `settlement.already_linked`; nothing captured → 409
/// `settlement.nothing_captured`; unknown payment → 404.
async fn link_settlement(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<LinkIn>,
) -> Result<Response> {
    validate(&input)?;
    let mut m = match idempotency::begin(&s.db, Service::Payments, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = link(&mut m, &tenant, &id, input).await;
    m.finish(outcome, &s.events).await
}

async fn link(m: &mut Mutation, tenant: &str, payment_id: &str, input: LinkIn) -> Result<Answer> {
    let (order_id, locked) = lock_payment_order(m, tenant, payment_id).await?;
    let (mut order, prev_status) = (locked.order, locked.prev_status);
    let payment = payment_mut(&mut order, payment_id)?;
    match &payment.settlement {
        Some(linked) if linked.id == input.id => return Answer::new(StatusCode::OK, &*payment),
        Some(linked) => {
            return Err(Error::conflict(
                "settlement.already_linked",
                format!("the payment is settled by payout {}", linked.id),
            )
            .with_extra("settlement_id", json!(linked.id)));
        }
        None => {}
    }
    if payment.captured_minor() == 0 {
        return Err(Error::conflict(
            "settlement.nothing_captured",
            format!("the payment is {}; nothing to settle", payment.status),
        ));
    }
    payment.settlement = Some(Settlement {
        id: input.id.clone(),
        settled_at: input.settled_at.unwrap_or_else(Utc::now),
        amount_minor: input.amount_minor,
        fee_minor: input.fee_minor,
    });
    let answer = Answer::new(StatusCode::CREATED, &*payment)?;
    let detail = json!({ "payment_id": payment_id, "settlement_id": input.id,
                         "amount_minor": input.amount_minor });
    store::orders::save(m.conn(), &mut order, prev_status).await?;
    m.effect(&order_id, "payment.settlement_link", detail)
        .await?;
    Ok(answer.with_event(events::ORDER_UPDATED, &order))
}
