//! What the three cancel endpoints share: the plan (also the dry run), the 409 for a
//! blocked order, and accepting a cancellation (request row + run + audit + outbox +
//! idempotent answer in the caller's transaction).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::idempotency::Fresh;
use crate::api::jobs::JobOut;
use crate::db;
use crate::db::audit::Actor;
use crate::db::requests::{NewRequest, RequestRow};
use crate::db::runs::RunRow;
use crate::domain::cancel::{CancelPlan, Canceller, plan_cancel};
use crate::domain::order::Order;
use crate::error::{Error, FieldError, Result};
use crate::jobs::{self, NewRun};
use crate::state::AppState;

pub const WORKFLOW: &str = "cancel_order";
pub const REQUEST_KIND: &str = "cancel";
const MAX_REASON: usize = 500;

/// The run input of `cancel_order` (see workflows.toml).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelInput {
    pub order_id: String,
    pub reason: Option<String>,
    pub refund: bool,
    pub restock: bool,
    pub canceller: &'static str,
    pub request_id: Option<Uuid>,
}

/// What a cancellation would do, answered to `dry_run: true` with no side effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelDryRunOut {
    pub dry_run: bool,
    pub plan: CancelPlan,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
    /// Whether an agent must approve it first (customer requests only).
    pub needs_review: bool,
}

/// The answer to an accepted cancellation: its request and, unless it waits for review, its job.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelAcceptedOut {
    pub request_id: Uuid,
    /// `pending_review`, or the job's status.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobOut>,
}

pub fn validate_reason(reason: Option<&str>, required: bool) -> Result<()> {
    let r = reason.map(str::trim).unwrap_or("");
    let message = if required && r.is_empty() {
        "a reason is required"
    } else if reason.is_some_and(|r| r.chars().count() > MAX_REASON) {
        "at most 500 characters"
    } else {
        return Ok(());
    };
    Err(Error::validation(vec![FieldError {
        field: "reason".into(),
        message: message.into(),
    }]))
}

/// The plan for `order` now, with the steps that would run.
pub async fn plan(
    state: &AppState,
    order: &Order,
    who: Canceller,
    refund: bool,
    restock: bool,
) -> Result<(CancelPlan, Vec<String>, CancelInput)> {
    let mut conn = state.db.acquire().await?;
    let settings = db::tenants::settings(&mut conn, &order.tenant_id).await?;
    let plan = plan_cancel(order, &settings, who, refund, restock, chrono::Utc::now());
    let input = CancelInput {
        order_id: order.id.clone(),
        reason: None,
        refund,
        restock,
        canceller: match who {
            Canceller::Customer => "customer",
            Canceller::Agent => "agent",
        },
        request_id: None,
    };
    let steps = state.workflows.planned_steps(
        WORKFLOW,
        &serde_json::to_value(&input).map_err(anyhow::Error::from)?,
    );
    Ok((plan, steps, input))
}

/// 409 naming the first blocked reason's code and listing all of them.
pub fn blocked(plan: &CancelPlan) -> Error {
    let first = &plan.blocked_reasons[0];
    Error::conflict(&first.code, first.message.clone()).with_extra(
        "blocked_reasons",
        serde_json::to_value(&plan.blocked_reasons).unwrap_or_default(),
    )
}

/// Starts the run for `request` (already inserted or taken over) and marks it queued.
pub async fn start_run(
    tx: &mut PgConnection,
    state: &AppState,
    order: &Order,
    mut input: CancelInput,
    request_id: Uuid,
    requested_by: &str,
    decided_by: Option<&str>,
) -> Result<RunRow> {
    input.request_id = Some(request_id);
    let run = jobs::enqueue(
        tx,
        &state.workflows,
        NewRun {
            tenant_id: order.tenant_id.clone(),
            kind: WORKFLOW.into(),
            subject_id: Some(order.id.clone()),
            customer_id: Some(order.customer_id.clone()),
            requested_by: requested_by.into(),
            input: serde_json::to_value(&input).map_err(anyhow::Error::from)?,
        },
    )
    .await?;
    db::requests::set_status(
        tx,
        &order.tenant_id,
        request_id,
        "queued",
        Some(run.id),
        decided_by,
    )
    .await?;
    Ok(run)
}

/// Inserts a new cancel request for `order`; 409 when one is already open.
pub async fn insert_request(
    tx: &mut PgConnection,
    order: &Order,
    status: &str,
    input: &CancelInput,
    decided_by: Option<&str>,
) -> Result<RequestRow> {
    let input = serde_json::to_value(input).map_err(anyhow::Error::from)?;
    db::requests::insert(
        tx,
        &NewRequest {
            tenant_id: &order.tenant_id,
            kind: REQUEST_KIND,
            order_id: &order.id,
            customer_id: &order.customer_id,
            status,
            input: &input,
            run_id: None,
            decided_by,
        },
    )
    .await?
    .ok_or_else(|| {
        Error::conflict(
            "request.already_open",
            "a cancellation of this order is already pending or running",
        )
    })
}

/// Audit record of a cancellation decision, in the caller's transaction.
pub async fn audit(
    tx: &mut PgConnection,
    order: &Order,
    actor: &Actor,
    action: &str,
    reason: Option<&str>,
    after: serde_json::Value,
) -> Result<()> {
    db::audit::record(
        tx,
        &order.tenant_id,
        actor,
        &db::audit::Entry {
            action,
            subject_type: "order",
            subject_id: &order.id,
            reason,
            before: Some(serde_json::json!({ "status": order.status })),
            after: Some(after),
        },
    )
    .await?;
    Ok(())
}

/// An accepted cancellation, ready to be audited and answered.
pub struct Accepted<'a> {
    pub order: &'a Order,
    pub actor: &'a Actor,
    /// e.g. `order.cancel_requested`, `order.force_cancelled`.
    pub audit_action: &'static str,
    pub reason: Option<&'a str>,
    pub request_id: Uuid,
    /// The started run; `None` while the request waits for an agent's review.
    pub run: Option<RunRow>,
    /// Extra members of the audit record's `after`, beside `request_id` and `job_id`.
    pub audit_extra: serde_json::Value,
    /// The `Location` to poll.
    pub location: String,
}

/// The end that all cancel endpoints share: audit, store the 202 under the
/// `Idempotency-Key`, commit, then deliver the trigger (and honour `Prefer: wait`).
pub async fn answer_accepted(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    fresh: Fresh,
    wait: Option<std::time::Duration>,
    a: Accepted<'_>,
) -> Result<axum::response::Response> {
    let mut after = match a.audit_extra {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    after.insert("request_id".into(), serde_json::json!(a.request_id));
    match &a.run {
        Some(run) => after.insert("job_id".into(), serde_json::json!(run.id)),
        None => after.insert("status".into(), serde_json::json!("pending_review")),
    };
    let after = serde_json::Value::Object(after);
    audit(&mut tx, a.order, a.actor, a.audit_action, a.reason, after).await?;
    let out = CancelAcceptedOut {
        request_id: a.request_id,
        status: a
            .run
            .as_ref()
            .map_or_else(|| "pending_review".into(), |r| r.status.clone()),
        job: a.run.as_ref().map(JobOut::from_run),
    };
    let headers = vec![("location".into(), a.location)];
    let res = fresh
        .save(&mut tx, StatusCode::ACCEPTED, headers, &out)
        .await?;
    tx.commit().await?;
    match a.run {
        Some(run) => after_commit(state, &a.order.tenant_id, run.id, wait, res).await,
        None => Ok(res),
    }
}

/// After commit: deliver the trigger now, and with `Prefer: wait` hold the answer until
/// the job ends (200 with the final job) or the wait runs out (the 202 as accepted).
pub async fn after_commit(
    state: &AppState,
    tenant_id: &str,
    run_id: Uuid,
    wait: Option<std::time::Duration>,
    accepted: axum::response::Response,
) -> Result<axum::response::Response> {
    jobs::dispatch(state, run_id).await;
    let Some(wait) = wait.filter(|w| !w.is_zero()) else {
        return Ok(accepted);
    };
    match db::runs::wait_finished(&state.db, tenant_id, run_id, wait).await? {
        Some(run) if !matches!(run.status.as_str(), "queued" | "running") => {
            let (parts, _) = accepted.into_parts();
            let body = serde_json::to_vec(&CancelAcceptedOut {
                request_id: request_id_of(&run).unwrap_or(run.id),
                status: run.status.clone(),
                job: Some(JobOut::from_run(&run)),
            })
            .map_err(anyhow::Error::from)?;
            let mut res = axum::response::Response::from_parts(parts, axum::body::Body::from(body));
            *res.status_mut() = StatusCode::OK;
            Ok(res)
        }
        _ => Ok(accepted),
    }
}

fn request_id_of(run: &RunRow) -> Option<Uuid> {
    run.input
        .get("request_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}
