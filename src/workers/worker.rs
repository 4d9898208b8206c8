//! The apalis worker that turns run triggers into `engine::execute`, and the supervisor that
//! restarts it (fresh connection, fresh name, backoff) whenever it dies — a Redis restart or
//! stall kills an apalis worker, and must not kill the process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis::prelude::{BackendExt, BoxDynError, Data, Strategy, WorkerBuilder};
use backon::{BackoffBuilder, ExponentialBuilder};
use redis::aio::ConnectionManagerConfig;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, warn};

use super::WorkerOptions;
use super::in_flight::InFlight;
use super::limit::{ConcurrencyLimitLayer, Slots};
use super::wake::WakeSignal;
use crate::jobs::{List, RunTrigger, TriggerQueue};
use crate::workflows::WorkerCtx;

/// How often an idle worker polls Redis when no wake-up arrives: the worst-case pickup
/// after a lost wake-up, at ~20 cheap Lua calls per second per idle worker.
pub const FALLBACK_POLL: Duration = Duration::from_millis(50);
/// redis-rs answers a stall after 500 ms with an error that kills the apalis worker
/// (apalis-redis#76); a worker's connection waits longer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Handler {
    state: WorkerCtx,
    worker: String,
    in_flight: InFlight,
    /// The queue's slots, shared with its other list's worker.
    slots: Slots,
    shutdown: CancellationToken,
}

const MAX_RESTART_DELAY: Duration = Duration::from_secs(10);

/// The pauses between restarts of a dying apalis worker: 100 ms doubling to 10 s, with
/// jitter so the workers of a fleet do not all reconnect to a restarted Redis at once.
fn restart_delays() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(MAX_RESTART_DELAY)
        .with_jitter()
        .without_max_times()
        .build()
}

/// How many fresh triggers one worker holds fetched at a time: the fresh list is short
/// (a tenant puts at most `jobs::AHEAD_PER_SEC` there a second) and each of its runs waits
/// for a slot of the queue's.
const FRESH_BATCH: usize = 8;

/// One list of a queue a worker process takes: its wake-up signal, the queue's slots (shared
/// by its two lists), and the process's runs in flight.
pub(super) struct Lane {
    pub(super) queue: String,
    pub(super) list: List,
    pub(super) slots: Slots,
    pub(super) wake: WakeSignal,
    pub(super) in_flight: InFlight,
}

/// Restarts the apalis worker of `lane`'s queue until `shutdown`, with a backoff from 100 ms
/// to 10 s (reset after a worker lived a minute).
pub(super) async fn supervise(
    state: WorkerCtx,
    queue: Arc<TriggerQueue>,
    opts: WorkerOptions,
    lane: Lane,
    shutdown: CancellationToken,
) {
    let mut delays = restart_delays();
    let Lane {
        queue: queue_name,
        list,
        slots,
        wake,
        in_flight,
    } = lane;
    let batch = match list {
        List::Waiting => opts.concurrency,
        List::Fresh => FRESH_BATCH.min(opts.concurrency),
    };
    let list_name = match list {
        List::Waiting => queue_name.clone(),
        List::Fresh => format!("{queue_name}-fresh"),
    };
    while !shutdown.is_cancelled() {
        let name = unique_name(&format!("{}-{list_name}", opts.name_prefix));
        in_flight.add_worker(&name);
        let started = Instant::now();
        info!(worker = %name, queue = %queue_name, list = ?list,
            concurrency = opts.concurrency, "apalis worker starting");
        let handler = Handler {
            state: state.clone(),
            worker: name.clone(),
            in_flight: in_flight.clone(),
            slots: slots.clone(),
            shutdown: shutdown.clone(),
        };
        let fetch = Fetch {
            queue: &queue_name,
            list,
            batch,
        };
        match run_once(handler, &queue, fetch, wake.clone()).await {
            Ok(()) if shutdown.is_cancelled() => break,
            Ok(()) => warn!(worker = %name, "apalis worker stopped by itself; restarting"),
            Err(e) => {
                warn!(worker = %name, error = %format!("{e:#}"), "apalis worker died; restarting")
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            delays = restart_delays();
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delays.next().unwrap_or(MAX_RESTART_DELAY)) => {}
        }
    }
    info!(queue = %queue_name, list = ?list, "apalis worker supervisor stopped");
}

/// What one apalis worker fetches: from which list, and how many at a time (and so how many
/// it holds fetched, see `limit`).
struct Fetch<'a> {
    queue: &'a str,
    list: List,
    batch: usize,
}

async fn run_once(
    handler: Handler,
    queue: &TriggerQueue,
    fetch: Fetch<'_>,
    wake: WakeSignal,
) -> anyhow::Result<()> {
    let state = &handler.state;
    let client = redis::Client::open(state.config.redis_url.as_str())?;
    let conn = client
        .get_connection_manager_with_config(
            ConnectionManagerConfig::new()
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_connection_timeout(Some(Duration::from_secs(2))),
        )
        .await?;
    let backend = queue
        .storage_with(fetch.queue, fetch.list, conn, fetch.batch.clamp(1, 100))
        .poll_with_strategy(Strategy::new().stream(wake).interval(FALLBACK_POLL));
    let name = handler.worker.clone();
    let shutdown = handler.shutdown.clone();
    let worker = WorkerBuilder::new(name.as_str())
        .backend(backend)
        .layer(ConcurrencyLimitLayer::new(fetch.batch))
        .data(handler)
        .build(handle);
    worker
        .run_until(async move {
            shutdown.cancelled().await;
            Ok::<(), std::io::Error>(())
        })
        .await?;
    Ok(())
}

/// Records every outcome in Postgres and always acks: apalis' retry counter, dead set and
/// orphan recovery are never relied on.
async fn handle(trigger: RunTrigger, h: Data<Handler>) -> Result<(), BoxDynError> {
    let Handler {
        state,
        worker,
        in_flight,
        slots,
        shutdown,
    } = (*h).clone();
    let run_id = trigger.run_id;
    // the run joins the trace of the request that accepted it
    let span = match &trigger.traceparent {
        Some(traceparent) => {
            let span = tracing::info_span!("trigger", job_id = %run_id);
            crate::telemetry::set_parent_from_traceparent(&span, traceparent);
            span
        }
        None => tracing::Span::none(),
    };
    let execution = in_flight.execute(state, run_id, worker, slots, shutdown);
    match execution.instrument(span).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => error!(job_id = %run_id, error = %format!("{e:#}"),
            "run execution failed; the sweeper re-drives it when its lease expires"),
        Err(e) => error!(job_id = %run_id, error = %e, "run execution panicked"),
    }
    Ok(())
}

/// `{prefix}-{queue}-{host}-{pid}-{random}` (the caller puts the queue in the prefix): unique per process and per restart, as apalis' orphan
/// recovery requires (a reused name is refused for one heartbeat, or breaks recovery).
pub(super) fn unique_name(prefix: &str) -> String {
    let host = host_name();
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{host}-{}-{}", std::process::id(), &id[..8])
}

/// This machine's name (`HOSTNAME`, else the kernel's), or `host`.
pub(super) fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_delays_grow_from_100ms_and_stay_bounded() {
        let delays: Vec<Duration> = restart_delays().take(20).collect();
        assert_eq!(delays.len(), 20, "never runs out");
        // jitter adds up to the delay itself
        assert!((Duration::from_millis(100)..Duration::from_millis(200)).contains(&delays[0]));
        assert!(delays[5] >= Duration::from_millis(3200));
        assert!(delays.iter().all(|d| *d < MAX_RESTART_DELAY * 2));
    }
}
