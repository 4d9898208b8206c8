//! The worker process: the apalis worker that executes runs (supervised), the outbox relay,
//! and the lease sweeper/scheduler. All of them stop on the shutdown token.

mod in_flight;
mod limit;
pub mod registry;
mod relay;
pub mod scheduler;
pub mod sweeper;
mod wake;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::{List, TriggerQueue};
use crate::workflows::WorkerCtx;

/// Bound on one Redis call of the relay and sweeper, so an outage (during which the
/// connection manager keeps retrying) delays a pass instead of stalling it.
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);

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
    /// Runs of each queue executed at the same time by this process (its waiting and its
    /// fresh list together).
    pub concurrency: usize,
    /// Start of the process's name in the registry (`{prefix}-{host}-{pid}-{random}`) and
    /// of its apalis workers' (`{prefix}-{queue}-{host}-{pid}-{random}`, and
    /// `{prefix}-{queue}-fresh-…` for a queue's fresh list).
    pub name_prefix: String,
    /// The queues this process takes runs from; empty: every queue of the workflows
    /// (`Registry::queues`).
    pub queues: Vec<String>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 50,
            name_prefix: "orderdesk".into(),
            queues: Vec::new(),
        }
    }
}

impl WorkerOptions {
    /// The queues to take, checked against those the workflows name: a typo in
    /// `--queues` must fail the start, not leave a queue without workers.
    pub fn queues_of(&self, triggers: &TriggerQueue) -> anyhow::Result<Vec<String>> {
        let known = triggers.queues();
        if self.queues.is_empty() {
            return Ok(known.to_vec());
        }
        let unknown: Vec<&str> = self
            .queues
            .iter()
            .filter(|q| !known.contains(q))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            anyhow::bail!(
                "--queues names {} that no workflow uses; the workflows' queues are {}",
                unknown.join(", "),
                known.join(", ")
            );
        }
        let mut queues = self.queues.clone();
        queues.sort();
        queues.dedup();
        Ok(queues)
    }
}

/// Runs the worker until `shutdown`; then in-flight runs finish their step and are handed
/// back, within `ORDERDESK_SHUTDOWN_GRACE_SECS` (see `in_flight`). Redis or Postgres outages
/// are logged and retried, never fatal.
pub async fn run(
    state: WorkerCtx,
    queue: Arc<TriggerQueue>,
    opts: WorkerOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let queues = opts.queues_of(&queue)?;
    let delivery = DeliveryCtx {
        // keyed statements only (outbox by id, runs by id and the `runs_due` index): a plan
        // made while the tables were empty must not scan them whole for ever after
        db: crate::db::keyed_lookup_pool(&state.db, 3),
        config: state.config.clone(),
        queue: queue.clone(),
    };
    // the relay and the sweeper deliver the triggers of every queue, whichever this
    // process takes: any worker process keeps the whole system moving
    let events = crate::events::EventsCtx {
        db: state.db.clone(),
        config: state.config.clone(),
        redis: queue.connection(),
    };
    // the events relay's statements are keyed too (unsent events by the partial index,
    // marks by id), for the trigger relay's reason: a generic plan made over an empty
    // outbox's statistics may otherwise scan the whole outbox on every pass (not seen in a
    // measurement: a guard, like the trigger relay's)
    let events_relay = crate::events::EventsCtx {
        db: crate::db::keyed_lookup_pool(&state.db, 2),
        ..events.clone()
    };
    let mut tasks = vec![
        tokio::spawn(crate::events::relay::run(events_relay, shutdown.clone())),
        tokio::spawn(crate::events::deliver::run(events, shutdown.clone())),
        tokio::spawn(relay::run(delivery.clone(), shutdown.clone())),
        tokio::spawn(sweeper::run(delivery, shutdown.clone())),
        tokio::spawn(scheduler::run(state.clone(), shutdown.clone())),
    ];
    let in_flight = in_flight::InFlight::default();
    // the process's row in the registry (the console's workers page): at start, on a
    // heartbeat, gone at a clean shutdown
    let registration = registry::Registration {
        name: worker::unique_name(&opts.name_prefix),
        host: worker::host_name(),
        queues: queues.clone(),
        concurrency: opts.concurrency,
    };
    tasks.push(tokio::spawn(registry::run(
        state.clone(),
        registration,
        in_flight.clone(),
        shutdown.clone(),
    )));
    tasks.push({
        let (in_flight, state, shutdown) = (in_flight.clone(), state.clone(), shutdown.clone());
        tokio::spawn(async move { in_flight.drain(&state, &shutdown).await })
    });
    for name in queues {
        // the queue's two lists share its slots: at most `concurrency` of its runs at once
        let slots = limit::slots(opts.concurrency);
        for list in List::BOTH {
            let wake = wake::WakeSignal::default();
            tasks.push(tokio::spawn(wake::listen(
                state.config.redis_url.clone(),
                queue.wake_channel(&name, list),
                wake.clone(),
                shutdown.clone(),
            )));
            let lane = worker::Lane {
                queue: name.clone(),
                list,
                slots: slots.clone(),
                wake,
                in_flight: in_flight.clone(),
            };
            tasks.push(tokio::spawn(worker::supervise(
                state.clone(),
                queue.clone(),
                opts.clone(),
                lane,
                shutdown.clone(),
            )));
        }
    }
    for task in tasks {
        task.await?;
    }
    Ok(())
}
