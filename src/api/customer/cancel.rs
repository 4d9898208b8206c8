//! `POST /v1/customer/orders/{order_id}/cancel-request`: a customer asks to cancel.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::accept::{RequestAcceptedOut, accept};
use crate::api::auth::Customer;
use crate::api::cancellation::{self as cancel, CancelDryRunOut, CancelIntake, Decision, Planned};
use crate::api::extract::Path;
use crate::api::extract::{Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::domain::cancel::Canceller;
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequestIn {
    /// Why, in the customer's words (at most 500 characters).
    #[serde(default)]
    pub reason: Option<String>,
    /// Answer the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for CancelRequestIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        cancel::validate_reason(self.reason.as_deref(), false)
    }
}

/// Asks to cancel one of the caller's orders: 202 with the request and its job, or
/// `pending_review` when the tenant wants an agent to decide, or 409 with `blocked_reasons`.
/// Requires `Idempotency-Key` (it refunds money) unless `dry_run` is true.
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/cancel-request", tag = "customer",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = CancelRequestIn, security(("bearer" = [])),
    responses((status = 202, body = RequestAcceptedOut), (status = 200, description = "dry run plan, or the finished job with Prefer: wait", body = CancelDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn request_cancel(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<CancelRequestIn>,
) -> Result<Response> {
    let (order, planned) = own_order_and_plan(&state, &who, &order_id).await?;
    if body.dry_run {
        return Ok(planned.dry_run());
    }
    let key = key.required_for(&format!("cancel-request:{order_id}"), &body)?;
    let intake = CancelIntake {
        order: &order,
        planned,
        decision: Decision::CustomerAsks,
        reason: body.reason.clone(),
    };
    accept(&state, who.caller(&meta), key, intake).await
}

/// The caller's order and the plan to cancel it, read on one connection (each connection
/// taken from the pool costs a round trip when it goes back).
async fn own_order_and_plan(
    state: &AppState,
    who: &Customer,
    order_id: &OrderId,
) -> Result<(Order, Planned)> {
    let mut conn = state.db.acquire().await?;
    let order = who.own_order_on(&mut conn, order_id).await?;
    let planned = cancel::plan_on(state, &mut conn, &order, Canceller::Customer, true, true);
    let planned = planned.await?;
    Ok((order, planned))
}
