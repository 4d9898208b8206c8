//! `POST /v1/customer/orders/{order_id}/reorder`: buy an earlier order's lines again.

use std::collections::HashSet;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RequestKind, ensure_allowed};
use crate::api::accept::{RequestAcceptedOut, accept};
use crate::api::auth::Customer;
use crate::api::extract::{Json, Path};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::domain::eligibility::SelfService;
use crate::domain::ids::OrderId;
use crate::domain::order::{Order, OrderLine};
use crate::domain::reorder::{self, MAX_LINES, ReorderPlan, ReorderRunInput};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

pub const WORKFLOW: &str = "reorder";
const REORDER: RequestKind = RequestKind {
    request_kind: "reorder",
    allowed_as: SelfService::Reorder,
    workflow: WORKFLOW,
    audit_action: "order.reorder_requested",
};

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderIn {
    /// Answer the plan (current prices, availability) without creating a cart.
    #[serde(default)]
    pub dry_run: bool,
    /// Line ids of the order to buy again (1 to 100, no repeats); all lines when left out.
    #[serde(default)]
    pub lines: Option<Vec<String>>,
}

/// What a reorder would put in a cart now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReorderDryRunOut {
    pub dry_run: bool,
    pub plan: ReorderPlan,
    /// The workflow steps that would run.
    pub steps: Vec<String>,
}

/// The order's lines named by `ids` (all when `None`); 422 listing every bad id, or one
/// error at once when there are too many to look at.
fn selected<'a>(order: &'a Order, ids: Option<&[String]>) -> Result<Vec<&'a OrderLine>> {
    if let Some(ids) = ids {
        if ids.is_empty() || ids.len() > MAX_LINES {
            return Err(Error::validation(vec![FieldError {
                field: "lines".into(),
                message: format!("1 to {MAX_LINES} line ids, or leave it out for all lines"),
            }]));
        }
        let mut seen = HashSet::with_capacity(ids.len());
        let mut errors = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if !seen.insert(id.as_str()) {
                errors.push(FieldError {
                    field: format!("lines[{i}]"),
                    message: "named twice".into(),
                });
            } else if !order.lines.iter().any(|l| &l.id == id) {
                errors.push(FieldError {
                    field: format!("lines[{i}]"),
                    message: "the order has no such line".into(),
                });
            }
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
    }
    reorder::selected_lines(order, ids).map_err(|_| Error::validation(vec![]))
}

/// Buys lines of one of the caller's orders again. Creating the cart changes something
/// upstream, so it runs as the `reorder` workflow: 202 with the request and its job, whose
/// `result` holds `cart_id`, the `lines` added (today's price next to the price paid) and
/// the `unavailable` ones with a code each (`reorder.out_of_stock`, `reorder.discontinued`,
/// `reorder.not_sold`); send `Prefer: wait=N` to get it in one call. `dry_run` answers the
/// plan at once from the catalog and stock (503 `reorder.plan_unavailable` if they cannot be
/// read). `Idempotency-Key` is honoured (recommended: a retry then never makes a second cart).
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/reorder", tag = "customer",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = ReorderIn, security(("bearer" = [])),
    responses((status = 202, body = RequestAcceptedOut), (status = 200, description = "dry run plan, or the finished job with Prefer: wait", body = ReorderDryRunOut),
              (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem)))]
pub async fn reorder(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Json(body): Json<ReorderIn>,
) -> Result<Response> {
    let order = who.own_order(&state, &order_id).await?;
    let lines = selected(&order, body.lines.as_deref())?;
    let input = ReorderRunInput {
        order_id: order.id.clone(),
        line_ids: body.lines.clone(),
    };
    if body.dry_run {
        ensure_allowed(&state, SelfService::Reorder, &order).await?;
        return dry_run(&state, &order, &lines, &input).await;
    }
    let key = key.optional_for(&format!("reorder:{order_id}"), &body);
    let intake = REORDER.on(&order, input, None);
    accept(&state, who.caller(&meta), key, intake).await
}

/// The plan at today's prices and stock, read from the catalog and Inventory now.
async fn dry_run(
    state: &AppState,
    order: &Order,
    lines: &[&OrderLine],
    input: &ReorderRunInput,
) -> Result<Response> {
    let plan = state
        .upstream
        .reorder_plan(order, lines)
        .await
        .map_err(|e| {
            tracing::warn!(code = %e.problem().code, "reorder plan: upstream read failed");
            Error::unavailable(
                "reorder.plan_unavailable",
                "current prices and stock cannot be read right now",
            )
            .with_next_step("try again in a moment")
        })?;
    let steps = state.workflows.planned_steps(WORKFLOW, input);
    let out = ReorderDryRunOut {
        dry_run: true,
        plan,
        steps,
    };
    Ok(axum::Json(out).into_response())
}
