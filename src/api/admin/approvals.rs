//! Two-agent approval of high-risk actions. When the tenant's settings name an action in
//! `approvals_required_for` (key creation, legal-hold removal, impersonation, refunds), its endpoint
//! answers 202 `pending_approval` instead of acting; another agent who holds the action's
//! permission (and `approvals.decide`) approves or rejects it — nobody decides their own —
//! and the requester then carries it out once with `POST .../execute`, which answers what the
//! endpoint would have (the key or token reaches the requester only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::impersonate::{ImpersonateIn, ImpersonationIntake};
use super::keys::{NewKeyIn, NewKeyIntake, check_scopes};
use super::legal_hold::{LegalHoldIn, LegalHoldIntake};
use super::refunds::{RefundIn, RefundIntake};
use super::returns::refund::{IssueRefundIn, IssueRefundIntake};
use crate::api::accept::{Admission, Admitted, Answer, Caller, Idempotency, Intake, accept};
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, ValidQuery, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::{PageIn, RequestMeta, page_of};
use crate::auth::Permission;
use crate::db;
use crate::db::approvals::ApprovalRow;
use crate::db::audit::Entry;
use crate::domain::approvals::{ApprovalStatus, HighRiskAction};
use crate::domain::ids::{OrderId, PaymentId};
use crate::domain::transitions::OrderAction;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The permission that both asking for and approving `action` needs.
fn permission_of(action: HighRiskAction) -> Permission {
    match action {
        HighRiskAction::KeyCreation => Permission::KeysManage,
        HighRiskAction::LegalHoldRemoval => Permission::OrdersLegalHold,
        HighRiskAction::Impersonation => Permission::CustomersImpersonate,
        HighRiskAction::Refund | HighRiskAction::ReturnRefund => Permission::OrdersRefund,
    }
}

/// Whether the tenant holds `action` for a second agent's approval.
pub async fn required(state: &AppState, agent: &Agent, action: HighRiskAction) -> Result<bool> {
    let mut conn = state.db.acquire().await?;
    let settings = db::tenants::settings(&mut conn, &agent.tenant_id).await?;
    Ok(settings.approvals_required_for.contains(&action))
}

impl Answer for ApprovalRow {}

struct HoldIntake<'a, B> {
    action: HighRiskAction,
    subject_id: &'a str,
    body: &'a B,
}

impl<B: Serialize + Sync> Intake for HoldIntake<'_, B> {
    type Answer = ApprovalRow;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ApprovalRow>> {
        let payload = serde_json::to_value(self.body).map_err(anyhow::Error::from)?;
        let (tenant, by) = (
            adm.caller().tenant_id.clone(),
            adm.caller().principal.clone(),
        );
        let action = self.action.as_str();
        let row =
            db::approvals::insert(adm.conn(), &tenant, action, self.subject_id, &payload, &by)
                .await?;
        let id = row.id.to_string();
        adm.audit(entry("approval.requested", &id, &row)).await?;
        let location = format!("/v1/admin/approvals/{id}");
        Ok(Admitted::accepted(location, row, None))
    }
}

fn entry<'a>(action: &'a str, id: &'a str, row: &ApprovalRow) -> Entry<'a> {
    Entry {
        action,
        subject_type: "approval",
        subject_id: id,
        reason: None,
        before: None,
        after: Some(json!({ "action": row.action, "subject_id": row.subject_id,
                             "status": row.status })),
        personal_data_of: None,
    }
}

/// Holds `body` (the request to `action` on `subject_id`) for approval: 202 with the
/// approval, `Location: /v1/admin/approvals/{id}`.
pub async fn hold<B: Serialize + Sync>(
    state: &AppState,
    caller: Caller,
    key: Idempotency,
    action: HighRiskAction,
    subject_id: &str,
    body: &B,
) -> Result<Response> {
    let intake = HoldIntake {
        action,
        subject_id,
        body,
    };
    accept(state, caller, key, intake).await
}

/// The approval `id` of the agent's tenant, and the action it holds.
async fn approval_of(
    state: &AppState,
    agent: &Agent,
    id: &str,
) -> Result<(ApprovalRow, HighRiskAction)> {
    let id = Uuid::try_parse(id).map_err(|_| Error::not_found("approval"))?;
    let mut conn = state.db.acquire().await?;
    let row = db::approvals::get(&mut conn, &agent.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found("approval"))?;
    let action = HighRiskAction::parse(&row.action).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!("approval of unknown action {}", row.action))
    })?;
    Ok((row, action))
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    /// At most 500 characters.
    #[serde(default)]
    pub note: Option<String>,
}

impl Validate for DecisionIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("note", self.note.as_deref(), false)
    }
}

struct DecideIntake {
    id: Uuid,
    status: ApprovalStatus,
    note: Option<String>,
}

impl Intake for DecideIntake {
    type Answer = ApprovalRow;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ApprovalRow>> {
        let (tenant, by) = (
            adm.caller().tenant_id.clone(),
            adm.caller().principal.clone(),
        );
        let status = self.status.as_str();
        let note = self.note.as_deref();
        let row = db::approvals::decide(adm.conn(), &tenant, self.id, status, &by, note)
            .await?
            .ok_or_else(|| {
                Error::conflict("approval.not_pending", "the approval was decided already")
            })?;
        let id = row.id.to_string();
        let action = format!("approval.{status}");
        adm.audit(entry(&action, &id, &row)).await?;
        Ok(Admitted::done(StatusCode::OK, row))
    }
}

/// Approves or rejects, after the checks only the handler can make: the decider holds the
/// action's permission and did not ask for it.
async fn decide(
    state: &AppState,
    agent: &Authorized<can::ApprovalsDecide>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    id: &str,
    body: DecisionIn,
    status: ApprovalStatus,
) -> Result<Response> {
    let (row, action) = approval_of(state, agent, id).await?;
    agent.require(permission_of(action))?;
    if row.requested_by == agent.principal() {
        let detail = "another agent must decide on your own request";
        return Err(Error::forbidden("approval.own_request", detail));
    }
    let key = key.optional_for(&format!("approval:{}:{}", row.id, status.as_str()), &body);
    let intake = DecideIntake {
        id: row.id,
        status,
        note: body.note.map(|n| n.trim().to_string()),
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// Approves a pending approval. Requires `approvals.decide` and the held action's
/// permission; nobody approves their own request (403 `approval.own_request`).
#[utoipa::path(post, path = "/v1/admin/approvals/{approval_id}/approve", tag = "admin",
    params(("approval_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = DecisionIn,
    security(("bearer" = ["approvals.decide"])),
    responses((status = 200, body = ApprovalRow), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    agent: Authorized<can::ApprovalsDecide>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
    Valid { body, .. }: Valid<DecisionIn>,
) -> Result<Response> {
    let approved = ApprovalStatus::Approved;
    decide(&state, &agent, &meta, key, &id, body, approved).await
}

/// Rejects a pending approval; the same rules as approving.
#[utoipa::path(post, path = "/v1/admin/approvals/{approval_id}/reject", tag = "admin",
    params(("approval_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = DecisionIn,
    security(("bearer" = ["approvals.decide"])),
    responses((status = 200, body = ApprovalRow), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    agent: Authorized<can::ApprovalsDecide>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
    Valid { body, .. }: Valid<DecisionIn>,
) -> Result<Response> {
    let rejected = ApprovalStatus::Rejected;
    decide(&state, &agent, &meta, key, &id, body, rejected).await
}

/// An approved approval carried out by its requester: marked executed in the same
/// transaction as the action's own rows, so it runs once.
struct Executed<K> {
    id: Uuid,
    inner: K,
}

impl<K: Intake> Intake for Executed<K> {
    type Answer = K::Answer;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<K::Answer>> {
        let (tenant, by) = (
            adm.caller().tenant_id.clone(),
            adm.caller().principal.clone(),
        );
        let row = db::approvals::mark_executed(adm.conn(), &tenant, self.id, &by)
            .await?
            .ok_or_else(|| {
                Error::conflict(
                    "approval.not_approved",
                    "the approval is not approved, or was carried out",
                )
            })?;
        let id = row.id.to_string();
        adm.audit(entry("approval.executed", &id, &row)).await?;
        self.inner.admit(adm).await
    }
}

fn payload_as<T: serde::de::DeserializeOwned + Validate>(
    row: &ApprovalRow,
) -> Result<(T, T::Checked)> {
    let body: T = serde_json::from_value(row.payload.clone())
        .map_err(|e| Error::Internal(anyhow::anyhow!("approval payload: {e}")))?;
    let checked = body.validate()?;
    Ok((body, checked))
}

/// Carries out `row` (an approved `action`) as its requester `agent`.
async fn execute_approved(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    key: Idempotency,
    row: &ApprovalRow,
    action: HighRiskAction,
) -> Result<Response> {
    let caller = agent.caller(meta);
    if action == HighRiskAction::Refund {
        return execute_refund(state, agent, caller, key, row).await;
    }
    if action == HighRiskAction::ReturnRefund {
        // judged again under the return's lock, as if asked now
        let (body, ()) = payload_as::<IssueRefundIn>(row)?;
        let rma_id = row.subject_id.as_str();
        let inner = IssueRefundIntake {
            rma_id,
            body: &body,
        };
        return accept(state, caller, key, Executed { id: row.id, inner }).await;
    }
    let order = match action {
        HighRiskAction::KeyCreation => None,
        _ => Some(
            agent
                .tenant_order(state, &OrderId::new(row.subject_id.as_str()))
                .await?,
        ),
    };
    match (action, &order) {
        (HighRiskAction::KeyCreation, _) => {
            let (body, scopes) = payload_as::<NewKeyIn>(row)?;
            check_scopes(agent, &scopes)?;
            let inner = NewKeyIntake {
                body: &body,
                scopes,
            };
            accept(state, caller, key, Executed { id: row.id, inner }).await
        }
        (HighRiskAction::LegalHoldRemoval, Some(order)) => {
            let (body, ()) = payload_as::<LegalHoldIn>(row)?;
            let reason = body.reason.trim().to_string();
            let inner = LegalHoldIntake {
                order,
                action: OrderAction::RemoveLegalHold,
                reason,
            };
            accept(state, caller, key, Executed { id: row.id, inner }).await
        }
        (HighRiskAction::Impersonation, Some(order)) => {
            let (body, ttl) = payload_as::<ImpersonateIn>(row)?;
            let inner = ImpersonationIntake {
                order,
                reason: body.reason.trim(),
                ttl,
            };
            accept(state, caller, key, Executed { id: row.id, inner }).await
        }
        _ => Err(Error::not_found("order")),
    }
}

/// Carries out an approved refund: judged again (under the payment's lock) as if asked now.
async fn execute_refund(
    state: &AppState,
    agent: &Agent,
    caller: Caller,
    key: Idempotency,
    row: &ApprovalRow,
) -> Result<Response> {
    let (body, ()) = payload_as::<RefundIn>(row)?;
    let payment_id = PaymentId::new(row.subject_id.as_str());
    let (order, _) = agent.tenant_payment(state, &payment_id).await?;
    let inner = RefundIntake {
        order: &order,
        payment_id: &payment_id,
        amount_minor: body.amount_minor,
        reason: body.reason.trim().to_string(),
    };
    accept(state, caller, key, Executed { id: row.id, inner }).await
}

/// Carries out an approved request, once, as its requester: answers what the held endpoint
/// would have (201 with the key or token, 200 for a legal-hold removal). Any agent may
/// call it; only the requester, still holding the action's permission, succeeds.
#[utoipa::path(post, path = "/v1/admin/approvals/{approval_id}/execute", tag = "admin",
    params(("approval_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 201, body = Object), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn execute(
    State(state): State<AppState>,
    agent: Agent,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
) -> Result<Response> {
    let (row, action) = approval_of(&state, &agent, &id).await?;
    if row.requested_by != agent.principal() {
        let detail = "only the agent who asked may carry out an approved request";
        return Err(Error::forbidden("approval.not_requester", detail));
    }
    agent.require(permission_of(action))?;
    let key = key.optional_for(&format!("approval:{}:execute", row.id), &());
    execute_approved(&state, &agent, &meta, key, &row, action).await
}

/// One approval of the tenant. Any agent may read it (the requester polls it).
#[utoipa::path(get, path = "/v1/admin/approvals/{approval_id}", tag = "admin", params(("approval_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ApprovalRow), (status = 404, body = crate::error::Problem)))]
pub async fn get_approval(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRow>> {
    Ok(Json(approval_of(&state, &agent, &id).await?.0))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalsQuery {
    /// `pending_approval`, `approved`, `rejected` or `executed`.
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for ApprovalsQuery {
    type Checked = (Option<ApprovalStatus>, PageIn<Uuid>);

    fn validate(&self) -> Result<Self::Checked> {
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(ApprovalStatus::parse(s).ok_or_else(|| {
                Error::unprocessable(
                    "validation.failed",
                    "status: one of pending_approval, approved, rejected, executed",
                )
            })?),
        };
        let page = PageIn::parse(self.limit, self.cursor.as_deref(), 50, 200)?;
        Ok((status, page))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalListOut {
    pub data: Vec<ApprovalRow>,
    pub next_cursor: Option<String>,
}

/// The tenant's approvals, newest first. Requires `approvals.decide`.
#[utoipa::path(get, path = "/v1/admin/approvals", tag = "admin", params(ApprovalsQuery),
    security(("bearer" = ["approvals.decide"])),
    responses((status = 200, body = ApprovalListOut), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_approvals(
    State(state): State<AppState>,
    agent: Authorized<can::ApprovalsDecide>,
    ValidQuery((status, page)): ValidQuery<ApprovalsQuery>,
) -> Result<Json<ApprovalListOut>> {
    let mut conn = state.db.acquire().await?;
    let status = status.map(ApprovalStatus::as_str);
    let (tenant, after) = (&agent.tenant_id, page.after);
    let rows = db::approvals::list(&mut conn, tenant, status, after, page.fetch()).await?;
    let (data, next_cursor) = page_of(rows, page.limit, |r| r.id);
    Ok(Json(ApprovalListOut { data, next_cursor }))
}
