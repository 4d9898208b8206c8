//! `orderdesk-bench`: the benchmarks against the real Postgres and Redis, in a
//! private database and Redis prefix that are removed at the end. (a) end-to-end runs/s,
//! (b) pick-up latency, (c) customer order reads, (d) a 20k backlog drained, (e) runs
//! resumed after a worker's SIGKILL, (f) mutations through the API beside pgbench's durable-commit
//! ceiling, (g) interactive pick-up while a 10,000-order bulk job runs; each sample
//! repeated, peers (BullMQ, the bare baseline) measured in the same run, and a summary of
//! medians, targets and ratios printed at the end (and written as JSON with `--json`).
//! Order search and exports over a million orders run alone (`--only search`, `--only
//! export`: their load takes a while).

pub mod bare;
pub mod ceiling;
pub mod drain;
pub mod env;
pub mod export;
pub mod failover;
pub mod fairness;
pub mod front_door;
pub mod load;
pub mod peers;
pub mod pickup;
pub mod reads;
pub mod search;
pub mod summary;
pub mod throughput;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use env::{BenchEnv, Programs};
use orderdesk::config::Config;
use summary::Summary;
pub use throughput::Delivery;

/// Which scenario to run alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    A,
    B,
    C,
    D,
    E,
    F,
    /// Interactive pick-up while a 10,000-order bulk job runs.
    G,
    /// Order search over a million orders; only with `--only search`.
    Search,
    /// Exports of a million orders beside `psql \copy`; only with `--only export`.
    Export,
}

/// What `orderdesk-bench` runs.
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
    /// The binaries that child processes run.
    pub programs: Programs,
    /// The workflows file declaring `bench_noop3` and `bench_noop1` (children get its
    /// absolute path).
    pub workflows_file: std::path::PathBuf,
    /// Runs in flight in the worker that (e) kills.
    pub failover_runs: usize,
    /// Cancel requests per sample of (f).
    pub front_door_requests: usize,
    /// Orders of the tenant that the search scenario searches.
    pub search_orders: usize,
    /// `benches/peers/`: BullMQ's script and pinned packages.
    pub peers_dir: std::path::PathBuf,
    /// Where to write the summary as JSON.
    pub json: Option<std::path::PathBuf>,
}

/// Runs the selected scenarios and prints their tables. The database, Redis keys and child
/// processes are removed whatever happens, also on `shutdown` (Ctrl-C).
pub async fn run(
    base: &Config,
    opts: &BenchOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let env = BenchEnv::create(base, &opts.programs, &opts.workflows_file).await?;
    println!(
        "orderdesk-bench: database and Redis prefix {}, {} repeat(s), medians shown",
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
    if opts.only == Some(Scenario::Search) {
        return search::report(env, opts.search_orders, 20 * repeat).await;
    }
    let mut summary = Summary::default();
    if opts.only == Some(Scenario::Export) {
        export::report(env, opts.search_orders, repeat, &mut summary).await?;
        summary.print();
        return match &opts.json {
            Some(path) => summary.write_json(path),
            None => Ok(()),
        };
    }
    summary.context.insert("repeat".into(), repeat.into());
    summary
        .context
        .insert("runs_per_sample_a".into(), opts.runs.into());
    let bullmq = if wants(Scenario::A) || wants(Scenario::D) {
        let b = peers::BullMq::locate(&opts.peers_dir).await;
        match &b {
            Ok(b) => {
                println!(
                    "BullMQ 6.7 on Node {} is measured in this run, beside orderdesk",
                    b.node_version
                );
                summary.context.insert(
                    "bullmq".into(),
                    serde_json::json!({"measured": true, "node": b.node_version}),
                );
            }
            Err(why) => {
                println!("BullMQ is NOT measured in this run: {why}");
                summary.context.insert(
                    "bullmq".into(),
                    serde_json::json!({"measured": false, "why": why}),
                );
            }
        }
        b
    } else {
        Err("not needed".into())
    };
    if wants(Scenario::A) {
        throughput::report(env, opts.runs, repeat, opts.delivery, &bullmq, &mut summary).await?;
    }
    if wants(Scenario::D) {
        drain::report(env, repeat, &bullmq, &mut summary).await?;
    }
    if wants(Scenario::B) {
        pickup::report(env, repeat, &mut summary).await?;
    }
    if wants(Scenario::C) {
        reads::report(env, repeat, opts.duration, &mut summary).await?;
    }
    if wants(Scenario::E) {
        failover::report(env, opts.failover_runs, repeat, &mut summary).await?;
    }
    if wants(Scenario::F) {
        front_door::report(
            env,
            repeat,
            opts.front_door_requests,
            opts.duration,
            &mut summary,
        )
        .await?;
    }
    if wants(Scenario::G) {
        fairness::report(env, repeat, &mut summary).await?;
    }
    summary.note(format!(
        "{}; other processes on these cores move every absolute figure: compare ratios",
        load_line().trim()
    ));
    summary.print();
    if let Some(path) = &opts.json {
        summary.write_json(path)?;
    }
    Ok(())
}

/// The machine's load average: other processes on the same cores move every figure.
fn load_line() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("    load average {} on {cores} cores", load.join(" "))
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
