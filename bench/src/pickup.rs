//! Scenario (b): pick-up latency of a single run by an idle worker process, from the commit
//! of its acceptance to its claim and to its step 1 starting. Every timestamp is Postgres'
//! own clock: the commit time is `clock_timestamp()` read right after the commit, on the
//! same connection; claim and step times are what the worker wrote (`now()`).

use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::drain;
use super::env::{self, BenchEnv};
use super::summary::{Figure, Summary};
use super::throughput::{
    self, Delivery, WORKFLOW, enqueue_all, new_run, wait_drained, wait_for_count,
};
use super::{load_line, medians, q};
use orderdesk::domain::ids::TenantId;
use orderdesk::jobs::{self, NewRun};

/// Runs enqueued one at a time, [`GAP`] apart, per sample.
pub const RUNS: usize = 300;
pub const GAP: Duration = Duration::from_millis(20);
/// The tenant of the probes sent while (d)'s backlog (tenant [`throughput::TENANT`]) drains.
const PROBE_TENANT: &str = "bench_probe";

/// A run's claim time and its step 1's start.
type StartRow = (Uuid, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Measures `repeat` samples, prints the table and adds the medians to `summary`.
pub async fn report(env: &BenchEnv, repeat: usize, summary: &mut Summary) -> anyhow::Result<()> {
    println!(
        "\n(b) pick-up latency: {RUNS} single runs, {} ms apart, each committed then jobs::dispatch'ed, 1 idle\n    worker process; from clock_timestamp() after the commit to the claim / to step 1's started_at (ms)",
        GAP.as_millis()
    );
    println!("{}", load_line());
    println!(
        "    {:<8}{:>11}{:>11}{:>11}{:>11}{:>11}",
        "sample", "claim p50", "claim p99", "step1 p50", "step1 p99", "step1 max"
    );
    let line = |label: &str, r: &[f64; 5]| {
        println!(
            "    {label:<8}{:>11.2}{:>11.2}{:>11.2}{:>11.2}{:>11.2}",
            r[0], r[1], r[2], r[3], r[4]
        )
    };
    let mut rows = Vec::new();
    for i in 1..=repeat {
        let s = measure(env).await?;
        let row = s.quantiles();
        line(&i.to_string(), &row);
        rows.push(row);
    }
    let m = medians(&rows);
    line("median", &m);
    let keys = ["b.step1_p50_ms", "b.step1_p99_ms"];
    push_figures(summary, keys, "(b) pick-up, commit → step 1", &m);
    println!(
        "    while (d)'s {} runs drain for another tenant (probes of tenant `{PROBE_TENANT}` sent while they last):",
        drain::RUNS
    );
    let mut busy_rows = Vec::new();
    for i in 1..=repeat {
        let s = measure_under_drain(env, drain::RUNS).await?;
        let row = s.quantiles();
        line(&format!("{i} ({})", s.to_step1_ms.len()), &row);
        busy_rows.push(row);
    }
    let busy = medians(&busy_rows);
    line("median", &busy);
    let keys = ["b.under_drain_step1_p50_ms", "b.under_drain_step1_p99_ms"];
    push_figures(summary, keys, "(b) pick-up while (d) drains", &busy);
    Ok(())
}

/// The step 1 p50 and p99 of `m` (a row of [`PickupSample::quantiles`]) against their
/// targets, under `keys`.
fn push_figures(summary: &mut Summary, keys: [&'static str; 2], label: &str, m: &[f64; 5]) {
    let quantiles = [("p50", 2, "< 1 ms", 1.0), ("p99", 3, "< 5 ms", 5.0)];
    for (key, (q, i, target, limit)) in keys.into_iter().zip(quantiles) {
        summary.push(Figure::absolute(
            key,
            format!("{label}, {q}"),
            m[i],
            "ms",
            target,
            m[i] < limit,
        ));
    }
}

/// Latencies of one sample, in milliseconds, sorted.
#[derive(Debug, Clone)]
pub struct PickupSample {
    pub to_claim_ms: Vec<f64>,
    pub to_step1_ms: Vec<f64>,
}

impl PickupSample {
    /// Claim p50, p99; step 1 p50, p99, max.
    pub fn quantiles(&self) -> [f64; 5] {
        let (c, s) = (&self.to_claim_ms, &self.to_step1_ms);
        [q(c, 0.5), q(c, 0.99), q(s, 0.5), q(s, 0.99), q(s, 1.0)]
    }
}

/// Enqueues [`RUNS`] runs one by one (each committed, then `jobs::dispatch`ed as the API
/// does) against one idle worker process, and reads the latencies back.
pub async fn measure(env: &BenchEnv) -> anyhow::Result<PickupSample> {
    env.reset_runs().await?;
    let mut procs = env::start_workers(env, 1).await?;
    let mut probes = Probes::default();
    for _ in 0..RUNS {
        probes.send_one(env).await?;
    }
    wait_all_succeeded(env, RUNS).await?;
    procs[0].check_alive()?;
    env::stop_all(procs).await?;
    probes.latencies(env).await
}

/// As [`measure`], while one worker process drains a backlog of `backlog` runs of (d)'s
/// tenant [`throughput::TENANT`]: the probes (tenant [`PROBE_TENANT`]) start once the first
/// backlog run was claimed and stop when the backlog is gone (or after [`RUNS`] probes); the
/// last one may find it gone.
pub async fn measure_under_drain(env: &BenchEnv, backlog: usize) -> anyhow::Result<PickupSample> {
    env.reset_runs().await?;
    enqueue_all(env.state.clone(), drain::WORKFLOW, backlog, Delivery::Relay).await?;
    let mut procs = env::start_workers(env, 1).await?;
    let left = |env: &BenchEnv| {
        let db = env.state.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM runs WHERE tenant_id = $1 AND status <> 'succeeded'",
            )
            .bind(throughput::TENANT)
            .fetch_one(&db)
            .await
        }
    };
    wait_for_count(
        env,
        "the backlog's first claim",
        "SELECT count(*) FROM runs WHERE started_at IS NOT NULL",
        |n| n > 0,
        Duration::from_secs(30),
    )
    .await?;
    let mut probes = Probes::default();
    // the first right after the first claim, with the backlog all but whole
    loop {
        probes.send_one_as(env, PROBE_TENANT).await?;
        if probes.len() >= RUNS || left(env).await? == 0 {
            break;
        }
    }
    wait_drained(env, &mut procs, Duration::from_secs(30)).await?;
    procs[0].check_alive()?;
    env::stop_all(procs).await?;
    probes.latencies(env).await
}

/// Interactive runs sent one at a time, [`GAP`] apart, and the commit time of each.
#[derive(Default)]
pub struct Probes {
    committed: Vec<(Uuid, DateTime<Utc>)>,
}

impl Probes {
    pub fn len(&self) -> usize {
        self.committed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.committed.is_empty()
    }

    /// Commits one run of [`WORKFLOW`], reads the commit time, dispatches it as the API does,
    /// then waits [`GAP`].
    pub async fn send_one(&mut self, env: &BenchEnv) -> anyhow::Result<()> {
        self.send_one_as(env, throughput::TENANT).await
    }

    /// As [`Self::send_one`], a run of `tenant`.
    pub async fn send_one_as(&mut self, env: &BenchEnv, tenant: &str) -> anyhow::Result<()> {
        let mut conn = env.state.db.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let new = NewRun {
            tenant_id: TenantId::new(tenant),
            ..new_run(WORKFLOW)
        };
        let run = jobs::enqueue_for_dispatch(&mut tx, &env.state.workflows, new).await?;
        tx.commit().await?;
        let at: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(&mut *conn)
            .await?;
        drop(conn);
        jobs::dispatch(&env.state.db, &env.state.queue, &(&run).into()).await;
        self.committed.push((run.id.as_uuid(), at));
        tokio::time::sleep(GAP).await;
        Ok(())
    }

    /// Waits until every probe succeeded.
    pub async fn wait_succeeded(&self, env: &BenchEnv) -> anyhow::Result<()> {
        let ids: Vec<Uuid> = self.committed.iter().map(|(id, _)| *id).collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let done: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM runs WHERE id = ANY($1) AND status = 'succeeded'",
            )
            .bind(&ids)
            .fetch_one(&env.state.db)
            .await?;
            if done as usize >= ids.len() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{done} of {} probe runs succeeded within 60 s", ids.len());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The probes' latencies from commit to claim and to step 1, sorted.
    pub async fn latencies(self, env: &BenchEnv) -> anyhow::Result<PickupSample> {
        let ids: Vec<Uuid> = self.committed.iter().map(|(id, _)| *id).collect();
        let rows: Vec<StartRow> = sqlx::query_as(
            "SELECT id, started_at, (steps -> 0 ->> 'started_at')::timestamptz FROM runs
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&env.state.db)
        .await?;
        let commit_of: std::collections::HashMap<Uuid, DateTime<Utc>> =
            self.committed.into_iter().collect();
        let ms = |from: DateTime<Utc>, to: DateTime<Utc>| {
            (to - from).num_microseconds().unwrap_or(0) as f64 / 1e3
        };
        let mut to_claim_ms = Vec::with_capacity(rows.len());
        let mut to_step1_ms = Vec::with_capacity(rows.len());
        for (id, claimed, step1) in rows {
            let (Some(claimed), Some(step1)) = (claimed, step1) else {
                bail!("run {id} succeeded without a start time");
            };
            let at = commit_of[&id];
            to_claim_ms.push(ms(at, claimed));
            to_step1_ms.push(ms(at, step1));
        }
        to_claim_ms.sort_by(f64::total_cmp);
        to_step1_ms.sort_by(f64::total_cmp);
        Ok(PickupSample {
            to_claim_ms,
            to_step1_ms,
        })
    }
}

async fn wait_all_succeeded(env: &BenchEnv, runs: usize) -> anyhow::Result<()> {
    wait_for_count(
        env,
        &format!("{runs} runs to succeed"),
        "SELECT count(*) FROM runs WHERE status = 'succeeded'",
        |n| n as usize >= runs,
        Duration::from_secs(30),
    )
    .await
}
