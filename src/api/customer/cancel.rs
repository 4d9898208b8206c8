//! `POST /v1/customer/orders/{order_id}/cancel-request`: a customer asks to cancel.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::auth::Customer;
use crate::api::cancellation::{self as cancel, CancelAcceptedOut, CancelDryRunOut};
use crate::api::extract::Json;
use crate::api::idempotency::{self, Begin, IdempotencyKey};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::domain::cancel::{Canceller, needs_review};
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

pub fn location(request_id: uuid::Uuid) -> String {
    format!("/v1/customer/requests/{request_id}")
}

/// Asks to cancel one of the caller's orders: 202 with the request and its job, or
/// `pending_review` when the tenant wants an agent to decide, or 409 with `blocked_reasons`.
/// Requires `Idempotency-Key` (it refunds money) unless `dry_run` is true.
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/cancel-request", tag = "customer",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = CancelRequestIn, security(("bearer" = [])),
    responses((status = 202, body = CancelAcceptedOut), (status = 200, description = "dry run plan, or the finished job with Prefer: wait", body = CancelDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn request_cancel(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<String>,
    Json(body): Json<CancelRequestIn>,
) -> Result<Response> {
    cancel::validate_reason(body.reason.as_deref(), false)?;
    let order = who.own_order(&state, &order_id).await?;
    let (plan, steps, mut input) =
        cancel::plan(&state, &order, Canceller::Customer, true, true).await?;
    input.reason = body.reason.clone();
    let settings = {
        let mut conn = state.db.acquire().await?;
        db::tenants::settings(&mut conn, &who.tenant_id).await?
    };
    let review = needs_review(&order, &settings);
    if body.dry_run {
        return Ok(axum::Json(CancelDryRunOut {
            dry_run: true,
            plan,
            steps,
            needs_review: review,
        })
        .into_response());
    }
    let key = key.required()?;
    let principal = who.principal();
    let hash = idempotency::fingerprint(&format!("cancel-request:{order_id}"), &body);
    let mut tx = state.db.begin().await?;
    let fresh = match idempotency::begin(&mut tx, &who.tenant_id, &principal, &key, &hash).await? {
        Begin::Replay(res) => return Ok(res),
        Begin::Fresh(f) => f,
    };
    if plan.is_blocked() {
        return Err(cancel::blocked(&plan));
    }
    let actor = meta.actor("customer", &who.customer_id, vec![]);
    let status = if review { "pending_review" } else { "queued" };
    let request = cancel::insert_request(&mut tx, &order, status, &input, None).await?;
    let run = if review {
        None
    } else {
        Some(cancel::start_run(&mut tx, &state, &order, input, request.id, &principal, None).await?)
    };
    let accepted = cancel::Accepted {
        order: &order,
        actor: &actor,
        audit_action: "order.cancel_requested",
        reason: body.reason.as_deref(),
        request_id: request.id,
        run,
        audit_extra: serde_json::json!({}),
        location: location(request.id),
    };
    cancel::answer_accepted(&state, tx, fresh, meta.wait, accepted).await
}
