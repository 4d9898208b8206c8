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
use super::peers::{self, Availability};
use super::summary::{Figure, Summary};
use super::{load_line, medians};
use orderdesk::domain::ids::TenantId;
use orderdesk::jobs::{self, NewRun};

/// The workflow every run executes (declared in `benches/workflows.toml`).
pub const WORKFLOW: &str = "bench_noop3";
/// Runs accepted per transaction.
pub const BATCH: usize = 100;
/// Concurrent enqueuing connections.
pub const ENQUEUERS: usize = 4;
const POLL_EVERY: Duration = Duration::from_millis(20);
/// While more runs than this are active, polls are [`POLL_FAR`] apart: each poll counts the
/// active runs (3.7 ms of Postgres under a 10,000-run backlog), and at 20 ms they took a
/// sixth of a core from the runs measured. (a) ends its last 2,000 runs in far more than
/// `POLL_FAR` (that would be 20,000 runs/s), so its end is still seen within [`POLL_EVERY`];
/// (d) times itself from the runs' own timestamps, whatever the polls' pace.
const FAR_FROM_DONE: usize = 2_000;
const POLL_FAR: Duration = Duration::from_millis(100);

/// The pause before the next count of active runs.
fn poll_pause(active: usize) -> Duration {
    if active > FAR_FROM_DONE {
        POLL_FAR
    } else {
        POLL_EVERY
    }
}
/// Give up when no run finished for this long.
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// How triggers reach Redis after the acceptance commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Delivery {
    /// Each batch accepted in one statement (`jobs::enqueue_many`, as BullMQ's `addBulk`);
    /// the workers' outbox relay (woken by NOTIFY) pushes up to 500 triggers per call.
    Relay,
    /// Each run accepted on its own statement and pushed by the enqueuer with `jobs::dispatch`
    /// right after the commit, as the API does.
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

/// Measures `repeat` rounds — BullMQ's chain (when available), then orderdesk with 1 and
/// with 2 worker processes, alternating so that a change in the machine's load hits all
/// alike — prints the table and adds the medians to `summary`.
pub async fn report(
    env: &BenchEnv,
    runs: usize,
    repeat: usize,
    delivery: Delivery,
    bullmq: &Availability,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let by = match delivery {
        Delivery::Relay => "the outbox relay (each transaction one jobs::enqueue_many, as addBulk)",
        Delivery::Dispatch => "jobs::dispatch after each commit (one insert per run)",
    };
    println!(
        "\n(a) end-to-end runs/s: `{WORKFLOW}` (3 no-op steps, each checkpointed), {runs} runs per sample,\n    accepted in transactions of {BATCH} by {ENQUEUERS} concurrent enqueuers, triggers delivered by {by},\n    workers at concurrency {}; BullMQ: {} three-step chains, concurrency 50 (benches/peers/bullmq.mjs),\n    in the same rounds",
        env::WORKER_CONCURRENCY,
        peers::CHAINS
    );
    println!("{}", load_line());
    println!(
        "    {:<8}{:<18}{:>10}{:>12}{:>13}{:>16}",
        "sample", "system", "runs/s", "accepted/s", "commits/run", "WAL fsyncs/run"
    );
    let line = |label: &str, who: &str, r: &[f64; 4]| {
        println!(
            "    {label:<8}{who:<18}{:>10.0}{:>12.0}{:>13.2}{:>16.3}",
            r[0], r[1], r[2], r[3]
        )
    };
    let peer_line = |label: &str, v: f64| println!("    {label:<8}{:<18}{v:>10.0}", "BullMQ chain");
    let mut peer = bullmq.clone();
    let mut peer_rows = Vec::new();
    let mut rows: [Vec<[f64; 4]>; 2] = Default::default();
    for i in 1..=repeat {
        if let Ok(b) = &peer {
            match b.measure(env, peers::Mode::Chain, i).await {
                Ok(v) => {
                    peer_line(&i.to_string(), v);
                    peer_rows.push([v]);
                }
                Err(e) => peer = Err(format!("BullMQ's chain failed: {e:#}")),
            }
        }
        for workers in [1, 2] {
            let s = measure(env, runs, workers, delivery).await?;
            let row = [
                s.runs_per_sec(),
                s.accepted_per_sec(),
                s.commits_per_run(),
                s.wal_syncs_per_run(),
            ];
            line(&i.to_string(), &format!("orderdesk, {workers} proc"), &row);
            rows[workers - 1].push(row);
        }
    }
    let chain = match (&peer, peer_rows.is_empty()) {
        (Ok(_), false) => {
            let m = medians(&peer_rows)[0];
            peer_line("median", m);
            Some(("BullMQ chain, same run".to_string(), m))
        }
        (Err(why), _) => {
            let why = format!(
                "BullMQ's chain was not measured in this run ({why}); BENCHMARKS.md's {} chains/s from another day is no basis for a ratio",
                peers::BULLMQ_CHAINS_REFERENCE
            );
            println!("    {why}");
            summary.note(why);
            None
        }
        (Ok(_), true) => None,
    };
    let (one, two) = (medians(&rows[0]), medians(&rows[1]));
    line("median", "orderdesk, 1 proc", &one);
    line("median", "orderdesk, 2 proc", &two);
    println!("{}", load_line());
    println!(
        "    commits/run: commits in the bench database (durable acceptances and asynchronous engine\n    writes) per run; WAL fsyncs/run: pg_stat_wal.wal_sync of the whole server per run"
    );
    if let Some((_, v)) = &chain {
        summary.push(Figure::peer(
            "a.bullmq_chains_per_sec",
            "(a) BullMQ 3-step chains/s",
            *v,
            "chains/s",
        ));
    }
    summary.push(Figure::relative(
        "a.runs_per_sec.1_worker",
        "(a) 3-step runs/s, 1 worker process",
        one[0],
        "runs/s",
        "≥ 2× BullMQ chain",
        chain.clone(),
        |r| r >= 2.0,
    ));
    summary.push(Figure::relative(
        "a.runs_per_sec.2_workers",
        "(a) 3-step runs/s, 2 worker processes",
        two[0],
        "runs/s",
        "within 10 % of 1 process",
        Some(("orderdesk, 1 worker process".into(), one[0])),
        |r| r >= 0.9,
    ));
    summary.push(Figure::absolute(
        "a.wal_fsyncs_per_run",
        "(a) WAL fsyncs per run, 1 process",
        one[3],
        "/run",
        "≤ 1 (acceptance durable, rest async)",
        one[3] <= 1.0,
    ));
    summary.push(Figure::absolute(
        "a.commits_per_run",
        "(a) commits per run, 1 process",
        one[2],
        "/run",
        "fewer is better",
        true,
    ));
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
    let mut enqueuing = Some(tokio::spawn(enqueue_all(
        env.state.clone(),
        WORKFLOW,
        runs,
        delivery,
    )));
    let mut enqueue_elapsed = None;
    let mut polls = 0i64;
    // Polls count the runs still active (the partial index `runs_due` holds only those), not
    // the finished ones: a count over the whole table every 20 ms cost Postgres a sixth of a
    // core, taken from the runs being measured.
    let mut last = (usize::MAX, Instant::now());
    let mut pause = POLL_EVERY;
    let succeeded = loop {
        tokio::time::sleep(pause).await;
        let active: i64 =
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
                .fetch_one(&env.state.db)
                .await?;
        polls += 1;
        let active = active as usize;
        pause = poll_pause(active);
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

/// Enqueues `runs` runs of `kind` in transactions of [`BATCH`] from [`ENQUEUERS`]
/// connections; returns when the last one committed (and, with `Dispatch`, was pushed).
pub async fn enqueue_all(
    state: orderdesk::state::AppState,
    kind: &'static str,
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
                let count = (first + BATCH).min(runs) - first;
                let mut ids = Vec::with_capacity(count);
                match delivery {
                    Delivery::Relay => {
                        let batch: Vec<NewRun> = (0..count).map(|_| new_run(kind)).collect();
                        let started = jobs::enqueue_many(&mut tx, &state.workflows, &batch).await?;
                        ids.extend(started.iter().map(|s| s.id));
                    }
                    Delivery::Dispatch => {
                        for _ in 0..count {
                            let new = new_run(kind);
                            let run =
                                jobs::enqueue_for_dispatch(&mut tx, &state.workflows, new).await?;
                            ids.push(run.id);
                        }
                    }
                }
                tx.commit().await?;
                if delivery == Delivery::Dispatch {
                    for id in ids {
                        jobs::dispatch(&state.db, &state.queue, &jobs::Started::interactive(id))
                            .await;
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

/// A run of workflow `kind` as the bench enqueues it.
/// The tenant of the runs the bench makes (unless a scenario names another).
pub const TENANT: &str = "bench";

pub fn new_run(kind: &str) -> NewRun {
    NewRun {
        tenant_id: TenantId::new(TENANT),
        kind: kind.into(),
        subject_id: None,
        customer_id: None,
        requested_by: "bench".into(),
        input: json!({}),
        correlation_id: None,
        queue: None,
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

/// Waits until no run is queued or running, checking that `procs` stay alive; fails when
/// the count of active runs did not move for `stall`.
pub async fn wait_drained(
    env: &BenchEnv,
    procs: &mut [env::Process],
    stall: Duration,
) -> anyhow::Result<()> {
    let mut last = (i64::MAX, Instant::now());
    loop {
        let active: i64 =
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
                .fetch_one(&env.state.db)
                .await?;
        if active == 0 {
            return Ok(());
        }
        if active != last.0 {
            last = (active, Instant::now());
        } else if last.1.elapsed() > stall {
            bail!(
                "stalled: {active} runs active for {stall:?}; by status: {}",
                by_status(env).await?
            );
        }
        for p in procs.iter_mut() {
            p.check_alive()?;
        }
        tokio::time::sleep(poll_pause(active as usize)).await;
    }
}

/// Polls `count_sql` (one count) every 20 ms until `done(count)`; fails after `limit`,
/// saying it waited for `what`.
pub async fn wait_for_count(
    env: &BenchEnv,
    what: &str,
    count_sql: &str,
    done: impl Fn(i64) -> bool,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let n: i64 = sqlx::query_scalar(count_sql)
            .fetch_one(&env.state.db)
            .await?;
        if done(n) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "waited {limit:?} for {what} (count {n}); by status: {}",
                by_status(env).await?
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
