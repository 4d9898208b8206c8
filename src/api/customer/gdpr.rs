//! `POST /v1/customer/gdpr/erase-request`: a customer asks orderdesk to erase their personal
//! data. Starts the `erase_customer` workflow; the request is polled at
//! `GET /v1/customer/requests/{id}` (kind `erase`). Refused while a legal hold applies.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::api::accept::{
    Admission, Admitted, Idempotency, Intake, OpenRequest, RequestAcceptedOut, StartRun, accept,
};
use crate::api::auth::Customer;
use crate::api::cancellation::validate_reason;
use crate::api::extract::Json;
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::gdpr::Erasable;
use crate::domain::erasure::{EraseRunInput, REQUEST_KIND};
use crate::domain::request::RequestStatus;
use crate::error::{Error, Result};
use crate::state::AppState;

pub const WORKFLOW: &str = "erase_customer";
const GUEST_REFUSED: &str =
    "erasing your data needs you to sign in to your account; a guest link is not enough";

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequestIn {
    /// Why, in the customer's words (at most 500 characters; erased with the rest).
    #[serde(default)]
    pub reason: Option<String>,
    /// Answer what would be erased without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an erasure would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct EraseDryRunOut {
    pub dry_run: bool,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
    /// What orderdesk holds of the caller now.
    pub would_erase: Erasable,
}

/// Asks to erase the caller's personal data: 202 with the request and its job. Requires
/// `Idempotency-Key` (it destroys data) unless `dry_run`; a full customer token (not a
/// guest token). 409 `gdpr.legal_hold` while a legal hold applies, 409
/// `request.already_open` while another erasure of the caller is pending or running.
#[utoipa::path(post, path = "/v1/customer/gdpr/erase-request", tag = "customer",
    params(("Idempotency-Key" = String, Header), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = EraseRequestIn, security(("bearer" = [])),
    responses((status = 202, body = RequestAcceptedOut), (status = 200, description = "dry run, or the finished job with Prefer: wait", body = EraseDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn request_erasure(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Json(input): Json<EraseRequestIn>,
) -> Result<Response> {
    if who.is_guest() {
        return Err(Error::forbidden("gdpr.account_required", GUEST_REFUSED));
    }
    validate_reason(input.reason.as_deref(), false)?;
    if input.dry_run {
        return dry_run(&state, &who).await;
    }
    let key = key.required_for("gdpr-erase-request", &input)?;
    let intake = EraseIntake::new(&who, input.reason, &key);
    accept(&state, who.caller(&meta), key, intake).await
}

/// What would be erased, with no side effect.
async fn dry_run(state: &AppState, who: &Customer) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    refuse_if_held(&mut conn, who).await?;
    let would_erase = db::gdpr::erasable(&mut conn, &who.tenant_id, &who.customer_id).await?;
    let steps = state.workflows.planned_steps(WORKFLOW, &json!({}));
    let out = EraseDryRunOut {
        dry_run: true,
        steps,
        would_erase,
    };
    Ok(axum::Json(out).into_response())
}

/// An erasure of the caller's data: refused under a legal hold; one open per customer.
struct EraseIntake<'a> {
    who: &'a Customer,
    reason: Option<String>,
    keep_idempotency_key: Option<String>,
}

impl<'a> EraseIntake<'a> {
    /// The erasure `who` asks for under `key`, which the erasure keeps (so a retry still
    /// replays its answer once the rest of the caller's records are gone).
    fn new(who: &'a Customer, reason: Option<String>, key: &Idempotency) -> Self {
        EraseIntake {
            who,
            reason,
            keep_idempotency_key: key.key().map(str::to_string),
        }
    }
}

impl Intake for EraseIntake<'_> {
    type Answer = RequestAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<RequestAcceptedOut>> {
        let customer = &self.who.customer_id;
        refuse_if_held(adm.conn(), self.who).await?;
        let already_open = Error::conflict(
            "request.already_open",
            "an erasure of your data is already pending or running",
        )
        .with_next_step("poll the open request at /v1/customer/requests/{id}");
        let request = adm
            .open_request(OpenRequest {
                kind: REQUEST_KIND,
                order_id: customer.as_str(),
                customer_id: customer,
                status: RequestStatus::Queued,
                input: json!({ "reason": self.reason }),
                decided_by: None,
                already_open,
            })
            .await?;
        let input = EraseRunInput {
            customer_id: customer.clone(),
            request_id: request.id,
            keep_idempotency_key: self.keep_idempotency_key,
        };
        let run = adm
            .start_run(StartRun {
                workflow: WORKFLOW,
                subject_id: customer.as_str(),
                customer_id: Some(customer),
                input: &input,
                request: Some(request.id),
                decided_by: None,
            })
            .await?;
        adm.audit(Entry {
            action: "customer.erase_requested",
            subject_type: "customer",
            subject_id: customer.as_str(),
            reason: None,
            before: None,
            after: Some(json!({ "request_id": request.id, "job_id": run.id })),
            personal_data_of: Some(customer),
        })
        .await?;
        Ok(Admitted::request_started(request.id, &run))
    }
}

/// 409 `gdpr.legal_hold` while a hold is in force. Its reason is internal: not told.
async fn refuse_if_held(conn: &mut PgConnection, who: &Customer) -> Result<()> {
    if db::gdpr::active_legal_hold(conn, &who.tenant_id, &who.customer_id)
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "gdpr.legal_hold",
            "your data is under a legal hold and cannot be erased now",
        )
        .with_explain("the law requires the shop to keep this data for now; the hold is lifted when that obligation ends")
        .with_next_step("contact the shop's support to learn more"));
    }
    Ok(())
}
