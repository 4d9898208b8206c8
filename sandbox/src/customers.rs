//! The Orders service's customer routes (`/orders/v1/customers/...`): GDPR erasure of a
//! customer's personal data in every one of their orders.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::extract::{IdempotencyKey, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, store};
use crate::error::Result;
use crate::service::Service;
use crate::wire::Order;

/// What erased personal data becomes.
const REDACTED_EMAIL: &str = "redacted@erased.invalid";
const REDACTED: &str = "[redacted]";

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/v1/customers/{id}/erase", post(erase_customer))
}

/// `POST /v1/customers/{id}/erase`: replaces the email, the shipping address (but its
/// country) and the cancel reason in every order of the customer; each changed order's
/// `version` grows by one and records a `customer.erase` effect. 200
/// `{"customer_id","orders_erased","order_ids"}`; a customer without orders, or already
/// erased, is a 200 with nothing erased.
async fn erase_customer(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(customer_id): Path<String>,
) -> Result<Response> {
    let mut m = match idempotency::begin(&s.db, Service::Orders, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = erase(&mut m, &tenant, &customer_id).await;
    m.finish(outcome, &s.events).await
}

async fn erase(m: &mut Mutation, tenant: &str, customer_id: &str) -> Result<Answer> {
    let orders = store::customers::lock_orders(m.conn(), tenant, customer_id).await?;
    let mut erased = Vec::new();
    for store::orders::LockedOrder {
        mut order,
        prev_status,
    } in orders
    {
        if !redact(&mut order) {
            continue;
        }
        store::orders::save(m.conn(), &mut order, prev_status).await?;
        let detail = json!({ "customer_id": customer_id, "version": order.version });
        m.effect(&order.id, "customer.erase", detail).await?;
        erased.push(order.id);
    }
    Answer::new(
        StatusCode::OK,
        &json!({ "customer_id": customer_id, "orders_erased": erased.len(), "order_ids": erased }),
    )
}

/// Redacts the order's personal data; false when there was nothing left to redact.
fn redact(order: &mut Order) -> bool {
    let before = order.clone();
    order.email = REDACTED_EMAIL.into();
    let a = &mut order.shipping_address;
    for field in [&mut a.name, &mut a.line1, &mut a.postal_code, &mut a.city] {
        *field = REDACTED.into();
    }
    a.line2 = None;
    if order.cancel_reason.is_some() {
        order.cancel_reason = Some(REDACTED.into());
    }
    *order != before
}
