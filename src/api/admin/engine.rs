//! The engine as a tenant's operator sees it: `GET /v1/admin/engine/queues` (the tenant's
//! runs per engine queue: waiting, running, throughput and failures of the last minutes)
//! and `GET /v1/admin/engine/workers` (the worker processes, shared by every tenant, with
//! the caller's tenant's runs in flight on each). The console's queues and workers pages
//! show the same figures. Not `GET /v1/admin/queues`: those are agents' work queues.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::authorized::{Authorized, can};
use crate::db;
use crate::domain::ids::TenantId;
use crate::error::Result;
use crate::state::AppState;
use crate::workers::registry::STALE_AFTER;

/// The window of `finished`, `failed` and the throughput.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The most worker processes listed (the registry holds a day of them at most).
const MAX_WORKERS: i64 = 500;

/// One engine queue, counting the caller's tenant's runs only.
#[derive(Debug, Serialize, ToSchema)]
pub struct EngineQueueOut {
    /// The queue's name (`workflows.toml`).
    pub queue: String,
    /// Runs waiting to be taken (including those in a retry's backoff).
    pub queued: i64,
    /// Of `queued`, those whose next attempt is later (a retry's backoff).
    pub delayed: i64,
    /// When the oldest waiting run was accepted, and how long ago in seconds.
    pub oldest_queued_at: Option<DateTime<Utc>>,
    pub oldest_queued_age_secs: Option<i64>,
    pub running: i64,
    /// Runs that ended within the last `window_minutes`, and of them the failed (failed or
    /// compensated) ones.
    pub finished: i64,
    pub failed: i64,
    /// `finished` per minute over the window.
    pub throughput_per_minute: f64,
    pub window_minutes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EngineQueueListOut {
    pub data: Vec<EngineQueueOut>,
}

/// A worker process (shared infrastructure) and the caller's tenant's runs on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerProcessOut {
    /// `{prefix}-{host}-{pid}-{random}`; its apalis workers are named
    /// `{prefix}-{queue}-{host}-{pid}-{random}`.
    pub name: String,
    pub host: String,
    pub pid: i32,
    /// The queues it takes runs from.
    pub queues: Vec<String>,
    /// Runs of each queue it executes at once.
    pub concurrency: i32,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub heartbeat_age_secs: i64,
    /// No heartbeat for over 30 s: the process died without cleaning up, or cannot reach
    /// the database.
    pub stale: bool,
    /// The caller's tenant's runs it is executing now.
    pub runs_in_flight: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerProcessListOut {
    pub data: Vec<WorkerProcessOut>,
}

/// The figures of every queue the workflows name, and of any other queue the tenant has
/// runs in (a queue since removed from `workflows.toml`).
pub async fn engine_queues(state: &AppState, tenant: &TenantId) -> Result<Vec<EngineQueueOut>> {
    let mut conn = state.db.acquire().await?;
    let rows = db::runs::queue_stats(&mut conn, tenant, WINDOW).await?;
    drop(conn);
    let now = Utc::now();
    let window_minutes = (WINDOW.as_secs() / 60) as i64;
    let mut by_queue: HashMap<String, db::runs::QueueStatsRow> =
        rows.into_iter().map(|r| (r.queue.clone(), r)).collect();
    let mut names: Vec<String> = state.queue.queues().to_vec();
    names.extend(
        by_queue
            .keys()
            .filter(|q| !names.contains(q))
            .cloned()
            .collect::<Vec<_>>(),
    );
    names.sort();
    Ok(names
        .into_iter()
        .map(|queue| {
            let row = by_queue.remove(&queue);
            let (queued, delayed, oldest, running, finished, failed) = row
                .map(|r| {
                    (
                        r.queued,
                        r.delayed,
                        r.oldest_queued_at,
                        r.running,
                        r.finished,
                        r.failed,
                    )
                })
                .unwrap_or_default();
            EngineQueueOut {
                queue,
                queued,
                delayed,
                oldest_queued_at: oldest,
                oldest_queued_age_secs: oldest.map(|at| (now - at).num_seconds().max(0)),
                running,
                finished,
                failed,
                throughput_per_minute: finished as f64 / window_minutes as f64,
                window_minutes,
            }
        })
        .collect())
}

/// The registered worker processes, the newest first, with the tenant's runs on each.
pub async fn worker_processes(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Vec<WorkerProcessOut>> {
    let mut conn = state.db.acquire().await?;
    let processes = db::worker_processes::list(&mut conn, MAX_WORKERS).await?;
    let owners: Vec<String> = processes
        .iter()
        .flat_map(|p| p.lease_owners.iter().cloned())
        .collect();
    let in_flight: HashMap<String, i64> =
        db::worker_processes::tenant_runs_in_flight(&mut conn, tenant, &owners)
            .await?
            .into_iter()
            .collect();
    let now = Utc::now();
    let stale_secs = STALE_AFTER.as_secs() as i64;
    Ok(processes
        .into_iter()
        .map(|p| {
            let age = (now - p.heartbeat_at).num_seconds().max(0);
            let runs_in_flight = p.lease_owners.iter().filter_map(|o| in_flight.get(o)).sum();
            WorkerProcessOut {
                name: p.name,
                host: p.host,
                pid: p.pid,
                queues: p.queues,
                concurrency: p.concurrency,
                started_at: p.started_at,
                heartbeat_at: p.heartbeat_at,
                heartbeat_age_secs: age,
                stale: age > stale_secs,
                runs_in_flight,
            }
        })
        .collect())
}

/// The tenant's runs per engine queue: waiting (and the oldest's age), running, and
/// finished and failed in the last 15 minutes with the throughput per minute. Every
/// queue the workflows name is listed, idle ones with zeros. Requires `jobs.read`.
#[utoipa::path(get, path = "/v1/admin/engine/queues", tag = "admin",
    security(("bearer" = ["jobs.read"])),
    responses((status = 200, body = EngineQueueListOut), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn list_engine_queues(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
) -> Result<Json<EngineQueueListOut>> {
    let data = engine_queues(&state, &agent.tenant_id).await?;
    Ok(Json(EngineQueueListOut { data }))
}

/// The worker processes running the engine (shared by every tenant): host, pid, queues,
/// concurrency and last heartbeat (`stale` after 30 s without one), with the caller's
/// tenant's runs in flight on each — never another tenant's. Requires `jobs.read`.
#[utoipa::path(get, path = "/v1/admin/engine/workers", tag = "admin",
    security(("bearer" = ["jobs.read"])),
    responses((status = 200, body = WorkerProcessListOut), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn list_engine_workers(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
) -> Result<Json<WorkerProcessListOut>> {
    let data = worker_processes(&state, &agent.tenant_id).await?;
    Ok(Json(WorkerProcessListOut { data }))
}
