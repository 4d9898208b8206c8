//! `POST /v1/admin/orders/{order_id}/create-fulfillment`: lines of an order fulfilled at a
//! warehouse, by the `create_fulfillment` workflow (the units reserved there).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{
    FulfilOrder, FulfillmentAcceptedOut, FulfillmentDryRunOut, check_quantities, check_shippable,
    is_code, line_errors, validation,
};
use crate::api::accept::{Admission, Admitted, Intake, StartRun, accept};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::fulfillments::{CreateFulfillmentRunInput, FulfillmentLine};
use crate::domain::ids::{FulfillmentId, OrderId};
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The workflow that creates a fulfilment.
pub const WORKFLOW: &str = "create_fulfillment";

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFulfillmentIn {
    /// A warehouse code of the tenant (e.g. `wh_east`).
    pub warehouse: String,
    /// 1 to 200 lines; a line's units: at most what it has unfulfilled.
    pub lines: Vec<FulfillmentLine>,
    /// Optional, at most 500 characters; recorded in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for CreateFulfillmentIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if !is_code(&self.warehouse) {
            errors.push(("warehouse".into(), "1 to 64 characters, no spaces".into()));
        }
        line_errors("", &self.lines, &mut errors);
        if let Err(e) = validate_note("reason", self.reason.as_deref(), false) {
            let p = e.to_problem();
            errors.extend(p.errors.into_iter().map(|f| (f.field, f.message)));
        }
        validation(errors)
    }
}

/// Fulfils lines of an order at a warehouse: 202 with the `create_fulfillment` job, whose
/// `result.fulfillment_id` names the fulfilment once the Fulfillment service reserved the
/// units. A line beyond what it has unfulfilled → 422 `fulfillment.over_quantity` (with
/// `line_errors`); an order that is not confirmed or partially shipped → 409
/// `fulfillment.order_not_shippable`. Requires `orders.fulfil`; `Idempotency-Key` honoured.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/create-fulfillment", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateFulfillmentIn, security(("bearer" = ["orders.fulfil"])),
    responses((status = 202, body = FulfillmentAcceptedOut), (status = 200, body = FulfillmentDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_fulfillment(
    State(state): State<AppState>,
    FulfilOrder { agent, order }: FulfilOrder,
    meta: RequestMeta,
    key: IdempotencyKey,
    Valid { body, .. }: Valid<CreateFulfillmentIn>,
) -> Result<Response> {
    if body.dry_run {
        return dry_run(&state, &order, &body.lines).await;
    }
    let key = key.optional_for(&format!("create-fulfillment:{}", order.id), &body);
    let intake = CreateIntake::one(&order.id, body);
    accept(&state, agent.caller(&meta), key, intake).await
}

async fn dry_run(state: &AppState, order: &Order, lines: &[FulfillmentLine]) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let asked = lines.iter().map(|l| (l.line_id.as_str(), l.qty));
    let blocked = match check_shippable(order) {
        Ok(()) => check_quantities(&mut conn, order, asked).await.err(),
        Err(e) => Some(e),
    };
    let steps = state.workflows.planned_steps(WORKFLOW, &json!({}));
    Ok(axum::Json(FulfillmentDryRunOut::of(blocked, steps)).into_response())
}

/// One fulfilment to create.
pub struct NewFulfillment {
    pub warehouse: String,
    pub lines: Vec<FulfillmentLine>,
}

/// Fulfilments of one order, judged together under the order's read-model lock (so two
/// agents cannot both take the last unfulfilled unit) and started as one run each.
pub struct CreateIntake<'a> {
    pub order_id: &'a OrderId,
    pub fulfillments: Vec<NewFulfillment>,
    pub reason: Option<String>,
}

impl<'a> CreateIntake<'a> {
    fn one(order_id: &'a OrderId, body: CreateFulfillmentIn) -> Self {
        CreateIntake {
            order_id,
            fulfillments: vec![NewFulfillment {
                warehouse: body.warehouse,
                lines: body.lines,
            }],
            reason: body.reason.map(|r| r.trim().to_string()),
        }
    }

    /// Judges and starts the fulfilments; their answers, in order.
    pub async fn start(self, adm: &mut Admission<'_>) -> Result<Vec<FulfillmentAcceptedOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let order = db::orders::lock_view(adm.conn(), &tenant, self.order_id)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        check_shippable(&order)?;
        let asked = self.fulfillments.iter().flat_map(|f| &f.lines);
        check_quantities(
            adm.conn(),
            &order,
            asked.map(|l| (l.line_id.as_str(), l.qty)),
        )
        .await?;
        let mut out = Vec::new();
        for f in self.fulfillments {
            let input = CreateFulfillmentRunInput {
                order_id: order.id.clone(),
                fulfillment_id: FulfillmentId::new(format!(
                    "ful_{}",
                    uuid::Uuid::now_v7().simple()
                )),
                warehouse: f.warehouse,
                lines: f.lines,
                reason: self.reason.clone(),
            };
            let run = adm.start_run(StartRun {
                workflow: WORKFLOW,
                subject_id: order.id.as_str(),
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            });
            let run = run.await?;
            adm.audit(Entry {
                action: "fulfillment.create",
                subject_type: "order",
                subject_id: order.id.as_str(),
                reason: self.reason.as_deref(),
                before: None,
                after: Some(json!({ "fulfillment_id": input.fulfillment_id,
                    "warehouse": input.warehouse, "lines": input.lines, "run_id": run.id })),
                personal_data_of: None,
            })
            .await?;
            out.push(FulfillmentAcceptedOut {
                fulfillment_id: input.fulfillment_id.into_string(),
                order_id: order.id.clone(),
                job: JobOut::from_run(&run),
            });
        }
        Ok(out)
    }
}

impl Intake for CreateIntake<'_> {
    type Answer = FulfillmentAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<FulfillmentAcceptedOut>> {
        let answer = self
            .start(adm)
            .await?
            .pop()
            .ok_or_else(|| Error::unprocessable("fulfillment.empty", "nothing to fulfil"))?;
        let run = answer.job.id;
        Ok(Admitted::accepted(admin_location(run), answer, Some(run)))
    }
}
