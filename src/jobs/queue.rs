//! `TriggerQueue`: the apalis `RedisStorage`s that carry run triggers, one per named queue,
//! plus what orderdesk needs around them — bounded pushes, the workers' wake-up channels,
//! and the cleanup of finished tasks.

use std::collections::BTreeMap;
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

/// Pushes run triggers to the apalis Redis queues, one per named queue of `workflows.toml`
/// (`{redis_prefix}:runs:{queue}`). Cheap to clone.
#[derive(Clone)]
pub struct TriggerQueue {
    prefix: String,
    /// The queues the workflows name (a run's row may name another, e.g. after a queue was
    /// renamed: it is pushed there all the same).
    queues: Vec<String>,
    conn: ConnectionManager,
}

impl TriggerQueue {
    pub fn new(cfg: &Config, conn: ConnectionManager, queues: Vec<String>) -> TriggerQueue {
        TriggerQueue {
            prefix: cfg.redis_prefix.clone(),
            queues,
            conn,
        }
    }

    /// The Redis connection, for other writers of the same Redis (the events stream).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The queues the workflows name, sorted.
    pub fn queues(&self) -> &[String] {
        &self.queues
    }

    /// The apalis sets that register each queue's workers (for cleanups).
    pub fn workers_sets(&self) -> Vec<String> {
        self.queues
            .iter()
            .map(|q| self.apalis_config(q).workers_set())
            .collect()
    }

    /// The apalis configuration (queue name, heartbeat) the pushers and workers of `queue`
    /// share.
    pub fn apalis_config(&self, queue: &str) -> apalis_redis::Config {
        apalis_redis::Config::default()
            .queue(format!("{}:runs:{queue}", self.prefix))
            // The lease lives in Postgres; apalis' LREM-based task locks only slow draining.
            .lock_tasks(false)
            // Results must be acked (it removes the task from the worker's in-flight set),
            // but nobody listens to apalis' per-task pub/sub events.
            .persist_results(true)
            .emit_events(false)
            // A dead worker's in-flight tasks are re-queued by a live one after 15 s; the
            // sweeper re-drives its runs from Postgres anyway.
            .heartbeat_interval(Duration::from_secs(5))
            .missed_heartbeats(3)
    }

    /// The pub/sub channel a push to `queue` announces itself on, so idle workers fetch at
    /// once.
    pub fn wake_channel(&self, queue: &str) -> String {
        format!("{}:runs:{queue}:wake", self.prefix)
    }

    /// A storage of `queue` over another connection (workers use their own, with a long
    /// timeout) that fetches up to `batch` triggers at a time.
    pub fn storage_with(
        &self,
        queue: &str,
        conn: ConnectionManager,
        batch: usize,
    ) -> RedisStorage<RunTrigger> {
        let config = self.apalis_config(queue).batch_size(batch.max(1));
        RedisStorage::new(conn).with_config(config)
    }

    /// Pushes one trigger per run to its queue (at most [`PUSH_BATCH`] per Redis call) and
    /// wakes idle workers of each queue. Each push gets a fresh apalis task id
    /// `{run_id}.{uuid}`: apalis ignores a push whose id it still holds, and a run may
    /// legitimately be pushed again (retry, lost trigger, dead worker).
    pub async fn push(&self, runs: &[(RunId, String)]) -> anyhow::Result<()> {
        let mut by_queue: BTreeMap<&str, Vec<RunId>> = BTreeMap::new();
        for (id, queue) in runs {
            by_queue.entry(queue.as_str()).or_default().push(*id);
        }
        for (queue, ids) in by_queue {
            self.push_to(queue, &ids).await?;
        }
        Ok(())
    }

    async fn push_to(&self, queue: &str, run_ids: &[RunId]) -> anyhow::Result<()> {
        let traceparent = crate::telemetry::current_traceparent();
        let storage = RedisStorage::new(self.conn.clone()).with_config(self.apalis_config(queue));
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
            let mut storage = storage.clone();
            storage
                .push_all(stream::iter(tasks.collect::<Vec<_>>()))
                .await
                .map_err(|e| anyhow::anyhow!("cannot push run triggers to Redis: {e}"))?;
        }
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(self.wake_channel(queue))
            .arg(run_ids.len())
            .query_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// Triggers waiting in Redis in `queue`: scheduled (every push lands there first) +
    /// ready.
    pub async fn backlog(&self, queue: &str) -> redis::RedisResult<u64> {
        let cfg = self.apalis_config(queue);
        let mut conn = self.conn.clone();
        let (scheduled, ready): (u64, u64) = redis::pipe()
            .zcard(cfg.scheduled_jobs_set())
            .llen(cfg.active_jobs_list())
            .query_async(&mut conn)
            .await?;
        Ok(scheduled + ready)
    }

    /// The backlog of every queue the workflows name, in one round trip.
    pub async fn backlogs(&self) -> redis::RedisResult<BTreeMap<String, u64>> {
        let mut pipe = redis::pipe();
        for queue in &self.queues {
            let cfg = self.apalis_config(queue);
            pipe.zcard(cfg.scheduled_jobs_set())
                .llen(cfg.active_jobs_list());
        }
        let mut conn = self.conn.clone();
        let counts: Vec<u64> = pipe.query_async(&mut conn).await?;
        Ok(self
            .queues
            .iter()
            .zip(counts.chunks(2))
            .map(|(q, c)| (q.clone(), c.iter().sum()))
            .collect())
    }

    /// How many triggers may be pushed to `queue` now without passing [`MAX_BACKLOG`].
    pub async fn room(&self, queue: &str) -> redis::RedisResult<usize> {
        Ok(room_left(self.backlog(queue).await?))
    }

    /// Deletes up to `batch` finished tasks of each queue (apalis keeps each task's data,
    /// metadata and done-set entry forever; `vacuum()` is unsafe, see APALIS-NOTES). Only
    /// tasks in the done set are touched, and orderdesk's handler always acks, so nothing
    /// live is lost. Returns the most deleted from one queue.
    pub async fn prune_done(&self, batch: usize) -> redis::RedisResult<u64> {
        let mut most = 0;
        for queue in &self.queues {
            let cfg = self.apalis_config(queue);
            let mut conn = self.conn.clone();
            let n: u64 = PRUNE_SCRIPT
                .key(cfg.done_jobs_set())
                .key(cfg.job_data_hash())
                .key(cfg.job_meta_hash())
                .arg(batch.clamp(1, 5_000))
                .invoke_async(&mut conn)
                .await?;
            most = most.max(n);
        }
        Ok(most)
    }
}

/// Room left under [`MAX_BACKLOG`] for a queue holding `backlog` triggers.
pub fn room_left(backlog: u64) -> usize {
    MAX_BACKLOG.saturating_sub(backlog) as usize
}

/// The room of the queues, from their backlogs: the pushers leave out the full ones and
/// push at most the largest room left in one pass.
pub struct Room {
    /// The queues at their backlog cap.
    pub full: Vec<String>,
    /// The most room any queue has left (0: every queue is full).
    pub most: usize,
}

impl Room {
    pub fn of(backlogs: &BTreeMap<String, u64>) -> Room {
        Room {
            full: backlogs
                .iter()
                .filter(|(_, b)| room_left(**b) == 0)
                .map(|(q, _)| q.clone())
                .collect(),
            most: backlogs.values().map(|b| room_left(*b)).max().unwrap_or(0),
        }
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
