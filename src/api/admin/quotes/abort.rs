//! Aborting a quote (`POST /v1/admin/quotes/{quote_id}/abort`): `If-Match` with the order's
//! ETag and a reason, as applying takes; the quote is closed and nothing else changes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde_json::json;

use super::apply::{QuoteDecisionIn, quote_and_order};
use super::{QuoteOut, not_closed};
use crate::api::accept::{Admission, Admitted, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::precondition::{IfMatch, Need, OrderEdit, OrderPrecondition};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::ids::QuoteId;
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The quote to abort: locked, still open (an expired one may be aborted).
struct AbortQuote<'a> {
    order: &'a Order,
    id: &'a QuoteId,
    reason: String,
}

impl OrderEdit for AbortQuote<'_> {
    fn order(&self) -> &Order {
        self.order
    }

    fn expect_version(&mut self, _: Option<i64>) {}
}

impl Intake for AbortQuote<'_> {
    type Answer = QuoteOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<QuoteOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let row = db::quotes::get(adm.conn(), &tenant, self.id, true)
            .await?
            .ok_or_else(|| Error::not_found("quote"))?;
        not_closed(&row)?;
        let closed = ("aborted", None, self.reason.as_str());
        let row = db::quotes::close(adm.conn(), &tenant, self.id, closed).await?;
        adm.audit(Entry {
            action: "order.quote_abort",
            subject_type: "order",
            subject_id: self.order.id.as_str(),
            reason: Some(&self.reason),
            before: Some(json!({ "quote_id": row.id, "status": "open" })),
            after: Some(json!({ "status": "aborted", "at": Utc::now() })),
            personal_data_of: Some(&self.order.customer_id),
        })
        .await?;
        Ok(Admitted::done(
            StatusCode::OK,
            QuoteOut::from_row(row, None)?,
        ))
    }
}

/// Aborts an open (or expired) quote: 200 with it, now `aborted`. `If-Match` with the
/// order's ETag is required (428 `order.if_match_required`; stale → 412); applied or
/// aborted → 409 `quote.not_open`. Requires `orders.edit`; an `Idempotency-Key` replays it.
#[utoipa::path(post, path = "/v1/admin/quotes/{quote_id}/abort", tag = "admin",
    params(("quote_id" = String, Path), ("Idempotency-Key" = Option<String>, Header),
           ("If-Match" = String, Header, description = "the order's ETag: required (428), 412 when it moved on")),
    request_body = QuoteDecisionIn, security(("bearer" = ["orders.edit"])),
    responses((status = 200, body = QuoteOut), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 412, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 428, body = crate::error::Problem)))]
pub async fn abort_quote(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    key: IdempotencyKey,
    if_match: IfMatch,
    Path(quote_id): Path<QuoteId>,
    Valid { body, .. }: Valid<QuoteDecisionIn>,
) -> Result<Response> {
    let (_, order) = quote_and_order(&state, &agent, &quote_id).await?;
    let precondition = OrderPrecondition::for_agent(if_match, None, Need::Required)?;
    let key = key.optional_for(&format!("quote_abort:{quote_id}"), &body);
    let reason = body.reason.trim().to_string();
    let intake = AbortQuote {
        order: &order,
        id: &quote_id,
        reason,
    };
    accept(&state, agent.caller(&meta), key, precondition.guard(intake)).await
}
