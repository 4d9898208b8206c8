//! Legal holds on an order: while one is in force, every destructive action on the order —
//! an agent's or the customer's cancel, a close, the erasure of the customer's data — is
//! refused with `order.blocked.legal_hold`. orderdesk's own record (the Orders service
//! knows nothing of it), so no workflow: the hold is in force when the answer is sent.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::approvals;
use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::auth::Sudo;
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::order_actions::{ActionDryRunOut, blocked, dry_run, situation};
use crate::api::precondition::{IfMatch, Need, OrderEdit, OrderPrecondition, validate_version};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::holds::OrderLegalHold;
use crate::domain::approvals::HighRiskAction;
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::domain::transitions::{OrderAction, check};
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldIn {
    /// Required, at most 500 characters; internal (never shown to the customer).
    pub reason: String,
    /// The order's `version` from your last read: 409 `order.version_mismatch` when the
    /// order moved on since (`If-Match` with its `ETag` does the same with 412).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for LegalHoldIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_version(self.version)?;
        validate_note("reason", Some(&self.reason), true)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LegalHoldOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub legal_hold: OrderLegalHold,
}

impl Answer for LegalHoldOut {}

pub(super) struct LegalHoldIntake<'a> {
    pub(super) order: &'a Order,
    pub(super) action: OrderAction,
    pub(super) reason: String,
}

/// A legal hold is orderdesk's own record (no workflow): the precondition is judged at
/// acceptance only.
impl OrderEdit for LegalHoldIntake<'_> {
    fn order(&self) -> &Order {
        self.order
    }

    fn expect_version(&mut self, _: Option<i64>) {}
}

impl Intake for LegalHoldIntake<'_> {
    type Answer = LegalHoldOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<LegalHoldOut>> {
        let LegalHoldIntake {
            order,
            action,
            reason,
        } = self;
        let (tenant, id) = (&order.tenant_id, &order.id);
        db::holds::lock_order(adm.conn(), tenant, id).await?;
        let (situation, _) = situation(adm.conn(), order).await?;
        check(action, &situation).map_err(blocked)?;
        let agent = adm.caller().principal.clone();
        let (hold, status) = if action == OrderAction::LegalHold {
            let customer = &order.customer_id;
            let placed = db::holds::place_legal(adm.conn(), tenant, id, customer, &reason, &agent);
            (placed.await?, StatusCode::CREATED)
        } else {
            let removed = db::holds::remove_legal(adm.conn(), tenant, id, &agent, &reason);
            (removed.await?, StatusCode::OK)
        };
        // the lock makes the check above final: the row is there (or gone) as it said
        let hold = hold.ok_or_else(|| Error::conflict("order.blocked.concurrent", "try again"))?;
        let action_name = format!("order.{}", action.as_str());
        adm.audit(Entry {
            action: &action_name,
            subject_type: "order",
            subject_id: id.as_str(),
            reason: Some(&reason),
            before: None,
            after: Some(json!({ "legal_hold_id": hold.id })),
            personal_data_of: None,
        })
        .await?;
        let answer = LegalHoldOut {
            order_id: id.clone(),
            legal_hold: hold,
        };
        Ok(Admitted::done(status, answer))
    }
}

async fn decide(
    state: &AppState,
    agent: &Authorized<can::OrdersLegalHold>,
    meta: &RequestMeta,
    (key, if_match): (IdempotencyKey, IfMatch),
    order_id: &OrderId,
    body: &LegalHoldIn,
    action: OrderAction,
) -> Result<Response> {
    let order = agent.tenant_order(state, order_id).await?;
    let precondition = OrderPrecondition::for_agent(if_match, body.version, Need::Optional)?;
    if body.dry_run {
        return dry_run(state, &order, action).await;
    }
    let key = key.required_for(&format!("{}:{order_id}", action.as_str()), body)?;
    let removal = HighRiskAction::LegalHoldRemoval;
    if action == OrderAction::RemoveLegalHold && approvals::required(state, agent, removal).await? {
        // judged now too, so nobody approves what could not be done
        let mut conn = state.db.acquire().await?;
        check(action, &situation(&mut conn, &order).await?.0).map_err(blocked)?;
        let caller = agent.caller(meta);
        return approvals::hold(state, caller, key, removal, order_id.as_str(), body).await;
    }
    let intake = LegalHoldIntake {
        order: &order,
        action,
        reason: body.reason.trim().to_string(),
    };
    accept(state, agent.caller(meta), key, precondition.guard(intake)).await
}

/// Places a legal hold on the order (201). Requires `orders.legal_hold` and
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/legal-hold", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on")), request_body = LegalHoldIn, security(("bearer" = ["orders.legal_hold"])),
    responses((status = 201, body = LegalHoldOut), (status = 200, body = ActionDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn place(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersLegalHold>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<LegalHoldIn>,
) -> Result<Response> {
    let action = OrderAction::LegalHold;
    decide(&state, &agent, &meta, edit, &order_id, &body, action).await
}

/// Removes the order's legal hold, or holds the request for a second agent's approval (202)
/// when the tenant's settings say so. Requires `orders.legal_hold`, a sudo token in
/// `X-Admin-Auth-Sudo`, a reason and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/legal-hold/remove", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on"), ("X-Admin-Auth-Sudo" = String, Header)),
    request_body = LegalHoldIn, security(("bearer" = ["orders.legal_hold"])),
    responses((status = 200, body = LegalHoldOut), (status = 202, body = crate::db::approvals::ApprovalRow), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersLegalHold>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    // after the permission, so an agent without it learns that first
    _sudo: Sudo,
    Valid { body, .. }: Valid<LegalHoldIn>,
) -> Result<Response> {
    let action = OrderAction::RemoveLegalHold;
    decide(&state, &agent, &meta, edit, &order_id, &body, action).await
}
