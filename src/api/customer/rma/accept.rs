//! The intake of a return or exchange: judged under the order's lock (so concurrent
//! requests never share a unit), then the request row, the `returns` row, the run and the
//! audit record, in the acceptance transaction of `api::accept`.

use std::collections::HashMap;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::verdict::{self, StockVerdict};
use super::{Ask, Plan, RmaAcceptedOut, RmaLineOut};
use crate::api::accept::{
    Admission, Admitted, Answer, Intake, OpenRequest, StartRun, request_location,
};
use crate::api::jobs::JobOut;
use crate::db;
use crate::db::audit::Entry;
use crate::db::returns::{NewReturn, StoredLine};
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::order::{Money, Order};
use crate::domain::request::RequestStatus;
use crate::domain::returns::{self, RmaKind, RmaRunInput};
use crate::domain::settings::TenantSettings;
use crate::error::{Error, Result};

/// The workflow of `workflows.toml` that handles `kind`.
pub fn workflow(kind: RmaKind) -> &'static str {
    match kind {
        RmaKind::Return => "return_order",
        RmaKind::Exchange => "exchange_order",
    }
}

/// A return or exchange that passed the checks made before the transaction.
pub struct RmaIntake<'a> {
    pub order: &'a Order,
    pub ask: &'a Ask,
    pub settings: &'a TenantSettings,
    /// Order-level reasons found before the transaction.
    pub reasons: Vec<BlockedReason>,
    /// The replacement stock read before the transaction (exchanges).
    pub stock: Option<&'a StockVerdict>,
    pub plan: Plan,
}

impl Intake for RmaIntake<'_> {
    type Answer = RmaAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<RmaAcceptedOut>> {
        let (order, ask) = (self.order, self.ask);
        let tenant = &order.tenant_id;
        // counted under the order's lock, so concurrent requests never share a unit
        db::returns::lock_order(adm.conn(), tenant, &order.id).await?;
        let taken: HashMap<String, i32> =
            verdict::held_units(adm.conn(), tenant, &order.id).await?;
        verdict::verdict(ask, order, self.settings, self.reasons, &taken, self.stock)?;
        let mut input = self.plan.input;
        // random, not time-ordered: the label link derived from it is a bearer link
        input.rma_id = format!("rma_{}", Uuid::new_v4().simple());
        let request = adm.open_request(rma_request(order, ask, &input)?).await?;
        input.request_id = request.id;
        let instructions = returns::instructions(ask.kind, &ask.method);
        let expected = self.plan.expected_refund;
        let stored = &self.plan.stored;
        let row = new_return(order, ask, &input, stored, &instructions, expected.as_ref());
        db::returns::insert(adm.conn(), &row).await?;
        let start = StartRun::for_request(workflow(ask.kind), order, &input, request.id);
        let run = adm.start_run(start).await?;
        adm.audit(Entry {
            action: &format!("order.{}_requested", ask.kind.as_str()),
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: None,
            before: None,
            after: Some(json!({
                "request_id": request.id, "rma_id": input.rma_id, "job_id": run.id, "lines": input.lines,
            })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let answer = RmaAcceptedOut {
            rma_id: input.rma_id.clone(),
            request_id: request.id,
            kind: ask.kind,
            status: "requested".into(),
            instructions,
            label_url: None,
            lines: stored.iter().map(RmaLineOut::from).collect(),
            expected_refund: expected,
            job: JobOut::from_run(&run),
        };
        let location = request_location(request.id);
        Ok(Admitted::accepted(location, answer, Some(run.id)))
    }
}

/// The request row of a return or exchange: one open per order and kind.
fn rma_request<'a>(order: &'a Order, ask: &Ask, input: &RmaRunInput) -> Result<OpenRequest<'a>> {
    let kind = ask.kind.as_str();
    Ok(OpenRequest {
        kind,
        order_id: order.id.as_str(),
        customer_id: &order.customer_id,
        status: RequestStatus::Queued,
        input: serde_json::to_value(input).map_err(anyhow::Error::from)?,
        decided_by: None,
        already_open: Error::conflict(
            "request.already_open",
            format!("a {kind} of this order is still being processed; retry shortly"),
        ),
    })
}

/// The `returns` row of an accepted request: what the customer sees of it until the
/// Returns API has made the RMA.
fn new_return<'a>(
    order: &'a Order,
    ask: &'a Ask,
    input: &'a RmaRunInput,
    stored: &'a [StoredLine],
    instructions: &'a str,
    expected_refund: Option<&Money>,
) -> NewReturn<'a> {
    NewReturn {
        tenant_id: &order.tenant_id,
        rma_id: &input.rma_id,
        kind: ask.kind.as_str(),
        order_id: &order.id,
        customer_id: &order.customer_id,
        request_id: input.request_id,
        lines: stored,
        method: &ask.method,
        preferred_refund: ask.preferred_refund.as_deref(),
        instructions,
        refund_status: match ask.kind {
            RmaKind::Return => "pending",
            RmaKind::Exchange => "not_applicable",
        },
        expected_refund_minor: expected_refund.map_or(0, |m| m.amount_minor),
        currency: &order.currency,
    }
}

impl Answer for RmaAcceptedOut {
    /// The RMA's status and label as recorded when its job ended.
    async fn finished(mut self, run: &RunRow, db: &PgPool) -> Result<Self> {
        let mut conn = db.acquire().await?;
        if let Some(row) = db::returns::get(&mut conn, &run.tenant_id, &self.rma_id, None).await? {
            self.status = row.status;
            self.label_url = row.label_url;
            self.instructions = row.instructions;
        }
        self.job = JobOut::from_run(run);
        Ok(self)
    }
}
