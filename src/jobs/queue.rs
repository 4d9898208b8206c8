//! `TriggerQueue`: the apalis `RedisStorage`s that carry run triggers, two per named queue
//! (its waiting and its fresh list, see [`List`]), plus what orderdesk needs around them —
//! bounded pushes, the workers' wake-up channels, and the cleanup of finished tasks.

use std::collections::BTreeMap;
use std::time::Duration;

use apalis_redis::{ConnectionManager, RedisStorage};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::ids::{RunId, TenantId};

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

/// How many fresh triggers a tenant may put ahead of a queue's waiting ones within a second
/// (see [`Lane::Fresh`]): above an interactive tenant's rate (the bench's pick-up probes,
/// 20 ms apart, send at most 50/s), below a burst's.
pub const AHEAD_PER_SEC: u32 = 100;

/// Where a push puts its triggers in their queue.
#[derive(Debug, Clone, Copy)]
pub enum Lane<'a> {
    /// Behind every trigger waiting, in order: the relay's and the sweeper's catch-up.
    Behind,
    /// Runs just accepted for this tenant. While the tenant has put fewer than
    /// [`AHEAD_PER_SEC`] triggers ahead in this queue within the last second, the trigger
    /// goes to the queue's fresh list ([`List::Fresh`]), which a worker of its own fetches
    /// at once and whose runs take the next free slot of the queue (`workers::limit`) — so
    /// a tenant asking for little finds a worker at once behind another tenant's backlog or
    /// burst, even when the waiting list is full. Past that, it queues behind like the
    /// rest, in order. Nothing goes ahead while the fresh list holds [`MAX_BACKLOG`]: an
    /// overload of fresh triggers cannot grow it without bound.
    Fresh(&'a TenantId),
}

/// The two lists of one queue's triggers, each an apalis queue of its own with its own
/// worker in each worker process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// Every trigger but the fresh ones, in order (`{prefix}:runs:{queue}`).
    Waiting,
    /// Triggers put ahead ([`Lane::Fresh`]), in order (`{prefix}:runs:{queue}:fresh`): a
    /// fetched batch of the waiting list never stands in front of them.
    Fresh,
}

impl List {
    pub const BOTH: [List; 2] = [List::Waiting, List::Fresh];
}

/// Pushes run triggers to the apalis Redis queues, one per queue of the workflows
/// (`Registry::queues`: those `workflows.toml` names, and the bulk items' when a workflow
/// starts items), `{redis_prefix}:runs:{queue}`. Cheap to clone.
#[derive(Clone)]
pub struct TriggerQueue {
    prefix: String,
    /// The workflows' queues (`Registry::queues`). A run's row may name another, e.g. after
    /// a queue was renamed: `dispatch` and the sweeper push it there all the same, and the
    /// relay leaves its trigger in the outbox until a workflow names that queue again.
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

    /// The workflows' queues (`Registry::queues`), sorted.
    pub fn queues(&self) -> &[String] {
        &self.queues
    }

    /// The apalis sets that register each queue's workers (for cleanups).
    pub fn workers_sets(&self) -> Vec<String> {
        self.lists()
            .map(|(q, list)| self.apalis_config_of(q, list).workers_set())
            .collect()
    }

    /// Every list of every queue.
    fn lists(&self) -> impl Iterator<Item = (&str, List)> {
        self.queues
            .iter()
            .flat_map(|q| List::BOTH.map(|list| (q.as_str(), list)))
    }

    /// The apalis configuration (queue name, heartbeat) the pushers and workers of `queue`'s
    /// waiting list share.
    pub fn apalis_config(&self, queue: &str) -> apalis_redis::Config {
        self.apalis_config_of(queue, List::Waiting)
    }

    /// The apalis configuration of one list of `queue`.
    pub fn apalis_config_of(&self, queue: &str, list: List) -> apalis_redis::Config {
        let name = match list {
            List::Waiting => format!("{}:runs:{queue}", self.prefix),
            // `:` is not in a queue's name (`workflows::spec::is_queue_name`): no queue's
            // keys are another's
            List::Fresh => format!("{}:runs:{queue}:fresh", self.prefix),
        };
        apalis_redis::Config::default()
            .queue(name)
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

    /// The pub/sub channel a push to `list` of `queue` announces itself on, so idle
    /// workers fetch at once.
    pub fn wake_channel(&self, queue: &str, list: List) -> String {
        match list {
            List::Waiting => format!("{}:runs:{queue}:wake", self.prefix),
            List::Fresh => format!("{}:runs:{queue}:fresh:wake", self.prefix),
        }
    }

    /// A storage of `list` of `queue` over another connection (workers use their own, with
    /// a long timeout) that fetches up to `batch` triggers at a time.
    pub fn storage_with(
        &self,
        queue: &str,
        list: List,
        conn: ConnectionManager,
        batch: usize,
    ) -> RedisStorage<RunTrigger> {
        let config = self.apalis_config_of(queue, list).batch_size(batch.max(1));
        RedisStorage::new(conn).with_config(config)
    }

    /// Pushes one trigger per run to its queue (at most [`PUSH_BATCH`] per Redis call) and
    /// wakes idle workers of each queue. A queue whose backlog is at [`MAX_BACKLOG`] takes
    /// none: its runs are returned, held back (the caller leaves them to the relay or the
    /// sweeper). Each push gets a fresh apalis task id `{run_id}.{uuid}`: apalis ignores a push
    /// whose id it still holds, and a run may legitimately be pushed again (retry, lost
    /// trigger, dead worker).
    pub async fn push(&self, runs: &[(RunId, String)]) -> anyhow::Result<Vec<RunId>> {
        self.push_in(runs, Lane::Behind).await
    }

    /// As [`Self::push`], in `lane`.
    pub async fn push_in(
        &self,
        runs: &[(RunId, String)],
        lane: Lane<'_>,
    ) -> anyhow::Result<Vec<RunId>> {
        let mut by_queue: BTreeMap<&str, Vec<RunId>> = BTreeMap::new();
        for (id, queue) in runs {
            by_queue.entry(queue.as_str()).or_default().push(*id);
        }
        let mut held_back = Vec::new();
        for (queue, ids) in by_queue {
            for chunk in ids.chunks(PUSH_BATCH) {
                if !self.push_to(queue, chunk, lane).await? {
                    held_back.extend_from_slice(chunk);
                }
            }
        }
        Ok(held_back)
    }

    /// One call of [`PUSH_SCRIPT`]: the lane, the backlog check, the triggers and the
    /// wake-up in one round trip (apalis' `push_all` beside a backlog check and a PUBLISH
    /// took three, on the path from an acceptance's commit to a worker's pick-up). False:
    /// the queue is full and took none.
    async fn push_to(
        &self,
        queue: &str,
        run_ids: &[RunId],
        lane: Lane<'_>,
    ) -> anyhow::Result<bool> {
        let traceparent = crate::telemetry::current_traceparent();
        let cfg = self.apalis_config(queue);
        let fresh = self.apalis_config_of(queue, List::Fresh);
        let now_secs = chrono::Utc::now().timestamp();
        let ahead_counter = match lane {
            Lane::Behind => String::new(),
            Lane::Fresh(tenant) => self.ahead_counter(queue, tenant),
        };
        let mut script = PUSH_SCRIPT.prepare_invoke();
        script
            .key(cfg.job_data_hash())
            .key(cfg.job_meta_hash())
            .key(cfg.scheduled_jobs_set())
            .key(cfg.active_jobs_list())
            .key(fresh.job_data_hash())
            .key(fresh.job_meta_hash())
            .key(fresh.active_jobs_list())
            .arg(MAX_BACKLOG)
            .arg(now_secs)
            .arg(self.wake_channel(queue, List::Waiting))
            .arg(self.wake_channel(queue, List::Fresh))
            .arg(ahead_counter)
            .arg(AHEAD_PER_SEC);
        for &run_id in run_ids {
            let id = format!("{}.{}", run_id.as_uuid().simple(), Uuid::now_v7().simple());
            let trigger = RunTrigger {
                run_id,
                traceparent: traceparent.clone(),
            };
            script.arg(id).arg(serde_json::to_vec(&trigger)?);
        }
        let mut conn = self.conn.clone();
        let pushed: i64 = script
            .invoke_async(&mut conn)
            .await
            .map_err(|e| anyhow::anyhow!("cannot push run triggers to Redis: {e}"))?;
        Ok(pushed > 0)
    }

    /// The counter of the triggers `tenant` put ahead in `queue` within the last second.
    fn ahead_counter(&self, queue: &str, tenant: &TenantId) -> String {
        format!("{}:runs:{queue}:ahead:{}", self.prefix, tenant.as_str())
    }

    /// Triggers waiting in Redis in `queue`'s waiting list: scheduled (every push lands
    /// there first) + ready.
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

    /// The backlog of every queue the workflows name (its waiting list, which the cap is
    /// about), in one round trip.
    pub async fn backlogs(&self) -> redis::RedisResult<BTreeMap<String, u64>> {
        Ok(self
            .depths()
            .await?
            .into_iter()
            .map(|(q, d)| (q, d.waiting))
            .collect())
    }

    /// The triggers waiting in each list of every queue the workflows name, in one round
    /// trip.
    pub async fn depths(&self) -> redis::RedisResult<BTreeMap<String, Depth>> {
        let mut pipe = redis::pipe();
        for queue in &self.queues {
            let cfg = self.apalis_config(queue);
            pipe.zcard(cfg.scheduled_jobs_set())
                .llen(cfg.active_jobs_list())
                .llen(self.apalis_config_of(queue, List::Fresh).active_jobs_list());
        }
        let mut conn = self.conn.clone();
        let counts: Vec<u64> = pipe.query_async(&mut conn).await?;
        Ok(self
            .queues
            .iter()
            .zip(counts.chunks(3))
            .map(|(q, c)| {
                let depth = Depth {
                    waiting: c[0] + c[1],
                    fresh: c[2],
                };
                (q.clone(), depth)
            })
            .collect())
    }

    /// Deletes up to `batch` finished tasks of each queue (apalis keeps each task's data,
    /// metadata and done-set entry forever; `vacuum()` is unsafe, see APALIS-NOTES). Only
    /// tasks in the done set are touched, and orderdesk's handler always acks, so nothing
    /// live is lost. Returns the most deleted from one queue.
    pub async fn prune_done(&self, batch: usize) -> redis::RedisResult<u64> {
        let mut most = 0;
        for (queue, list) in self.lists() {
            let cfg = self.apalis_config_of(queue, list);
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

/// The triggers waiting in Redis in one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    /// In its waiting list: scheduled (every push lands there first) + ready; at most
    /// [`MAX_BACKLOG`] but for fresh triggers past their tenant's rate.
    pub waiting: u64,
    /// In its fresh list (at most [`MAX_BACKLOG`]).
    pub fresh: u64,
}

/// Room left under [`MAX_BACKLOG`] for a queue holding `backlog` triggers.
fn room_left(backlog: u64) -> usize {
    MAX_BACKLOG.saturating_sub(backlog) as usize
}

/// The room of the queues, from their backlogs: the relay fills each queue up to its own
/// room; the sweeper leaves out the full ones and pushes at most the largest room left in one
/// pass.
pub struct Room {
    /// The queues with room left, and how much (more than 0).
    pub left: Vec<(String, usize)>,
    /// The queues at their backlog cap.
    pub full: Vec<String>,
    /// The most room any queue has left (0: every queue is full).
    pub most: usize,
}

impl Room {
    pub fn of(backlogs: &BTreeMap<String, u64>) -> Room {
        let (left, full): (Vec<_>, Vec<_>) = backlogs
            .iter()
            .map(|(q, b)| (q.clone(), room_left(*b)))
            .partition(|(_, room)| *room > 0);
        Room {
            most: left.iter().map(|(_, room)| *room).max().unwrap_or(0),
            full: full.into_iter().map(|(q, _)| q).collect(),
            left,
        }
    }
}

/// What apalis-redis 1.0's `batch_push.lua` writes for a task scheduled now (its JSON data;
/// its metadata hash: no attempt yet, apalis' default of 25, `Pending`, no idempotency key;
/// its entry in the scheduled set, due this second — apalis' clock is in seconds), which
/// `fetch_next.lua` reads back; then the wake-up of the queue's idle workers. Refused
/// (returns 0) while the queue's backlog is at the cap: apalis' fetch promotes every due
/// task with one `unpack`, which fails past ~8,000 ids (APALIS-NOTES, "burst wedge").
/// A task put ahead ([`Lane::Fresh`]) goes to the tail of the fresh list's ready list
/// instead (fetched from its head: in order; nothing is promoted there), and wakes the
/// fresh list's workers.
/// KEYS: the waiting list's task data hash, task meta prefix, scheduled set and ready list;
/// the fresh list's task data hash, task meta prefix and ready list. ARGV: the backlog cap,
/// now (s), the two wake channels (waiting, fresh), the tenant's ahead counter ('' for
/// `Lane::Behind`), its limit, then (task id, task data) pairs.
static PUSH_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local ahead = false
if ARGV[5] ~= '' then
    local n = redis.call('INCRBY', ARGV[5], (#ARGV - 6) / 2)
    if redis.call('PTTL', ARGV[5]) < 0 then redis.call('PEXPIRE', ARGV[5], 1000) end
    ahead = n <= tonumber(ARGV[6]) and redis.call('LLEN', KEYS[7]) < tonumber(ARGV[1])
end
if not ahead and redis.call('ZCARD', KEYS[3]) + redis.call('LLEN', KEYS[4]) >= tonumber(ARGV[1]) then
    return 0
end
local data, meta, wake = KEYS[1], KEYS[2], ARGV[3]
if ahead then data, meta, wake = KEYS[5], KEYS[6], ARGV[4] end
local pushed = 0
for i = 7, #ARGV, 2 do
    if redis.call('HSETNX', data, ARGV[i], ARGV[i + 1]) == 1 then
        redis.call('HSET', meta .. ':' .. ARGV[i], 'attempts', 0, 'max_attempts', 25,
                   'status', 'Pending', 'idempotency_key', '')
        if ahead then
            redis.call('RPUSH', KEYS[7], ARGV[i])
        else
            redis.call('ZADD', KEYS[3], ARGV[2], ARGV[i])
        end
    end
    pushed = pushed + 1
end
redis.call('PUBLISH', wake, pushed)
return 1
",
    )
});

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
