//! Agents deciding cancellations: approve a customer's pending request, or force one.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::auth::{Agent, Sudo};
use crate::api::cancellation::{self as cancel, CancelAcceptedOut, CancelDryRunOut};
use crate::api::extract::Json;
use crate::api::idempotency::{self, Begin, IdempotencyKey};
use crate::api::jobs::admin_location;
use crate::api::shared::RequestMeta;
use crate::auth::Permission;
use crate::db;
use crate::domain::cancel::Canceller;
use crate::error::{Error, Result};
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
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForceCancelIn {
    pub refund: bool,
    pub restock: bool,
    /// Required, non-empty: recorded in the audit log.
    pub reason: String,
    #[serde(default)]
    pub dry_run: bool,
}

/// Approves the order's cancellation request that waits for review and starts its job.
/// Requires `orders.cancel.approve` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/approve-cancel", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header)), request_body = ApproveCancelIn, security(("bearer" = [])),
    responses((status = 202, body = CancelAcceptedOut), (status = 200, body = CancelDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn approve_cancel(
    State(state): State<AppState>,
    agent: Agent,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<String>,
    Json(body): Json<ApproveCancelIn>,
) -> Result<Response> {
    agent.require(Permission::OrdersCancelApprove)?;
    cancel::validate_reason(body.reason.as_deref(), false)?;
    let order = agent.tenant_order(&state, &order_id).await?;
    let (plan, steps, mut input) =
        cancel::plan(&state, &order, Canceller::Agent, body.refund, body.restock).await?;
    if body.dry_run {
        return Ok(axum::Json(CancelDryRunOut {
            dry_run: true,
            plan,
            steps,
            needs_review: false,
        })
        .into_response());
    }
    let key = key.required()?;
    let principal = agent.principal();
    let hash = idempotency::fingerprint(&format!("approve-cancel:{order_id}"), &body);
    let mut tx = state.db.begin().await?;
    let fresh = match idempotency::begin(&mut tx, &agent.tenant_id, &principal, &key, &hash).await?
    {
        Begin::Replay(res) => return Ok(res),
        Begin::Fresh(f) => f,
    };
    let request =
        db::requests::open_for_order(&mut tx, &agent.tenant_id, &order_id, cancel::REQUEST_KIND)
            .await?
            .filter(|r| r.status == "pending_review")
            .ok_or_else(|| {
                Error::conflict(
                    "request.none_pending",
                    "this order has no cancellation request waiting for review",
                )
            })?;
    if plan.is_blocked() {
        return Err(cancel::blocked(&plan));
    }
    input.reason = body.reason.clone().or_else(|| {
        request
            .input
            .get("reason")
            .and_then(|r| r.as_str())
            .map(str::to_string)
    });
    let run = cancel::start_run(
        &mut tx,
        &state,
        &order,
        input,
        request.id,
        &principal,
        Some(&principal),
    )
    .await?;
    let actor = meta.actor("agent", &agent.agent_id, agent.role_names());
    let accepted = cancel::Accepted {
        order: &order,
        actor: &actor,
        audit_action: "order.cancel_approved",
        reason: body.reason.as_deref(),
        request_id: request.id,
        location: admin_location(run.id),
        run: Some(run),
        audit_extra: serde_json::json!({}),
    };
    cancel::answer_accepted(&state, tx, fresh, meta.wait, accepted).await
}

/// Cancels the order now, whatever the customer asked, taking over a pending request.
/// Requires `orders.cancel.force`, a sudo token in `X-Admin-Auth-Sudo`, a reason and
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/force-cancel", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("X-Admin-Auth-Sudo" = String, Header)),
    request_body = ForceCancelIn, security(("bearer" = [])),
    responses((status = 202, body = CancelAcceptedOut), (status = 200, body = CancelDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn force_cancel(
    State(state): State<AppState>,
    agent: Agent,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<String>,
    sudo: Result<Sudo, Error>,
    Json(body): Json<ForceCancelIn>,
) -> Result<Response> {
    agent.require(Permission::OrdersCancelForce)?;
    // checked after the permission, so an agent without it learns that first
    sudo?;
    cancel::validate_reason(Some(&body.reason), true)?;
    let order = agent.tenant_order(&state, &order_id).await?;
    let (plan, steps, mut input) =
        cancel::plan(&state, &order, Canceller::Agent, body.refund, body.restock).await?;
    if body.dry_run {
        return Ok(axum::Json(CancelDryRunOut {
            dry_run: true,
            plan,
            steps,
            needs_review: false,
        })
        .into_response());
    }
    let key = key.required()?;
    let principal = agent.principal();
    let hash = idempotency::fingerprint(&format!("force-cancel:{order_id}"), &body);
    let mut tx = state.db.begin().await?;
    let fresh = match idempotency::begin(&mut tx, &agent.tenant_id, &principal, &key, &hash).await?
    {
        Begin::Replay(res) => return Ok(res),
        Begin::Fresh(f) => f,
    };
    if plan.is_blocked() {
        return Err(cancel::blocked(&plan));
    }
    input.reason = Some(body.reason.clone());
    let request = match db::requests::open_for_order(
        &mut tx,
        &agent.tenant_id,
        &order_id,
        cancel::REQUEST_KIND,
    )
    .await?
    {
        Some(r) if r.status == "pending_review" => r,
        Some(_) => {
            return Err(Error::conflict(
                "request.already_open",
                "a cancellation of this order is already running",
            ));
        }
        None => {
            cancel::insert_request(&mut tx, &order, "approved", &input, Some(&principal)).await?
        }
    };
    let run = cancel::start_run(
        &mut tx,
        &state,
        &order,
        input,
        request.id,
        &principal,
        Some(&principal),
    )
    .await?;
    let actor = meta.actor("agent", &agent.agent_id, agent.role_names());
    let accepted = cancel::Accepted {
        order: &order,
        actor: &actor,
        audit_action: "order.force_cancelled",
        reason: Some(&body.reason),
        request_id: request.id,
        location: admin_location(run.id),
        run: Some(run),
        audit_extra: serde_json::json!({"refund": body.refund, "restock": body.restock}),
    };
    cancel::answer_accepted(&state, tx, fresh, meta.wait, accepted).await
}
