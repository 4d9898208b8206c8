//! `orderdesk bench`: the benchmarks against the real Postgres and Redis, in a
//! private database and Redis prefix that are removed at the end. (a) end-to-end runs/s,
//! (b) pick-up latency, (c) customer order reads; each sample repeated, medians printed next
//! to the targets of `BENCHMARKS.md`.

pub mod env;
pub mod pickup;
pub mod reads;
pub mod throughput;

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use env::BenchEnv;
pub use throughput::Delivery;

/// The targets and the reference figures they derive from (BENCHMARKS.md).
const BULLMQ_CHAINS_PER_SEC: f64 = 2_172.0;
const RUNS_PER_SEC_FLOOR: f64 = 1_000.0;
const BARE_JWT_RPS: f64 = 7_845.0;
const BARE_JWT_P99_MS: f64 = 16.5;
const READ_CONNECTIONS: usize = 64;
const PACED_RPS: f64 = 1_000.0;

/// Which scenario to run alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    A,
    B,
    C,
}

/// What `orderdesk bench` runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Runs per sample of (a).
    pub runs: usize,
    /// Samples per measurement; the median is reported.
    pub repeat: usize,
    pub only: Option<Scenario>,
    /// Length of each load sample of (c).
    pub duration: Duration,
    /// How triggers of (a) reach Redis.
    pub delivery: Delivery,
    /// The `orderdesk` binary that child processes run.
    pub exe: PathBuf,
    /// The workflows file declaring `bench_noop3` (children get its absolute path).
    pub workflows_file: PathBuf,
}

/// Runs the selected scenarios and prints their tables. The database, Redis keys and child
/// processes are removed whatever happens, also on `shutdown` (Ctrl-C).
pub async fn run(
    base: &Config,
    opts: &BenchOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let env = BenchEnv::create(base, &opts.exe, &opts.workflows_file).await?;
    println!(
        "orderdesk bench: database and Redis prefix {}, {} repeat(s), medians shown",
        env.name, opts.repeat
    );
    if cfg!(debug_assertions) {
        println!("WARNING: debug build; build with --release for meaningful numbers");
    }
    let res = tokio::select! {
        res = scenarios(&env, opts) => res,
        _ = shutdown.cancelled() => Err(anyhow::anyhow!("interrupted")),
    };
    let cleanup = env.destroy().await;
    res.and(cleanup)
}

async fn scenarios(env: &BenchEnv, opts: &BenchOptions) -> anyhow::Result<()> {
    let wants = |s: Scenario| opts.only.is_none_or(|o| o == s);
    let repeat = opts.repeat.max(1);
    if wants(Scenario::A) {
        println!(
            "\n(a) end-to-end runs/s: `{}` (3 no-op steps, each checkpointed), {} runs per sample,\n    accepted in transactions of {} by {} concurrent enqueuers, triggers delivered by {}",
            throughput::WORKFLOW,
            opts.runs,
            throughput::BATCH,
            throughput::ENQUEUERS,
            match opts.delivery {
                Delivery::Relay => "the outbox relay",
                Delivery::Dispatch => "jobs::dispatch after each commit",
            }
        );
        println!(
            "    {:<8}{:<8}{:>10}{:>12}{:>13}{:>16}",
            "workers", "sample", "runs/s", "accepted/s", "commits/run", "WAL fsyncs/run"
        );
        for workers in [1, 2] {
            let mut rows = Vec::new();
            for i in 1..=repeat {
                let s = throughput::measure(env, opts.runs, workers, opts.delivery).await?;
                let row = [
                    s.runs_per_sec(),
                    s.accepted_per_sec(),
                    s.commits_per_run(),
                    s.wal_syncs_per_run(),
                ];
                println!(
                    "    {workers:<8}{i:<8}{:>10.0}{:>12.0}{:>13.2}{:>16.3}",
                    row[0], row[1], row[2], row[3]
                );
                rows.push(row);
            }
            let m = medians(&rows);
            println!(
                "    {workers:<8}{:<8}{:>10.0}{:>12.0}{:>13.2}{:>16.3}",
                "median", m[0], m[1], m[2], m[3]
            );
            verdict(
                &format!("{workers} worker process(es): ≥ {RUNS_PER_SEC_FLOOR:.0} runs/s"),
                m[0] >= RUNS_PER_SEC_FLOOR,
            );
            verdict(
                &format!(
                    "{workers} worker process(es): aim ≥ 2 × BullMQ = {:.0} runs/s",
                    2.0 * BULLMQ_CHAINS_PER_SEC
                ),
                m[0] >= 2.0 * BULLMQ_CHAINS_PER_SEC,
            );
        }
        println!(
            "    commits/run: every commit in the bench database (durable acceptances and asynchronous\n    engine writes) per run; WAL fsyncs/run: pg_stat_wal.wal_sync of the whole server per run"
        );
    }
    if wants(Scenario::B) {
        println!(
            "\n(b) pick-up latency: {} single runs, {} ms apart, committed then jobs::dispatch'ed, 1 idle worker process;\n    from clock_timestamp() after the commit to the run's claim / to step 1's started_at (ms)",
            pickup::RUNS,
            20
        );
        println!(
            "    {:<8}{:>11}{:>11}{:>11}{:>11}{:>11}",
            "sample", "claim p50", "claim p99", "step1 p50", "step1 p99", "step1 max"
        );
        let mut rows = Vec::new();
        for i in 1..=repeat {
            let s = pickup::measure(env).await?;
            let row = [
                q(&s.to_claim_ms, 0.5),
                q(&s.to_claim_ms, 0.99),
                q(&s.to_step1_ms, 0.5),
                q(&s.to_step1_ms, 0.99),
                q(&s.to_step1_ms, 1.0),
            ];
            println!(
                "    {i:<8}{:>11.2}{:>11.2}{:>11.2}{:>11.2}{:>11.2}",
                row[0], row[1], row[2], row[3], row[4]
            );
            rows.push(row);
        }
        let m = medians(&rows);
        println!(
            "    {:<8}{:>11.2}{:>11.2}{:>11.2}{:>11.2}{:>11.2}",
            "median", m[0], m[1], m[2], m[3], m[4]
        );
        verdict("step 1 p50 < 5 ms", m[2] < 5.0);
        verdict("step 1 p99 < 50 ms", m[3] < 50.0);
    }
    if wants(Scenario::C) {
        reads_table(env, opts, repeat).await?;
    }
    Ok(())
}

async fn reads_table(env: &BenchEnv, opts: &BenchOptions, repeat: usize) -> anyhow::Result<()> {
    println!(
        "\n(c) GET /v1/customer/orders/{{id}} on an `orderdesk api` process (HS256 JWT, one indexed select),\n    {READ_CONNECTIONS} keep-alive connections from this process, {} s per sample",
        opts.duration.as_secs()
    );
    let mut fixture = reads::start(env).await?;
    fixture
        .measure(READ_CONNECTIONS, Duration::from_secs(1), None)
        .await?; // warm-up
    println!(
        "    {:<22}{:<8}{:>10}{:>8}{:>9}{:>9}{:>9}",
        "load", "sample", "requests", "errors", "rps", "p50 ms", "p99 ms"
    );
    let mut saturated = Vec::new();
    let mut paced = Vec::new();
    for (label, rate, out) in [
        ("saturating", None, &mut saturated),
        ("paced 1,000 rps", Some(PACED_RPS), &mut paced),
    ] {
        for i in 1..=repeat {
            let s = fixture
                .measure(READ_CONNECTIONS, opts.duration, rate)
                .await?;
            let row = [
                s.latencies_us.len() as f64,
                s.errors as f64,
                s.rps(),
                s.quantile_ms(0.5),
                s.quantile_ms(0.99),
            ];
            println!(
                "    {label:<22}{i:<8}{:>10.0}{:>8.0}{:>9.0}{:>9.2}{:>9.2}",
                row[0], row[1], row[2], row[3], row[4]
            );
            out.push(row);
        }
        let m = medians(out);
        println!(
            "    {label:<22}{:<8}{:>10.0}{:>8.0}{:>9.0}{:>9.2}{:>9.2}",
            "median", m[0], m[1], m[2], m[3], m[4]
        );
    }
    fixture.stop().await?;
    let (s, p) = (medians(&saturated), medians(&paced));
    verdict(
        &format!(
            "saturating: ≥ 90 % of the bare axum + sqlx + JWT figure = {:.0} rps (reference, not this sitting)",
            0.9 * BARE_JWT_RPS
        ),
        s[2] >= 0.9 * BARE_JWT_RPS,
    );
    verdict(
        &format!(
            "saturating: p99 ≤ 1.1 × {BARE_JWT_P99_MS} ms = {:.1} ms",
            1.1 * BARE_JWT_P99_MS
        ),
        s[4] <= 1.1 * BARE_JWT_P99_MS,
    );
    verdict(
        "saturating: p99 < 5 ms (the issue's figure; Little's law says ≥ 64 / rps)",
        s[4] < 5.0,
    );
    verdict("paced 1,000 rps: p99 < 5 ms", p[4] < 5.0);
    verdict("no errors", s[1] == 0.0 && p[1] == 0.0);
    Ok(())
}

fn verdict(target: &str, met: bool) {
    println!(
        "    target {target}: {}",
        if met { "met" } else { "MISSED" }
    );
}

/// The `q` quantile of sorted values.
fn q(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => sorted[((n - 1) as f64 * q).round() as usize],
    }
}

/// The median of each column.
fn medians<const N: usize>(rows: &[[f64; N]]) -> [f64; N] {
    std::array::from_fn(|c| {
        let mut col: Vec<f64> = rows.iter().map(|r| r[c]).collect();
        col.sort_by(f64::total_cmp);
        q(&col, 0.5)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(medians(&[[3.0, 1.0], [1.0, 2.0], [2.0, 9.0]]), [2.0, 2.0]);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(q(&v, 0.5), 51.0);
        assert_eq!(q(&v, 0.99), 99.0);
        assert_eq!(q(&v, 1.0), 100.0);
        assert!(q(&[], 0.5).is_nan());
    }
}
