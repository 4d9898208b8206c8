//! `POST /v1/admin/orders/{order_id}/split-shipments`: an order's unfulfilled units split
//! into groups, one warehouse each. `dry_run: true` proposes or validates the split (every
//! unfulfilled unit in exactly one group, each warehouse stocking its group);
//! `dry_run: false` creates one fulfilment per group.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::create::{CreateIntake, NewFulfillment, WORKFLOW};
use super::{
    FulfilOrder, FulfillmentAcceptedOut, check_shippable, is_code, line_errors, validation,
};
use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::customer::order_parts::upstream_failure;
use crate::api::extract::{Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::domain::cancel::BlockedReason;
use crate::domain::fulfillments::{FulfillmentLine, Warehouse, unfulfilled};
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::state::AppState;

/// Most groups in one split.
const MAX_GROUPS: usize = 20;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitGroupIn {
    pub warehouse: String,
    pub lines: Vec<FulfillmentLine>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitShipmentsIn {
    /// Up to 20 groups. Empty with `dry_run: true`: orderdesk proposes a split.
    #[serde(default)]
    pub groups: Vec<SplitGroupIn>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for SplitShipmentsIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if self.groups.len() > MAX_GROUPS || (self.groups.is_empty() && !self.dry_run) {
            errors.push(("groups".into(), format!("1 to {MAX_GROUPS} groups")));
        }
        for (i, g) in self.groups.iter().enumerate() {
            if !is_code(&g.warehouse) {
                errors.push((
                    format!("groups[{i}].warehouse"),
                    "1 to 64 characters".into(),
                ));
            }
            line_errors(&format!("groups[{i}]."), &g.lines, &mut errors);
        }
        validation(errors)
    }
}

/// What a dry run found: the groups (proposed when none were given) and why they cannot be
/// executed as they are.
#[derive(Debug, Serialize, ToSchema)]
pub struct SplitDryRunOut {
    pub dry_run: bool,
    pub allowed: bool,
    pub groups: Vec<SplitGroupIn>,
    /// Per line: the units no group takes yet (0 everywhere for an allowed split).
    pub unassigned: BTreeMap<String, i32>,
    pub blocked_reasons: Vec<BlockedReason>,
    /// The steps of each group's `create_fulfillment` job.
    pub steps: Vec<String>,
}

/// An executed split: one job per group, in the groups' order.
#[derive(Debug, Serialize, ToSchema)]
pub struct SplitAcceptedOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub fulfillments: Vec<FulfillmentAcceptedOut>,
}

impl Answer for SplitAcceptedOut {}

/// Splits an order's unfulfilled units into fulfilments, one per group and warehouse.
/// `dry_run: true` answers 200 with the groups (a proposal when none were sent), the units
/// left unassigned and the blocked reasons (`split.unaccounted`, `split.over_quantity`,
/// `split.insufficient_stock`, `split.unknown_warehouse`); `dry_run: false` answers 202
/// with one `create_fulfillment` job per group, or 422 `split.unaccounted` /
/// `fulfillment.over_quantity` when the groups do not take every unfulfilled unit exactly
/// once. Requires `orders.fulfil`; `Idempotency-Key` honoured.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/split-shipments", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = SplitShipmentsIn, security(("bearer" = ["orders.fulfil"])),
    responses((status = 202, body = SplitAcceptedOut), (status = 200, body = SplitDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn split_shipments(
    State(state): State<AppState>,
    FulfilOrder { agent, order }: FulfilOrder,
    meta: RequestMeta,
    key: IdempotencyKey,
    Valid { body, .. }: Valid<SplitShipmentsIn>,
) -> Result<Response> {
    if body.dry_run {
        return dry_run(&state, &order, body.groups).await;
    }
    let key = key.optional_for(&format!("split-shipments:{}", order.id), &body);
    let intake = SplitIntake {
        order_id: &order.id,
        groups: body.groups,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}

/// The order's unfulfilled units per line, counting its open fulfilments.
async fn left_of(state: &AppState, order: &Order) -> Result<BTreeMap<String, i32>> {
    let mut conn = state.db.acquire().await?;
    let open = db::fulfillments::open_lines(&mut conn, &order.tenant_id, &order.id).await?;
    Ok(unfulfilled(order, &open)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect())
}

/// `left` minus the groups' units per line (negative: taken more than once).
fn unassigned(left: &BTreeMap<String, i32>, groups: &[SplitGroupIn]) -> BTreeMap<String, i32> {
    let mut rest = left.clone();
    for l in groups.iter().flat_map(|g| &g.lines) {
        *rest.entry(l.line_id.clone()).or_default() -= l.qty;
    }
    rest
}

fn unaccounted_reasons(rest: &BTreeMap<String, i32>) -> Vec<BlockedReason> {
    let mut reasons = Vec::new();
    if rest.values().any(|n| *n > 0) {
        reasons.push(BlockedReason {
            code: "split.unaccounted".into(),
            message: "some unfulfilled units are in no group".into(),
        });
    }
    if rest.values().any(|n| *n < 0) {
        reasons.push(BlockedReason {
            code: "split.over_quantity".into(),
            message: "some lines are taken beyond what they have unfulfilled".into(),
        });
    }
    reasons
}

async fn dry_run(state: &AppState, order: &Order, groups: Vec<SplitGroupIn>) -> Result<Response> {
    let left = left_of(state, order).await?;
    let warehouses = state
        .upstream
        .list_warehouses(&order.tenant_id)
        .await
        .map_err(|e| upstream_failure("warehouses", &e))?;
    let groups = match groups.is_empty() {
        true => propose(order, &left, &warehouses),
        false => groups,
    };
    let rest = unassigned(&left, &groups);
    let mut blocked = unaccounted_reasons(&rest);
    if let Err(e) = check_shippable(order) {
        let p = e.to_problem();
        blocked.push(BlockedReason {
            code: p.code,
            message: p.detail,
        });
    }
    blocked.extend(stock_reasons(order, &groups, &warehouses));
    Ok(axum::Json(SplitDryRunOut {
        dry_run: true,
        allowed: blocked.is_empty(),
        groups,
        unassigned: rest.into_iter().filter(|(_, n)| *n != 0).collect(),
        blocked_reasons: blocked,
        steps: state.workflows.planned_steps(WORKFLOW, &json!({})),
    })
    .into_response())
}

fn sku<'a>(order: &'a Order, line_id: &str) -> Option<&'a str> {
    order
        .lines
        .iter()
        .find(|l| l.id == line_id)
        .map(|l| l.sku.as_str())
}

/// A group per warehouse whose stock runs short of what the group takes of a SKU, or
/// whose warehouse the tenant does not have.
fn stock_reasons(
    order: &Order,
    groups: &[SplitGroupIn],
    warehouses: &[Warehouse],
) -> Vec<BlockedReason> {
    let mut reasons = Vec::new();
    for g in groups {
        let Some(w) = warehouses.iter().find(|w| w.code == g.warehouse) else {
            reasons.push(BlockedReason {
                code: "split.unknown_warehouse".into(),
                message: format!("no warehouse {}", g.warehouse),
            });
            continue;
        };
        let mut by_sku: BTreeMap<&str, i64> = BTreeMap::new();
        for l in &g.lines {
            *by_sku
                .entry(sku(order, &l.line_id).unwrap_or(""))
                .or_default() += i64::from(l.qty);
        }
        for (sku, qty) in by_sku.into_iter().filter(|(s, _)| !s.is_empty()) {
            if w.on_hand(sku) < qty {
                reasons.push(BlockedReason {
                    code: "split.insufficient_stock".into(),
                    message: format!("{} has {} of {sku}, {qty} asked", w.code, w.on_hand(sku)),
                });
            }
        }
    }
    reasons
}

/// Each unfulfilled line from the first warehouse that stocks all of it (in the service's
/// order), grouped by warehouse; a line no warehouse stocks alone stays unassigned.
fn propose(
    order: &Order,
    left: &BTreeMap<String, i32>,
    warehouses: &[Warehouse],
) -> Vec<SplitGroupIn> {
    let mut groups: Vec<SplitGroupIn> = Vec::new();
    for (line_id, qty) in left {
        let Some(sku) = sku(order, line_id) else {
            continue;
        };
        let Some(w) = warehouses
            .iter()
            .find(|w| w.on_hand(sku) >= i64::from(*qty))
        else {
            continue;
        };
        let line = FulfillmentLine {
            line_id: line_id.clone(),
            qty: *qty,
            lot: None,
            serials: vec![],
        };
        match groups.iter_mut().find(|g| g.warehouse == w.code) {
            Some(g) => g.lines.push(line),
            None => groups.push(SplitGroupIn {
                warehouse: w.code.clone(),
                lines: vec![line],
            }),
        }
    }
    groups
}

/// The split's fulfilments, judged under the order's lock like one fulfilment; the groups
/// must take every unfulfilled unit exactly once.
struct SplitIntake<'a> {
    order_id: &'a OrderId,
    groups: Vec<SplitGroupIn>,
}

impl Intake for SplitIntake<'_> {
    type Answer = SplitAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<SplitAcceptedOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let order = db::orders::lock_view(adm.conn(), &tenant, self.order_id)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        let open = db::fulfillments::open_lines(adm.conn(), &tenant, &order.id).await?;
        let left: BTreeMap<String, i32> = unfulfilled(&order, &open)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        let rest = unassigned(&left, &self.groups);
        if rest.values().any(|n| *n > 0) {
            return Err(Error::unprocessable(
                "split.unaccounted",
                "some unfulfilled units are in no group",
            )
            .with_extra("unassigned", json!(rest)));
        }
        let fulfillments = self
            .groups
            .into_iter()
            .map(|g| NewFulfillment {
                warehouse: g.warehouse,
                lines: g.lines,
            })
            .collect();
        let create = CreateIntake {
            order_id: self.order_id,
            fulfillments,
            reason: None,
        };
        let out = create.start(adm).await?;
        let first = out.first().map(|f| f.job.id);
        let answer = SplitAcceptedOut {
            order_id: order.id.clone(),
            fulfillments: out,
        };
        let location = format!("/v1/admin/orders/{}", order.id);
        Ok(Admitted::accepted(location, answer, first))
    }
}
