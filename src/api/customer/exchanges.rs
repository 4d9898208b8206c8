//! `POST /v1/customer/orders/{order_id}/replace-request`: a customer exchanges delivered
//! lines for the same or another variant; the `exchange_order` workflow reserves the
//! replacements and creates the exchange RMA.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rma::{self, Ask, LineAskIn, RmaAcceptedOut, RmaPlanOut};
use crate::api::auth::Customer;
use crate::api::extract::Path;
use crate::api::extract::{Valid, Validate};
use crate::api::idempotency::{self, IdempotencyKey};
use crate::api::shared::RequestMeta;
use crate::domain::ids::OrderId;
use crate::domain::returns::RmaKind;
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceLineIn {
    pub line_id: String,
    pub qty: i32,
    /// The SKU to ship instead; the line's own SKU when left out (a like-for-like swap).
    #[serde(default)]
    pub replacement_sku: Option<String>,
    /// `damaged`, `wrong_item`, `not_as_described`, `no_longer_needed` or `other`.
    pub reason: String,
    /// In the customer's words (at most 500 characters).
    #[serde(default)]
    pub comment: Option<String>,
}

fn dropoff() -> String {
    "dropoff".into()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRequestIn {
    /// 1 to 50 lines, each line once.
    pub lines: Vec<ReplaceLineIn>,
    /// How the exchanged items go back: `pickup` or `dropoff` (default).
    #[serde(default = "dropoff")]
    pub method: String,
    /// Answer the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// Asks to exchange delivered lines of one of the caller's orders: 202 with the `rma_id`,
/// `instructions`, the request and its job. The replacement stock is checked at the
/// Inventory service first: 409 `replace.out_of_stock` names the SKUs short of stock; 409
/// `replace.not_eligible` lists `line_errors`. Requires `Idempotency-Key` unless `dry_run`.
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/replace-request", tag = "customer",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = ReplaceRequestIn, security(("bearer" = [])),
    responses((status = 202, body = RmaAcceptedOut), (status = 200, description = "dry run plan, or the finished job with Prefer: wait", body = RmaPlanOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 503, description = "the stock cannot be checked now", body = crate::error::Problem)))]
pub async fn request_replacement(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, checked: ask }: Valid<ReplaceRequestIn>,
) -> Result<Response> {
    let hash = idempotency::fingerprint(&format!("replace-request:{order_id}"), &body);
    rma::request(&state, &who, &meta, key, &order_id, ask, hash).await
}

impl From<&ReplaceLineIn> for LineAskIn {
    fn from(l: &ReplaceLineIn) -> Self {
        LineAskIn {
            line_id: l.line_id.clone(),
            qty: l.qty,
            reason: l.reason.clone(),
            comment: l.comment.clone(),
            replacement_sku: l.replacement_sku.clone(),
        }
    }
}

impl Validate for ReplaceRequestIn {
    /// The exchange asked for, every field checked (422 listing each bad one).
    type Checked = Ask;

    fn validate(&self) -> Result<Ask> {
        let lines = self.lines.iter().map(LineAskIn::from).collect();
        let refund = None;
        Ask::checked(RmaKind::Exchange, lines, &self.method, refund, self.dry_run)
    }
}
