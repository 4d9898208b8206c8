//! Finance linking a payout from the processor's settlement report to the payment it settled
//! (`POST /v1/admin/payments/{id}/reconcile`): a `link_settlement` job that records it at the
//! Payments service, after which the order's reconciliation compares the payout with what
//! the payment holds (`settlement.differs`).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::payments::locked_payment;
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::order_actions::blocked;
use crate::api::shared::RequestMeta;
use crate::db::audit::Entry;
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::{OrderId, PaymentId};
use crate::domain::order::{Order, Payment};
use crate::domain::payments::{
    LINK_SETTLEMENT_WORKFLOW, SettlementLinkInput, check_settlement_link,
};
use crate::error::Result;
use crate::state::AppState;

use super::refunds::MAX_AMOUNT_MINOR;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementLinkIn {
    /// The processor's payout id, as its settlement report names it: 1 to 100 characters.
    pub settlement_id: String,
    /// What the payout paid for this payment, in minor units (0 or more).
    pub amount_minor: i64,
    /// The processor's fee kept from it; 0 if absent.
    #[serde(default)]
    pub fee_minor: i64,
    #[serde(default)]
    pub settled_at: Option<DateTime<Utc>>,
    /// Required, at most 500 characters; audited.
    pub reason: String,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for SettlementLinkIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        let id = self.settlement_id.trim();
        if id.is_empty() || id.chars().count() > 100 || id.chars().any(char::is_control) {
            return Err(invalid(
                "settlement_id",
                "1 to 100 characters, no control characters",
            ));
        }
        for (field, value) in [
            ("amount_minor", self.amount_minor),
            ("fee_minor", self.fee_minor),
        ] {
            if !(0..=MAX_AMOUNT_MINOR).contains(&value) {
                return Err(invalid(field, format!("from 0 to {MAX_AMOUNT_MINOR}")));
            }
        }
        validate_note("reason", Some(&self.reason), true)
    }
}

/// An accepted link: the job that records it at Payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementLinkOut {
    pub payment_id: String,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub settlement_id: String,
    pub job: JobOut,
}

impl Answer for SettlementLinkOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(SettlementLinkOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementLinkDryRunOut {
    pub dry_run: bool,
    pub payment_id: String,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    pub steps: Vec<String>,
}

struct LinkIntake<'a> {
    order: &'a Order,
    input: SettlementLinkInput,
}

impl Intake for LinkIntake<'_> {
    type Answer = SettlementLinkOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<SettlementLinkOut>> {
        let LinkIntake { order, input } = self;
        let payment = locked_payment(adm.conn(), order, &input.payment_id).await?;
        check_settlement_link(&payment, &input.settlement_id).map_err(blocked)?;
        let run = adm
            .start_run(StartRun {
                workflow: LINK_SETTLEMENT_WORKFLOW,
                subject_id: order.id.as_str(),
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            })
            .await?;
        adm.audit(Entry {
            action: "payment.settlement_linked",
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: Some(&input.reason),
            before: Some(json!({ "settlement": payment.settlement })),
            after: Some(
                json!({ "payment_id": input.payment_id, "settlement_id": input.settlement_id,
                                "amount_minor": input.amount_minor, "run_id": run.id }),
            ),
            personal_data_of: None,
        })
        .await?;
        let answer = SettlementLinkOut {
            payment_id: input.payment_id.as_str().to_string(),
            order_id: order.id.clone(),
            settlement_id: input.settlement_id.clone(),
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// What the link would do, with no side effect.
fn dry_run(
    state: &AppState,
    payment: &Payment,
    settlement_id: &str,
) -> Json<SettlementLinkDryRunOut> {
    let blocked_reasons: Vec<_> = check_settlement_link(payment, settlement_id.trim())
        .err()
        .into_iter()
        .collect();
    Json(SettlementLinkDryRunOut {
        dry_run: true,
        payment_id: payment.id.clone(),
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        steps: state
            .workflows
            .planned_steps(LINK_SETTLEMENT_WORKFLOW, &json!({})),
    })
}

impl SettlementLinkIn {
    fn into_input(self, order: &Order, payment_id: PaymentId) -> SettlementLinkInput {
        SettlementLinkInput {
            order_id: order.id.clone(),
            payment_id,
            settlement_id: self.settlement_id.trim().to_string(),
            amount_minor: self.amount_minor,
            fee_minor: self.fee_minor,
            settled_at: self.settled_at,
            reason: self.reason.trim().to_string(),
        }
    }
}

/// Links a payout from the processor's settlement report to the payment: 202 with the
/// `link_settlement` job that records it at Payments (`result.settlement_id`). Nothing
/// captured → 409 `settlement.failed.nothing_captured`; settled by another payout → 409
/// `settlement.failed.already_linked` (the same payout again is accepted: linking is
/// idempotent at Payments too). The order's reconciliation then compares the payout with
/// what the payment holds. Requires `reconcile` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/payments/{payment_id}/reconcile", tag = "admin",
    params(("payment_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = SettlementLinkIn, security(("bearer" = ["reconcile"])),
    responses((status = 202, body = SettlementLinkOut), (status = 200, body = SettlementLinkDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn link_settlement(
    State(state): State<AppState>,
    agent: Authorized<can::Reconcile>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(payment_id): Path<PaymentId>,
    Valid { body, .. }: Valid<SettlementLinkIn>,
) -> Result<Response> {
    let (order, payment) = agent.tenant_payment(&state, &payment_id).await?;
    if body.dry_run {
        return Ok(dry_run(&state, &payment, &body.settlement_id).into_response());
    }
    let key = key.required_for(&format!("settlement:{payment_id}"), &body)?;
    let input = body.into_input(&order, payment_id);
    let intake = LinkIntake {
        order: &order,
        input,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}
