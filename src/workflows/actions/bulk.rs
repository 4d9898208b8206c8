//! Actions of `bulk_update_status`: select the orders (the admin search language) as the
//! job's items, then carry out each as a run of the action's own workflow (`hold_order`, …,
//! `cancel_order` for a cancel, with its request as force-cancel opens it) in the bulk
//! queue — judged, recorded and audited as the single-order endpoint does, under
//! an upstream Idempotency-Key of its own run. An item's child run is written in the same
//! transaction that marks the item started, so a crash never starts one twice; at most
//! [`TENANT_IN_FLIGHT`] items of a tenant run at once, across its bulk jobs, so a bulk job
//! never floods the upstream services that interactive work needs.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::db;
use crate::db::audit::{Actor, Entry};
use crate::db::runs::items::{self, ItemCounts};
use crate::domain::bulk::{BulkStatusInput, ItemChange, MAX_BULK_ORDERS, Requester};
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::{OrderId, RunId};
use crate::domain::order::Order;
use crate::domain::search::{Criteria, SearchError};
use crate::domain::transitions::OrderAction;
use crate::jobs;
use crate::jobs::cancellation::{self, CancelStarted, ForcedCancel};
use crate::jobs::transitions::{self, Started, Transition};
use crate::workflows::step::{StepCtx, StepError, with_result};
use serde::Deserialize;

/// Items of one tenant whose child run is under way at once, across its bulk jobs.
pub const TENANT_IN_FLIGHT: i64 = 16;
/// The queue the items' runs wait in (its workers are scaled apart from interactive ones).
pub const ITEM_QUEUE: &str = "bulk";
/// The action that starts the items' runs, in [`ITEM_QUEUE`] whatever queue its own
/// workflow names.
pub const PROCESS_ITEMS: &str = "bulk.process_items";
/// How often a job whose items are all under way looks again when no child run of its own
/// process ends (they may run in another worker process).
const IDLE: Duration = Duration::from_millis(100);
/// How often a running job counts its items and writes its progress: the count reads every
/// item (~6 ms for 10,000), and the loop turns about ten times a second; between two counts
/// it only asks whether any item is still open, which one index entry answers.
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// Selects the orders the input's criteria match as the job's items (at most
/// [`MAX_BULK_ORDERS`]; acceptance refused more, so more now is a permanent failure). Run
/// again after a crash, it keeps the items it chose the first time.
pub fn select_items(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: BulkStatusInput = ctx.input_as()?;
        let criteria = criteria(&input)?;
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let limit = MAX_BULK_ORDERS as i64 + 1;
        let ids = db::search::matching_ids(&mut conn, ctx.tenant(), &criteria, limit)
            .await
            .map_err(StepError::database)?;
        if ids.len() > MAX_BULK_ORDERS {
            return Err(StepError::permanent(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bulk.too_many_orders",
                format!("the filter matches more than {MAX_BULK_ORDERS} orders now"),
            ));
        }
        // a re-run (after a crash) keeps the items chosen first, whatever matches now
        let n = items::insert(&mut conn, ctx.run.id, ctx.tenant(), &ids, &[])
            .await
            .map_err(StepError::database)?;
        Ok(json!({ "items": n }))
    })
}

fn criteria(input: &BulkStatusInput) -> Result<Criteria, StepError> {
    let mut errors: Vec<SearchError> = Vec::new();
    let criteria = Criteria::parse(input.filter.as_ref(), input.text.as_deref(), &mut errors);
    match errors.first() {
        None => Ok(criteria),
        Some(e) => Err(StepError::invalid_input(&e.to_string())),
    }
}

/// Starts the pending items' runs (within the tenant's bound), takes the outcomes of those
/// that ended, and reports progress, until every item has an outcome — or, once a cancel is
/// asked for, stops starting items, marks the rest `cancelled` and stops.
pub fn process_items(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let requester: Requester = ctx.input_as()?;
        // a bulk job's change is the run's; an import's items carry their own
        let shared = ItemChange::deserialize(&ctx.run.input).ok();
        let input = Changes { requester, shared };
        let worker = ctx.run.lease_owner.clone().unwrap_or_default();
        let mut last_report: Option<Instant> = None;
        loop {
            // registered before looking, so a child run that ends meanwhile still wakes us
            let child_ended = ctx.state.run_ends.notified();
            tokio::pin!(child_ended);
            child_ended.as_mut().enable();
            let db = &ctx.state.db;
            let mut conn = db.acquire().await.map_err(StepError::database)?;
            items::settle(&mut conn, ctx.run.id)
                .await
                .map_err(StepError::database)?;
            if ctx.cancel_requested() {
                items::cancel_pending(&mut conn, ctx.run.id)
                    .await
                    .map_err(StepError::database)?;
                items::count_and_report(&mut conn, ctx.run.id, &worker)
                    .await
                    .map_err(StepError::database)?;
                return Err(StepError::cancelled());
            }
            drop(conn);
            let started = start_some(&ctx, &input).await?;
            let mut conn = db.acquire().await.map_err(StepError::database)?;
            let due = last_report.is_none_or(|at| at.elapsed() >= REPORT_EVERY);
            // not due: count only when nothing is open, to end on a fresh count
            if due
                || !items::any_open(&mut conn, ctx.run.id)
                    .await
                    .map_err(StepError::database)?
            {
                let counts = items::count_and_report(&mut conn, ctx.run.id, &worker)
                    .await
                    .map_err(StepError::database)?;
                last_report = Some(Instant::now());
                if counts.pending == 0 && counts.running == 0 {
                    return Ok(with_result(outcome(&counts), json!({})));
                }
            }
            if started == 0 {
                // child runs in another worker process wake nobody here: poll for those
                tokio::select! {
                    _ = child_ended => {}
                    _ = tokio::time::sleep(IDLE) => {}
                }
            }
        }
    })
}

fn outcome(c: &ItemCounts) -> Value {
    json!({ "items": { "total": c.finished(), "succeeded": c.succeeded, "failed": c.failed,
                       "skipped": c.skipped, "cancelled": c.cancelled } })
}

/// Who asked, and the change every item gets unless it carries its own.
struct Changes {
    requester: Requester,
    shared: Option<ItemChange>,
}

/// Starts up to the tenant's free room of pending items, one transaction each; returns how
/// many got an outcome or a run.
async fn start_some(ctx: &StepCtx<'_>, input: &Changes) -> Result<usize, StepError> {
    let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
    let running = items::running_of_tenant(&mut conn, ctx.tenant())
        .await
        .map_err(StepError::database)?;
    let room = TENANT_IN_FLIGHT - running;
    let mut n = 0;
    for _ in 0..room.max(0) {
        if ctx.cancel_requested() || !start_next(ctx, input, &mut conn).await? {
            break;
        }
        n += 1;
    }
    Ok(n)
}

/// Locks the next pending item and, in the same transaction, starts its run (or records
/// why it was skipped); false when none is pending.
async fn start_next(
    ctx: &StepCtx<'_>,
    input: &Changes,
    conn: &mut sqlx::PgConnection,
) -> Result<bool, StepError> {
    use sqlx::Acquire;
    let mut tx = conn.begin().await.map_err(StepError::database)?;
    let next = items::lock_pending(&mut tx, ctx.run.id, 1)
        .await
        .map_err(StepError::database)?;
    let Some(item) = next.into_iter().next() else {
        return Ok(false);
    };
    let idx = item.idx;
    let own = item.input.map(ItemChange::deserialize).transpose();
    let Some(change) = own.ok().flatten().or_else(|| input.shared.clone()) else {
        let (code, detail) = ("import.invalid_line", "the item names no change");
        items::set(
            &mut tx,
            ctx.run.id,
            idx,
            "failed",
            None,
            Some(code),
            Some(detail),
        )
        .await
        .map_err(StepError::database)?;
        tx.commit().await.map_err(StepError::database)?;
        return Ok(true);
    };
    let tenant = ctx.tenant();
    let order_id = OrderId::new(item.subject_id);
    let order = db::orders::get(&mut tx, tenant, &order_id, None)
        .await
        .map_err(StepError::database)?;
    let Some(order) = order else {
        let (code, detail) = (
            "order.not_found",
            "the order is no longer in the read model",
        );
        items::set(
            &mut tx,
            ctx.run.id,
            idx,
            "failed",
            None,
            Some(code),
            Some(detail),
        )
        .await
        .map_err(StepError::database)?;
        tx.commit().await.map_err(StepError::database)?;
        return Ok(true);
    };
    let mut started = None;
    match start_change(ctx, input, &mut tx, &order, &change).await? {
        ItemStart::Blocked(reason) => {
            let (code, detail) = (Some(reason.code.as_str()), Some(reason.message.as_str()));
            items::set(&mut tx, ctx.run.id, idx, "skipped", None, code, detail)
                .await
                .map_err(StepError::database)?;
        }
        ItemStart::Refused(reason) => {
            let (code, detail) = (Some(reason.code.as_str()), Some(reason.message.as_str()));
            items::set(&mut tx, ctx.run.id, idx, "failed", None, code, detail)
                .await
                .map_err(StepError::database)?;
        }
        ItemStart::Run { run_id, after } => {
            started = Some(jobs::Started {
                id: run_id,
                queue: ITEM_QUEUE.to_string(),
                // a bulk job's items are the burst other runs go ahead of
                tenant_id: None,
            });
            items::set(
                &mut tx,
                ctx.run.id,
                idx,
                "running",
                Some(run_id),
                None,
                None,
            )
            .await
            .map_err(StepError::database)?;
            let audit = AuditedItem {
                order: &order,
                change: &change,
                after,
            };
            audit_item(ctx, &input.requester, &mut tx, audit).await?;
        }
    }
    tx.commit().await.map_err(StepError::database)?;
    if let Some(run) = started {
        // at once, so items flow one by one as others end instead of in bursts of the
        // relay's passes
        jobs::dispatch(&ctx.state.db, &ctx.state.triggers, &run).await;
    }
    Ok(true)
}

/// How an item's change started: blocked (skipped with the reason), refused (failed: the
/// item itself is unusable), or a run with what the order's audit record says of it.
enum ItemStart {
    Blocked(BlockedReason),
    Refused(BlockedReason),
    Run { run_id: RunId, after: Value },
}

/// Starts `change` on `order` in the item's transaction, as the single-order endpoint
/// would: a status change through `jobs::transitions`, a cancellation as `force-cancel`
/// through `jobs::cancellation` (its request opened, its refund and restock as chosen).
async fn start_change(
    ctx: &StepCtx<'_>,
    input: &Changes,
    tx: &mut sqlx::PgConnection,
    order: &Order,
    change: &ItemChange,
) -> Result<ItemStart, StepError> {
    let registry = &ctx.state.workflows;
    let requested_by = input.requester.requested_by.as_str();
    let queue = Some(ITEM_QUEUE.to_string());
    if change.action == OrderAction::Cancel {
        let Some(choice) = change.cancel else {
            return Ok(ItemStart::Refused(BlockedReason {
                code: "bulk.invalid_item".into(),
                message: "a cancel item must say whether to refund and restock".into(),
            }));
        };
        let c = ForcedCancel {
            order,
            reason: &change.reason,
            refund: choice.refund,
            restock: choice.restock,
            requested_by,
            correlation_id: ctx.run.correlation_id.clone(),
            queue,
            expected_version: None,
        };
        return Ok(
            match cancellation::start(tx, registry, c)
                .await
                .map_err(item_error)?
            {
                CancelStarted::Blocked(reasons) => ItemStart::Blocked(reasons[0].clone()),
                CancelStarted::AlreadyOpen => ItemStart::Blocked(cancellation::already_open()),
                CancelStarted::Run { run, request, plan } => ItemStart::Run {
                    run_id: run.id,
                    after: json!({ "run_id": run.id, "request_id": request.id,
                    "refund": choice.refund, "restock": choice.restock,
                    "refund_minor": plan.refund_minor, "currency": plan.currency,
                    "bulk_job_id": ctx.run.id }),
                },
            },
        );
    }
    let expires_at = change
        .duration_minutes
        .map(|m| chrono::Utc::now() + chrono::Duration::minutes(i64::from(m)));
    let t = Transition {
        order,
        action: change.action,
        reason: &change.reason,
        expires_at,
        requested_by,
        correlation_id: ctx.run.correlation_id.clone(),
        queue,
        expected_version: None,
    };
    Ok(
        match transitions::start(tx, registry, t)
            .await
            .map_err(item_error)?
        {
            Started::Blocked(reason) => ItemStart::Blocked(reason),
            Started::Run { run, hold_id, .. } => ItemStart::Run {
                run_id: run.id,
                after: json!({ "run_id": run.id, "hold_id": hold_id, "bulk_job_id": ctx.run.id }),
            },
        },
    )
}

/// The order's audit record, as the single-order endpoint writes it, naming the bulk job.
struct AuditedItem<'a> {
    order: &'a Order,
    change: &'a ItemChange,
    after: Value,
}

async fn audit_item(
    ctx: &StepCtx<'_>,
    requester: &Requester,
    tx: &mut sqlx::PgConnection,
    item: AuditedItem<'_>,
) -> Result<(), StepError> {
    let AuditedItem {
        order,
        change,
        after,
    } = item;
    let (kind, id) = match requester.requested_by.split_once(':') {
        Some(("agent", id)) => ("agent", id),
        Some(("key", id)) => ("key", id),
        _ => ("system", requester.requested_by.as_str()),
    };
    let actor = Actor {
        kind,
        id: id.to_string(),
        roles: requester.roles.clone(),
        correlation_id: ctx.run.correlation_id.clone(),
        ..Actor::default()
    };
    // a bulk cancel is recorded as the forced cancellation it is
    let action = match change.action {
        OrderAction::Cancel => "order.force_cancelled".to_string(),
        a => format!("order.{}", a.as_str()),
    };
    let entry = Entry {
        action: &action,
        subject_type: "order",
        subject_id: order.id.as_str(),
        reason: Some(&change.reason),
        before: Some(json!({ "status": order.status })),
        after: Some(after),
        personal_data_of: Some(&order.customer_id),
    };
    db::audit::record(tx, ctx.tenant(), &actor, &entry)
        .await
        .map_err(StepError::database)?;
    Ok(())
}

/// A failure to start one item (the database) is retryable like any step's.
fn item_error(e: crate::error::Error) -> StepError {
    StepError::Retryable(Box::new(e.to_problem()))
}
