//! `POST /v1/admin/orders/bulk/update-status`: one status change (hold, release, confirm,
//! close, reopen, or a forced cancel with its refund) of every order an admin search
//! selects, as a long job (`bulk_update_status`, queue `bulk`) whose items are the orders.
//! A dry run answers how many orders match, a sample, what would be blocked and why, and
//! for a cancel what would be refunded.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::search::refused;
use super::transitions::MAX_HOLD_MINUTES;
use crate::api::accept::{Admission, Admitted, Idempotency, Intake, StartRun, accept};
use crate::api::auth::{Agent, Sudo};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Valid, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, Viewer, admin_location};
use crate::api::shared::RequestMeta;
use crate::auth::Permission;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::bulk::{
    BULK_ACTIONS, BulkStatusInput, CancelChoice, ItemChange, MAX_BULK_ORDERS, Requester,
};
use crate::domain::ids::{OrderId, TenantId};
use crate::domain::search::Criteria;
use crate::domain::transitions::{OrderAction, check};
use crate::error::{Error, FieldError, Result};
use crate::jobs::cancellation;
use crate::jobs::transitions::situation;
use crate::state::AppState;

/// The workflow of a bulk status change.
pub const BULK_WORKFLOW: &str = "bulk_update_status";
/// Orders a dry run judges one by one (the rest are counted only).
pub const DRY_RUN_JUDGED: usize = 200;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkStatusIn {
    /// The admin search language's filter (see "Searching orders"); absent: every order.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub filter: Option<Value>,
    /// Full text, as in a search.
    #[serde(default)]
    pub text: Option<String>,
    /// `hold`, `release`, `confirm`, `close`, `reopen` or `cancel`.
    pub action: OrderAction,
    /// Required, at most 500 characters: the hold's reason, the release's resolution, or
    /// the note of the change, on every order.
    pub reason: String,
    /// A hold's duration, 1 to 525,600 minutes (hold only).
    #[serde(default)]
    pub duration_minutes: Option<i64>,
    /// Cancel only, and required there (as in force-cancel, no default): refund what is
    /// left on each captured payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<bool>,
    /// Cancel only, and required there: release the lines' stock at Inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restock: Option<bool>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for BulkStatusIn {
    type Checked = Criteria;

    fn validate(&self) -> Result<Criteria> {
        if !BULK_ACTIONS.contains(&self.action) {
            let allowed: Vec<&str> = BULK_ACTIONS.iter().map(|a| a.as_str()).collect();
            return Err(Error::unprocessable(
                "bulk.unsupported_action",
                format!("a bulk job can {}", allowed.join(", ")),
            )
            .with_extra("allowed", json!(allowed)));
        }
        validate_note("reason", Some(&self.reason), true)?;
        match self.duration_minutes {
            Some(_) if self.action != OrderAction::Hold => {
                return Err(invalid("duration_minutes", "only a hold has a duration"));
            }
            Some(m) if !(1..=MAX_HOLD_MINUTES).contains(&m) => {
                return Err(invalid(
                    "duration_minutes",
                    format!("from 1 to {MAX_HOLD_MINUTES}"),
                ));
            }
            _ => {}
        }
        cancel_choice(self.action, self.refund, self.restock)
            .map_err(|e| Error::validation(vec![e]))?;
        let mut errors = Vec::new();
        let criteria = Criteria::parse(self.filter.as_ref(), self.text.as_deref(), &mut errors);
        if errors.is_empty() {
            Ok(criteria)
        } else {
            Err(refused(errors))
        }
    }
}

/// A cancel's refund and restock: both required for `cancel` (the agent's explicit choice,
/// as in force-cancel), refused for every other action.
pub(super) fn cancel_choice(
    action: OrderAction,
    refund: Option<bool>,
    restock: Option<bool>,
) -> std::result::Result<Option<CancelChoice>, FieldError> {
    let field = |field: &str, message: &str| FieldError {
        field: field.into(),
        message: message.into(),
    };
    match (action, refund, restock) {
        (OrderAction::Cancel, Some(refund), Some(restock)) => {
            Ok(Some(CancelChoice { refund, restock }))
        }
        (OrderAction::Cancel, None, _) => Err(field("refund", "required for a cancel")),
        (OrderAction::Cancel, _, None) => Err(field("restock", "required for a cancel")),
        (_, Some(_), _) => Err(field("refund", "only a cancel refunds")),
        (_, _, Some(_)) => Err(field("restock", "only a cancel restocks")),
        _ => Ok(None),
    }
}

/// The permission a status change needs, besides `orders.bulk`.
pub(super) fn permission_of(action: OrderAction) -> Permission {
    match action {
        OrderAction::Hold | OrderAction::Release => Permission::OrdersHold,
        OrderAction::Cancel => Permission::OrdersCancelForce,
        _ => Permission::OrdersEdit,
    }
}

/// Whether the change also needs a sudo token in `X-Admin-Auth-Sudo` (as force-cancel does).
pub(super) fn needs_sudo(action: OrderAction) -> bool {
    action == OrderAction::Cancel
}

/// The action's own permission (403 first, as force-cancel answers), then for a cancel
/// the caller's sudo token.
fn authorize(agent: &Agent, action: OrderAction, sudo: Result<Sudo>) -> Result<()> {
    agent.require(permission_of(action))?;
    if needs_sudo(action) {
        sudo?;
    }
    Ok(())
}

/// One order of a dry run's sample.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkSampleOut {
    pub order_id: String,
    pub status: String,
    pub allowed: bool,
    /// Why the change would be skipped (`order.blocked.*`).
    pub blocked_code: Option<String>,
}

/// What a bulk change would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDryRunOut {
    pub dry_run: bool,
    pub action: OrderAction,
    /// Orders the filter matches now.
    pub matched: usize,
    /// Of the first `judged` orders (oldest first), how many would change.
    pub judged: usize,
    pub allowed: usize,
    /// Of those, how many would be skipped, by `order.blocked.*` code.
    pub blocked: BTreeMap<String, usize>,
    /// The first ten.
    pub sample: Vec<BulkSampleOut>,
    /// A cancel with refund: what the allowed judged orders would get back, by currency
    /// (minor units), as each one's plan says now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds_minor: Option<BTreeMap<String, i64>>,
}

async fn dry_run(
    state: &AppState,
    tenant: &TenantId,
    body: &BulkStatusIn,
    ids: &[String],
) -> Result<Response> {
    let (action, mut conn) = (body.action, state.db.acquire().await?);
    let choice = cancel_choice(action, body.refund, body.restock)
        .ok()
        .flatten();
    let settings = db::tenants::settings(&mut conn, tenant).await?;
    let mut out = BulkDryRunOut {
        dry_run: true,
        action,
        matched: ids.len(),
        judged: 0,
        allowed: 0,
        blocked: BTreeMap::new(),
        sample: Vec::new(),
        refunds_minor: choice.filter(|c| c.refund).map(|_| BTreeMap::new()),
    };
    for id in ids.iter().take(DRY_RUN_JUDGED) {
        let Some(order) =
            db::orders::get(&mut conn, tenant, &OrderId::new(id.clone()), None).await?
        else {
            continue;
        };
        // a cancel is judged as the item will judge it: its plan, then another
        // cancellation of the order already under way
        let verdict = match choice {
            Some(c) => {
                let (refund, restock) = (c.refund, c.restock);
                let (plan, verdict) =
                    cancellation::judge(&mut conn, &order, &settings, refund, restock).await?;
                if let (Some(total), None) = (out.refunds_minor.as_mut(), &verdict) {
                    *total.entry(plan.currency.clone()).or_default() += plan.refund_minor;
                }
                verdict
            }
            None => check(action, &situation(&mut conn, &order).await?.0).err(),
        };
        out.judged += 1;
        match &verdict {
            None => out.allowed += 1,
            Some(r) => *out.blocked.entry(r.code.clone()).or_default() += 1,
        }
        if out.sample.len() < 10 {
            out.sample.push(BulkSampleOut {
                order_id: id.clone(),
                status: order.status.as_str().to_string(),
                allowed: verdict.is_none(),
                blocked_code: verdict.map(|r| r.code),
            });
        }
    }
    Ok(Json(out).into_response())
}

struct BulkIntake {
    input: BulkStatusInput,
    matched: usize,
    viewer: Viewer,
}

impl Intake for BulkIntake {
    type Answer = JobOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<JobOut>> {
        let run = adm
            .start_run(StartRun {
                workflow: BULK_WORKFLOW,
                subject_id: "orders",
                customer_id: None,
                input: &self.input,
                request: None,
                decided_by: None,
            })
            .await?;
        let action = format!("orders.bulk_{}", self.input.change.action.as_str());
        // the filter may name a customer or an address: kept out of the record, which
        // nothing erases, as an export's is
        adm.audit(Entry {
            action: &action,
            subject_type: "job",
            subject_id: &run.id.to_string(),
            reason: Some(&self.input.change.reason),
            before: None,
            after: Some(json!({ "matched": self.matched, "text": self.input.text.is_some() })),
            personal_data_of: None,
        })
        .await?;
        let out = JobOut::admin(&run, &self.viewer);
        Ok(Admitted::accepted(
            admin_location(run.id),
            out,
            Some(run.id),
        ))
    }
}

/// Changes the status of every order the filter selects (at most 10,000), as a job whose
/// items are the orders: each is judged and carried out as the single-order endpoint would
/// (a blocked one is skipped with its `order.blocked.*` code). `dry_run` answers the count,
/// a sample and what would be blocked (for a cancel with refund, the refunds by currency).
/// Requires `orders.bulk` and the action's own permission (`orders.hold` for hold and
/// release, `orders.cancel.force` for cancel, `orders.edit` for the others). A `cancel` is
/// each order's force-cancel: it also requires `refund` and `restock`, a sudo token in
/// `X-Admin-Auth-Sudo` and (unless a dry run) `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/bulk/update-status", tag = "admin",
    params(("Idempotency-Key" = Option<String>, Header), ("X-Admin-Auth-Sudo" = Option<String>, Header)),
    request_body = BulkStatusIn, security(("bearer" = ["orders.bulk"])),
    responses((status = 202, body = JobOut), (status = 200, body = BulkDryRunOut), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn bulk_update_status(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersBulk>,
    meta: RequestMeta,
    key: IdempotencyKey,
    // checked after the action's permission, for a cancel only
    sudo: Result<Sudo>,
    Valid { body, checked }: Valid<BulkStatusIn>,
) -> Result<Response> {
    authorize(&agent, body.action, sudo)?;
    let ids = matching(&state, &agent.tenant_id, &checked).await?;
    if body.dry_run {
        return dry_run(&state, &agent.tenant_id, &body, &ids).await;
    }
    let key = idempotency_of(key, &body)?;
    let intake = BulkIntake {
        matched: ids.len(),
        input: input_of(body, &agent),
        viewer: Viewer::of(&agent),
    };
    accept(&state, agent.caller(&meta), key, intake).await
}

/// The matching orders' ids; more than [`MAX_BULK_ORDERS`] is 422 `bulk.too_many_orders`.
async fn matching(state: &AppState, tenant: &TenantId, criteria: &Criteria) -> Result<Vec<String>> {
    let mut tx = db::search::begin(&state.db).await?;
    let limit = MAX_BULK_ORDERS as i64 + 1;
    let ids = db::search::matching_ids(&mut tx, tenant, criteria, limit).await?;
    tx.commit().await?;
    if ids.len() > MAX_BULK_ORDERS {
        return Err(Error::unprocessable(
            "bulk.too_many_orders",
            format!("the filter matches more than {MAX_BULK_ORDERS} orders: narrow it"),
        ));
    }
    Ok(ids)
}

/// The request's key: required for a cancel (money moves), optional otherwise.
fn idempotency_of(key: IdempotencyKey, body: &BulkStatusIn) -> Result<Idempotency> {
    let operation = "orders.bulk_update_status";
    match body.action {
        OrderAction::Cancel => key.required_for(operation, body),
        _ => Ok(key.optional_for(operation, body)),
    }
}

fn input_of(body: BulkStatusIn, agent: &Agent) -> BulkStatusInput {
    let change = ItemChange {
        action: body.action,
        reason: body.reason.trim().to_string(),
        duration_minutes: body.duration_minutes.map(|m| m as u32),
        cancel: cancel_choice(body.action, body.refund, body.restock)
            .ok()
            .flatten(),
    };
    BulkStatusInput {
        filter: body.filter,
        text: body.text,
        change,
        requester: requester_of(agent),
    }
}

/// The agent as a long job's items record them.
pub(crate) fn requester_of(agent: &Agent) -> Requester {
    Requester {
        requested_by: agent.principal(),
        roles: agent.role_names(),
    }
}
