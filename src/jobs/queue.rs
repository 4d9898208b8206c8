//! `TriggerQueue`: the apalis `RedisStorage` that carries run triggers, plus what orderdesk
//! needs around it — bounded pushes, the worker wake-up channel, and the cleanup of
//! finished tasks.

use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use apalis_redis::{ConnectionManager, RedisStorage};
use futures::stream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::ids::RunId;

/// The payload of one apalis task: "run this workflow run". Everything else is in Postgres.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTrigger {
    pub run_id: RunId,
    /// The W3C `traceparent` of whoever pushed it (the accepting request), so the run and
    /// its upstream calls join that trace. A trigger without one (the relay's, the
    /// sweeper's) starts a trace of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// How many triggers may wait in Redis (scheduled + ready) before pushers hold back and
/// leave the rest in Postgres. apalis' `fetch_next.lua` promotes every due task with one
/// `unpack`, which fails past ~8,000 ids and kills every worker (APALIS-NOTES "burst
/// wedge"); at ≥ 1,000 runs/s, 2,000 waiting triggers are also only ~2 s of work.
pub const MAX_BACKLOG: u64 = 2_000;

/// Largest number of triggers pushed in one call.
pub const PUSH_BATCH: usize = 500;

/// Pushes run triggers to the apalis Redis queue `{redis_prefix}:runs`. Cheap to clone.
#[derive(Clone)]
pub struct TriggerQueue {
    storage: RedisStorage<RunTrigger>,
    conn: ConnectionManager,
    wake_channel: String,
}

impl TriggerQueue {
    pub fn new(cfg: &Config, conn: ConnectionManager) -> TriggerQueue {
        let queue = format!("{}:runs", cfg.redis_prefix);
        let config = apalis_redis::Config::default()
            .queue(&queue)
            // The lease lives in Postgres; apalis' LREM-based task locks only slow draining.
            .lock_tasks(false)
            // Results must be acked (it removes the task from the worker's in-flight set),
            // but nobody listens to apalis' per-task pub/sub events.
            .persist_results(true)
            .emit_events(false)
            // A dead worker's in-flight tasks are re-queued by a live one after 15 s; the
            // sweeper re-drives its runs from Postgres anyway.
            .heartbeat_interval(Duration::from_secs(5))
            .missed_heartbeats(3);
        TriggerQueue {
            storage: RedisStorage::new(conn.clone()).with_config(config),
            conn,
            wake_channel: format!("{queue}:wake"),
        }
    }

    /// The apalis configuration (queue name, heartbeat) workers must share.
    pub fn apalis_config(&self) -> &apalis_redis::Config {
        self.storage.get_config()
    }

    /// The pub/sub channel a push announces itself on, so idle workers fetch at once.
    pub fn wake_channel(&self) -> &str {
        &self.wake_channel
    }

    /// A storage over another connection (workers use their own, with a long timeout) that
    /// fetches up to `batch` triggers at a time.
    pub fn storage_with(&self, conn: ConnectionManager, batch: usize) -> RedisStorage<RunTrigger> {
        let config = self.apalis_config().clone().batch_size(batch.max(1));
        RedisStorage::new(conn).with_config(config)
    }

    /// Pushes one trigger per run (at most [`PUSH_BATCH`] per Redis call) and wakes idle
    /// workers. Each push gets a fresh apalis task id `{run_id}.{uuid}`: apalis ignores a push
    /// whose id it still holds, and a run may legitimately be pushed again (retry, lost
    /// trigger, dead worker).
    pub async fn push(&self, run_ids: &[RunId]) -> anyhow::Result<()> {
        let traceparent = crate::telemetry::current_traceparent();
        for chunk in run_ids.chunks(PUSH_BATCH) {
            let tasks = chunk.iter().map(|&run_id| {
                let id = format!("{}.{}", run_id.as_uuid().simple(), Uuid::now_v7().simple());
                let traceparent = traceparent.clone();
                TaskBuilder::new(RunTrigger {
                    run_id,
                    traceparent,
                })
                .task_id(TaskId::from_string(id))
                .build()
            });
            let mut storage = self.storage.clone();
            storage
                .push_all(stream::iter(tasks.collect::<Vec<_>>()))
                .await
                .map_err(|e| anyhow::anyhow!("cannot push run triggers to Redis: {e}"))?;
        }
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(&self.wake_channel)
            .arg(run_ids.len())
            .query_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// Triggers waiting in Redis: scheduled (every push lands there first) + ready.
    pub async fn backlog(&self) -> redis::RedisResult<u64> {
        let cfg = self.apalis_config();
        let mut conn = self.conn.clone();
        let (scheduled, ready): (u64, u64) = redis::pipe()
            .zcard(cfg.scheduled_jobs_set())
            .llen(cfg.active_jobs_list())
            .query_async(&mut conn)
            .await?;
        Ok(scheduled + ready)
    }

    /// How many triggers may be pushed now without passing [`MAX_BACKLOG`].
    pub async fn room(&self) -> redis::RedisResult<usize> {
        Ok(MAX_BACKLOG.saturating_sub(self.backlog().await?) as usize)
    }

    /// Deletes up to `batch` finished tasks (apalis keeps each task's data, metadata and
    /// done-set entry forever; `vacuum()` is unsafe, see APALIS-NOTES). Only tasks in the
    /// done set are touched, and orderdesk's handler always acks, so nothing live is lost.
    pub async fn prune_done(&self, batch: usize) -> redis::RedisResult<u64> {
        let cfg = self.apalis_config();
        let mut conn = self.conn.clone();
        PRUNE_SCRIPT
            .key(cfg.done_jobs_set())
            .key(cfg.job_data_hash())
            .key(cfg.job_meta_hash())
            .arg(batch.clamp(1, 5_000))
            .invoke_async(&mut conn)
            .await
    }
}

static PRUNE_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local ids = redis.call('SPOP', KEYS[1], ARGV[1])
if #ids == 0 then return 0 end
redis.call('HDEL', KEYS[2], unpack(ids))
for _, id in ipairs(ids) do redis.call('DEL', KEYS[3] .. ':' .. id) end
return #ids
",
    )
});
