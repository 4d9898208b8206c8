//! `POST /v1/customer/gdpr/erase-request`: a customer asks orderdesk to erase their personal
//! data. Starts the `erase_customer` workflow; the request is polled at
//! `GET /v1/customer/requests/{id}` (kind `erase`). Refused while a legal hold applies.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::auth::Customer;
use crate::api::cancellation::{after_commit, validate_reason};
use crate::api::customer::cancel::location;
use crate::api::extract::Json;
use crate::api::idempotency::{self, Begin, IdempotencyKey};
use crate::api::jobs::JobOut;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::gdpr::{Erasable, REQUEST_KIND};
use crate::db::requests::NewRequest;
use crate::error::{Error, Result};
use crate::jobs::{self, NewRun};
use crate::state::AppState;

pub const WORKFLOW: &str = "erase_customer";

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

#[derive(Debug, Serialize, ToSchema)]
pub struct EraseAcceptedOut {
    pub request_id: Uuid,
    /// The job's status.
    pub status: String,
    pub job: JobOut,
}

/// Asks to erase the caller's personal data: 202 with the request and its job. Requires
/// `Idempotency-Key` (it destroys data) unless `dry_run`; a full customer token (not a
/// guest token). 409 `gdpr.legal_hold` while a legal hold applies, 409
/// `request.already_open` while another erasure of the caller is pending or running.
#[utoipa::path(post, path = "/v1/customer/gdpr/erase-request", tag = "customer",
    params(("Idempotency-Key" = String, Header), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = EraseRequestIn, security(("bearer" = [])),
    responses((status = 202, body = EraseAcceptedOut), (status = 200, description = "dry run, or the finished job with Prefer: wait", body = EraseDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn request_erasure(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Json(input): Json<EraseRequestIn>,
) -> Result<Response> {
    if who.scope_order_id.is_some() {
        return Err(Error::forbidden(
            "gdpr.account_required",
            "erasing your data needs you to sign in to your account; a guest link is not enough",
        ));
    }
    validate_reason(input.reason.as_deref(), false)?;
    if input.dry_run {
        let mut conn = state.db.acquire().await?;
        refuse_if_held(&mut conn, &who).await?;
        let would_erase = db::gdpr::erasable(&mut conn, &who.tenant_id, &who.customer_id).await?;
        let steps = state
            .workflows
            .planned_steps(WORKFLOW, &serde_json::json!({}));
        return Ok(axum::Json(EraseDryRunOut {
            dry_run: true,
            steps,
            would_erase,
        })
        .into_response());
    }
    let key = key.required()?;
    let principal = who.principal();
    let hash = idempotency::fingerprint("gdpr-erase-request", &input);
    let mut tx = state.db.begin().await?;
    let fresh = match idempotency::begin(&mut tx, &who.tenant_id, &principal, &key, &hash).await? {
        Begin::Replay(res) => return Ok(res),
        Begin::Fresh(f) => f,
    };
    refuse_if_held(&mut tx, &who).await?;
    db::gdpr::close_finished_erase_requests(&mut tx, &who.tenant_id, &who.customer_id).await?;
    let request_input = serde_json::json!({ "reason": input.reason });
    let request = db::requests::insert(
        &mut tx,
        &NewRequest {
            tenant_id: &who.tenant_id,
            kind: REQUEST_KIND,
            // an erasure concerns no one order: the customer id keeps one open per customer
            order_id: &who.customer_id,
            customer_id: &who.customer_id,
            status: "queued",
            input: &request_input,
            run_id: None,
            decided_by: None,
        },
    )
    .await?
    .ok_or_else(|| {
        Error::conflict(
            "request.already_open",
            "an erasure of your data is already pending or running",
        )
        .with_next_step("poll the open request at /v1/customer/requests/{id}")
    })?;
    let run = jobs::enqueue(
        &mut tx,
        &state.workflows,
        NewRun {
            tenant_id: who.tenant_id.clone(),
            kind: WORKFLOW.into(),
            subject_id: Some(who.customer_id.clone()),
            customer_id: Some(who.customer_id.clone()),
            requested_by: principal,
            input: serde_json::json!({
                "customer_id": who.customer_id,
                "request_id": request.id,
                "keep_idempotency_key": key,
            }),
        },
    )
    .await?;
    db::requests::set_status(
        &mut tx,
        &who.tenant_id,
        request.id,
        "queued",
        Some(run.id),
        None,
    )
    .await?;
    let actor = meta.actor("customer", &who.customer_id, vec![]);
    db::audit::record(
        &mut tx,
        &who.tenant_id,
        &actor,
        &db::audit::Entry {
            action: "customer.erase_requested",
            subject_type: "customer",
            subject_id: &who.customer_id,
            reason: None,
            before: None,
            after: Some(serde_json::json!({ "request_id": request.id, "job_id": run.id })),
        },
    )
    .await?;
    let out = EraseAcceptedOut {
        request_id: request.id,
        status: run.status.clone(),
        job: JobOut::from_run(&run),
    };
    let headers = vec![("location".into(), location(request.id))];
    let res = fresh
        .save(&mut tx, StatusCode::ACCEPTED, headers, &out)
        .await?;
    tx.commit().await?;
    after_commit(&state, &who.tenant_id, run.id, meta.wait, res).await
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
