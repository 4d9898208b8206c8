//! The `orderdesk-bench` command line: the benchmarks, and the bare baseline they start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use orderdesk::config::Config;
use orderdesk::telemetry;
use orderdesk_bench::env::Programs;
use orderdesk_bench::{BenchOptions, Delivery, Scenario, bare};
use tokio_util::sync::CancellationToken;

/// The same allocator as `orderdesk`, so the bare baseline is compared like for like.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The benchmarks: (a) runs/s, (b) pick-up latency, (c) order reads, (d) a 20k backlog
/// drained, (e) runs resumed after a worker's SIGKILL, (f) mutations through the API; beside BullMQ (when Node is present) and the bare baseline, measured in the same
/// run; in a scratch database and Redis prefix that are removed at the end. Build with
/// --release.
#[derive(Parser)]
#[command(
    name = "orderdesk-bench",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Runs per sample of (a).
    #[arg(long, default_value_t = 10_000)]
    runs: usize,
    /// Samples per measurement (the median is printed).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    #[arg(long, value_enum)]
    only: Option<Scenario>,
    /// Length of each load sample of (c), and of each pgbench sample of (f).
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// How (a)'s triggers reach Redis.
    #[arg(long, value_enum, default_value = "relay")]
    delivery: Delivery,
    #[arg(long, default_value = "benches/workflows.toml")]
    workflows: PathBuf,
    /// BullMQ's script and pinned packages (`npm ci` there when node_modules is missing).
    #[arg(long, default_value = "benches/peers")]
    peers: PathBuf,
    /// Also write the summary (figures, targets, ratios) as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The `orderdesk` binary whose worker and api are measured (default: next to this one).
    #[arg(long)]
    orderdesk: Option<PathBuf>,
    /// Runs in flight in the worker that (e) kills.
    #[arg(long, default_value_t = orderdesk_bench::failover::RUNS)]
    failover_runs: usize,
    /// Cancel requests per sample of (f).
    #[arg(long, default_value_t = orderdesk_bench::front_door::REQUESTS)]
    front_door_requests: usize,
    /// Orders of the tenant that `--only search` searches and `--only export` exports.
    #[arg(long, default_value_t = 1_000_000)]
    search_orders: usize,
}

#[derive(Subcommand)]
enum Command {
    /// The bare axum + sqlx + JWT baseline that (c) measures beside the api (internal).
    #[command(hide = true)]
    Bare {
        #[arg(long)]
        addr: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.command.is_some());
    // a developer's tool, like `orderdesk seed`: the development secrets are accepted (its children
    // are started with ORDERDESK_ALLOW_DEV_SECRETS=true too)
    let config = Config::from_env_allowing_dev_secrets()?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    if let Some(Command::Bare { addr }) = cli.command {
        return bare::serve(&config, addr, shutdown).await;
    }
    let bench = std::env::current_exe()?;
    let orderdesk = cli
        .orderdesk
        .unwrap_or_else(|| bench.with_file_name("orderdesk"));
    let opts = BenchOptions {
        runs: cli.runs,
        repeat: cli.repeat,
        only: cli.only,
        duration: Duration::from_secs(cli.duration_secs),
        delivery: cli.delivery,
        programs: Programs { orderdesk, bench },
        workflows_file: cli.workflows,
        failover_runs: cli.failover_runs,
        front_door_requests: cli.front_door_requests,
        search_orders: cli.search_orders,
        peers_dir: cli.peers,
        json: cli.json,
    };
    orderdesk_bench::run(&config, &opts, shutdown).await
}
