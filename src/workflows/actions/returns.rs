//! Actions of `return_order` and `exchange_order`: re-check eligibility at the Orders
//! service, create the RMA at the Returns API (recording its answer on the `returns` row),
//! notify the customer, and close the request when the run ends.

use chrono::Utc;
use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::notifications as notify;
use crate::db;
use crate::domain::eligibility::{SelfService, check};
use crate::domain::request::RequestStatus;
use crate::domain::returns::{self, LineAsk, Rma, RmaKind, RmaRunInput};
use crate::error::problem;
use crate::upstream::{NewRma, Notification};
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What `check_eligibility` keeps of the order for the notice.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReturnEligibility {
    pub order: ReturnOrder,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ReturnOrder {
    pub number: String,
    pub email: String,
    pub currency: String,
}

/// What `create_rma` got from the Returns API; `None` until it succeeded.
#[derive(Debug, Serialize, Deserialize)]
pub struct RmaCreated {
    #[serde(default)]
    pub rma: Option<Rma>,
}

/// Re-reads the order at the Orders service and applies the same rules as the endpoint:
/// `eligibility::check` for the order, then each line against the units already taken by
/// other RMAs (orderdesk's records and the Returns API's, each RMA counted once). Fails
/// permanently with `return.not_eligible` / `replace.not_eligible` and `line_errors`.
pub fn check_eligibility(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RmaRunInput = ctx.input_as()?;
        let up = &ctx.state.upstream;
        let order = up.get_order(ctx.tenant(), &input.order_id).await?;
        if ctx
            .run
            .customer_id
            .as_ref()
            .is_some_and(|c| *c != order.customer_id)
        {
            return Err(StepError::permanent(
                StatusCode::NOT_FOUND,
                "order.not_found",
                "no such order",
            ));
        }
        let (settings, ours) = {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            let settings = db::tenants::settings(&mut conn, ctx.tenant()).await;
            let ours = db::returns::holding_units(&mut conn, ctx.tenant(), &order.id).await;
            (
                settings.map_err(StepError::database)?,
                ours.map_err(StepError::database)?,
            )
        };
        let action = match input.kind {
            RmaKind::Return => SelfService::Return,
            RmaKind::Exchange => SelfService::Replace,
        };
        let now = Utc::now();
        if let Err(reason) = check(action, &order, &settings, now) {
            let mut p = problem(StatusCode::CONFLICT, &reason.code, &reason.message);
            p.extra.insert("blocked_reasons".into(), json!([reason]));
            return Err(StepError::Permanent(Box::new(p)));
        }
        let upstream_rmas = up.list_rmas(ctx.tenant(), &order.id).await?;
        let all = ours
            .iter()
            .map(|(id, l)| (id.as_str(), l.as_slice()))
            .chain(
                upstream_rmas
                    .iter()
                    .filter(|r| r.status != "cancelled")
                    .map(|r| (r.id.as_str(), r.lines.as_slice())),
            );
        let taken = returns::taken_by_rmas(all, Some(&input.rma_id));
        let asks: Vec<LineAsk<'_>> = input
            .lines
            .iter()
            .map(|l| LineAsk {
                line_id: &l.line_id,
                qty: l.qty,
            })
            .collect();
        let errors = returns::check_lines(input.kind, &order, &asks, &taken, &settings, now);
        if !errors.is_empty() {
            let code = format!("{}.not_eligible", input.kind.code_prefix());
            let mut p = problem(
                StatusCode::CONFLICT,
                &code,
                "some lines can no longer go back",
            );
            p.extra.insert("line_errors".into(), json!(errors));
            return Err(StepError::Permanent(Box::new(p)));
        }
        let facts = ReturnEligibility {
            order: ReturnOrder {
                number: order.number,
                email: order.email,
                currency: order.currency,
            },
        };
        Ok(with_result(
            json!({"rma_id": input.rma_id, "status": "requested"}),
            json!(facts),
        ))
    })
}

/// `POST /fulfillment/v1/returns` with orderdesk's RMA id, then records the answer (status,
/// label, instructions) on the `returns` row. A retry repeats the same call under the same
/// key and id, so the Returns API holds one RMA whatever happens.
pub fn create_rma(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RmaRunInput = ctx.input_as()?;
        let new = NewRma {
            id: &input.rma_id,
            order_id: input.order_id.as_str(),
            kind: input.kind,
            method: &input.method,
            preferred_refund: input.preferred_refund.as_deref(),
            lines: &input.lines,
        };
        let rma = ctx
            .state
            .upstream
            .create_rma(ctx.tenant(), &new, ctx.idempotency_key)
            .await?;
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let label = rma.label_url.as_deref();
        db::returns::record_upstream(
            &mut conn,
            ctx.tenant(),
            &rma.id,
            &rma.status,
            label,
            &rma.instructions,
        )
        .await
        .map_err(StepError::database)?;
        Ok(with_result(
            json!({"rma_id": rma.id, "status": rma.status, "label_url": rma.label_url}),
            json!(RmaCreated { rma: Some(rma) }),
        ))
    })
}

/// `POST /notifications/v1/messages` with template `return_requested` or
/// `exchange_requested` (declared non-critical).
pub fn notify_customer(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RmaRunInput = ctx.input_as()?;
        let order = ctx.earlier::<ReturnEligibility>()?.order;
        let Some(rma) = ctx.earlier::<RmaCreated>()?.rma else {
            return Err(StepError::missing_output(
                "the customer is told about an RMA only after it was created",
            ));
        };
        let template = match input.kind {
            RmaKind::Return => "return_requested",
            RmaKind::Exchange => "exchange_requested",
        };
        let message = Notification {
            order_id: input.order_id.as_str(),
            to: &order.email,
            template,
            data: json!({
                "order_number": order.number,
                "rma_id": input.rma_id,
                "label_url": rma.label_url,
                "instructions": rma.instructions,
            }),
        };
        notify::send(&ctx, &message, notify::Recipient::Customer).await
    })
}

/// `on_finish`: when the RMA exists the request is `succeeded`; otherwise the return is
/// marked `failed` (its units are free again) and the request is left for
/// `requests::close_if_run_finished` to close with the run's final status, which this hook
/// runs too early to know.
pub fn finish(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: RmaRunInput = ctx.input_as()?;
        let created = ctx.earlier::<RmaCreated>()?.rma.is_some();
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let tenant = ctx.tenant();
        if created {
            let succeeded = RequestStatus::Succeeded;
            db::requests::set_status(&mut conn, tenant, input.request_id, succeeded, None, None)
                .await
                .map_err(StepError::database)?;
        } else {
            db::returns::mark_failed(&mut conn, tenant, &input.rma_id)
                .await
                .map_err(StepError::database)?;
        }
        Ok(json!({"rma_created": created}))
    })
}
