//! A new quote (`POST /v1/admin/orders/{order_id}/quote`): the changes priced on the order
//! as it is, stored open for 30 minutes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Pricing, QuoteIn, QuoteOut, editable, price};
use crate::api::accept::{Admission, Admitted, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::ids::{OrderId, QuoteId};
use crate::domain::order::Order;
use crate::error::Result;
use crate::state::AppState;

/// A new quote: stored open, audited.
struct NewQuote<'a> {
    order: &'a Order,
    id: QuoteId,
    pricing: Pricing,
}

impl Intake for NewQuote<'_> {
    type Answer = QuoteOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<QuoteOut>> {
        let (order, by) = (self.order, adm.caller().principal.clone());
        let tenant = adm.caller().tenant_id.clone();
        let ids = (&self.id, &order.id, &order.customer_id);
        let staged = self.pricing.staged();
        let row = db::quotes::insert(adm.conn(), &tenant, ids, &staged, &by).await?;
        adm.audit(Entry {
            action: "order.quote",
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: None,
            before: Some(json!({ "version": order.version, "totals": order.totals })),
            after: Some(json!({ "quote_id": row.id, "changes": row.changes, "delta": row.delta })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        Ok(Admitted::done(
            StatusCode::CREATED,
            QuoteOut::from_row(row, None)?,
        ))
    }
}

/// The quote once its body is valid: priced, then answered (dry run) or stored.
async fn make_quote(
    state: &AppState,
    agent: &Authorized<can::OrdersEdit>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    order_id: &OrderId,
    body: Result<Valid<QuoteIn>>,
) -> Result<Response> {
    // another tenant's order is not found, whatever the body
    let order = agent.tenant_order(state, order_id).await?;
    let Valid { body, checked } = body?;
    editable(&order)?;
    let id = QuoteId::now_v7();
    let priced = price(state, &order, &checked, &id).await?;
    if body.dry_run {
        let out = QuoteOut::unsaved(&order, &body.changes, priced, &agent.principal());
        return Ok(axum::Json(out).into_response());
    }
    let pricing = Pricing::new(&order, &body.changes, &priced)?;
    let key = key.optional_for(&format!("quote:{order_id}"), &body);
    let intake = NewQuote {
        order: &order,
        id,
        pricing,
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// Quotes an edit of the order: 201 with the order as it would be after `changes` and the
/// delta (subtotal, shipping, tax and total differences; the charge or refund it needs; the
/// units to reserve or release). The quote is open for 30 minutes and carries the order's
/// version; apply it with `POST /v1/admin/quotes/{quote_id}/apply`. An operation outside
/// the allowed set, a line index out of range, a quantity out of 1–999 or a SKU not sold
/// in the order's currency → 422 naming `changes[i]`; a shipped or ended order → 409
/// `order.not_editable`. Requires `orders.edit`; an `Idempotency-Key` replays it.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/quote", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = QuoteIn, security(("bearer" = ["orders.edit"])),
    responses((status = 201, body = QuoteOut), (status = 200, body = QuoteOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem)))]
pub async fn create_quote(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    body: Result<Valid<QuoteIn>>,
) -> Result<Response> {
    make_quote(&state, &agent, &meta, key, &order_id, body).await
}
