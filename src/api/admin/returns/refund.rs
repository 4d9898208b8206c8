//! Paying a return's refund leg: `POST /v1/admin/returns/{return_id}/issue-refund` pays what
//! the latest inspection proposed, to the card (a refund of the order's payment at the
//! Payments service) or as store credit (Billing). Money moves, so it takes `orders.refund`,
//! a sudo token, an `Idempotency-Key` and a reason; above the tenant's refund threshold it
//! waits for a second agent as a payment refund does. Judged under the return's row lock
//! (and, to a card, the payment's), so a return is refunded once.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::tenant_return;
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::admin::approvals;
use crate::api::admin::payments::locked_payment;
use crate::api::admin::refunds::{accepted_before, check_money};
use crate::api::auth::Sudo;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::order_actions::blocked;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::returns::ReturnRow;
use crate::db::runs::RunRow;
use crate::domain::approvals::HighRiskAction;
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::PaymentId;
use crate::domain::payments::{Refusal, check_refund};
use crate::domain::return_refund::{
    REFUND_RETURN_WORKFLOW, RefundMethod, RefundRefusal, RefundReturnRunInput, RefundSituation,
    check_issue,
};
use crate::domain::settings::TenantSettings;
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRefundIn {
    /// `card` (a refund of the order's payment) or `store_credit` (when the shop offers it).
    pub method: RefundMethod,
    /// In the order's currency's minor units; absent: all that the inspection proposed. At
    /// most that, and (to a card) at most what the payment can still refund.
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// Required, at most 500 characters; audited and told to the Payments service or Billing.
    pub reason: String,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for IssueRefundIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        check_money(self.amount_minor, &self.reason)
    }
}

/// An accepted refund or credit: the `refund_return` job paying it (its `result.refund_id`
/// or `result.store_credit_id` once done).
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueRefundAcceptedOut {
    pub rma_id: String,
    pub method: RefundMethod,
    pub amount_minor: i64,
    pub currency: String,
    /// The payment refunded (card).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub job: JobOut,
}

impl Answer for IssueRefundAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(IssueRefundAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueRefundDryRunOut {
    pub dry_run: bool,
    pub rma_id: String,
    pub method: RefundMethod,
    /// What would be paid (absent when refused before an amount was known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// Whether it would wait for a second agent's approval (`pending_approval`).
    pub approval_required: bool,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
}

/// What is paid, once judged.
struct Plan {
    amount_minor: i64,
    payment_id: Option<PaymentId>,
}

/// Judges paying `asked` (or all that was proposed) by `method` for return `row`: its state,
/// the tenant's store credit, and (card) the payment, under the payment's lock when `conn`
/// is in a transaction.
async fn judge(
    conn: &mut sqlx::PgConnection,
    row: &ReturnRow,
    settings: &TenantSettings,
    method: RefundMethod,
    asked: Option<i64>,
) -> Result<std::result::Result<Plan, RefundRefusal>> {
    let situation = RefundSituation {
        status: &row.status,
        proposed: row.proposed_settlement.as_ref().map(|s| &s.0),
        refund_status: &row.refund_status,
        refund_accepted: db::returns::refund_accepted(conn, &row.tenant_id, &row.rma_id).await?,
        review_running: db::returns::review_in_flight(conn, &row.tenant_id, &row.rma_id).await?,
    };
    let amount_minor = match check_issue(&situation, asked) {
        Ok(a) => a,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if method == RefundMethod::StoreCredit {
        if !settings.capabilities.store_credit {
            return Ok(Err(RefundRefusal::Blocked(BlockedReason {
                code: "return.store_credit_unavailable".into(),
                message: "the shop does not offer store credit".into(),
            })));
        }
        let payment_id = None;
        return Ok(Ok(Plan {
            amount_minor,
            payment_id,
        }));
    }
    card(conn, row, amount_minor).await
}

/// The order's captured payment that refunds the most now, judged for `amount_minor`.
async fn card(
    conn: &mut sqlx::PgConnection,
    row: &ReturnRow,
    amount_minor: i64,
) -> Result<std::result::Result<Plan, RefundRefusal>> {
    let order = db::orders::get(conn, &row.tenant_id, &row.order_id, None)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    let captured = order
        .payments
        .iter()
        .filter(|p| p.captured_minor() > 0)
        .max_by_key(|p| p.refundable_minor());
    let Some(known) = captured else {
        let status = order.payments.first().map(|p| p.status.clone());
        let status = status.unwrap_or_else(|| "missing".into());
        return Ok(Err(Refusal::NotCaptured { status }.into()));
    };
    let payment_id = PaymentId::new(known.id.as_str());
    let payment = locked_payment(conn, &order, &payment_id).await?;
    let accepted = accepted_before(conn, &order, &payment).await?;
    Ok(check_refund(&payment, &accepted, amount_minor)
        .map(|()| Plan {
            amount_minor,
            payment_id: Some(payment_id),
        })
        .map_err(RefundRefusal::from))
}

fn refused(r: RefundRefusal) -> Error {
    match r {
        RefundRefusal::Blocked(b) => blocked(b),
        RefundRefusal::Amount(r) => Error::from(r),
    }
}

/// The refund or credit of return `rma_id`, accepted now or once approved
/// (`approvals::execute`): judged under the return's row lock after the `Idempotency-Key`
/// was claimed, so a replay is never refused for what its first call did.
pub(in crate::api::admin) struct IssueRefundIntake<'a> {
    pub(in crate::api::admin) rma_id: &'a str,
    pub(in crate::api::admin) body: &'a IssueRefundIn,
}

impl Intake for IssueRefundIntake<'_> {
    type Answer = IssueRefundAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<IssueRefundAcceptedOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let row = tenant_return(adm.conn(), &tenant, self.rma_id, true).await?;
        let settings = db::tenants::settings(adm.conn(), &tenant).await?;
        let (method, asked) = (self.body.method, self.body.amount_minor);
        let plan = judge(adm.conn(), &row, &settings, method, asked)
            .await?
            .map_err(refused)?;
        let reason = self.body.reason.trim().to_string();
        let run = start(adm, &row, method, &plan, &reason).await?;
        let answer = IssueRefundAcceptedOut {
            rma_id: row.rma_id.clone(),
            method,
            amount_minor: plan.amount_minor,
            currency: row.currency.clone(),
            payment_id: plan.payment_id.map(|p| p.as_str().to_string()),
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// Starts the `refund_return` run (its subject the RMA, which refunds once) and audits it.
async fn start(
    adm: &mut Admission<'_>,
    row: &ReturnRow,
    method: RefundMethod,
    plan: &Plan,
    reason: &str,
) -> Result<RunRow> {
    let input = RefundReturnRunInput {
        order_id: row.order_id.clone(),
        rma_id: row.rma_id.clone(),
        customer_id: row.customer_id.clone(),
        method,
        payment_id: plan.payment_id.clone(),
        amount_minor: plan.amount_minor,
        currency: row.currency.clone(),
        reason: reason.to_string(),
    };
    let run = adm
        .start_run(StartRun {
            workflow: REFUND_RETURN_WORKFLOW,
            subject_id: &row.rma_id,
            customer_id: None,
            input: &input,
            request: None,
            decided_by: None,
        })
        .await?;
    adm.audit(Entry {
        action: "return.issue_refund",
        subject_type: "return",
        subject_id: &row.rma_id,
        reason: Some(reason),
        before: Some(json!({ "refund_status": row.refund_status })),
        after: Some(json!({ "method": method, "amount_minor": plan.amount_minor,
                            "payment_id": plan.payment_id, "run_id": run.id })),
        personal_data_of: Some(&row.customer_id),
    })
    .await?;
    Ok(run)
}

/// What paying would do, with no side effect.
async fn dry_run(
    state: &AppState,
    row: &ReturnRow,
    body: &IssueRefundIn,
    settings: &TenantSettings,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let judged = judge(&mut conn, row, settings, body.method, body.amount_minor).await?;
    let (amount_minor, blocked_reasons) = match &judged {
        Ok(plan) => (Some(plan.amount_minor), vec![]),
        Err(r) => (body.amount_minor, vec![r.reason()]),
    };
    let input = json!({ "payment_id": judged.ok().and_then(|p| p.payment_id) });
    Ok(axum::Json(IssueRefundDryRunOut {
        dry_run: true,
        rma_id: row.rma_id.clone(),
        method: body.method,
        amount_minor,
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        approval_required: amount_minor.is_some_and(|a| settings.return_refund_needs_approval(a)),
        steps: state
            .workflows
            .planned_steps(REFUND_RETURN_WORKFLOW, &input),
    })
    .into_response())
}

/// The issue-refund once its body is valid: the dry run, a hold for approval, or the
/// acceptance.
async fn ask(
    state: &AppState,
    agent: &Authorized<can::OrdersRefund>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    return_id: &str,
    body: &IssueRefundIn,
) -> Result<Response> {
    let (row, settings) = {
        let mut conn = state.db.acquire().await?;
        let row = tenant_return(&mut conn, &agent.tenant_id, return_id, false).await?;
        (
            row,
            db::tenants::settings(&mut conn, &agent.tenant_id).await?,
        )
    };
    if body.dry_run {
        return dry_run(state, &row, body, &settings).await;
    }
    let key = key.required_for(&format!("return.issue_refund:{}", row.rma_id), body)?;
    let proposed = row
        .proposed_settlement
        .as_ref()
        .map(|s| s.0.amount.amount_minor);
    let amount = body.amount_minor.or(proposed).unwrap_or(0);
    if settings.return_refund_needs_approval(amount) {
        // judged now too, so nobody approves what could not be done
        let mut conn = state.db.acquire().await?;
        judge(&mut conn, &row, &settings, body.method, body.amount_minor)
            .await?
            .map_err(refused)?;
        let (caller, held) = (agent.caller(meta), HighRiskAction::ReturnRefund);
        return approvals::hold(state, caller, key, held, &row.rma_id, body).await;
    }
    let intake = IssueRefundIntake {
        rma_id: &row.rma_id,
        body,
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// Pays what the return's latest inspection proposed: 202 with the `refund_return` job,
/// which refunds the order's payment at the Payments service (`card`) or grants the
/// customer a store credit at Billing (`store_credit`), once, then records it on the return
/// (the customer's `GET /v1/customer/returns/{rma_id}` shows it); or 202 with an approval in
/// `pending_approval` above the tenant's `refund_approval_threshold_minor`. 409
/// `return.not_inspected`, `return.nothing_to_refund`, `return.already_refunded`,
/// `return.action_running`, `return.store_credit_unavailable` or
/// `refund.failed.not_captured`; more than proposed or than the payment can refund → 422
/// `refund.failed.exceeds_refundable` with `refundable_minor`. Requires `orders.refund`, a
/// sudo token in `X-Admin-Auth-Sudo` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/returns/{return_id}/issue-refund", tag = "admin",
    params(("return_id" = String, Path), ("Idempotency-Key" = String, Header), ("X-Admin-Auth-Sudo" = String, Header)),
    request_body = IssueRefundIn, security(("bearer" = ["orders.refund"])),
    responses((status = 202, body = IssueRefundAcceptedOut), (status = 200, body = IssueRefundDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn issue_refund(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRefund>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(return_id): Path<String>,
    // after the permission, so an agent without it learns that first
    _sudo: Sudo,
    Valid { body, .. }: Valid<IssueRefundIn>,
) -> Result<Response> {
    ask(&state, &agent, &meta, key, &return_id, &body).await
}
