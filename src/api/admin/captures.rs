//! An agent's capture of an authorized payment (`POST /v1/admin/payments/{id}/capture`):
//! all of it, or a part once. Money moves, so it takes `payments.capture`, a sudo token, an
//! `Idempotency-Key` and a reason; judged at acceptance under the payment's lock, so two
//! captures at once answer 202 and 409.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::payments::locked_payment;
use super::refunds::check_money;
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::auth::Sudo;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::{OrderId, PaymentId};
use crate::domain::order::{Order, Payment};
use crate::domain::payments::{CAPTURE_WORKFLOW, CaptureRunInput, check_capture};
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureIn {
    /// In minor units, 1 up to the authorized amount; the whole authorization when absent.
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// Required, at most 500 characters; audited.
    pub reason: String,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for CaptureIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        check_money(self.amount_minor, &self.reason)
    }
}

/// An accepted capture: the job that makes it; its `result.capture_id` once it succeeded.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaptureAcceptedOut {
    pub payment_id: String,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub job: JobOut,
}

impl Answer for CaptureAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(CaptureAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaptureDryRunOut {
    pub dry_run: bool,
    pub payment_id: String,
    /// What would be captured (absent when refused).
    pub amount_minor: Option<i64>,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    pub steps: Vec<String>,
}

struct CaptureIntake<'a> {
    order: &'a Order,
    payment_id: &'a PaymentId,
    amount_minor: Option<i64>,
    reason: String,
}

impl Intake for CaptureIntake<'_> {
    type Answer = CaptureAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<CaptureAcceptedOut>> {
        let CaptureIntake {
            order,
            payment_id,
            amount_minor,
            reason,
        } = self;
        let tenant = &order.tenant_id;
        let payment = locked_payment(adm.conn(), order, payment_id).await?;
        let in_flight = db::payments::capture_in_flight(adm.conn(), tenant, payment_id).await?;
        let amount = check_capture(&payment, in_flight, amount_minor)?;
        let input = CaptureRunInput {
            order_id: order.id.clone(),
            payment_id: payment_id.clone(),
            amount_minor: Some(amount),
            reason: reason.clone(),
        };
        let run = adm
            .start_run(StartRun {
                workflow: CAPTURE_WORKFLOW,
                subject_id: order.id.as_str(),
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            })
            .await?;
        adm.audit(Entry {
            action: "payment.capture",
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: Some(&reason),
            before: Some(json!({ "status": payment.status })),
            after: Some(json!({ "payment_id": payment_id, "amount_minor": amount,
                                "run_id": run.id })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let answer = CaptureAcceptedOut {
            payment_id: payment_id.as_str().to_string(),
            order_id: order.id.clone(),
            amount_minor: amount,
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// What the capture would do, with no side effect.
async fn dry_run(
    state: &AppState,
    order: &Order,
    payment: &Payment,
    amount_minor: Option<i64>,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let id = PaymentId::new(payment.id.as_str());
    let in_flight = db::payments::capture_in_flight(&mut conn, &order.tenant_id, &id).await?;
    let checked = check_capture(payment, in_flight, amount_minor);
    let blocked_reasons: Vec<BlockedReason> = checked
        .as_ref()
        .err()
        .map(BlockedReason::from)
        .into_iter()
        .collect();
    Ok(axum::Json(CaptureDryRunOut {
        dry_run: true,
        payment_id: payment.id.clone(),
        amount_minor: checked.ok(),
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        steps: state.workflows.planned_steps(CAPTURE_WORKFLOW, &json!({})),
    })
    .into_response())
}

/// Captures an authorized payment, all of it or `amount_minor` of it (once: the rest of the
/// authorization is released): 202 with the job that captures at the Payments service (its
/// `result.capture_id`). Not authorized (captured already, voided) → 409
/// `capture.failed.not_authorized`; another capture running → 409
/// `capture.failed.in_progress`; more than authorized → 422
/// `capture.failed.exceeds_authorized` with `capturable_minor`. Requires `payments.capture`,
/// a sudo token in `X-Admin-Auth-Sudo` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/payments/{payment_id}/capture", tag = "admin",
    params(("payment_id" = String, Path), ("Idempotency-Key" = String, Header), ("X-Admin-Auth-Sudo" = String, Header)),
    request_body = CaptureIn, security(("bearer" = ["payments.capture"])),
    responses((status = 202, body = CaptureAcceptedOut), (status = 200, body = CaptureDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn capture_payment(
    State(state): State<AppState>,
    agent: Authorized<can::PaymentsCapture>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(payment_id): Path<PaymentId>,
    _sudo: Sudo,
    Valid { body, .. }: Valid<CaptureIn>,
) -> Result<Response> {
    let (order, payment) = agent.tenant_payment(&state, &payment_id).await?;
    if body.dry_run {
        return dry_run(&state, &order, &payment, body.amount_minor).await;
    }
    let key = key.required_for(&format!("capture:{payment_id}"), &body)?;
    let intake = CaptureIntake {
        order: &order,
        payment_id: &payment_id,
        amount_minor: body.amount_minor,
        reason: body.reason.trim().to_string(),
    };
    accept(&state, agent.caller(&meta), key, intake).await
}
