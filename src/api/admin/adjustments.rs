//! An agent's price adjustment of an order (`POST /v1/admin/orders/{id}/adjust-price`): a
//! credit note or an invoice adjustment at Billing, of one line or the whole order. Money
//! moves, so it takes `orders.refund`, a sudo token, an `Idempotency-Key` and a reason; a
//! credit is bounded by the line's or the order's total less the credits accepted before,
//! judged under the order's adjustment lock.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::refunds::check_money;
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::auth::Sudo;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::precondition::{IfMatch, Need, OrderEdit, OrderPrecondition, validate_version};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::domain::price_adjustment::{
    ADJUST_PRICE_WORKFLOW, AdjustPriceRunInput, AdjustRefusal, AdjustmentKind, check_adjustment,
    creditable_minor,
};
use crate::error::{Error, Result};
use crate::state::AppState;

/// The longest line id accepted.
const MAX_LINE_ID: usize = 64;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustPriceIn {
    /// `credit` (a credit note: the customer owes less) or `debit` (an invoice adjustment:
    /// the customer owes more).
    pub kind: AdjustmentKind,
    /// In the order's currency's minor units, from 1. A credit is at most the line's total
    /// (with `line_id`) or the order's, less the credits made before.
    pub amount_minor: i64,
    /// The order line adjusted; absent: the whole order.
    #[serde(default)]
    pub line_id: Option<String>,
    /// Required, at most 500 characters; audited and told to Billing.
    pub reason: String,
    /// The order's `version` from your last read: 409 `order.version_mismatch` when the
    /// order moved on since (`If-Match` with its `ETag` does the same with 412).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for AdjustPriceIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_version(self.version)?;
        if let Some(line) = &self.line_id
            && (line.is_empty() || line.len() > MAX_LINE_ID)
        {
            return Err(invalid("line_id", format!("1 to {MAX_LINE_ID} characters")));
        }
        check_money(Some(self.amount_minor), &self.reason)
    }
}

/// An accepted adjustment: the `adjust_price` job making it (its `result.credit_note_id` or
/// `result.adjustment_id` once done).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustPriceAcceptedOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub kind: AdjustmentKind,
    pub amount_minor: i64,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_id: Option<String>,
    pub job: JobOut,
}

impl Answer for AdjustPriceAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(AdjustPriceAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustPriceDryRunOut {
    pub dry_run: bool,
    pub kind: AdjustmentKind,
    pub amount_minor: i64,
    /// What a credit of the line (or the order) may still ask for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creditable_minor: Option<i64>,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
}

fn refused(r: AdjustRefusal) -> Error {
    let err = Error::unprocessable(r.code(), r.detail());
    match r {
        AdjustRefusal::ExceedsTotal { creditable_minor } => {
            err.with_extra("creditable_minor", json!(creditable_minor))
        }
        AdjustRefusal::UnknownLine { .. } => err,
    }
}

/// The adjustment of `order`, judged under the order's adjustment lock after the
/// `Idempotency-Key` was claimed (and the precondition, by its guard).
struct AdjustIntake<'a> {
    order: &'a Order,
    body: &'a AdjustPriceIn,
}

/// The adjustment changes Billing, not the order: the precondition is judged at acceptance.
impl OrderEdit for AdjustIntake<'_> {
    fn order(&self) -> &Order {
        self.order
    }

    fn expect_version(&mut self, _: Option<i64>) {}
}

impl Intake for AdjustIntake<'_> {
    type Answer = AdjustPriceAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<AdjustPriceAcceptedOut>> {
        let (order, body) = (self.order, self.body);
        db::adjustments::lock_order(adm.conn(), &order.tenant_id, &order.id).await?;
        let accepted = db::adjustments::accepted_credits(adm.conn(), &order.tenant_id, &order.id);
        let accepted = accepted.await?;
        let line = body.line_id.as_deref();
        check_adjustment(order, body.kind, body.amount_minor, line, &accepted).map_err(refused)?;
        let input = AdjustPriceRunInput {
            order_id: order.id.clone(),
            kind: body.kind,
            amount_minor: body.amount_minor,
            line_id: body.line_id.clone(),
            currency: order.currency.clone(),
            reason: body.reason.trim().to_string(),
        };
        let run = start(adm, order, &input).await?;
        let answer = AdjustPriceAcceptedOut {
            order_id: order.id.clone(),
            kind: body.kind,
            amount_minor: body.amount_minor,
            currency: order.currency.clone(),
            line_id: body.line_id.clone(),
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// Starts the `adjust_price` run (its subject the order) and audits it.
async fn start(
    adm: &mut Admission<'_>,
    order: &Order,
    input: &AdjustPriceRunInput,
) -> Result<RunRow> {
    let run = adm
        .start_run(StartRun {
            workflow: ADJUST_PRICE_WORKFLOW,
            subject_id: order.id.as_str(),
            customer_id: None,
            input,
            request: None,
            decided_by: None,
        })
        .await?;
    adm.audit(Entry {
        action: "order.adjust_price",
        subject_type: "order",
        subject_id: order.id.as_str(),
        reason: Some(&input.reason),
        before: Some(json!({ "total_minor": order.totals.total_minor })),
        after: Some(
            json!({ "kind": input.kind, "amount_minor": input.amount_minor,
                            "line_id": input.line_id, "run_id": run.id }),
        ),
        personal_data_of: None,
    })
    .await?;
    Ok(run)
}

/// What the adjustment would do, with no side effect.
async fn dry_run(state: &AppState, order: &Order, body: &AdjustPriceIn) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let accepted = db::adjustments::accepted_credits(&mut conn, &order.tenant_id, &order.id);
    let accepted = accepted.await?;
    let line = body.line_id.as_deref();
    let judged = check_adjustment(order, body.kind, body.amount_minor, line, &accepted);
    let blocked_reasons: Vec<BlockedReason> = judged
        .err()
        .map(|r| BlockedReason {
            code: r.code().into(),
            message: r.detail(),
        })
        .into_iter()
        .collect();
    Ok(axum::Json(AdjustPriceDryRunOut {
        dry_run: true,
        kind: body.kind,
        amount_minor: body.amount_minor,
        creditable_minor: creditable_minor(order, line, &accepted).ok(),
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        steps: state
            .workflows
            .planned_steps(ADJUST_PRICE_WORKFLOW, &json!({})),
    })
    .into_response())
}

/// The adjustment once its body is valid: the dry run or the acceptance.
async fn ask(
    state: &AppState,
    agent: &Authorized<can::OrdersRefund>,
    meta: &RequestMeta,
    (key, if_match): (IdempotencyKey, IfMatch),
    order_id: &OrderId,
    body: &AdjustPriceIn,
) -> Result<Response> {
    let order = agent.tenant_order(state, order_id).await?;
    let precondition = OrderPrecondition::for_agent(if_match, body.version, Need::Optional)?;
    if body.dry_run {
        return dry_run(state, &order, body).await;
    }
    let key = key.required_for(&format!("adjust_price:{order_id}"), body)?;
    let intake = AdjustIntake {
        order: &order,
        body,
    };
    accept(state, agent.caller(meta), key, precondition.guard(intake)).await
}

/// Credits or debits the order's invoice at Billing: 202 with the `adjust_price` job, whose
/// `result.credit_note_id` (credit) or `result.adjustment_id` (debit) names what Billing
/// made, once. With `line_id` the line is adjusted, else the whole order. A credit above
/// the line's or order's total (less the credits before) → 422 `adjustment.exceeds_total`
/// with `creditable_minor`; an unknown line → 422 `adjustment.unknown_line`. The customer's
/// invoice document then shows it and the new balance; a credit calls for a refund of its
/// own. Requires `orders.refund`, a sudo token in `X-Admin-Auth-Sudo` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/adjust-price", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header), ("X-Admin-Auth-Sudo" = String, Header),
           ("If-Match" = Option<String>, Header, description = "the order's ETag from your last read: 412 when it moved on")),
    request_body = AdjustPriceIn, security(("bearer" = ["orders.refund"])),
    responses((status = 202, body = AdjustPriceAcceptedOut), (status = 200, body = AdjustPriceDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 412, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn adjust_price(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRefund>,
    meta: RequestMeta,
    edit: (IdempotencyKey, IfMatch),
    Path(order_id): Path<OrderId>,
    // after the permission, so an agent without it learns that first
    _sudo: Sudo,
    Valid { body, .. }: Valid<AdjustPriceIn>,
) -> Result<Response> {
    ask(&state, &agent, &meta, edit, &order_id, &body).await
}
