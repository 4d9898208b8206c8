//! Fulfilments and shipments (`orders.fulfil`): an agent fulfils lines of an order at a
//! warehouse (`create`, or several at once with `split`), then ships, cancels or
//! reschedules the fulfilment (`change`), and reads or regenerates its shipment's label
//! (`labels`). Every change is a workflow at the Fulfillment service (202 with the job);
//! what it confirmed is kept in `fulfillments`, so another tenant's id is a 404 here.

pub mod change;
pub mod create;
pub mod labels;
pub mod split;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::api::accept::Answer;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::Path;
use crate::api::jobs::JobOut;
use crate::db;
use crate::db::fulfillments::FulfillmentRow;
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::fulfillments::{
    FulfillmentLine, FulfillmentStatus, OverFulfilled, over_fulfilled, unfulfilled,
};
use crate::domain::ids::{OrderId, TenantId};
use crate::domain::order::{Order, OrderStatus};
use crate::error::{Error, Result};
use crate::state::AppState;

/// The longest warehouse code, carrier, tracking number, lot or serial number.
pub const MAX_CODE: usize = 64;
/// Most lines in one fulfilment.
pub const MAX_LINES: usize = 200;
/// Most units of one line in one fulfilment.
pub const MAX_QTY: i32 = 100_000;

/// An accepted change of a fulfilment: the job carrying it out (for a new fulfilment, its
/// `result.fulfillment_id` once it succeeded).
#[derive(Debug, Serialize, ToSchema)]
pub struct FulfillmentAcceptedOut {
    pub fulfillment_id: String,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub job: JobOut,
}

impl Answer for FulfillmentAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(FulfillmentAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FulfillmentDryRunOut {
    pub dry_run: bool,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
}

impl FulfillmentDryRunOut {
    pub fn of(blocked: Option<Error>, steps: Vec<String>) -> Self {
        let blocked_reasons: Vec<BlockedReason> = blocked
            .map(|e| {
                let p = e.to_problem();
                BlockedReason {
                    code: p.code,
                    message: p.detail,
                }
            })
            .into_iter()
            .collect();
        FulfillmentDryRunOut {
            dry_run: true,
            allowed: blocked_reasons.is_empty(),
            blocked_reasons,
            steps,
        }
    }
}

/// The order of the path's `{order_id}`, of the tenant of an agent allowed `orders.fulfil`:
/// 401 or 403 first, then 404 for an order of another tenant — before the body is read, so
/// what a foreign caller sends never tells them anything about the order.
pub struct FulfilOrder {
    pub agent: Authorized<can::OrdersFulfil>,
    pub order: Order,
}

impl FromRequestParts<AppState> for FulfilOrder {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let agent = Authorized::<can::OrdersFulfil>::from_request_parts(parts, state).await?;
        let Path(order_id) = Path::<OrderId>::from_request_parts(parts, state).await?;
        let order = agent.tenant_order(state, &order_id).await?;
        Ok(FulfilOrder { agent, order })
    }
}

/// The tenant's fulfilment (row-locked when `lock`); another tenant's or unknown → 404.
pub async fn tenant_fulfillment(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: &str,
    lock: bool,
) -> Result<FulfillmentRow> {
    db::fulfillments::get(conn, tenant, id, lock)
        .await?
        .ok_or_else(|| Error::not_found("fulfillment"))
}

/// An open fulfilment, else 409 `fulfillment.cancelled` or `fulfillment.already_shipped`.
pub fn check_open(row: &FulfillmentRow) -> Result<()> {
    match FulfillmentStatus::parse(&row.status) {
        Some(FulfillmentStatus::Cancelled) => Err(Error::conflict(
            "fulfillment.cancelled",
            "the fulfillment was cancelled",
        )),
        Some(FulfillmentStatus::Shipped) => Err(Error::conflict(
            "fulfillment.already_shipped",
            "the fulfillment has shipped",
        )),
        _ => Ok(()),
    }
}

/// An order whose goods may still leave: confirmed or partially shipped, else 409
/// `fulfillment.order_not_shippable`.
pub fn check_shippable(order: &Order) -> Result<()> {
    match order.status {
        OrderStatus::Confirmed | OrderStatus::PartiallyShipped => Ok(()),
        other => Err(Error::conflict(
            "fulfillment.order_not_shippable",
            format!("an order that is {} cannot be fulfilled", other.as_str()),
        )),
    }
}

/// 422 `fulfillment.over_quantity` (with `line_errors`) when `asked` takes more of a line
/// than the order has unfulfilled (ordered − shipped − held by open fulfilments).
pub async fn check_quantities<'a>(
    conn: &mut PgConnection,
    order: &Order,
    asked: impl IntoIterator<Item = (&'a str, i32)>,
) -> Result<()> {
    let open = db::fulfillments::open_lines(conn, &order.tenant_id, &order.id).await?;
    let over = over_fulfilled(&unfulfilled(order, &open), asked);
    match over.is_empty() {
        true => Ok(()),
        false => Err(over_quantity(over)),
    }
}

pub fn over_quantity(over: Vec<OverFulfilled>) -> Error {
    Error::unprocessable(
        "fulfillment.over_quantity",
        "some lines are asked for beyond what they have unfulfilled",
    )
    .with_extra("line_errors", json!(over))
}

/// The bad members of fulfilment lines, named `{prefix}lines[i].…`.
pub fn line_errors(prefix: &str, lines: &[FulfillmentLine], errors: &mut Vec<(String, String)>) {
    if lines.is_empty() || lines.len() > MAX_LINES {
        errors.push((
            format!("{prefix}lines"),
            format!("from 1 to {MAX_LINES} lines"),
        ));
    }
    for (i, l) in lines.iter().enumerate() {
        let at = |m: &str| format!("{prefix}lines[{i}].{m}");
        if l.line_id.trim().is_empty() || l.line_id.len() > MAX_CODE {
            errors.push((at("line_id"), "required, at most 64 characters".into()));
        }
        if !(1..=MAX_QTY).contains(&l.qty) {
            errors.push((at("qty"), format!("from 1 to {MAX_QTY}")));
        }
        if l.lot
            .as_ref()
            .is_some_and(|s| s.trim().is_empty() || s.len() > MAX_CODE)
        {
            errors.push((at("lot"), "1 to 64 characters".into()));
        }
        if l.serials.len() > l.qty.max(0) as usize
            || l.serials
                .iter()
                .any(|s| s.trim().is_empty() || s.len() > MAX_CODE)
        {
            errors.push((
                at("serials"),
                "at most qty serials of 1 to 64 characters".into(),
            ));
        }
    }
}

/// `Error::validation` of `errors`, or Ok when there are none.
pub fn validation(errors: Vec<(String, String)>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    Err(Error::validation(
        errors
            .into_iter()
            .map(|(field, message)| crate::error::FieldError { field, message })
            .collect(),
    ))
}

/// A code a warehouse, carrier or tracking number may be: 1 to 64 printable ASCII
/// characters without spaces.
pub fn is_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_CODE && s.bytes().all(|b| b.is_ascii_graphic())
}
