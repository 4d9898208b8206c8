//! Accepting a return or exchange, in the request's one durable transaction: the request
//! row, the `returns` row, the run (with its outbox trigger), the audit record and the
//! idempotency record; then the trigger is dispatched and `Prefer: wait` honoured.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::{Ask, RmaAcceptedOut, RmaLineOut};
use crate::api::auth::Customer;
use crate::api::idempotency::Fresh;
use crate::api::jobs::JobOut;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::requests::{NewRequest, RequestRow};
use crate::db::returns::{NewReturn, StoredLine};
use crate::domain::order::{Money, Order};
use crate::domain::returns::{self, RmaKind, RmaRunInput};
use crate::error::{Error, Result};
use crate::jobs::{self, NewRun};
use crate::state::AppState;

/// The workflow of `workflows.toml` that handles `kind`.
pub fn workflow(kind: RmaKind) -> &'static str {
    match kind {
        RmaKind::Return => "return_order",
        RmaKind::Exchange => "exchange_order",
    }
}

/// Where the customer polls the request (and its job).
pub fn location(request_id: Uuid) -> String {
    format!("/v1/customer/requests/{request_id}")
}

/// A request that passed every check, ready to be written.
pub struct Accepted<'a> {
    pub order: &'a Order,
    pub ask: &'a Ask,
    pub stored: &'a [StoredLine],
    pub expected_refund: Option<Money>,
    pub input: RmaRunInput,
}

/// Writes the accepted request in `tx`, commits, and answers 202 (or 200 with `Prefer: wait`).
pub async fn accept(
    state: &AppState,
    who: &Customer,
    meta: &RequestMeta,
    mut tx: Transaction<'static, Postgres>,
    fresh: Fresh,
    a: Accepted<'_>,
) -> Result<Response> {
    let (order, kind) = (a.order, a.ask.kind);
    let mut input = a.input;
    let request = insert_request(&mut tx, order, kind, &input).await?;
    input.request_id = request.id;
    let instructions = returns::instructions(kind, &a.ask.method);
    db::returns::insert(
        &mut tx,
        &NewReturn {
            tenant_id: &order.tenant_id,
            rma_id: &input.rma_id,
            kind: kind.as_str(),
            order_id: &order.id,
            customer_id: &order.customer_id,
            request_id: request.id,
            lines: a.stored,
            method: &a.ask.method,
            preferred_refund: a.ask.preferred_refund.as_deref(),
            instructions: &instructions,
            refund_status: match kind {
                RmaKind::Return => "pending",
                RmaKind::Exchange => "not_applicable",
            },
            expected_refund_minor: a.expected_refund.as_ref().map_or(0, |m| m.amount_minor),
            currency: &order.currency,
        },
    )
    .await?;
    let principal = who.principal();
    let run = jobs::enqueue(
        &mut tx,
        &state.workflows,
        NewRun {
            tenant_id: order.tenant_id.clone(),
            kind: workflow(kind).into(),
            subject_id: Some(order.id.clone()),
            customer_id: Some(order.customer_id.clone()),
            requested_by: principal.clone(),
            input: serde_json::to_value(&input).map_err(anyhow::Error::from)?,
        },
    )
    .await?;
    let tenant = &order.tenant_id;
    db::requests::set_status(&mut tx, tenant, request.id, "queued", Some(run.id), None).await?;
    let actor = meta.actor("customer", &who.customer_id, vec![]);
    let entry = db::audit::Entry {
        action: &format!("order.{}_requested", kind.as_str()),
        subject_type: "order",
        subject_id: &order.id,
        reason: None,
        before: None,
        after: Some(json!({
            "request_id": request.id, "rma_id": input.rma_id, "job_id": run.id, "lines": input.lines,
        })),
    };
    db::audit::record(&mut tx, tenant, &actor, &entry).await?;
    let out = RmaAcceptedOut {
        rma_id: input.rma_id.clone(),
        request_id: request.id,
        kind,
        status: "requested".into(),
        instructions,
        label_url: None,
        lines: a.stored.iter().map(RmaLineOut::from).collect(),
        expected_refund: a.expected_refund,
        job: JobOut::from_run(&run),
    };
    let headers = vec![("location".into(), location(request.id))];
    let res = fresh
        .save(&mut tx, StatusCode::ACCEPTED, headers, &out)
        .await?;
    tx.commit().await?;
    after_commit(state, tenant, run.id, meta.wait, res, out).await
}

/// Inserts the request; an open one of the same kind whose run already ended is closed
/// first. 409 `request.already_open` while another is really in progress.
async fn insert_request(
    tx: &mut PgConnection,
    order: &Order,
    kind: RmaKind,
    input: &RmaRunInput,
) -> Result<RequestRow> {
    let input = serde_json::to_value(input).map_err(anyhow::Error::from)?;
    let new = NewRequest {
        tenant_id: &order.tenant_id,
        kind: kind.as_str(),
        order_id: &order.id,
        customer_id: &order.customer_id,
        status: "queued",
        input: &input,
        run_id: None,
        decided_by: None,
    };
    if let Some(r) = db::requests::insert(tx, &new).await? {
        return Ok(r);
    }
    if db::requests::close_if_run_finished(tx, &order.tenant_id, &order.id, kind.as_str()).await?
        && let Some(r) = db::requests::insert(tx, &new).await?
    {
        return Ok(r);
    }
    Err(Error::conflict(
        "request.already_open",
        format!(
            "a {} of this order is still being processed; retry shortly",
            kind.as_str()
        ),
    ))
}

/// Dispatches the trigger; with `Prefer: wait` holds the answer until the job ends (200
/// with the RMA's status and label as recorded by then) or the wait runs out (the 202).
async fn after_commit(
    state: &AppState,
    tenant: &str,
    run_id: Uuid,
    wait: Option<std::time::Duration>,
    accepted: Response,
    mut out: RmaAcceptedOut,
) -> Result<Response> {
    jobs::dispatch(state, run_id).await;
    let Some(wait) = wait.filter(|w| !w.is_zero()) else {
        return Ok(accepted);
    };
    let finished = db::runs::wait_finished(&state.db, tenant, run_id, wait).await?;
    let Some(run) = finished.filter(|r| r.status().is_terminal()) else {
        return Ok(accepted);
    };
    let mut conn = state.db.acquire().await?;
    if let Some(row) = db::returns::get(&mut conn, tenant, &out.rma_id, None).await? {
        out.status = row.status;
        out.label_url = row.label_url;
        out.instructions = row.instructions;
    }
    out.job = JobOut::from_run(&run);
    let (parts, _) = accepted.into_parts();
    let body = serde_json::to_vec(&out).map_err(anyhow::Error::from)?;
    let mut res = Response::from_parts(parts, Body::from(body));
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}
