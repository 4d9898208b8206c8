//! Quotes of order edits: an agent stages JSON Patch operations on an order
//! (`POST /v1/admin/orders/{order_id}/quote`) and gets the order as it would be with the
//! delta (price, tax, the charge or refund, the stock to reserve or release); reads it
//! (`GET /v1/admin/quotes/{id}`), changes it (`PATCH`, re-priced), and applies or aborts it
//! ([`apply`]). Pricing and patching are `domain::quote`'s; quotes are stored in `quotes`.

pub mod apply;

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::quotes::{QuoteRow, Staged};
use crate::domain::ids::{OrderId, QuoteId, TenantId};
use crate::domain::order::Order;
use crate::domain::quote::{self, Change, Delta, PatchOp, Preview, Priced};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// The body of a new quote and of a change of one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteIn {
    /// 1 to 50 JSON Patch operations, applied in order: `replace /lines/{i}/quantity`
    /// (1 to 999), `remove /lines/{i}`, `add /lines/-` `{"sku","quantity"}`,
    /// `replace /shipping_method` (`standard`, `express`, `overnight`),
    /// `replace /shipping_address` (a whole address, checked as a customer's change is).
    pub changes: Vec<PatchOp>,
    /// `true`: the priced quote is answered and nothing is stored.
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for QuoteIn {
    type Checked = Vec<Change>;

    fn validate(&self) -> Result<Vec<Change>> {
        quote::parse(&self.changes).map_err(op_errors)
    }
}

/// 422 `validation.failed` with one error per refused operation (`changes[i]`).
fn op_errors(errors: Vec<quote::OpError>) -> Error {
    Error::validation(
        errors
            .into_iter()
            .map(|e| FieldError {
                field: e.field(),
                message: e.message,
            })
            .collect(),
    )
}

/// A quote: the order as it would be after `changes`, and the difference.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteOut {
    pub quote_id: String,
    pub order_id: String,
    /// `open`, `applied`, `aborted`, or `expired` (open past `expires_at`).
    pub status: String,
    /// The order's version the quote was priced on: applying it needs the order there still.
    pub order_version: i64,
    pub changes: Vec<PatchOp>,
    /// The order as it would be.
    pub order: Preview,
    pub delta: Delta,
    pub expires_at: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The job applying the quote, once applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Uuid>,
    /// The reason given to apply or abort it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
}

impl Answer for QuoteOut {}

impl QuoteOut {
    fn from_row(row: QuoteRow) -> Result<QuoteOut> {
        let expired = row.status == "open" && row.expires_at <= Utc::now();
        Ok(QuoteOut {
            status: if expired {
                "expired".into()
            } else {
                row.status
            },
            quote_id: row.id,
            order_id: row.order_id,
            order_version: row.order_version,
            changes: from_json(row.changes)?,
            order: from_json(row.preview)?,
            delta: from_json(row.delta)?,
            expires_at: row.expires_at,
            created_by: row.created_by,
            created_at: row.created_at,
            job_id: row.run_id,
            closed_reason: row.closed_reason,
        })
    }

    /// A quote priced but not stored (`dry_run`).
    fn unsaved(order: &Order, changes: &[PatchOp], priced: Priced, by: &str) -> QuoteOut {
        QuoteOut {
            quote_id: String::new(),
            order_id: order.id.to_string(),
            status: "open".into(),
            order_version: order.version,
            changes: changes.to_vec(),
            order: priced.preview,
            delta: priced.delta,
            expires_at: Utc::now() + Duration::minutes(quote::TTL_MINUTES),
            created_by: by.to_string(),
            created_at: Utc::now(),
            job_id: None,
            closed_reason: None,
        }
    }
}

/// 409 `order.not_editable` unless nothing of the order has shipped and it has not ended.
fn editable(order: &Order) -> Result<()> {
    if quote::editable(order) {
        return Ok(());
    }
    Err(Error::conflict(
        "order.not_editable",
        format!(
            "an order that is {} (or has shipments) cannot be edited",
            order.status.as_str()
        ),
    ))
}

/// Prices `changes` on `order`, reading the catalog entries of added SKUs now.
async fn price(
    state: &AppState,
    order: &Order,
    changes: &[Change],
    quote_id: &QuoteId,
) -> Result<Priced> {
    let mut catalog = HashMap::new();
    for sku in quote::added_skus(changes) {
        let item = state
            .upstream
            .catalog_item(&order.tenant_id, &sku, &order.currency)
            .await
            .map_err(|e| {
                tracing::warn!(code = %e.problem().code, "quote: catalog read failed");
                Error::unavailable(
                    "quote.pricing_unavailable",
                    "the catalog cannot be read right now; try again",
                )
            })?;
        if let Some(item) = item {
            catalog.insert(sku, item);
        }
    }
    let prefix = format!("{}_l", quote_id.as_str());
    quote::price(order, changes, &catalog, &prefix).map_err(op_errors)
}

/// What a quote stores, from its priced changes.
struct Pricing {
    changes: Value,
    preview: Value,
    delta: Value,
    order_version: i64,
}

impl Pricing {
    fn new(order: &Order, changes: &[PatchOp], priced: &Priced) -> Result<Pricing> {
        Ok(Pricing {
            changes: to_json(&changes)?,
            preview: to_json(&priced.preview)?,
            delta: to_json(&priced.delta)?,
            order_version: order.version,
        })
    }

    fn staged(&self) -> Staged<'_> {
        Staged {
            order_version: self.order_version,
            changes: &self.changes,
            preview: &self.preview,
            delta: &self.delta,
            expires_at: Utc::now() + Duration::minutes(quote::TTL_MINUTES),
        }
    }
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T> {
    Ok(serde_json::from_value(v).map_err(anyhow::Error::from)?)
}

fn to_json<T: Serialize>(v: &T) -> Result<Value> {
    Ok(serde_json::to_value(v).map_err(anyhow::Error::from)?)
}

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
            QuoteOut::from_row(row)?,
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

/// A quote of the tenant, or 404 `quote.not_found`.
pub(crate) async fn tenant_quote(
    state: &AppState,
    tenant: &TenantId,
    id: &QuoteId,
) -> Result<QuoteRow> {
    let mut conn = state.db.acquire().await?;
    db::quotes::get(&mut conn, tenant, id, false)
        .await?
        .ok_or_else(|| Error::not_found("quote"))
}

/// The quote as it stands. Requires `orders.read`; another tenant's quote → 404.
#[utoipa::path(get, path = "/v1/admin/quotes/{quote_id}", tag = "admin",
    params(("quote_id" = String, Path)), security(("bearer" = ["orders.read"])),
    responses((status = 200, body = QuoteOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_quote(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
    Path(quote_id): Path<QuoteId>,
) -> Result<axum::Json<QuoteOut>> {
    let row = tenant_quote(&state, &agent.tenant_id, &quote_id).await?;
    Ok(axum::Json(QuoteOut::from_row(row)?))
}

/// 409 `quote.not_open` for an applied or aborted quote.
pub(crate) fn not_closed(row: &QuoteRow) -> Result<()> {
    if row.status != "open" {
        return Err(Error::conflict(
            "quote.not_open",
            format!("the quote is {}; make a new one", row.status),
        ));
    }
    Ok(())
}

/// [`not_closed`], and 409 `quote.expired` past its expiry.
pub(crate) fn check_open(row: &QuoteRow) -> Result<()> {
    not_closed(row)?;
    if row.expires_at <= Utc::now() {
        return Err(Error::conflict(
            "quote.expired",
            "the quote expired; make a new one or change it to re-price it",
        )
        .with_extra("expires_at", json!(row.expires_at)));
    }
    Ok(())
}

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
        Ok(Admitted::done(StatusCode::OK, QuoteOut::from_row(new)?))
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
