//! Applying a quote (`POST /v1/admin/quotes/{id}/apply`: the `edit_order` workflow, 202 with
//! its job). It needs `If-Match` with the order's ETag (428 without), a reason, the order
//! still at the quote's version (409 `order.version_mismatch` with the current order), an
//! `Idempotency-Key`, and a sudo token when money moves.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{QuoteOut, check_open, from_json, tenant_quote};
use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::auth::Sudo;
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::precondition::{IfMatch, Need, OrderEdit, OrderPrecondition};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::quotes::QuoteRow;
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::{OrderId, QuoteId};
use crate::domain::order::Order;
use crate::domain::quote::{self, Delta, EDIT_WORKFLOW, EditRunInput, Priced, Settle};
use crate::error::{Error, Result};
use crate::state::AppState;

/// The body of apply and abort.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteDecisionIn {
    /// Required, at most 500 characters; audited (and, on apply, told to Payments).
    pub reason: String,
    /// Apply only: `true` answers the steps that would run and why it would be refused.
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for QuoteDecisionIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("reason", Some(&self.reason), true)
    }
}

/// An applied quote: the quote (now `applied`) and the job applying it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteAppliedOut {
    pub quote: QuoteOut,
    pub job: JobOut,
}

impl Answer for QuoteAppliedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        let mut quote = self.quote;
        quote.status = QuoteOut::status_after_apply(run.status).into();
        Ok(QuoteAppliedOut {
            quote,
            job: JobOut::from_run(run),
        })
    }
}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteApplyDryRunOut {
    pub dry_run: bool,
    pub quote_id: String,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// Whether applying moves money, and so needs `X-Admin-Auth-Sudo`.
    pub sudo_required: bool,
    pub delta: Delta,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
}

fn delta_of(row: &QuoteRow) -> Result<Delta> {
    from_json(row.delta.clone())
}

/// 409 `quote.refund_not_possible` when a refund has no payment to come from.
fn refundable(delta: &Delta) -> Result<()> {
    if delta.settle == Settle::Refund && delta.payment_id.is_none() {
        return Err(Error::conflict(
            "quote.refund_not_possible",
            "no payment of the order has enough left to refund the difference",
        ));
    }
    Ok(())
}

/// Everything that would refuse the quote now, as blocked reasons.
fn blocked(row: &QuoteRow, order: &Order, delta: &Delta) -> Vec<BlockedReason> {
    let version = (row.order_version != order.version).then(|| {
        Error::conflict(
            "order.version_mismatch",
            format!(
                "the quote was made on version {}, the order is at {}",
                row.order_version, order.version
            ),
        )
    });
    let editable = (!quote::editable(order))
        .then(|| Error::conflict("order.not_editable", "the order shipped or ended since"));
    [
        check_open(row).err(),
        version,
        editable,
        refundable(delta).err(),
    ]
    .into_iter()
    .flatten()
    .map(|e| BlockedReason {
        code: e.code().to_string(),
        message: e.to_problem().detail,
    })
    .collect()
}

/// The quote to apply: locked, judged again (open, not expired, a refund possible) and
/// started as an `edit_order` run at the version the precondition fixed.
struct ApplyQuote<'a> {
    order: &'a Order,
    id: &'a QuoteId,
    reason: String,
}

impl OrderEdit for ApplyQuote<'_> {
    fn order(&self) -> &Order {
        self.order
    }

    // the run carries the quote's version, which the precondition just matched
    fn expect_version(&mut self, _: Option<i64>) {}
}

impl Intake for ApplyQuote<'_> {
    type Answer = QuoteAppliedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<QuoteAppliedOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let row = db::quotes::get(adm.conn(), &tenant, self.id, true)
            .await?
            .ok_or_else(|| Error::not_found("quote"))?;
        check_open(&row)?;
        let delta = delta_of(&row)?;
        refundable(&delta)?;
        let preview = from_json(row.preview.clone())?;
        let priced = Priced { preview, delta };
        let input = EditRunInput::new(&row.id, row.order_version, priced, self.reason.clone());
        let run = adm
            .start_run(crate::api::accept::StartRun {
                workflow: EDIT_WORKFLOW,
                subject_id: self.order.id.as_str(),
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            })
            .await?;
        let closed = ("applied", Some(run.id.as_uuid()), self.reason.as_str());
        let row = db::quotes::close(adm.conn(), &tenant, self.id, closed).await?;
        adm.audit(Entry {
            action: "order.quote_apply",
            subject_type: "order",
            subject_id: self.order.id.as_str(),
            reason: Some(&self.reason),
            before: Some(json!({ "version": row.order_version, "totals": self.order.totals })),
            after: Some(json!({ "quote_id": row.id, "delta": row.delta, "run_id": run.id })),
            personal_data_of: Some(&self.order.customer_id),
        })
        .await?;
        let answer = QuoteAppliedOut {
            quote: QuoteOut::from_row(row, Some(run.status))?,
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// What an apply would do, with no side effect.
fn dry_run(state: &AppState, row: &QuoteRow, order: &Order) -> Result<Response> {
    let delta = delta_of(row)?;
    let input = json!({
        "moves_money": delta.moves_money(),
        "moves_stock": !(delta.reserve.is_empty() && delta.release.is_empty()),
    });
    let blocked_reasons = blocked(row, order, &delta);
    Ok(axum::Json(QuoteApplyDryRunOut {
        dry_run: true,
        quote_id: row.id.clone(),
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        sudo_required: delta.moves_money(),
        steps: state.workflows.planned_steps(EDIT_WORKFLOW, &input),
        delta,
    })
    .into_response())
}

/// The quote of the agent's tenant and its order (404 for either).
pub(super) async fn quote_and_order(
    state: &AppState,
    agent: &Authorized<can::OrdersEdit>,
    id: &QuoteId,
) -> Result<(QuoteRow, Order)> {
    let row = tenant_quote(state, &agent.tenant_id, id).await?;
    let order_id = OrderId::new(row.order_id.as_str());
    let order = agent.tenant_order(state, &order_id).await?;
    Ok((row, order))
}

async fn apply(
    state: &AppState,
    (agent, meta): (&Authorized<can::OrdersEdit>, &RequestMeta),
    (key, if_match, sudo): (IdempotencyKey, IfMatch, Result<Sudo>),
    id: &QuoteId,
    body: &QuoteDecisionIn,
) -> Result<Response> {
    let (row, order) = quote_and_order(state, agent, id).await?;
    if body.dry_run {
        return dry_run(state, &row, &order);
    }
    OrderPrecondition::for_agent(if_match.clone(), None, Need::Required)?;
    if delta_of(&row)?.moves_money() {
        sudo?;
    }
    let key = key.required_for(&format!("quote_apply:{id}"), body)?;
    let version = Some(row.order_version);
    let precondition = OrderPrecondition::for_agent(if_match, version, Need::Required)?;
    let intake = ApplyQuote {
        order: &order,
        id,
        reason: body.reason.trim().to_string(),
    };
    accept(state, agent.caller(meta), key, precondition.guard(intake)).await
}

/// Applies the quote: 202 with the quote (now `applied`) and the `edit_order` job, which
/// edits the order at Orders, reprices the invoice at Billing, charges or refunds the
/// difference at Payments, reserves or releases stock at Inventory and tells the customer —
/// and undoes the done steps in reverse order when a later one fails for good. `If-Match`
/// with the order's ETag is required (428 `order.if_match_required`; stale → 412); an order
/// no longer at the quote's version → 409 `order.version_mismatch` with the current order;
/// expired → 409 `quote.expired`; applied or aborted → 409 `quote.not_open`. Requires
/// `orders.edit`, `Idempotency-Key`, and a sudo token in `X-Admin-Auth-Sudo` when the delta
/// charges or refunds. `dry_run: true` answers the planned steps and blocked reasons.
#[utoipa::path(post, path = "/v1/admin/quotes/{quote_id}/apply", tag = "admin",
    params(("quote_id" = String, Path), ("Idempotency-Key" = String, Header),
           ("If-Match" = String, Header, description = "the order's ETag: required (428), 412 when it moved on"),
           ("X-Admin-Auth-Sudo" = Option<String>, Header, description = "required when the delta moves money")),
    request_body = QuoteDecisionIn, security(("bearer" = ["orders.edit"])),
    responses((status = 202, body = QuoteAppliedOut), (status = 200, body = QuoteApplyDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 412, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 428, body = crate::error::Problem)))]
pub async fn apply_quote(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    (key, if_match): (IdempotencyKey, IfMatch),
    Path(quote_id): Path<QuoteId>,
    sudo: Result<Sudo>,
    Valid { body, .. }: Valid<QuoteDecisionIn>,
) -> Result<Response> {
    let headers = (key, if_match, sudo);
    apply(&state, (&agent, &meta), headers, &quote_id, &body).await
}
