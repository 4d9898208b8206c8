//! `POST /v1/customer/orders/{order_id}/return-request` (a customer returns delivered
//! lines) and `GET /v1/customer/returns/{rma_id}` (the return's status, label and refund).

use axum::Json as AxumJson;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rma::{self, Ask, LineAskIn, RmaAcceptedOut, RmaLineOut, RmaPlanOut};
use crate::api::auth::Customer;
use crate::api::extract::Path;
use crate::api::extract::{Valid, Validate};
use crate::api::idempotency::{self, IdempotencyKey};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::returns::ReturnRow;
use crate::domain::ids::{OrderId, RequestId};
use crate::domain::order::Money;
use crate::domain::return_review::{Condition, Disposition, ProposedSettlement};
use crate::domain::returns::RmaKind;
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineIn {
    pub line_id: String,
    /// At least 1, at most what was delivered minus what earlier returns took.
    pub qty: i32,
    /// `damaged`, `wrong_item`, `not_as_described`, `no_longer_needed` or `other`.
    pub reason: String,
    /// In the customer's words (at most 500 characters).
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequestIn {
    /// 1 to 50 lines, each line once.
    pub lines: Vec<ReturnLineIn>,
    /// `card` or `store_credit` (when the shop offers it).
    pub preferred_refund: String,
    /// `pickup` or `dropoff`.
    pub method: String,
    /// Answer the plan (lines, expected refund, instructions) without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// Asks to return delivered lines of one of the caller's orders: 202 with the `rma_id`,
/// `instructions`, `status: requested`, the request and its job (the RMA and its label are
/// made by the `return_order` workflow). 409 `return.not_eligible` with `line_errors` (one
/// per refused line) or `blocked_reasons`. Requires `Idempotency-Key` unless `dry_run`.
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/return-request", tag = "customer",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = ReturnRequestIn, security(("bearer" = [])),
    responses((status = 202, body = RmaAcceptedOut), (status = 200, description = "dry run plan, or the finished job with Prefer: wait", body = RmaPlanOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn request_return(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, checked: ask }: Valid<ReturnRequestIn>,
) -> Result<Response> {
    let hash = idempotency::fingerprint(&format!("return-request:{order_id}"), &body);
    rma::request(&state, &who, &meta, key, &order_id, ask, hash).await
}

impl From<&ReturnLineIn> for LineAskIn {
    fn from(l: &ReturnLineIn) -> Self {
        LineAskIn {
            line_id: l.line_id.clone(),
            qty: l.qty,
            reason: l.reason.clone(),
            comment: l.comment.clone(),
            replacement_sku: None,
        }
    }
}

impl Validate for ReturnRequestIn {
    /// The return asked for, every field checked (422 listing each bad one).
    type Checked = Ask;

    fn validate(&self) -> Result<Ask> {
        let lines = self.lines.iter().map(LineAskIn::from).collect();
        let refund = Some(self.preferred_refund.as_str());
        Ask::checked(RmaKind::Return, lines, &self.method, refund, self.dry_run)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnRefundOut {
    /// `pending` until the goods are received and refunded, then `issued`;
    /// `not_applicable` for an exchange or a return that was never created.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Money>,
    /// Once issued: `card` or `store_credit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Once issued: what was paid back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
}

impl ReturnRefundOut {
    /// The refund as the customer sees it: how much, how and when; never the agent, the
    /// payment or Billing's reference.
    fn of(row: &ReturnRow) -> Self {
        let expected = (row.kind == "return").then(|| Money {
            amount_minor: row.expected_refund_minor,
            currency: row.currency.clone(),
        });
        let issued = row.refund_issued_at.is_some();
        ReturnRefundOut {
            status: row.refund_status.clone(),
            expected,
            method: row.refund_method.clone(),
            amount_minor: row.refund_amount_minor,
            currency: issued.then(|| row.currency.clone()),
            issued_at: row.refund_issued_at,
        }
    }
}

/// How an approved return comes back.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnApprovalOut {
    /// `label` or `pickup`.
    pub method: String,
    pub approved_at: DateTime<Utc>,
}

/// The outcome of an inspection, as the customer sees it (no notes, no inspector).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnInspectionOut {
    pub condition: Condition,
    pub disposition: Disposition,
    pub inspected_at: DateTime<Utc>,
}

/// A return or exchange as its customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnOut {
    pub rma_id: String,
    /// `return` or `exchange`.
    pub kind: String,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    /// `requested`, `approved` (an agent approved it), `inspected` (the goods were looked
    /// at), then as the Returns API says; or `failed` when no RMA could be made.
    pub status: String,
    /// `pickup` or `dropoff`.
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_refund: Option<String>,
    pub lines: Vec<RmaLineOut>,
    pub instructions: String,
    /// The return label (PDF), once the RMA exists.
    pub label_url: Option<String>,
    pub refund: ReturnRefundOut,
    /// Once approved: how the goods come back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ReturnApprovalOut>,
    /// Once inspected: the latest inspection's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspection: Option<ReturnInspectionOut>,
    /// What the latest inspection proposes to give back (issued later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_settlement: Option<ProposedSettlement>,
    /// The request to poll for the job's progress.
    #[schema(value_type = uuid::Uuid)]
    pub request_id: RequestId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One of the caller's returns or exchanges; anyone else's is a 404.
#[utoipa::path(get, path = "/v1/customer/returns/{rma_id}", tag = "customer", params(("rma_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ReturnOut), (status = 404, body = crate::error::Problem), (status = 401, body = crate::error::Problem)))]
pub async fn get_return(
    State(state): State<AppState>,
    who: Customer,
    Path(rma_id): Path<String>,
) -> Result<AxumJson<ReturnOut>> {
    let row = who.own_return(&state, &rma_id).await?;
    Ok(AxumJson(ReturnOut::from(row)))
}

impl From<ReturnRow> for ReturnOut {
    fn from(row: ReturnRow) -> Self {
        let refund = ReturnRefundOut::of(&row);
        ReturnOut {
            lines: row.lines.0.iter().map(RmaLineOut::from).collect(),
            rma_id: row.rma_id,
            kind: row.kind,
            order_id: row.order_id,
            status: row.status,
            method: row.method,
            preferred_refund: row.preferred_refund,
            instructions: row.instructions,
            label_url: row.label_url,
            refund,
            approval: row
                .approval_method
                .zip(row.approved_at)
                .map(|(method, approved_at)| ReturnApprovalOut {
                    method,
                    approved_at,
                }),
            inspection: row.inspection.map(|i| ReturnInspectionOut {
                condition: i.0.condition,
                disposition: i.0.disposition,
                inspected_at: i.0.inspected_at,
            }),
            proposed_settlement: row.proposed_settlement.map(|s| s.0),
            request_id: row.request_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Customer {
    /// One of the caller's returns or exchanges (a guest: of its one order); 404 for
    /// anyone else's.
    async fn own_return(&self, state: &AppState, rma_id: &str) -> Result<ReturnRow> {
        if rma_id.len() > 64 {
            return Err(Error::not_found("return"));
        }
        let mut conn = state.db.acquire().await?;
        db::returns::get(&mut conn, &self.tenant_id, rma_id, Some(&self.customer_id))
            .await?
            .filter(|r| self.may_see(r.order_id.as_str()).is_ok())
            .ok_or_else(|| Error::not_found("return"))
    }
}
