//! An agent's refund of one payment (`POST /v1/admin/payments/{id}/refund`): money moves,
//! so it takes `orders.refund`, a sudo token, an `Idempotency-Key` and a reason. What is
//! refundable is judged at acceptance under the payment's lock, counting the refunds accepted
//! before whose jobs have not ended, so two refunds of the whole amount at once answer 202
//! and 422. Above the tenant's threshold the refund waits for a second agent's approval.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::approvals;
use super::payments::locked_payment;
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::auth::Sudo;
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::runs::RunRow;
use crate::domain::approvals::HighRiskAction;
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::{OrderId, PaymentId};
use crate::domain::order::{Order, Payment};
use crate::domain::payments::{
    AcceptedRefund, REFUND_WORKFLOW, RefundRunInput, check_refund, refundable_now,
};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// The largest amount a refund or capture may name (ten billion major units of a
/// two-decimal currency): bounds the input, far above any real payment.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundIn {
    /// In the payment's currency's minor units: 1 up to what is refundable.
    pub amount_minor: i64,
    /// Required, at most 500 characters; told to the Payments service and audited.
    pub reason: String,
    #[serde(default)]
    pub dry_run: bool,
}

/// The bad fields of an amount (when one is given) and a required reason, all at once.
pub fn check_money(amount_minor: Option<i64>, reason: &str) -> Result<()> {
    let mut errors = Vec::new();
    if amount_minor.is_some_and(|a| !(1..=MAX_AMOUNT_MINOR).contains(&a)) {
        errors.push(FieldError {
            field: "amount_minor".into(),
            message: format!("from 1 to {MAX_AMOUNT_MINOR}"),
        });
    }
    if let Err(e) = validate_note("reason", Some(reason), true) {
        errors.extend(e.to_problem().errors);
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(Error::validation(errors)),
    }
}

impl Validate for RefundIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        check_money(Some(self.amount_minor), &self.reason)
    }
}

/// An accepted refund: the job that makes it; its `result.refund_id` once it succeeded.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundAcceptedOut {
    pub payment_id: String,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub job: JobOut,
}

impl Answer for RefundAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(RefundAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundDryRunOut {
    pub dry_run: bool,
    pub payment_id: String,
    pub amount_minor: i64,
    /// What a refund may ask for now, counting the refunds still running.
    pub refundable_minor: i64,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// Whether the refund would wait for a second agent's approval (`pending_approval`).
    pub approval_required: bool,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
}

/// The refund, accepted now or once approved (`approvals::execute`).
pub(super) struct RefundIntake<'a> {
    pub(super) order: &'a Order,
    pub(super) payment_id: &'a PaymentId,
    pub(super) amount_minor: i64,
    pub(super) reason: String,
}

/// The refunds accepted before that the read model's `payment` does not show yet; a
/// cancellation of the order that refunds it and has not ended counts as a refund of all
/// that is left (it takes that when it runs), so nothing more is refundable until it ends.
pub(super) async fn accepted_before(
    conn: &mut sqlx::PgConnection,
    order: &Order,
    payment: &Payment,
) -> Result<Vec<AcceptedRefund>> {
    let known: Vec<String> = payment.refunds.iter().map(|r| r.id.clone()).collect();
    let id = PaymentId::new(payment.id.as_str());
    let mut accepted = db::payments::accepted_refunds(conn, &order.tenant_id, &id, &known).await?;
    if db::payments::cancel_refund_in_flight(conn, &order.tenant_id, order.id.as_str()).await? {
        accepted.push(AcceptedRefund {
            amount_minor: payment.refundable_minor(),
            refund_id: None,
        });
    }
    Ok(accepted)
}

impl Intake for RefundIntake<'_> {
    type Answer = RefundAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<RefundAcceptedOut>> {
        let RefundIntake {
            order,
            payment_id,
            amount_minor,
            reason,
        } = self;
        // the payment as it is now: a refund accepted earlier may have ended since
        let payment = locked_payment(adm.conn(), order, payment_id).await?;
        let accepted = accepted_before(adm.conn(), order, &payment).await?;
        check_refund(&payment, &accepted, amount_minor)?;
        let input = RefundRunInput {
            order_id: order.id.clone(),
            payment_id: payment_id.clone(),
            amount_minor,
            reason: reason.clone(),
        };
        let run = adm
            .start_run(StartRun {
                workflow: REFUND_WORKFLOW,
                subject_id: order.id.as_str(),
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            })
            .await?;
        adm.audit(Entry {
            action: "payment.refund",
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: Some(&reason),
            before: Some(json!({ "refunded_minor": payment.refunded_minor })),
            after: Some(
                json!({ "payment_id": payment_id, "amount_minor": amount_minor,
                                "run_id": run.id }),
            ),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let answer = RefundAcceptedOut {
            payment_id: payment_id.as_str().to_string(),
            order_id: order.id.clone(),
            amount_minor,
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// What the refund would do, with no side effect.
async fn dry_run(
    state: &AppState,
    (order, payment): (&Order, &Payment),
    amount_minor: i64,
    approval_required: bool,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let accepted = accepted_before(&mut conn, order, payment).await?;
    let blocked_reasons: Vec<BlockedReason> = check_refund(payment, &accepted, amount_minor)
        .err()
        .map(|r| BlockedReason::from(&r))
        .into_iter()
        .collect();
    Ok(axum::Json(RefundDryRunOut {
        dry_run: true,
        payment_id: payment.id.clone(),
        amount_minor,
        refundable_minor: refundable_now(payment, &accepted),
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        approval_required,
        steps: state.workflows.planned_steps(REFUND_WORKFLOW, &json!({})),
    })
    .into_response())
}

/// The refund once its body is valid: the dry run, a hold for approval, or the acceptance.
async fn ask(
    state: &AppState,
    agent: &Authorized<can::OrdersRefund>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    payment_id: &PaymentId,
    body: &RefundIn,
) -> Result<Response> {
    let (order, payment) = agent.tenant_payment(state, payment_id).await?;
    let settings = {
        let mut conn = state.db.acquire().await?;
        db::tenants::settings(&mut conn, &agent.tenant_id).await?
    };
    let approval = settings.refund_needs_approval(body.amount_minor);
    if body.dry_run {
        return dry_run(state, (&order, &payment), body.amount_minor, approval).await;
    }
    let key = key.required_for(&format!("refund:{payment_id}"), body)?;
    if approval {
        // judged now too, so nobody approves what could not be done
        let mut conn = state.db.acquire().await?;
        let accepted = accepted_before(&mut conn, &order, &payment).await?;
        check_refund(&payment, &accepted, body.amount_minor)?;
        let (caller, held) = (agent.caller(meta), HighRiskAction::Refund);
        return approvals::hold(state, caller, key, held, payment_id.as_str(), body).await;
    }
    let intake = RefundIntake {
        order: &order,
        payment_id,
        amount_minor: body.amount_minor,
        reason: body.reason.trim().to_string(),
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// Refunds part or all of a payment: 202 with the job that makes the refund at the Payments
/// service once (its `result.refund_id`), or 202 with an approval in `pending_approval` when
/// the amount is above the tenant's `refund_approval_threshold_minor`. More than is
/// refundable (counting refunds still running) → 422 `refund.failed.exceeds_refundable`
/// with `refundable_minor`; nothing captured → 409 `refund.failed.not_captured`. Requires
/// `orders.refund`, a sudo token in `X-Admin-Auth-Sudo` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/payments/{payment_id}/refund", tag = "admin",
    params(("payment_id" = String, Path), ("Idempotency-Key" = String, Header), ("X-Admin-Auth-Sudo" = String, Header)),
    request_body = RefundIn, security(("bearer" = ["orders.refund"])),
    responses((status = 202, body = RefundAcceptedOut), (status = 200, body = RefundDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn refund_payment(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRefund>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(payment_id): Path<PaymentId>,
    // after the permission, so an agent without it learns that first
    _sudo: Sudo,
    Valid { body, .. }: Valid<RefundIn>,
) -> Result<Response> {
    ask(&state, &agent, &meta, key, &payment_id, &body).await
}
