//! Agents changing an order's status: hold (with an optional expiry), release, confirm,
//! close, reopen. Each is checked against the order's situation (409 `order.blocked.*`),
//! has a dry run, and is carried out by its workflow (202 with the job).

use axum::extract::State;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::accept::accept;
use crate::api::authorized::{Authorized, Grant, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::order_actions::{ActionAcceptedOut, ActionDryRunOut, ActionIntake, dry_run};
use crate::api::precondition::{IfMatch, Need, OrderPrecondition, validate_version};
use crate::api::shared::RequestMeta;
use crate::domain::ids::OrderId;
use crate::domain::transitions::OrderAction;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// A hold lasts at most a year.
pub(crate) const MAX_HOLD_MINUTES: i64 = 525_600;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldIn {
    /// Required, at most 500 characters; told to the Orders service.
    pub reason: String,
    /// 1 to 525,600: the hold is released by itself after this long. Absent: until released.
    #[serde(default)]
    pub duration_minutes: Option<i64>,
    /// The order's `version` from your last read: 409 `order.version_mismatch` when the
    /// order moved on since (`If-Match` with its `ETag` does the same with 412).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for HoldIn {
    /// When the hold expires.
    type Checked = Option<Duration>;

    fn validate(&self) -> Result<Option<Duration>> {
        validate_version(self.version)?;
        validate_note("reason", Some(&self.reason), true)?;
        match self.duration_minutes {
            Some(m) if !(1..=MAX_HOLD_MINUTES).contains(&m) => {
                Err(Error::validation(vec![FieldError {
                    field: "duration_minutes".into(),
                    message: format!("from 1 to {MAX_HOLD_MINUTES}"),
                }]))
            }
            m => Ok(m.map(Duration::minutes)),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseIn {
    /// Required, at most 500 characters: how the hold was resolved.
    pub resolution: String,
    /// The order's `version` from your last read: 409 `order.version_mismatch` when the
    /// order moved on since (`If-Match` with its `ETag` does the same with 412).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for ReleaseIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_version(self.version)?;
        validate_note("resolution", Some(&self.resolution), true)
    }
}

/// The body of confirm, close and reopen.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChangeIn {
    /// At most 500 characters; recorded in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
    /// The order's `version` from your last read: 409 `order.version_mismatch` when the
    /// order moved on since (`If-Match` with its `ETag` does the same with 412).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for StatusChangeIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_version(self.version)?;
        validate_note("reason", self.reason.as_deref(), false)
    }
}

/// What the five endpoints do once their body is valid: the dry run, or the acceptance.
struct Asked<'a, B> {
    action: OrderAction,
    body: &'a B,
    dry_run: bool,
    /// The body's `version` (the precondition with `If-Match`).
    version: Option<i64>,
    reason: String,
    expires_at: Option<chrono::DateTime<Utc>>,
}

async fn act<P: Grant, B: Serialize>(
    state: &AppState,
    agent: &Authorized<P>,
    meta: &RequestMeta,
    (key, if_match): (IdempotencyKey, IfMatch),
    order_id: &OrderId,
    asked: Asked<'_, B>,
) -> Result<Response> {
    let order = agent.tenant_order(state, order_id).await?;
    let precondition = OrderPrecondition::for_agent(if_match, asked.version, Need::Optional)?;
    if asked.dry_run {
        return dry_run(state, &order, asked.action).await;
    }
    let operation = format!("{}:{order_id}", asked.action.as_str());
    let key = key.required_for(&operation, asked.body)?;
    let intake = ActionIntake {
        order: &order,
        action: asked.action,
        reason: asked.reason,
        expires_at: asked.expires_at,
        expected_version: None,
    };
    let intake = precondition.guard(intake);
    accept(state, agent.caller(meta), key, intake).await
}

/// Puts the order on hold: a hold object (with its id, the agent and the expiry) and a job
/// that holds the order at the Orders service. An expired hold is released by itself.
/// Requires `orders.hold` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/hold", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on")), request_body = HoldIn, security(("bearer" = ["orders.hold"])),
    responses((status = 202, body = ActionAcceptedOut), (status = 200, body = ActionDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn hold(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersHold>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    Valid { body, checked }: Valid<HoldIn>,
) -> Result<Response> {
    let asked = Asked {
        action: OrderAction::Hold,
        dry_run: body.dry_run,
        version: body.version,
        reason: body.reason.trim().to_string(),
        expires_at: checked.map(|d| Utc::now() + d),
        body: &body,
    };
    act(&state, &agent, &meta, edit, &order_id, asked).await
}

/// Releases the order's hold with a resolution. Requires `orders.hold` and
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/release", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on")), request_body = ReleaseIn, security(("bearer" = ["orders.hold"])),
    responses((status = 202, body = ActionAcceptedOut), (status = 200, body = ActionDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn release(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersHold>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<ReleaseIn>,
) -> Result<Response> {
    let asked = Asked {
        action: OrderAction::Release,
        dry_run: body.dry_run,
        version: body.version,
        reason: body.resolution.trim().to_string(),
        expires_at: None,
        body: &body,
    };
    act(&state, &agent, &meta, edit, &order_id, asked).await
}

/// The three status changes with an optional note.
async fn change_status(
    state: AppState,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    order_id: OrderId,
    body: StatusChangeIn,
    action: OrderAction,
) -> Result<Response> {
    let reason = body.reason.as_deref().map(str::trim).unwrap_or_default();
    let asked = Asked {
        action,
        dry_run: body.dry_run,
        version: body.version,
        reason: if reason.is_empty() {
            action.as_str().to_string()
        } else {
            reason.to_string()
        },
        expires_at: None,
        body: &body,
    };
    act(&state, &agent, &meta, edit, &order_id, asked).await
}

/// Confirms a pending order. Requires `orders.edit` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/confirm", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on")), request_body = StatusChangeIn, security(("bearer" = ["orders.edit"])),
    responses((status = 202, body = ActionAcceptedOut), (status = 200, body = ActionDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn confirm(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<StatusChangeIn>,
) -> Result<Response> {
    change_status(
        state,
        agent,
        meta,
        edit,
        order_id,
        body,
        OrderAction::Confirm,
    )
    .await
}

/// Closes a delivered or cancelled order (refused under a legal hold). Requires
/// `orders.edit` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/close", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on")), request_body = StatusChangeIn, security(("bearer" = ["orders.edit"])),
    responses((status = 202, body = ActionAcceptedOut), (status = 200, body = ActionDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn close(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<StatusChangeIn>,
) -> Result<Response> {
    change_status(state, agent, meta, edit, order_id, body, OrderAction::Close).await
}

/// Reopens a closed order (back to delivered or cancelled). Requires `orders.edit` and
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/reopen", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on")), request_body = StatusChangeIn, security(("bearer" = ["orders.edit"])),
    responses((status = 202, body = ActionAcceptedOut), (status = 200, body = ActionDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn reopen(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<StatusChangeIn>,
) -> Result<Response> {
    change_status(
        state,
        agent,
        meta,
        edit,
        order_id,
        body,
        OrderAction::Reopen,
    )
    .await
}
