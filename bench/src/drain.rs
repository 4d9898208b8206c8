//! Scenario (d): drain a backlog of 20,000 already-accepted one-step runs (`bench_noop1`).
//! The runs and their outbox triggers are committed before any worker runs; then worker
//! processes start, their relay pushes the triggers in bounded batches and their workers
//! execute the runs. The clock runs from the first claim to the last finish, on Postgres'
//! clock (a worker process's own start-up is not counted, as BullMQ's clock starts at a ready
//! worker). Also checked: every run claimed exactly once, and no apalis worker died.

use std::time::Duration;

use anyhow::{Context, bail};

use super::env::{self, BenchEnv};
use super::peers::{self, Availability};
use super::summary::{Figure, Summary};
use super::throughput::{Delivery, by_status, enqueue_all, wait_drained};
use super::{load_line, medians};

/// The workflow every run executes (declared in `benches/workflows.toml`).
pub const WORKFLOW: &str = "bench_noop1";
/// Runs in the backlog.
pub const RUNS: usize = 20_000;
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// One drain of the backlog.
#[derive(Debug, Clone)]
pub struct DrainSample {
    pub runs: usize,
    /// From the first claim to the last finish.
    pub elapsed: Duration,
    /// Claims of all runs together (`sum(attempts)`): `runs` when each was claimed once.
    pub claims: i64,
    /// Times an apalis worker died (and was restarted) in the worker processes.
    pub worker_deaths: usize,
}

impl DrainSample {
    pub fn runs_per_sec(&self) -> f64 {
        self.runs as f64 / self.elapsed.as_secs_f64()
    }
}

/// Measures `repeat` rounds — BullMQ's drain of 20,000 jobs (when available), then orderdesk
/// draining 20,000 runs with one worker process — prints the table and adds the medians to
/// `summary`.
pub async fn report(
    env: &BenchEnv,
    repeat: usize,
    bullmq: &Availability,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    println!(
        "\n(d) backlog drain: {RUNS} accepted `{WORKFLOW}` runs (one no-op step), 1 worker process at concurrency {},\n    from the first claim to the last finish; BullMQ: {} no-op jobs added before its worker (concurrency 50) starts",
        env::WORKER_CONCURRENCY,
        peers::DRAIN_JOBS
    );
    println!("{}", load_line());
    println!(
        "    {:<8}{:<18}{:>10}{:>12}{:>15}",
        "sample", "system", "runs/s", "claims/run", "worker deaths"
    );
    let mut peer = bullmq.clone();
    let (mut peer_rows, mut rows) = (Vec::new(), Vec::new());
    for i in 1..=repeat {
        if let Ok(b) = &peer {
            match b.measure(env, peers::Mode::Drain, i).await {
                Ok(v) => {
                    println!("    {i:<8}{:<18}{v:>10.0}", "BullMQ drain");
                    peer_rows.push([v]);
                }
                Err(e) => peer = Err(format!("BullMQ's drain failed: {e:#}")),
            }
        }
        let s = measure(env, RUNS, 1).await?;
        let row = [
            s.runs_per_sec(),
            s.claims as f64 / s.runs as f64,
            s.worker_deaths as f64,
        ];
        println!(
            "    {i:<8}{:<18}{:>10.0}{:>12.3}{:>15}",
            "orderdesk, 1 proc", row[0], row[1], row[2]
        );
        rows.push(row);
    }
    let base = match (&peer, peer_rows.is_empty()) {
        (Ok(_), false) => {
            let m = medians(&peer_rows)[0];
            println!("    {:<8}{:<18}{m:>10.0}", "median", "BullMQ drain");
            Some(("BullMQ drain, same run".to_string(), m))
        }
        (Err(why), _) => {
            let why = format!(
                "BullMQ's drain was not measured in this run ({why}); BENCHMARKS.md's {} jobs/s from another day is no basis for a ratio",
                peers::BULLMQ_DRAIN_REFERENCE
            );
            println!("    {why}");
            summary.note(why);
            None
        }
        (Ok(_), true) => None,
    };
    let m = medians(&rows);
    println!(
        "    {:<8}{:<18}{:>10.0}{:>12.3}{:>15}",
        "median", "orderdesk, 1 proc", m[0], m[1], m[2]
    );
    println!("{}", load_line());
    let deaths: f64 = rows.iter().map(|r| r[2]).sum();
    let once = rows.iter().all(|r| r[1] == 1.0);
    if let Some((_, v)) = &base {
        summary.push(Figure::peer(
            "d.bullmq_jobs_per_sec",
            "(d) BullMQ drain of 20k jobs",
            *v,
            "jobs/s",
        ));
    }
    // BENCHMARKS.md's 14,000 runs/s was BullMQ's drain on its day; the bar is the BullMQ
    // measured beside it in this run
    summary.push(Figure::relative(
        "d.runs_per_sec",
        "(d) 20k backlog drained, runs/s",
        m[0],
        "runs/s",
        "≥ 1× BullMQ drain",
        base,
        |r| r >= 1.0,
    ));
    summary.push(Figure::absolute(
        "d.worker_deaths",
        "(d) apalis worker deaths, all samples",
        deaths,
        "",
        "0",
        deaths == 0.0,
    ));
    summary.push(Figure::absolute(
        "d.claims_per_run",
        "(d) claims per run (exactly once)",
        m[1],
        "/run",
        "1 in every sample",
        once,
    ));
    Ok(())
}

/// Accepts `runs` one-step runs with no worker running, then drains them with `workers`
/// fresh worker processes.
pub async fn measure(env: &BenchEnv, runs: usize, workers: usize) -> anyhow::Result<DrainSample> {
    env.reset_runs().await?;
    enqueue_all(env.state.clone(), WORKFLOW, runs, Delivery::Relay)
        .await
        .context("enqueue failed")?;
    let mut procs = env::start_workers(env, workers).await?;
    wait_drained(env, &mut procs, STALL_LIMIT).await?;
    let worker_deaths = procs.iter().map(|p| p.deaths()).sum();
    env::stop_all(procs).await?;
    let (succeeded, claims, secs): (i64, i64, f64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'succeeded'), sum(attempts)::bigint,
                extract(epoch FROM max(finished_at) - min(started_at))::float8
         FROM runs",
    )
    .fetch_one(&env.state.db)
    .await?;
    if succeeded as usize != runs {
        bail!(
            "{succeeded} of {runs} runs succeeded; by status: {}",
            by_status(env).await?
        );
    }
    Ok(DrainSample {
        runs,
        elapsed: Duration::from_secs_f64(secs.max(1e-6)),
        claims,
        worker_deaths,
    })
}
