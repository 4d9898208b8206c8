//! Commerce self-service on one of the caller's orders: reorder, shipping-address change
//! and coupon preview. This file holds what the endpoints share: the eligibility refusal
//! and accepting a request that starts a workflow (request row + run + audit + idempotency
//! record in one transaction, then 202 or, with `Prefer: wait`, the finished job).

pub mod address;
pub mod coupon;
pub mod reorder;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::auth::Customer;
use crate::api::customer::cancel::location;
use crate::api::idempotency::{self, Begin, IdempotencyKey};
use crate::api::jobs::JobOut;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::requests::NewRequest;
use crate::domain::eligibility::{self, SelfService};
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::jobs::{self, NewRun};
use crate::state::AppState;

/// The answer to an accepted request: the request to poll and its job (with `Prefer:
/// wait`, the job as it ended, `result` included).
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestAcceptedOut {
    pub request_id: Uuid,
    /// The job's status: `queued` when just accepted.
    pub status: String,
    pub job: JobOut,
}

/// Refuses with the reason `domain::eligibility::check` gives for `action` now: 409 with
/// exactly the code `allowed_actions` shows for it.
pub(crate) async fn ensure_allowed(
    state: &AppState,
    action: SelfService,
    order: &Order,
) -> Result<()> {
    let settings = {
        let mut conn = state.db.acquire().await?;
        db::tenants::settings(&mut conn, &order.tenant_id).await?
    };
    eligibility::check(action, order, &settings, Utc::now()).map_err(|r| {
        Error::conflict(&r.code, r.message.clone()).with_extra("blocked_reasons", json!([r]))
    })
}

/// A request that starts a workflow.
pub(crate) struct Ask<'a> {
    /// `requests.kind`, e.g. `reorder`, `address_change`.
    pub request_kind: &'static str,
    /// The workflow of `workflows.toml`.
    pub workflow: &'static str,
    /// The audit action, e.g. `order.reorder_requested`.
    pub audit_action: &'static str,
    pub order: &'a Order,
    /// The run input (an object); `request_id` is added to it.
    pub input: Value,
    /// What the request changes, as it is before (audit).
    pub before: Option<Value>,
    /// Hash of the operation and body, for `Idempotency-Key` (`idempotency::fingerprint`).
    pub fingerprint: String,
}

/// Accepts `ask` in one transaction — idempotency record (when a key is sent), request,
/// run, audit — then delivers the trigger and answers 202 with `Location`, or 200 with the
/// finished job when `Prefer: wait` is honoured. A second open request of the same kind
/// for the order → 409 `request.already_open`.
pub(crate) async fn accept(
    state: &AppState,
    who: &Customer,
    meta: &RequestMeta,
    key: IdempotencyKey,
    ask: Ask<'_>,
) -> Result<Response> {
    let order = ask.order;
    let principal = who.principal();
    let mut tx = state.db.begin().await?;
    let fresh = match key.0 {
        Some(key) => {
            match idempotency::begin(&mut tx, &who.tenant_id, &principal, &key, &ask.fingerprint)
                .await?
            {
                Begin::Replay(res) => return Ok(res),
                Begin::Fresh(f) => Some(f),
            }
        }
        None => None,
    };
    db::requests::close_if_run_finished(&mut tx, &order.tenant_id, &order.id, ask.request_kind)
        .await?;
    let request = db::requests::insert(
        &mut tx,
        &NewRequest {
            tenant_id: &order.tenant_id,
            kind: ask.request_kind,
            order_id: &order.id,
            customer_id: &order.customer_id,
            status: "queued",
            input: &ask.input,
            run_id: None,
            decided_by: None,
        },
    )
    .await?
    .ok_or_else(|| {
        Error::conflict(
            "request.already_open",
            format!(
                "a {} request for this order is still running",
                ask.request_kind.replace('_', " ")
            ),
        )
        .with_next_step("poll the open request, then try again")
    })?;
    let mut input = ask.input;
    input["request_id"] = json!(request.id);
    let run = jobs::enqueue(
        &mut tx,
        &state.workflows,
        NewRun {
            tenant_id: order.tenant_id.clone(),
            kind: ask.workflow.into(),
            subject_id: Some(order.id.clone()),
            customer_id: Some(order.customer_id.clone()),
            requested_by: principal.clone(),
            input,
        },
    )
    .await?;
    db::requests::set_status(
        &mut tx,
        &order.tenant_id,
        request.id,
        "queued",
        Some(run.id),
        None,
    )
    .await?;
    let actor = meta.actor("customer", &who.customer_id, vec![]);
    let after = json!({ "request_id": request.id, "job_id": run.id, "input": request.input });
    let entry = db::audit::Entry {
        action: ask.audit_action,
        subject_type: "order",
        subject_id: &order.id,
        reason: None,
        before: ask.before,
        after: Some(after),
    };
    db::audit::record(&mut tx, &order.tenant_id, &actor, &entry).await?;
    let out = RequestAcceptedOut {
        request_id: request.id,
        status: run.status.clone(),
        job: JobOut::from_run(&run),
    };
    let loc = location(request.id);
    let res = match fresh {
        Some(f) => {
            let headers = vec![("location".to_string(), loc)];
            f.save(&mut tx, StatusCode::ACCEPTED, headers, &out).await?
        }
        None => (
            StatusCode::ACCEPTED,
            [(header::LOCATION, loc)],
            axum::Json(&out),
        )
            .into_response(),
    };
    tx.commit().await?;
    crate::api::cancellation::after_commit(state, &who.tenant_id, run.id, meta.wait, res).await
}
