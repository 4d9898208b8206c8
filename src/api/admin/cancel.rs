//! Agents deciding cancellations: approve a customer's pending request, or force one.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::accept::{RequestAcceptedOut, accept};
use crate::api::auth::Sudo;
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::{
    self as cancel, CancelDryRunOut, CancelIntake, Decision, ForceCancelIntake,
};
use crate::api::extract::Path;
use crate::api::extract::{Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::precondition::{IfMatch, Need, OrderPrecondition, validate_version};
use crate::api::shared::RequestMeta;
use crate::domain::cancel::Canceller;
use crate::domain::ids::OrderId;
use crate::error::Result;
use crate::state::AppState;

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveCancelIn {
    #[serde(default = "yes")]
    pub refund: bool,
    #[serde(default = "yes")]
    pub restock: bool,
    #[serde(default)]
    pub reason: Option<String>,
    /// The order's `version` from your last read: 409 `order.version_mismatch` when the
    /// order moved on since (`If-Match` with its `ETag` does the same with 412).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for ApproveCancelIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_version(self.version)?;
        cancel::validate_reason(self.reason.as_deref(), false)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForceCancelIn {
    pub refund: bool,
    pub restock: bool,
    /// Required, non-empty: recorded in the audit log.
    pub reason: String,
    /// The order's `version` from your last read: 409 `order.version_mismatch` when the
    /// order moved on since (`If-Match` with its `ETag` does the same with 412).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for ForceCancelIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_version(self.version)?;
        cancel::validate_reason(Some(&self.reason), true)
    }
}

/// Approves the order's cancellation request that waits for review and starts its job.
/// Requires `orders.cancel.approve` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/approve-cancel", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on")), request_body = ApproveCancelIn, security(("bearer" = ["orders.cancel.approve"])),
    responses((status = 202, body = RequestAcceptedOut), (status = 200, body = CancelDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn approve_cancel(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersCancelApprove>,
    meta: RequestMeta,
    (key, if_match): (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<ApproveCancelIn>,
) -> Result<Response> {
    let order = agent.tenant_order(&state, &order_id).await?;
    let precondition = OrderPrecondition::for_agent(if_match, body.version, Need::Optional)?;
    let planned = cancel::plan(&state, &order, Canceller::Agent, body.refund, body.restock).await?;
    if body.dry_run {
        return Ok(planned.dry_run());
    }
    let key = key.required_for(&format!("approve-cancel:{order_id}"), &body)?;
    let intake = CancelIntake {
        order: &order,
        planned,
        decision: Decision::AgentApproves,
        reason: body.reason.clone(),
    };
    accept(&state, agent.caller(&meta), key, precondition.guard(intake)).await
}

/// Cancels the order now, whatever the customer asked, taking over a pending request.
/// Requires `orders.cancel.force`, a sudo token in `X-Admin-Auth-Sudo`, a reason and
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/force-cancel", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on"), ("X-Admin-Auth-Sudo" = String, Header)),
    request_body = ForceCancelIn, security(("bearer" = ["orders.cancel.force"])),
    responses((status = 202, body = RequestAcceptedOut), (status = 200, body = CancelDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn force_cancel(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersCancelForce>,
    meta: RequestMeta,
    (key, if_match): (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    // after the permission, so an agent without it learns that first
    _sudo: Sudo,
    Valid { body, .. }: Valid<ForceCancelIn>,
) -> Result<Response> {
    let order = agent.tenant_order(&state, &order_id).await?;
    let precondition = OrderPrecondition::for_agent(if_match, body.version, Need::Optional)?;
    if body.dry_run {
        let planned = cancel::plan(&state, &order, Canceller::Agent, body.refund, body.restock);
        return Ok(planned.await?.dry_run());
    }
    let key = key.required_for(&format!("force-cancel:{order_id}"), &body)?;
    let intake = ForceCancelIntake {
        order: &order,
        reason: body.reason.clone(),
        refund: body.refund,
        restock: body.restock,
        expected_version: None,
    };
    accept(&state, agent.caller(&meta), key, precondition.guard(intake)).await
}
