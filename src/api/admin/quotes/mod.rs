//! Quotes of order edits: an agent stages JSON Patch operations on an order
//! (`POST /v1/admin/orders/{order_id}/quote`) and gets the order as it would be with the
//! delta (price, tax, the charge or refund, the stock to reserve or release); reads it
//! (`GET /v1/admin/quotes/{id}`), changes it ([`change`], re-priced), and applies ([`apply`]) or
//! aborts ([`abort`]) it. Pricing and patching are `domain::quote`'s; quotes are stored in `quotes`.

pub mod abort;
pub mod apply;
pub mod change;
pub mod create;

use std::collections::HashMap;

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::accept::Answer;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Validate};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::quotes::{QuoteRow, Staged};
use crate::db::runs::RunStatus;
use crate::domain::ids::{QuoteId, RunId, TenantId};
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
    /// `open`, `expired` (open past `expires_at`), `aborted`, or, once applied, as its job
    /// goes: `applying` (the job has not ended), `applied` (it succeeded) or `apply_failed`
    /// (it failed, was compensated or cancelled: the order is as before; `job_id` tells why).
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
    /// The quote of `row`; `job` is the status of the job applying it, when it was applied.
    fn from_row(row: QuoteRow, job: Option<RunStatus>) -> Result<QuoteOut> {
        let expired = row.status == "open" && row.expires_at <= Utc::now();
        Ok(QuoteOut {
            status: match (row.status.as_str(), job) {
                ("open", _) if expired => "expired".into(),
                // without its job (ended and pruned long ago) an applied quote stays `applied`
                ("applied", Some(job)) => QuoteOut::status_after_apply(job).into(),
                _ => row.status,
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

    /// An applied quote's status while its job is at `job`.
    fn status_after_apply(job: RunStatus) -> &'static str {
        match job {
            RunStatus::Queued | RunStatus::Running => "applying",
            RunStatus::Succeeded => "applied",
            RunStatus::Failed | RunStatus::Compensated | RunStatus::Cancelled => "apply_failed",
        }
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

/// The quote, read in a transaction that records the agent's read (a staged address is
/// personal data, so every read is audited, as the order view's is).
async fn read_audited(
    state: &AppState,
    agent: &Authorized<can::OrdersRead>,
    meta: &RequestMeta,
    id: &QuoteId,
) -> Result<(QuoteRow, Option<RunStatus>)> {
    let mut tx = state.db.begin().await?;
    let row = db::quotes::get(&mut tx, &agent.tenant_id, id, false)
        .await?
        .ok_or_else(|| Error::not_found("quote"))?;
    let job = match row.run_id {
        Some(run) => db::runs::get(&mut tx, &agent.tenant_id, RunId::from_uuid(run))
            .await?
            .map(|r| r.status),
        None => None,
    };
    let viewed = Entry {
        action: "order.quote_viewed",
        subject_type: "order",
        subject_id: &row.order_id,
        reason: None,
        before: None,
        after: Some(json!({ "quote_id": row.id })),
        personal_data_of: None,
    };
    db::audit::record(&mut tx, &agent.tenant_id, &agent.actor(meta), &viewed).await?;
    tx.commit().await?;
    Ok((row, job))
}

/// The quote as it stands; the read is audited. Requires `orders.read`; another tenant's
/// quote → 404.
#[utoipa::path(get, path = "/v1/admin/quotes/{quote_id}", tag = "admin",
    params(("quote_id" = String, Path)), security(("bearer" = ["orders.read"])),
    responses((status = 200, body = QuoteOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_quote(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
    meta: RequestMeta,
    Path(quote_id): Path<QuoteId>,
) -> Result<axum::Json<QuoteOut>> {
    let (row, job) = read_audited(&state, &agent, &meta, &quote_id).await?;
    Ok(axum::Json(QuoteOut::from_row(row, job)?))
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
