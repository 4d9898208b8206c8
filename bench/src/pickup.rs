//! Scenario (b): pick-up latency of a single run by an idle worker process, from the commit
//! of its acceptance to its claim and to its step 1 starting. Every timestamp is Postgres'
//! own clock: the commit time is `clock_timestamp()` read right after the commit, on the
//! same connection; claim and step times are what the worker wrote (`now()`).

use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::env::{self, BenchEnv};
use super::summary::{Figure, Summary};
use super::throughput::{WORKFLOW, new_run, wait_for_count};
use super::{load_line, medians, q};
use orderdesk::jobs;

/// Runs enqueued one at a time, [`GAP`] apart, per sample.
pub const RUNS: usize = 300;
pub const GAP: Duration = Duration::from_millis(20);

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
        let (c, s) = (&s.to_claim_ms, &s.to_step1_ms);
        let row = [q(c, 0.5), q(c, 0.99), q(s, 0.5), q(s, 0.99), q(s, 1.0)];
        line(&i.to_string(), &row);
        rows.push(row);
    }
    let m = medians(&rows);
    line("median", &m);
    summary.push(Figure::absolute(
        "b.step1_p50_ms",
        "(b) pick-up, commit → step 1, p50",
        m[2],
        "ms",
        "< 1 ms",
        m[2] < 1.0,
    ));
    summary.push(Figure::absolute(
        "b.step1_p99_ms",
        "(b) pick-up, commit → step 1, p99",
        m[3],
        "ms",
        "< 5 ms",
        m[3] < 5.0,
    ));
    Ok(())
}

/// Latencies of one sample, in milliseconds, sorted.
#[derive(Debug, Clone)]
pub struct PickupSample {
    pub to_claim_ms: Vec<f64>,
    pub to_step1_ms: Vec<f64>,
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
        let mut conn = env.state.db.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let run =
            jobs::enqueue_for_dispatch(&mut tx, &env.state.workflows, new_run(WORKFLOW)).await?;
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
            "SELECT r.id, r.started_at, s.started_at FROM runs r
             JOIN run_steps s ON s.run_id = r.id AND s.idx = 0
             WHERE r.id = ANY($1)",
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
