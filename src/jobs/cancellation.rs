//! Starting an agent's forced cancellation of one order as a `cancel_order` run, in the
//! caller's transaction: the one place for the single-order `force-cancel` and a long job's
//! item (a bulk cancel, an import's cancel line) alike. The order is judged (its status, a
//! legal hold), the request opened or the one waiting for review taken over (one open
//! cancellation per order, so a bulk item and a single force-cancel never both cancel),
//! the run enqueued with the request. The other cancel endpoints share [`plan`].

use sqlx::PgConnection;

use super::{Carries, NewRun, enqueue_for_request};
use crate::db;
use crate::db::requests::{NewRequest, OpenedEvent, RequestRow};
use crate::db::runs::RunRow;
use crate::domain::cancel::{
    BlockedReason, CancelPlan, CancelRunInput, Canceller, REQUEST_KIND, WORKFLOW, plan_cancel,
};
use crate::domain::order::Order;
use crate::domain::request::RequestStatus;
use crate::domain::settings::TenantSettings;
use crate::domain::transitions::legal_hold_blocks;
use crate::error::Result;
use crate::workflows::Registry;

/// The plan of cancelling `order` now by `who` under the tenant's `settings`, a legal hold
/// in force blocking it first.
pub async fn plan(
    conn: &mut PgConnection,
    order: &Order,
    settings: &TenantSettings,
    who: Canceller,
    refund: bool,
    restock: bool,
) -> Result<CancelPlan> {
    let mut plan = plan_cancel(order, settings, who, refund, restock, chrono::Utc::now());
    if db::holds::of_order(conn, &order.tenant_id, &order.id)
        .await?
        .legal
        .is_some()
    {
        plan.blocked_reasons.insert(0, legal_hold_blocks());
    }
    Ok(plan)
}

/// The forced cancellation of `order` as [`start`] would judge it now, starting nothing: its
/// plan and, when it would not start, why (the plan's first blocked reason, or
/// [`already_open`]). A bulk cancel's dry run judges each order with it.
pub async fn judge(
    conn: &mut PgConnection,
    order: &Order,
    settings: &TenantSettings,
    refund: bool,
    restock: bool,
) -> Result<(CancelPlan, Option<BlockedReason>)> {
    let plan = plan(conn, order, settings, Canceller::Agent, refund, restock).await?;
    let verdict = match plan.blocked_reasons.first() {
        Some(first) => Some(first.clone()),
        None => db::requests::in_progress(conn, &order.tenant_id, &order.id, REQUEST_KIND)
            .await?
            .then(already_open),
    };
    Ok((plan, verdict))
}

/// An agent's forced cancellation to start.
pub struct ForcedCancel<'a> {
    pub order: &'a Order,
    pub reason: &'a str,
    pub refund: bool,
    pub restock: bool,
    /// The agent (or key) who asked: the run's `requested_by` and the request's decider.
    pub requested_by: &'a str,
    pub correlation_id: Option<String>,
    /// Another queue than the workflow's own (a bulk job's items wait in the bulk queue).
    pub queue: Option<String>,
    /// The version the Orders service must still be at (an agent's precondition named it).
    pub expected_version: Option<i64>,
}

/// What starting a forced cancellation did.
#[derive(Debug)]
pub enum CancelStarted {
    Run {
        run: Box<RunRow>,
        request: Box<RequestRow>,
        plan: CancelPlan,
    },
    /// Not started: the plan's blocked reasons, the first deciding (never empty).
    Blocked(Vec<BlockedReason>),
    /// Not started: another cancellation of the order is approved or running.
    AlreadyOpen,
}

/// Why a forced cancellation does not start while another of the order is approved or
/// running (`request.already_open`).
pub fn already_open() -> BlockedReason {
    BlockedReason {
        code: "request.already_open".into(),
        message: "a cancellation of this order is already running".into(),
    }
}

/// Judges the forced cancellation under the lock on the order's holds (so a legal hold
/// placed at the same time is seen) and, when allowed, opens its request (or takes over
/// the one waiting for review), enqueues the run and records `admin.cancelled`. The caller
/// dispatches the run after its commit (`jobs::dispatch`; the relay is not woken).
pub async fn start(
    conn: &mut PgConnection,
    registry: &Registry,
    c: ForcedCancel<'_>,
) -> Result<CancelStarted> {
    let order = c.order;
    db::holds::lock_order(conn, &order.tenant_id, &order.id).await?;
    let settings = db::tenants::settings(conn, &order.tenant_id).await?;
    let plan = plan(
        conn,
        order,
        &settings,
        Canceller::Agent,
        c.refund,
        c.restock,
    )
    .await?;
    if plan.is_blocked() {
        return Ok(CancelStarted::Blocked(plan.blocked_reasons));
    }
    let mut input = CancelRunInput {
        order_id: order.id.clone(),
        reason: Some(c.reason.to_string()),
        refund: c.refund,
        restock: c.restock,
        canceller: Canceller::Agent,
        request_id: None,
        expected_version: c.expected_version,
    };
    let Some(request) = request_of(conn, &c, &input).await? else {
        return Ok(CancelStarted::AlreadyOpen);
    };
    input.request_id = Some(request.id);
    let new = NewRun {
        tenant_id: order.tenant_id.clone(),
        kind: WORKFLOW.into(),
        subject_id: Some(order.id.as_str().into()),
        customer_id: Some(order.customer_id.clone()),
        requested_by: c.requested_by.into(),
        input: serde_json::to_value(&input).map_err(anyhow::Error::from)?,
        correlation_id: c.correlation_id.clone(),
        queue: c.queue.clone(),
    };
    let carries = Carries {
        request: request.id,
        decided_by: Some(c.requested_by),
        reserved: None,
    };
    let run = enqueue_for_request(conn, registry, new, carries).await?;
    Ok(CancelStarted::Run {
        run: Box::new(run),
        request: Box::new(request),
        plan,
    })
}

/// The request the cancellation carries out: the customer's one waiting for review, or a
/// new one approved by the agent (after closing an open one whose run already ended);
/// `None` while another is approved or running.
async fn request_of(
    conn: &mut PgConnection,
    c: &ForcedCancel<'_>,
    input: &CancelRunInput,
) -> Result<Option<RequestRow>> {
    let (order, tenant) = (c.order, &c.order.tenant_id);
    let open = db::requests::open_for_order(conn, tenant, &order.id, REQUEST_KIND).await?;
    if let Some(reviewed) = open.filter(|r| r.status == RequestStatus::PendingReview) {
        return Ok(Some(reviewed));
    }
    let input = serde_json::to_value(input).map_err(anyhow::Error::from)?;
    let new = NewRequest {
        tenant_id: tenant,
        kind: REQUEST_KIND,
        order_id: order.id.as_str(),
        customer_id: &order.customer_id,
        status: RequestStatus::Approved,
        input: &input,
        run_id: None,
        decided_by: Some(c.requested_by),
        event: OpenedEvent {
            type_: "admin.cancelled",
            by: c.requested_by,
            order_id: Some(order.id.as_str()),
        },
    };
    let mut row = db::requests::insert(conn, &new).await?;
    if row.is_none()
        && db::requests::close_if_run_finished(conn, tenant, order.id.as_str(), REQUEST_KIND)
            .await?
    {
        row = db::requests::insert(conn, &new).await?;
    }
    Ok(row)
}
