//! Agents working an order's support case: giving it to an agent or a team (with an
//! internal note on the case), and closing it with a resolution, which takes it out of the
//! `cases` work queue until the customer writes again (their message reopens it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::cases::{AdminCaseOut, AdminMessageOut};
use super::fraud_review::Assignee;
use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::customer::message_send::new_id;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::order_actions::blocked;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::support::{CaseRow, NewMessage};
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::domain::support::{CaseAction, check_case};
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignCaseIn {
    /// An agent id (`agt_…`), or `team:<name>` for a team; at most 100 characters. A new
    /// assignment replaces the last.
    pub assignee: String,
    /// At most 500 characters: written on the case as an internal note (agents only).
    #[serde(default)]
    pub note: Option<String>,
    /// Answer whether the case can be assigned, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for AssignCaseIn {
    type Checked = Assignee;

    fn validate(&self) -> Result<Assignee> {
        Assignee::parse(&self.assignee, ("note", self.note.as_deref()))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseCaseIn {
    /// Required, at most 500 characters: how the case was resolved (internal).
    pub resolution: String,
    /// Answer whether the case can be closed, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for CloseCaseIn {
    type Checked = String;

    fn validate(&self) -> Result<String> {
        validate_note("resolution", Some(&self.resolution), true)?;
        Ok(self.resolution.trim().to_string())
    }
}

/// The case as it is after the action, and the internal note an assignment wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseWorkOut {
    pub case: AdminCaseOut,
    pub note: Option<AdminMessageOut>,
}

impl Answer for CaseWorkOut {}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseWorkDryRunOut {
    pub dry_run: bool,
    pub action: CaseAction,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// The case as it is now.
    pub case: AdminCaseOut,
}

/// What an agent asked of the case.
enum Asked {
    Assign(Assignee),
    Close(String),
}

impl Asked {
    fn action(&self) -> CaseAction {
        match self {
            Asked::Assign(_) => CaseAction::Assign,
            Asked::Close(_) => CaseAction::Close,
        }
    }
}

struct CaseWork<'a> {
    order: &'a Order,
    case_id: &'a str,
    asked: Asked,
}

impl Intake for CaseWork<'_> {
    type Answer = CaseWorkOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<CaseWorkOut>> {
        let (order, tenant) = (self.order, &self.order.tenant_id);
        let case = db::cases::lock(adm.conn(), tenant, &order.id, self.case_id)
            .await?
            .ok_or_else(|| Error::not_found("case"))?;
        check_case(self.asked.action(), &case.status).map_err(blocked)?;
        let out = match self.asked {
            Asked::Assign(who) => assign(adm, order, case, who).await?,
            Asked::Close(resolution) => close(adm, order, case, &resolution).await?,
        };
        Ok(Admitted::done(StatusCode::OK, out))
    }
}

/// Gives the case to the agent or team, and writes the note (if any) on it.
async fn assign(
    adm: &mut Admission<'_>,
    order: &Order,
    case: CaseRow,
    who: Assignee,
) -> Result<CaseWorkOut> {
    let (tenant, by) = (&order.tenant_id, adm.caller().principal.clone());
    let assignee = (who.agent_id.as_deref(), who.team.as_deref());
    let mut after = db::cases::assign(adm.conn(), tenant, &case.id, assignee).await?;
    let mut note = None;
    if let Some(body) = who.notes.as_deref() {
        let owner = (&order.id, &order.customer_id);
        after = db::support::touch_case_by_agent(
            adm.conn(),
            tenant,
            owner,
            &case.id,
            &case.subject,
            false,
        )
        .await?;
        let new = NewMessage {
            tenant_id: tenant,
            id: &new_id("msg"),
            case_id: &case.id,
            order_id: &order.id,
            author_kind: "agent",
            author_id: by.strip_prefix("agent:").unwrap_or(&by),
            body,
            internal: true,
        };
        note = Some(db::support::insert_message(adm.conn(), &new, None).await?);
    }
    adm.audit(Entry {
        action: "case.assigned",
        subject_type: "order",
        subject_id: order.id.as_str(),
        reason: who.notes.as_deref(),
        before: Some(json!({ "case_id": case.id, "agent_id": case.assigned_agent,
                             "team": case.assigned_team })),
        after: Some(json!({ "case_id": case.id, "agent_id": who.agent_id, "team": who.team })),
        personal_data_of: Some(&order.customer_id),
    })
    .await?;
    Ok(CaseWorkOut {
        case: after.into(),
        note: note.map(AdminMessageOut::from),
    })
}

/// Closes the case with the resolution.
async fn close(
    adm: &mut Admission<'_>,
    order: &Order,
    case: CaseRow,
    resolution: &str,
) -> Result<CaseWorkOut> {
    let (tenant, by) = (&order.tenant_id, adm.caller().principal.clone());
    let by = by.strip_prefix("agent:").unwrap_or(&by).to_string();
    let after = db::cases::close(adm.conn(), tenant, &case.id, resolution, &by).await?;
    adm.audit(Entry {
        action: "case.closed",
        subject_type: "order",
        subject_id: order.id.as_str(),
        reason: Some(resolution),
        before: Some(json!({ "case_id": case.id, "status": case.status })),
        after: Some(json!({ "case_id": case.id, "status": after.status })),
        personal_data_of: Some(&order.customer_id),
    })
    .await?;
    Ok(CaseWorkOut {
        case: after.into(),
        note: None,
    })
}

/// The dry run of `action` on the order's case `case_id`.
async fn dry_run(
    state: &AppState,
    order: &Order,
    case_id: &str,
    action: CaseAction,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let case = db::support::case_for_order(&mut conn, &order.tenant_id, &order.id)
        .await?
        .filter(|c| c.id == case_id)
        .ok_or_else(|| Error::not_found("case"))?;
    let blocked_reasons: Vec<_> = check_case(action, &case.status).err().into_iter().collect();
    Ok(axum::Json(CaseWorkDryRunOut {
        dry_run: true,
        action,
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        case: case.into(),
    })
    .into_response())
}

/// Both endpoints once their body is valid: the dry run, or the acceptance.
async fn work<B: Serialize>(
    state: &AppState,
    agent: &Authorized<can::OrdersEdit>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    (order_id, case_id, body, dry): (&OrderId, &str, &B, bool),
    asked: Asked,
) -> Result<Response> {
    let order = agent.tenant_order(state, order_id).await?;
    let action = asked.action();
    if dry {
        return dry_run(state, &order, case_id, action).await;
    }
    let operation = format!("case-{}:{order_id}:{case_id}", action.as_str());
    let key = key.optional_for(&operation, body);
    let intake = CaseWork {
        order: &order,
        case_id,
        asked,
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// Gives the order's case to an agent or a team (`assignee`: `agt_…` or `team:<name>`),
/// replacing an earlier assignment; a `note` is written on the case as an internal note.
/// 404 `case.not_found` when the order has no such case, 409 `case.blocked.closed` when it
/// is closed. Requires `orders.edit`; an `Idempotency-Key` replays it.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/cases/{case_id}/assign", tag = "admin",
    params(("order_id" = String, Path), ("case_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = AssignCaseIn, security(("bearer" = ["orders.edit"])),
    responses((status = 200, body = CaseWorkOut), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn assign_case(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path((order_id, case_id)): Path<(OrderId, String)>,
    Valid { body, checked }: Valid<AssignCaseIn>,
) -> Result<Response> {
    let what = (&order_id, case_id.as_str(), &body, body.dry_run);
    work(&state, &agent, &meta, key, what, Asked::Assign(checked)).await
}

/// Closes the order's case with a `resolution`: it leaves the `cases` work queue, and the
/// customer's next message reopens it. 404 `case.not_found` when the order has no such
/// case, 409 `case.blocked.already_closed` when it is closed. Requires `orders.edit`; an
/// `Idempotency-Key` replays it.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/cases/{case_id}/close", tag = "admin",
    params(("order_id" = String, Path), ("case_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CloseCaseIn, security(("bearer" = ["orders.edit"])),
    responses((status = 200, body = CaseWorkOut), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn close_case(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path((order_id, case_id)): Path<(OrderId, String)>,
    Valid { body, checked }: Valid<CloseCaseIn>,
) -> Result<Response> {
    let what = (&order_id, case_id.as_str(), &body, body.dry_run);
    work(&state, &agent, &meta, key, what, Asked::Close(checked)).await
}
