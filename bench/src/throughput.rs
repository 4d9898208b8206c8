//! Scenario (a): end-to-end runs/s of `bench_noop3` (three checkpointed no-op steps), accepted
//! through the outbox in batches by concurrent enqueuers and executed by worker processes.
//! The clock runs from the first enqueue until every run is `succeeded`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::task::JoinSet;

use super::env::{self, BenchEnv};
use super::{load_line, medians, verdict};
use orderdesk::domain::ids::TenantId;
use orderdesk::jobs::{self, NewRun};

/// The workflow every run executes (declared in `benches/workflows.toml`).
pub const WORKFLOW: &str = "bench_noop3";
/// Runs accepted per transaction.
pub const BATCH: usize = 100;
/// Concurrent enqueuing connections.
pub const ENQUEUERS: usize = 4;
const POLL_EVERY: Duration = Duration::from_millis(20);
/// Give up when no run finished for this long.
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// BENCHMARKS.md: BullMQ 6.7, three-step chains, concurrency 50, on this kind of machine.
const BULLMQ_CHAINS_PER_SEC: f64 = 2_172.0;
const RUNS_PER_SEC_FLOOR: f64 = 1_000.0;

/// How triggers reach Redis after the acceptance commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Delivery {
    /// The workers' outbox relay (woken by NOTIFY) pushes up to 500 triggers per call.
    Relay,
    /// The enqueuer calls `jobs::dispatch` for each run right after its commit, as the API does.
    Dispatch,
}

/// One measured sample of scenario (a).
#[derive(Debug, Clone)]
pub struct ThroughputSample {
    pub runs: usize,
    pub succeeded: usize,
    /// From the first enqueue until every run succeeded.
    pub elapsed: Duration,
    /// From the first enqueue until the last acceptance committed.
    pub enqueue_elapsed: Duration,
    /// Commits in the bench database (durable and asynchronous, all processes).
    pub commits: i64,
    /// WAL fsyncs of the whole server (other databases on it included).
    pub wal_syncs: i64,
}

impl ThroughputSample {
    pub fn runs_per_sec(&self) -> f64 {
        self.runs as f64 / self.elapsed.as_secs_f64()
    }
    pub fn accepted_per_sec(&self) -> f64 {
        self.runs as f64 / self.enqueue_elapsed.as_secs_f64()
    }
    pub fn commits_per_run(&self) -> f64 {
        self.commits as f64 / self.runs as f64
    }
    pub fn wal_syncs_per_run(&self) -> f64 {
        self.wal_syncs as f64 / self.runs as f64
    }
}

/// Measures `repeat` samples with 1 and with 2 worker processes and prints the table.
pub async fn report(
    env: &BenchEnv,
    runs: usize,
    repeat: usize,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let by = match delivery {
        Delivery::Relay => "the outbox relay",
        Delivery::Dispatch => "jobs::dispatch after each commit",
    };
    println!(
        "\n(a) end-to-end runs/s: `{WORKFLOW}` (3 no-op steps, each checkpointed), {runs} runs per sample,\n    accepted in transactions of {BATCH} by {ENQUEUERS} concurrent enqueuers, triggers delivered by {by}"
    );
    println!("{}", load_line());
    println!(
        "    {:<8}{:<8}{:>10}{:>12}{:>13}{:>16}",
        "workers", "sample", "runs/s", "accepted/s", "commits/run", "WAL fsyncs/run"
    );
    let line = |w: usize, label: &str, r: &[f64; 4]| {
        println!(
            "    {w:<8}{label:<8}{:>10.0}{:>12.0}{:>13.2}{:>16.3}",
            r[0], r[1], r[2], r[3]
        )
    };
    for workers in [1, 2] {
        let mut rows = Vec::new();
        for i in 1..=repeat {
            let s = measure(env, runs, workers, delivery).await?;
            let row = [
                s.runs_per_sec(),
                s.accepted_per_sec(),
                s.commits_per_run(),
                s.wal_syncs_per_run(),
            ];
            line(workers, &i.to_string(), &row);
            rows.push(row);
        }
        let m = medians(&rows);
        line(workers, "median", &m);
        let aim = 2.0 * BULLMQ_CHAINS_PER_SEC;
        let who = format!("{workers} worker process(es)");
        verdict(
            &format!("{who}: ≥ {RUNS_PER_SEC_FLOOR:.0} runs/s"),
            m[0] >= RUNS_PER_SEC_FLOOR,
        );
        verdict(
            &format!("{who}: aim ≥ 2 × BullMQ = {aim:.0} runs/s"),
            m[0] >= aim,
        );
    }
    println!("{}", load_line());
    println!(
        "    commits/run: commits in the bench database (durable acceptances and asynchronous engine\n    writes) per run; WAL fsyncs/run: pg_stat_wal.wal_sync of the whole server per run"
    );
    Ok(())
}

/// Runs `runs` runs through `workers` fresh worker processes and measures them.
pub async fn measure(
    env: &BenchEnv,
    runs: usize,
    workers: usize,
    delivery: Delivery,
) -> anyhow::Result<ThroughputSample> {
    env.reset_runs().await?;
    let mut procs = env::start_workers(env, workers).await?;
    let before = env.commit_counters().await?;
    let started = Instant::now();
    let mut enqueuing = Some(tokio::spawn(enqueue_all(env.state.clone(), runs, delivery)));
    let mut enqueue_elapsed = None;
    let mut polls = 0i64;
    // Polls count the runs still active (the partial index `runs_due` holds only those), not
    // the finished ones: a count over the whole table every 20 ms cost Postgres a sixth of a
    // core, taken from the runs being measured.
    let mut last = (usize::MAX, Instant::now());
    let succeeded = loop {
        tokio::time::sleep(POLL_EVERY).await;
        let active: i64 =
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
                .fetch_one(&env.state.db)
                .await?;
        polls += 1;
        let active = active as usize;
        if let Some(task) = enqueuing.take_if(|t| t.is_finished()) {
            enqueue_elapsed = Some(task.await?.context("enqueue failed")?);
        }
        if enqueuing.is_none() && active == 0 {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'succeeded'")
                .fetch_one(&env.state.db)
                .await?;
            polls += 1;
            if n as usize != runs {
                bail!(
                    "{n} of {runs} runs succeeded; by status: {}",
                    by_status(env).await?
                );
            }
            break n as usize;
        }
        if active != last.0 {
            last = (active, Instant::now());
        } else if last.1.elapsed() > STALL_LIMIT {
            bail!(
                "stalled: {active} runs active for {STALL_LIMIT:?}; by status: {}",
                by_status(env).await?
            );
        }
        for p in &mut procs {
            p.check_alive()?;
        }
    };
    let elapsed = started.elapsed();
    let enqueue_elapsed = match (enqueuing, enqueue_elapsed) {
        (Some(task), _) => task.await?.context("enqueue failed")?,
        (None, e) => e.unwrap_or(elapsed),
    };
    env::stop_all(procs).await?;
    let after = env.commit_counters().await?;
    Ok(ThroughputSample {
        runs,
        succeeded,
        elapsed,
        enqueue_elapsed,
        // the poll queries above and the two counter reads are the bench's, not the runs'
        commits: after.commits - before.commits - polls - 2,
        wal_syncs: after.wal_syncs - before.wal_syncs,
    })
}

/// Enqueues `runs` runs in transactions of [`BATCH`] from [`ENQUEUERS`] connections; returns
/// when the last one committed (and, with `Dispatch`, was pushed).
async fn enqueue_all(
    state: orderdesk::state::AppState,
    runs: usize,
    delivery: Delivery,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..ENQUEUERS {
        let (state, next) = (state.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let first = next.fetch_add(BATCH, Ordering::Relaxed);
                if first >= runs {
                    return anyhow::Ok(());
                }
                let mut tx = state.db.begin().await?;
                let mut ids = Vec::with_capacity(BATCH);
                for _ in first..(first + BATCH).min(runs) {
                    let run = jobs::enqueue(&mut tx, &state.workflows, new_run()).await?;
                    ids.push(run.id);
                }
                tx.commit().await?;
                if delivery == Delivery::Dispatch {
                    for id in ids {
                        jobs::dispatch(&state.db, &state.queue, id).await;
                    }
                }
            }
        });
    }
    while let Some(res) = tasks.join_next().await {
        res??;
    }
    Ok(started.elapsed())
}

/// The run every enqueue writes.
pub fn new_run() -> NewRun {
    NewRun {
        tenant_id: TenantId::new("bench"),
        kind: WORKFLOW.into(),
        subject_id: None,
        customer_id: None,
        requested_by: "bench".into(),
        input: json!({}),
    }
}

/// `status=count, …` of the runs table, for error messages.
pub async fn by_status(env: &BenchEnv) -> anyhow::Result<String> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM runs GROUP BY status ORDER BY status")
            .fetch_all(&env.state.db)
            .await?;
    Ok(rows
        .iter()
        .map(|(s, n)| format!("{s}={n}"))
        .collect::<Vec<_>>()
        .join(", "))
}
