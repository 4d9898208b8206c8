//! `POST /v1/customer/orders/{order_id}/update-address`: change where an order ships.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{OrderRequest, RequestKind, ensure_allowed};
use crate::api::accept::{RequestAcceptedOut, accept};
use crate::api::auth::Customer;
use crate::api::extract::Path;
use crate::api::extract::{Valid, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::precondition::{IfMatch, Need, OrderEdit, OrderPrecondition, validate_version};
use crate::api::shared::RequestMeta;
use crate::domain::address::{self, AddressIn, AddressRunInput};
use crate::domain::eligibility::SelfService;
use crate::domain::ids::OrderId;
use crate::domain::order::{Address, Order};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

pub const WORKFLOW: &str = "update_address";
const ADDRESS_CHANGE: RequestKind = RequestKind {
    request_kind: "address_change",
    allowed_as: SelfService::UpdateAddress,
    workflow: WORKFLOW,
    audit_action: "order.address_change_requested",
};

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAddressIn {
    pub address: Option<AddressIn>,
    /// The order's `version` from your last read: 409 `order.version_mismatch` when the
    /// order moved on since (`If-Match` with its `ETag` does the same with 412).
    #[serde(default)]
    pub version: Option<i64>,
    /// Validate and check eligibility without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an address change would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateAddressDryRunOut {
    pub dry_run: bool,
    pub current_address: Address,
    /// The new address as it would be stored (normalized).
    pub address: Address,
    /// The workflow steps that would run.
    pub steps: Vec<String>,
}

impl Validate for UpdateAddressIn {
    /// The new address, normalized; 422 listing every bad field as `address.<field>`.
    type Checked = Address;

    fn validate(&self) -> Result<Address> {
        validate_version(self.version)?;
        let Some(input) = &self.address else {
            return Err(invalid("address", "required"));
        };
        address::validate(input).map_err(|errors| {
            Error::validation(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: format!("address.{}", e.field),
                        message: e.message,
                    })
                    .collect(),
            )
        })
    }
}

/// Changes the shipping address of one of the caller's orders, allowed before anything
/// shipped and within the tenant's `address_change_window_minutes` of placing the order
/// (409 `address.already_shipped` / `address.change_window_expired`, the codes
/// `allowed_actions.update_address` shows; the window is judged when the request is
/// accepted). Runs the `update_address` workflow: Orders, then
/// Fulfillment; if the order ships meanwhile the job ends `compensated` with
/// `address.already_shipped` and the old address in force everywhere. `Idempotency-Key` is
/// honoured; `dry_run` validates and checks without changing anything.
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/update-address", tag = "customer",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header), ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on"), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = UpdateAddressIn, security(("bearer" = [])),
    responses((status = 202, body = RequestAcceptedOut), (status = 200, description = "dry run, or the finished job with Prefer: wait", body = UpdateAddressDryRunOut),
              (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn update_address(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    (key, if_match): (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    Valid {
        body,
        checked: address,
    }: Valid<UpdateAddressIn>,
) -> Result<Response> {
    let order = who.own_order(&state, &order_id).await?;
    let precondition = OrderPrecondition::for_customer(if_match, body.version, Need::Optional)?;
    let input = AddressRunInput {
        order_id: order.id.clone(),
        address,
        expected_version: None,
    };
    if body.dry_run {
        ensure_allowed(&state, SelfService::UpdateAddress, &order).await?;
        return Ok(dry_run(&state, &order, input));
    }
    let key = key.optional_for(&format!("update-address:{order_id}"), &body);
    let before = Some(json!({ "address": order.shipping_address }));
    let intake = precondition.guard(ADDRESS_CHANGE.on(&order, input, before));
    accept(&state, who.caller(&meta), key, intake).await
}

impl OrderEdit for OrderRequest<'_, AddressRunInput> {
    fn order(&self) -> &Order {
        self.order
    }

    fn expect_version(&mut self, version: Option<i64>) {
        self.input.expected_version = version;
    }
}

/// What the change would do, with no side effect.
fn dry_run(state: &AppState, order: &Order, input: AddressRunInput) -> Response {
    let out = UpdateAddressDryRunOut {
        dry_run: true,
        current_address: order.shipping_address.clone(),
        steps: state.workflows.planned_steps(WORKFLOW, &input),
        address: input.address,
    };
    axum::Json(out).into_response()
}
