//! Changing a quote (`PATCH /v1/admin/quotes/{quote_id}`): its changes replaced and
//! re-priced on the order as it is now.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Pricing, QuoteIn, QuoteOut, editable, not_closed, price, tenant_quote};
use crate::api::accept::{Admission, Admitted, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::ids::{OrderId, QuoteId};
use crate::domain::order::Order;
use crate::domain::quote::Change;
use crate::error::{Error, Result};
use crate::state::AppState;

/// An open quote's changes replaced, re-priced on the order as it is now.
struct Restage<'a> {
    id: &'a QuoteId,
    order: &'a Order,
    pricing: Pricing,
}

impl Intake for Restage<'_> {
    type Answer = QuoteOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<QuoteOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let row = db::quotes::get(adm.conn(), &tenant, self.id, true)
            .await?
            .ok_or_else(|| Error::not_found("quote"))?;
        not_closed(&row)?;
        let staged = self.pricing.staged();
        let new = db::quotes::restage(adm.conn(), &tenant, self.id, &staged).await?;
        adm.audit(Entry {
            action: "order.quote_update",
            subject_type: "order",
            subject_id: self.order.id.as_str(),
            reason: None,
            before: Some(json!({ "quote_id": row.id, "changes": row.changes, "delta": row.delta })),
            after: Some(json!({ "changes": new.changes, "delta": new.delta,
                                "order_version": new.order_version })),
            personal_data_of: Some(&self.order.customer_id),
        })
        .await?;
        Ok(Admitted::done(
            StatusCode::OK,
            QuoteOut::from_row(new, None)?,
        ))
    }
}

async fn restage(
    state: &AppState,
    agent: &Authorized<can::OrdersEdit>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    id: &QuoteId,
    (body, changes): (&QuoteIn, &[Change]),
) -> Result<Response> {
    let row = tenant_quote(state, &agent.tenant_id, id).await?;
    not_closed(&row)?;
    let order = agent
        .tenant_order(state, &OrderId::new(row.order_id.as_str()))
        .await?;
    editable(&order)?;
    let priced = price(state, &order, changes, id).await?;
    if body.dry_run {
        let out = QuoteOut::unsaved(&order, &body.changes, priced, &row.created_by);
        return Ok(axum::Json(QuoteOut {
            quote_id: row.id,
            ..out
        })
        .into_response());
    }
    let pricing = Pricing::new(&order, &body.changes, &priced)?;
    let key = key.optional_for(&format!("quote_update:{id}"), body);
    let intake = Restage {
        id,
        order: &order,
        pricing,
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// Replaces an open quote's `changes` and re-prices it on the order as it is now: its
/// `order_version` becomes the order's current version and it is open for another 30
/// minutes (an expired quote can be renewed this way). Applied or aborted → 409
/// `quote.not_open`; bad operations → 422 as for a new quote. Requires `orders.edit`; an
/// `Idempotency-Key` replays it.
#[utoipa::path(patch, path = "/v1/admin/quotes/{quote_id}", tag = "admin",
    params(("quote_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = QuoteIn, security(("bearer" = ["orders.edit"])),
    responses((status = 200, body = QuoteOut), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn patch_quote(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(quote_id): Path<QuoteId>,
    Valid { body, checked }: Valid<QuoteIn>,
) -> Result<Response> {
    restage(&state, &agent, &meta, key, &quote_id, (&body, &checked)).await
}
