//! Changes of one fulfilment: ship (with the carrier, tracking number and an optional
//! uploaded label), cancel and reschedule (each with a required reason). Each is judged
//! under the fulfilment's row lock (409 once it shipped or was cancelled) and carried out
//! by its workflow.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{
    FulfillmentAcceptedOut, FulfillmentDryRunOut, check_open, is_code, tenant_fulfillment,
    validation,
};
use crate::api::accept::{Admission, Admitted, Intake, StartRun, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::fulfillments::{FulfillmentChangeRunInput, ShipFulfillmentRunInput};
use crate::domain::ids::FulfillmentId;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The largest uploaded label, decoded.
pub const MAX_LABEL_BYTES: usize = 128 * 1024;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipFulfillmentIn {
    pub carrier: String,
    pub tracking_number: String,
    /// The carrier's label: a PDF (starting `%PDF-`), base64, at most 128 KiB decoded.
    /// Absent: `GET /v1/admin/shipments/{id}/label` renders one.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for ShipFulfillmentIn {
    /// The decoded label.
    type Checked = Option<Vec<u8>>;

    fn validate(&self) -> Result<Option<Vec<u8>>> {
        let mut errors = Vec::new();
        if !is_code(&self.carrier) {
            errors.push(("carrier".into(), "1 to 64 characters, no spaces".into()));
        }
        if !is_code(&self.tracking_number) {
            errors.push((
                "tracking_number".into(),
                "1 to 64 characters, no spaces".into(),
            ));
        }
        let label = self.label.as_deref().map(|b64| STANDARD.decode(b64.trim()));
        let label = match label {
            None => None,
            Some(Ok(pdf)) if pdf.len() > MAX_LABEL_BYTES => {
                errors.push(("label".into(), "at most 128 KiB decoded".into()));
                None
            }
            Some(Ok(pdf)) if !pdf.starts_with(b"%PDF-") => {
                errors.push(("label".into(), "must be a PDF (starting %PDF-)".into()));
                None
            }
            Some(Ok(pdf)) => Some(pdf),
            Some(Err(_)) => {
                errors.push(("label".into(), "must be base64".into()));
                None
            }
        };
        validation(errors).map(|()| label)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelFulfillmentIn {
    /// Required, at most 500 characters; recorded in the audit log.
    pub reason: String,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for CancelFulfillmentIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("reason", Some(&self.reason), true)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleFulfillmentIn {
    /// When the fulfilment may ship at the earliest; in the future.
    pub ship_after: DateTime<Utc>,
    /// Required, at most 500 characters; recorded in the audit log.
    pub reason: String,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for RescheduleFulfillmentIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if self.ship_after <= Utc::now() {
            errors.push(("ship_after".into(), "must be in the future".into()));
        }
        if let Err(e) = validate_note("reason", Some(&self.reason), true) {
            let p = e.to_problem();
            errors.extend(p.errors.into_iter().map(|f| (f.field, f.message)));
        }
        validation(errors)
    }
}

/// What is asked of the fulfilment.
enum Change {
    Ship {
        carrier: String,
        tracking_number: String,
        label: Option<Vec<u8>>,
    },
    Cancel {
        reason: String,
    },
    Reschedule {
        ship_after: DateTime<Utc>,
        reason: String,
    },
}

impl Change {
    fn ship(body: &ShipFulfillmentIn, label: Option<Vec<u8>>) -> Change {
        Change::Ship {
            carrier: body.carrier.clone(),
            tracking_number: body.tracking_number.clone(),
            label,
        }
    }
    fn reschedule(body: &RescheduleFulfillmentIn) -> Change {
        Change::Reschedule {
            ship_after: body.ship_after,
            reason: body.reason.trim().to_string(),
        }
    }
    fn workflow(&self) -> &'static str {
        match self {
            Change::Ship { .. } => "ship_fulfillment",
            Change::Cancel { .. } => "cancel_fulfillment",
            Change::Reschedule { .. } => "reschedule_fulfillment",
        }
    }
    fn action(&self) -> &'static str {
        match self {
            Change::Ship { .. } => "ship",
            Change::Cancel { .. } => "cancel",
            Change::Reschedule { .. } => "reschedule",
        }
    }
}

/// Ships a fulfilment with the carrier and tracking number (and the carrier's label, when
/// uploaded): 202 with the `ship_fulfillment` job. Once the Fulfillment service made the
/// order's shipment, the customer hears of it once on each channel they subscribed to.
/// Cancelled → 409 `fulfillment.cancelled`, shipped → 409 `fulfillment.already_shipped`,
/// another change still running → 409 `fulfillment.action_running`; a
/// label that is no PDF or too big → 422. Requires `orders.fulfil`; `Idempotency-Key` honoured.
#[utoipa::path(post, path = "/v1/admin/fulfillments/{fulfillment_id}/ship", tag = "admin",
    params(("fulfillment_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ShipFulfillmentIn, security(("bearer" = ["orders.fulfil"])),
    responses((status = 202, body = FulfillmentAcceptedOut), (status = 200, body = FulfillmentDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn ship_fulfillment(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersFulfil>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
    Valid { body, checked }: Valid<ShipFulfillmentIn>,
) -> Result<Response> {
    let change = Change::ship(&body, checked);
    let key = key.optional_for(&format!("ship:{id}"), &body);
    act(
        &state,
        &agent,
        &meta,
        key,
        Asked::new(&id, body.dry_run, change),
    )
    .await
}

/// Cancels an open fulfilment (its units back in the warehouse's stock): 202 with the
/// `cancel_fulfillment` job; 409 `fulfillment.cancelled` or `fulfillment.already_shipped`.
/// Requires `orders.fulfil` and a reason; `Idempotency-Key` honoured.
#[utoipa::path(post, path = "/v1/admin/fulfillments/{fulfillment_id}/cancel", tag = "admin",
    params(("fulfillment_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CancelFulfillmentIn, security(("bearer" = ["orders.fulfil"])),
    responses((status = 202, body = FulfillmentAcceptedOut), (status = 200, body = FulfillmentDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn cancel_fulfillment(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersFulfil>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
    Valid { body, .. }: Valid<CancelFulfillmentIn>,
) -> Result<Response> {
    let change = Change::Cancel {
        reason: body.reason.trim().to_string(),
    };
    let key = key.optional_for(&format!("cancel:{id}"), &body);
    act(
        &state,
        &agent,
        &meta,
        key,
        Asked::new(&id, body.dry_run, change),
    )
    .await
}

/// Moves an open fulfilment's earliest ship date: 202 with the `reschedule_fulfillment`
/// job; 409 `fulfillment.cancelled` or `fulfillment.already_shipped`. Requires
/// `orders.fulfil` and a reason; `Idempotency-Key` honoured.
#[utoipa::path(post, path = "/v1/admin/fulfillments/{fulfillment_id}/reschedule", tag = "admin",
    params(("fulfillment_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = RescheduleFulfillmentIn, security(("bearer" = ["orders.fulfil"])),
    responses((status = 202, body = FulfillmentAcceptedOut), (status = 200, body = FulfillmentDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn reschedule_fulfillment(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersFulfil>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
    Valid { body, .. }: Valid<RescheduleFulfillmentIn>,
) -> Result<Response> {
    let change = Change::reschedule(&body);
    let key = key.optional_for(&format!("reschedule:{id}"), &body);
    act(
        &state,
        &agent,
        &meta,
        key,
        Asked::new(&id, body.dry_run, change),
    )
    .await
}

struct Asked<'a> {
    id: &'a str,
    dry_run: bool,
    change: Change,
}

impl<'a> Asked<'a> {
    fn new(id: &'a str, dry_run: bool, change: Change) -> Self {
        Asked {
            id,
            dry_run,
            change,
        }
    }
}

async fn act(
    state: &AppState,
    agent: &Authorized<can::OrdersFulfil>,
    meta: &RequestMeta,
    key: crate::api::accept::Idempotency,
    asked: Asked<'_>,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let row = tenant_fulfillment(&mut conn, &agent.tenant_id, asked.id, false).await?;
    if asked.dry_run {
        let steps = state
            .workflows
            .planned_steps(asked.change.workflow(), &json!({}));
        let out = FulfillmentDryRunOut::of(check_open(&row).err(), steps);
        return Ok(axum::Json(out).into_response());
    }
    drop(conn);
    let intake = ChangeIntake {
        id: row.id,
        change: asked.change,
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// The change, judged under the fulfilment's row lock after the key was claimed.
struct ChangeIntake {
    id: FulfillmentId,
    change: Change,
}

impl Intake for ChangeIntake {
    type Answer = FulfillmentAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<FulfillmentAcceptedOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let row = tenant_fulfillment(adm.conn(), &tenant, self.id.as_str(), true).await?;
        check_open(&row)?;
        if db::fulfillments::change_running(adm.conn(), &tenant, &row.order_id, &row.id).await? {
            return Err(Error::conflict(
                "fulfillment.action_running",
                "another ship, cancel or reschedule of this fulfillment is still running",
            ));
        }
        let (workflow, action) = (self.change.workflow(), self.change.action());
        let (id, order_id) = (row.id.clone(), row.order_id.clone());
        let (input, reason, after) = match self.change {
            Change::Ship {
                carrier,
                tracking_number,
                label,
            } => {
                if let Some(pdf) = &label {
                    let by = adm.caller().principal.clone();
                    db::fulfillments::add_label(adm.conn(), &tenant, &id, "uploaded", pdf, &by)
                        .await?;
                }
                let after = json!({ "carrier": carrier, "tracking_number": tracking_number,
                    "label_uploaded": label.is_some() });
                let input = ShipFulfillmentRunInput {
                    order_id: order_id.clone(),
                    fulfillment_id: id.clone(),
                    carrier,
                    tracking_number,
                };
                (
                    serde_json::to_value(input).map_err(anyhow::Error::from)?,
                    None,
                    after,
                )
            }
            Change::Cancel { reason } => {
                let input = FulfillmentChangeRunInput {
                    order_id: order_id.clone(),
                    fulfillment_id: id.clone(),
                    reason: reason.clone(),
                    ship_after: None,
                };
                (
                    serde_json::to_value(input).map_err(anyhow::Error::from)?,
                    Some(reason),
                    json!({ "status": "cancelled" }),
                )
            }
            Change::Reschedule { ship_after, reason } => {
                let input = FulfillmentChangeRunInput {
                    order_id: order_id.clone(),
                    fulfillment_id: id.clone(),
                    reason: reason.clone(),
                    ship_after: Some(ship_after),
                };
                (
                    serde_json::to_value(input).map_err(anyhow::Error::from)?,
                    Some(reason),
                    json!({ "ship_after": ship_after }),
                )
            }
        };
        let run = adm
            .start_run(StartRun {
                workflow,
                subject_id: order_id.as_str(),
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            })
            .await?;
        let audit_action = format!("fulfillment.{action}");
        adm.audit(Entry {
            action: &audit_action,
            subject_type: "fulfillment",
            subject_id: id.as_str(),
            reason: reason.as_deref(),
            before: Some(json!({ "status": row.status, "ship_after": row.ship_after })),
            after: Some(json!({ "run_id": run.id, "change": after })),
            personal_data_of: None,
        })
        .await?;
        let answer = FulfillmentAcceptedOut {
            fulfillment_id: id.into_string(),
            order_id,
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}
