//! Scenario (e): a worker process killed with SIGKILL while its runs are in flight. Runs of
//! `bench_slow3` (no-op, sleep, no-op) are all taken by worker A; once every one of them
//! sleeps in step `two`, worker B is started and A is killed. For each run the bench reads
//! back when step `two` started again on B (the resume), when it finished there, and when
//! the run finished, each from the moment of the kill. Nothing but the lease tells B that A
//! is gone: the figures are the lease (`ORDERDESK_LEASE_SECS`) plus the sweeper's and the
//! claim's delays.

use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::env::{self, BenchEnv};
use super::summary::{Figure, Summary};
use super::throughput::{by_status, new_run, wait_drained, wait_for_count};
use super::{load_line, medians, q};
use orderdesk::jobs;

/// The workflow (declared in `benches/workflows.toml`).
pub const WORKFLOW: &str = "bench_slow3";
/// Runs in flight in the killed worker, per sample, by default. Both workers run at this
/// concurrency: B has room for all of A's runs, so the figures are the failover's, not B's
/// queue (at 50, B would take them up in waves of a sleep each).
pub const RUNS: usize = 200;
/// How long step `two` sleeps: long enough for all runs to be inside it, and for worker B
/// to start, before the kill.
const SLEEP: Duration = Duration::from_secs(6);
/// Give up waiting for a phase (or for any run to finish) after this long.
const PHASE_LIMIT: Duration = Duration::from_secs(60);
const TARGET_SECS: f64 = 5.0;

/// A run measured: id, status, step two's start and finish (on B), the run's finish, claims.
type ResumeRow = (
    Uuid,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    i32,
);

/// One sample, each list sorted, in seconds from the kill.
#[derive(Debug, Clone)]
pub struct FailoverSample {
    /// Runs in flight in worker A when it was killed (all of them were measured).
    pub runs: usize,
    /// Kill → step `two` started again on worker B.
    pub to_resume: Vec<f64>,
    /// Kill → step `two` finished on worker B (includes the step's own sleep).
    pub to_step_done: Vec<f64>,
    /// Kill → run succeeded.
    pub to_finish: Vec<f64>,
    /// Claims per run (2: once by A, once by B).
    pub claims_per_run: f64,
    pub lease: Duration,
}

/// Measures `repeat` samples of `runs` runs, prints them and adds the medians to `summary`.
pub async fn report(
    env: &BenchEnv,
    runs: usize,
    repeat: usize,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let lease = env.state.config.lease;
    println!(
        "\n(e) a worker killed with SIGKILL mid-run: {runs} runs of `{WORKFLOW}` in flight in worker A (each sleeping\n    {} s in step two), worker B idle, both at concurrency {runs}; A killed; seconds from the kill until\n    step two starts again on B (resume), finishes there (step done, includes its sleep), and the run\n    succeeds. Lease {:?} (ORDERDESK_LEASE_SECS): B learns of A's death only when A's leases expire",
        SLEEP.as_secs(),
        lease
    );
    println!("{}", load_line());
    println!(
        "    {:<8}{:>7}{:>12}{:>12}{:>12}{:>15}{:>12}{:>8}",
        "sample",
        "runs",
        "resume p50",
        "resume p90",
        "resume max",
        "step done p50",
        "finish max",
        "claims"
    );
    let line = |label: &str, r: &[f64; 7]| {
        println!(
            "    {label:<8}{:>7.0}{:>12.2}{:>12.2}{:>12.2}{:>15.2}{:>12.2}{:>8.2}",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6]
        )
    };
    let mut rows = Vec::new();
    for i in 1..=repeat {
        let s = measure(env, runs, SLEEP).await?;
        let row = [
            s.runs as f64,
            q(&s.to_resume, 0.5),
            q(&s.to_resume, 0.9),
            q(&s.to_resume, 1.0),
            q(&s.to_step_done, 0.5),
            q(&s.to_finish, 1.0),
            s.claims_per_run,
        ];
        line(&i.to_string(), &row);
        rows.push(row);
    }
    let m = medians(&rows);
    line("median", &m);
    for (key, label, v) in [
        ("e.resume_p50_s", "(e) SIGKILL → resumed on B, p50", m[1]),
        ("e.resume_p90_s", "(e) SIGKILL → resumed on B, p90", m[2]),
        ("e.resume_max_s", "(e) SIGKILL → resumed on B, max", m[3]),
    ] {
        summary.push(Figure::absolute(
            key,
            label,
            v,
            "s",
            format!("< {TARGET_SECS} s (lease {}s)", lease.as_secs()),
            v < TARGET_SECS,
        ));
    }
    summary.push(Figure::absolute(
        "e.claims_per_run",
        "(e) claims per run (A, then B)",
        m[6],
        "/run",
        "2",
        m[6] == 2.0,
    ));
    Ok(())
}

/// Starts worker A with `runs` runs sleeping `sleep` in step two, starts worker B, kills A
/// and reads back when each run went on. Runs that A finished before the kill (a very slow
/// machine) are not counted.
pub async fn measure(
    env: &BenchEnv,
    runs: usize,
    sleep: Duration,
) -> anyhow::Result<FailoverSample> {
    env.reset_runs().await?;
    let a = worker(env, runs).await?;
    let mut tx = env.state.db.begin().await?;
    for _ in 0..runs {
        let mut run = new_run(WORKFLOW);
        run.input = json!({ "sleep_ms": sleep.as_millis() as u64 });
        jobs::enqueue(&mut tx, &env.state.workflows, run).await?;
    }
    tx.commit().await?;
    wait_for_count(
        env,
        "every run sleeping in step two",
        "SELECT count(*) FROM runs WHERE status = 'running' AND current_step = 'two'",
        |n| n == runs as i64,
        PHASE_LIMIT,
    )
    .await?;
    let mut b = vec![worker(env, runs).await?];
    let in_flight: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM runs WHERE status = 'running' AND current_step = 'two'")
            .fetch_all(&env.state.db)
            .await?;
    let killed_at = Utc::now();
    a.stop().await?;
    // nothing moves until A's leases expire: a stall is only declared after PHASE_LIMIT
    wait_drained(env, &mut b, PHASE_LIMIT).await?;
    env::stop_all(std::mem::take(&mut b)).await?;
    let rows: Vec<ResumeRow> = sqlx::query_as(
        "SELECT id, status, (steps -> 1 ->> 'started_at')::timestamptz,
                (steps -> 1 ->> 'finished_at')::timestamptz, finished_at, attempts
             FROM runs WHERE id = ANY($1)",
    )
    .bind(&in_flight)
    .fetch_all(&env.state.db)
    .await?;
    let secs = |t: Option<DateTime<Utc>>| {
        t.map_or(f64::NAN, |t| {
            (t - killed_at).num_microseconds().unwrap_or(0) as f64 / 1e6
        })
    };
    let (mut to_resume, mut to_step_done, mut to_finish) = (vec![], vec![], vec![]);
    let mut claims = 0i64;
    for (id, status, started, done, finished, attempts) in &rows {
        if status != "succeeded" {
            bail!(
                "run {id} ended {status}; by status: {}",
                by_status(env).await?
            );
        }
        to_resume.push(secs(*started));
        to_step_done.push(secs(*done));
        to_finish.push(secs(*finished));
        claims += i64::from(*attempts);
    }
    for v in [&mut to_resume, &mut to_step_done, &mut to_finish] {
        v.sort_by(f64::total_cmp);
    }
    Ok(FailoverSample {
        runs: rows.len(),
        to_resume,
        to_step_done,
        to_finish,
        claims_per_run: claims as f64 / rows.len().max(1) as f64,
        lease: env.state.config.lease,
    })
}

/// A worker process at `concurrency`, given time to connect and subscribe.
async fn worker(env: &BenchEnv, concurrency: usize) -> anyhow::Result<env::Process> {
    let mut w = env.spawn(&["worker", "--concurrency", &concurrency.to_string()])?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    w.check_alive()?;
    Ok(w)
}
