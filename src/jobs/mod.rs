//! Starting workflow runs: `enqueue` writes the run, its steps and its trigger (outbox) in the
//! caller's transaction; `dispatch` pushes the trigger to apalis right after the commit.
//! Nothing is lost if Redis is down: the outbox relay delivers what `dispatch` could not.

pub mod cancellation;
mod queue;
pub mod shipment_notice;
pub mod transitions;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use tokio::time::timeout;

pub use queue::{
    AHEAD_PER_SEC, Depth, Lane, List, MAX_BACKLOG, PUSH_BATCH, Room, RunTrigger, TriggerQueue,
};

use crate::db;
use crate::db::runs::{NewRunRow, RunRow};
use crate::domain::ids::{CustomerId, RequestId, RunId, TenantId};
use crate::error::{Error, Result};
use crate::workflows::Registry;

/// A run to start.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub tenant_id: TenantId,
    /// A workflow of `workflows.toml`, e.g. `cancel_order`.
    pub kind: String,
    /// The order (or other resource) the run acts on.
    pub subject_id: Option<String>,
    /// Set for a customer's own request: the run is visible to that customer only.
    pub customer_id: Option<CustomerId>,
    /// Who asked (user id, API key id, `system`).
    pub requested_by: String,
    pub input: Value,
    /// The correlation id of the request that asked for the run, if any.
    pub correlation_id: Option<String>,
    /// Another queue than its workflow's (a bulk job's items wait in the bulk queue);
    /// `None`: the workflow's own.
    pub queue: Option<String>,
}

/// Inserts the run (uuid v7 id) with its steps (`skipped` where the step's `when` is false) and the trigger in the outbox, then NOTIFYs the relay — all in the
/// caller's transaction, which must be durable (it is the acceptance). Does not touch Redis:
/// call [`dispatch`] after the commit, or leave the trigger to the relay.
pub async fn enqueue(conn: &mut PgConnection, registry: &Registry, new: NewRun) -> Result<RunRow> {
    insert_run(conn, registry, new, true, None).await
}

/// As [`enqueue`], without the NOTIFY, for a caller that calls [`dispatch`] right after its
/// commit (the API's acceptance): the commits of transactions that NOTIFY are serialized by
/// PostgreSQL, which held an API's acceptances to one WAL flush each. The relay still finds
/// the trigger on its next scan should the process die before `dispatch`, and `dispatch`
/// wakes it when the push fails.
pub async fn enqueue_for_dispatch(
    conn: &mut PgConnection,
    registry: &Registry,
    new: NewRun,
) -> Result<RunRow> {
    insert_run(conn, registry, new, false, None).await
}

/// The request a run carries out: the statement that inserts the run moves it to `queued`
/// with that run (and `decided_by`, when given) — unless the request was opened `queued`
/// naming the run already (`reserved`): then the run takes that id, and the request is
/// updated only to set `decided_by`.
pub struct Carries<'a> {
    pub request: RequestId,
    pub decided_by: Option<&'a str>,
    pub reserved: Option<RunId>,
}

/// As [`enqueue_for_dispatch`], for the run that carries out a request (one round trip for
/// both).
pub async fn enqueue_for_request(
    conn: &mut PgConnection,
    registry: &Registry,
    new: NewRun,
    carries: Carries<'_>,
) -> Result<RunRow> {
    insert_run(conn, registry, new, false, Some(carries)).await
}

/// Inserts `runs` as [`enqueue`] inserts each, in one statement: a producer that accepts
/// many runs in one transaction (the hold-expiry scheduler, a batch of 100 in the bench)
/// pays one round trip and one plan for them all instead of one per run. Returns them in
/// order; the relay, announced at commit, delivers their triggers (or call [`dispatch`]).
pub async fn enqueue_many(
    conn: &mut PgConnection,
    registry: &Registry,
    runs: &[NewRun],
) -> Result<Vec<Started>> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let planned = runs
        .iter()
        .map(|new| queue_and_steps(registry, new))
        .collect::<Result<Vec<_>>>()?;
    let rows: Vec<NewRunRow> = runs
        .iter()
        .zip(&planned)
        .map(|(new, (queue, steps))| new_run_row(new, queue, steps, true, None))
        .collect();
    db::runs::insert_many(conn, &rows).await?;
    Ok(rows
        .iter()
        .map(|r| Started {
            id: r.id,
            queue: r.queue.to_string(),
            tenant_id: Some(r.tenant_id.clone()),
        })
        .collect())
}

async fn insert_run(
    conn: &mut PgConnection,
    registry: &Registry,
    new: NewRun,
    announce: bool,
    carries: Option<Carries<'_>>,
) -> Result<RunRow> {
    let (queue, steps) = queue_and_steps(registry, &new)?;
    let row = new_run_row(&new, queue, &steps, announce, carries.as_ref());
    Ok(db::runs::insert(conn, &row).await?)
}

/// `new`'s queue (its own, or its workflow's) and its workflow's steps, each with whether
/// it is skipped (its `when` false for the input); an unknown workflow is refused.
fn queue_and_steps<'r>(
    registry: &'r Registry,
    new: &'r NewRun,
) -> Result<(&'r str, Vec<(&'r str, bool)>)> {
    let Some(workflow) = registry.workflow(&new.kind) else {
        return Err(Error::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "workflow.unknown",
            format!("no workflow named {:?}", new.kind),
        ));
    };
    let steps = workflow
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), !workflow.step_applies(i, &new.input)))
        .collect();
    Ok((new.queue.as_deref().unwrap_or(&workflow.queue), steps))
}

fn new_run_row<'a>(
    new: &'a NewRun,
    queue: &'a str,
    steps: &'a [(&'a str, bool)],
    announce: bool,
    carries: Option<&'a Carries<'a>>,
) -> NewRunRow<'a> {
    NewRunRow {
        id: carries
            .and_then(|c| c.reserved)
            .unwrap_or_else(RunId::now_v7),
        tenant_id: &new.tenant_id,
        kind: &new.kind,
        subject_id: new.subject_id.as_deref(),
        customer_id: new.customer_id.as_ref(),
        requested_by: &new.requested_by,
        input: &new.input,
        steps,
        correlation_id: new.correlation_id.as_deref(),
        queue,
        announce,
        // a request opened naming this run needs no update, unless for `decided_by`
        request: carries
            .filter(|c| c.reserved.is_none() || c.decided_by.is_some())
            .map(|c| c.request),
        decided_by: carries.and_then(|c| c.decided_by),
    }
}

/// A run accepted in a transaction, to dispatch once it committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub id: RunId,
    /// Its workflow's queue.
    pub queue: String,
    /// Whose run it is: its trigger goes in that tenant's fresh lane ([`Lane::Fresh`]);
    /// `None`: behind the waiting ones.
    pub tenant_id: Option<TenantId>,
}

impl Started {
    /// A run of a workflow of the default queue, queued behind the waiting ones.
    pub fn interactive(id: RunId) -> Started {
        Started {
            id,
            queue: crate::workflows::spec::DEFAULT_QUEUE.to_string(),
            tenant_id: None,
        }
    }
}

impl From<&RunRow> for Started {
    fn from(run: &RunRow) -> Started {
        Started {
            id: run.id,
            queue: run.queue.clone(),
            tenant_id: Some(run.tenant_id.clone()),
        }
    }
}

/// Best effort, right after the caller committed [`enqueue`]: pushes the run's trigger to
/// apalis and records the push on the run (the relay then only removes its outbox row). On
/// any error (Redis down, queue full) it only logs and wakes the relay, which delivers the
/// trigger later.
pub async fn dispatch(pool: &PgPool, triggers: &TriggerQueue, run: &Started) {
    let pushed = match try_dispatch(pool, triggers, run).await {
        Ok(pushed) => pushed,
        Err(e) => {
            let run_id = run.id;
            tracing::warn!(job_id = %run_id, error = %format!("{e:#}"),
                "trigger not pushed now; the outbox relay will deliver it");
            false
        }
    };
    if !pushed && let Err(e) = db::outbox::announce(pool).await {
        tracing::warn!(error = %e, "cannot wake the outbox relay; it scans on its own");
    }
}

/// How long the request path may wait for Redis: a Redis outage (the connection manager
/// retries for seconds) must not hold the response that follows the commit.
const DISPATCH_TIMEOUT: Duration = Duration::from_millis(300);

/// True when the trigger is in Redis (pushed now).
///
/// The run is marked pushed (so the relay only removes its outbox row) after its trigger
/// is in Redis, never before: a relay pass that read a mark made before a push that then
/// failed would remove the outbox row, and the run would wait for a trigger nobody
/// delivers. The mark is off the pick-up path either way (the worker already has the
/// trigger). A relay pass that finds the run still queued and unmarked (between the push
/// and the mark) pushes its trigger again; the second claim finds the run leased or ended
/// and is acked, as any duplicate trigger is. A mark that fails only costs that duplicate.
async fn try_dispatch(
    pool: &PgPool,
    triggers: &TriggerQueue,
    run: &Started,
) -> anyhow::Result<bool> {
    let run_id = run.id;
    let trigger = [(run_id, run.queue.clone())];
    let lane = run.tenant_id.as_ref().map_or(Lane::Behind, Lane::Fresh);
    let held_back = timeout(DISPATCH_TIMEOUT, triggers.push_in(&trigger, lane)).await??;
    if !held_back.is_empty() {
        // the queue is full; the relay delivers when there is room
        return Ok(false);
    }
    let mark = async {
        let mut conn = pool.acquire().await?;
        db::runs::mark_dispatched(&mut conn, run_id).await
    };
    if let Err(e) = mark.await {
        tracing::debug!(job_id = %run_id, error = %e,
            "pushed but not marked: the relay may push this trigger again");
    }
    Ok(true)
}
