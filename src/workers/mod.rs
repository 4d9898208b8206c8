//! The worker process: the apalis worker that executes runs (supervised), the outbox relay,
//! and the lease sweeper/scheduler. All of them stop on the shutdown token.

mod limit;
mod relay;
pub mod sweeper;
mod wake;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::TriggerQueue;
use crate::workflows::WorkerCtx;

/// Bound on one Redis call of the relay and sweeper, so an outage (during which the
/// connection manager keeps retrying) delays a pass instead of stalling it.
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);

pub use crate::workflows::metrics;
pub use worker::FALLBACK_POLL;

/// What the relay and the sweeper run on: Postgres, the config and the trigger queue.
#[derive(Clone)]
pub struct DeliveryCtx {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub queue: Arc<TriggerQueue>,
}

/// How a worker process runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Runs executed at the same time by this process.
    pub concurrency: usize,
    /// Start of the apalis worker name (`{prefix}-{host}-{pid}-{random}`).
    pub name_prefix: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 50,
            name_prefix: "orderdesk".into(),
        }
    }
}

/// Runs the worker until `shutdown`, then lets in-flight runs finish. Redis or Postgres
/// outages are logged and retried, never fatal.
pub async fn run(
    state: WorkerCtx,
    queue: Arc<TriggerQueue>,
    opts: WorkerOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let wake = wake::WakeSignal::default();
    let listener = tokio::spawn(wake::listen(
        state.config.redis_url.clone(),
        queue.wake_channel().to_string(),
        wake.clone(),
        shutdown.clone(),
    ));
    let delivery = DeliveryCtx {
        db: state.db.clone(),
        config: state.config.clone(),
        queue: queue.clone(),
    };
    let relay = tokio::spawn(relay::run(delivery.clone(), shutdown.clone()));
    let sweeper = tokio::spawn(sweeper::run(delivery, shutdown.clone()));
    worker::supervise(state, queue, opts, wake, shutdown).await;
    for task in [listener, relay, sweeper] {
        task.await?;
    }
    Ok(())
}

/// Runs waiting to execute: queued and due (whether their trigger is still in the outbox,
/// in Redis, or about to be re-pushed). Across all tenants and processes.
pub async fn queue_depth(pool: &PgPool) -> anyhow::Result<u64> {
    let mut conn = pool.acquire().await?;
    Ok(crate::db::runs::count_due_queued(&mut conn).await? as u64)
}
