//! The bench's private world: its own database (`orderdesk_bench_<random>`) and Redis prefix,
//! the state of the bench process over them, the child processes (`worker`, `api`) it starts
//! with the same settings, and the cleanup that removes all of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tracing::log::LevelFilter;

use orderdesk::config::{ALLOW_DEV_SECRETS, Config};
use orderdesk::state::AppState;
use orderdesk::{app, db};

/// The programs the bench starts: `orderdesk` (worker, api) and `orderdesk-bench` itself
/// (the bare baseline).
#[derive(Debug, Clone)]
pub struct Programs {
    pub orderdesk: PathBuf,
    pub bench: PathBuf,
}

/// The bench database, Redis prefix and the environment child processes get.
pub struct BenchEnv {
    pub name: String,
    pub state: AppState,
    programs: Programs,
    env: HashMap<String, String>,
}

impl BenchEnv {
    /// Creates and migrates a fresh database next to `base.database_url` and connects to it.
    pub async fn create(
        base: &Config,
        programs: &Programs,
        workflows_file: &Path,
    ) -> anyhow::Result<Self> {
        let name = format!(
            "orderdesk_bench_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut url = reqwest::Url::parse(&base.database_url).context("DATABASE_URL")?;
        url.set_path(&format!("/{name}"));
        let workflows = std::path::absolute(workflows_file)?;
        let env = HashMap::from([
            ("DATABASE_URL".to_string(), url.to_string()),
            ("REDIS_URL".to_string(), base.redis_url.clone()),
            ("ORDERDESK_REDIS_PREFIX".to_string(), name.clone()),
            (
                "ORDERDESK_WORKFLOWS".to_string(),
                workflows.display().to_string(),
            ),
            // ORDERDESK_BENCH_LOG sets the children's RUST_LOG, to look into a slow run
            (
                "RUST_LOG".to_string(),
                std::env::var("ORDERDESK_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            ),
            // the bench is a developer's tool: its worker and api may run on dev secrets
            (ALLOW_DEV_SECRETS.to_string(), "true".to_string()),
            // several children on one host: they cannot all have the default metrics port
            ("ORDERDESK_METRICS_ADDR".to_string(), "off".to_string()),
            // exports are written under the bench's scratch directory, removed at the end
            (
                "ORDERDESK_EXPORTS_STORE".to_string(),
                format!("file://{}/exports", scratch_dir(&name).display()),
            ),
        ]);
        let config =
            Config::from_lookup(|k| env.get(k).cloned().or_else(|| std::env::var(k).ok()))?;
        // db::connect creates the database when it does not exist
        let state = app::build_state(config, 16).await?;
        db::migrate(&state.db).await?;
        Ok(BenchEnv {
            name,
            state,
            programs: programs.clone(),
            env,
        })
    }

    /// Starts `orderdesk <args>` with the bench's settings; it is killed when dropped.
    pub fn spawn(&self, args: &[&str]) -> anyhow::Result<Process> {
        self.start(&self.programs.orderdesk, args)
    }

    /// Starts `orderdesk-bench <args>` (the bare baseline) with the bench's settings.
    pub fn spawn_bench(&self, args: &[&str]) -> anyhow::Result<Process> {
        self.start(&self.programs.bench, args)
    }

    /// The child's log (its stdout, at `RUST_LOG=warn` unless `ORDERDESK_BENCH_LOG` says
    /// otherwise) is passed to the bench's stderr line by line, and the lines saying that its
    /// apalis worker died (and was restarted by the supervisor) are counted:
    /// [`Process::deaths`].
    fn start(&self, exe: &Path, args: &[&str]) -> anyhow::Result<Process> {
        let mut child = Command::new(exe)
            .args(args)
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {} {}", exe.display(), args.join(" ")))?;
        let deaths = Arc::new(AtomicUsize::new(0));
        if let Some(log) = child.stdout.take() {
            let deaths = deaths.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(log).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if WORKER_DIED.iter().any(|m| line.contains(m)) {
                        deaths.fetch_add(1, Ordering::Relaxed);
                    }
                    eprintln!("{line}");
                }
            });
        }
        Ok(Process {
            child,
            what: format!("{} {}", exe.display(), args.join(" ")),
            deaths,
        })
    }

    /// The Redis URL the children use (peers measured in the same run use it too).
    pub fn redis_url(&self) -> &str {
        &self.env["REDIS_URL"]
    }

    /// Deletes the Redis keys matching `pattern`, which must lie under the bench's prefix.
    /// Never a flush of the shared Redis.
    pub async fn delete_redis_keys(&self, pattern: &str) -> anyhow::Result<()> {
        if !pattern.starts_with(&format!("{}:", self.name)) {
            bail!(
                "{pattern} is not under the bench's Redis prefix {}",
                self.name
            );
        }
        let mut redis = self.state.redis.clone();
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut redis)
                .await?;
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<i64>(&mut redis)
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Empties the run tables between samples, so every sample starts from the same state.
    pub async fn reset_runs(&self) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE runs, outbox, requests CASCADE")
            .execute(&self.state.db)
            .await?;
        Ok(())
    }

    /// Commits of this database and WAL fsyncs of the whole server so far. Backends report
    /// their counters when idle (at most once a second) or when they exit: read this after
    /// the child processes were stopped and a moment has passed.
    pub async fn commit_counters(&self) -> anyhow::Result<Counters> {
        let (commits, wal_syncs): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                    (SELECT wal_sync FROM pg_stat_wal)",
        )
        .fetch_one(&self.state.db)
        .await?;
        Ok(Counters { commits, wal_syncs })
    }

    /// Drops the database (closing every connection to it) and deletes the Redis keys under
    /// the bench's prefix. Only the bench's own keys: never a flush of the shared Redis.
    pub async fn destroy(self) -> anyhow::Result<()> {
        self.state.db.close().await;
        let opts: PgConnectOptions = self.state.config.database_url.parse()?;
        // dropping a database waits for a checkpoint: slow on a busy machine, and expected
        let opts = opts
            .database("postgres")
            .log_slow_statements(LevelFilter::Off, Duration::ZERO);
        let mut admin = PgConnection::connect_with(&opts).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        let scratch = self.scratch_dir();
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .with_context(|| format!("removing {}", scratch.display()))?;
        }
        self.delete_redis_keys(&format!("{}:*", self.name)).await
    }

    /// A directory of the bench's own (exports, the peers' files), removed at the end.
    pub fn scratch_dir(&self) -> PathBuf {
        scratch_dir(&self.name)
    }

    /// The database URL the children use.
    pub fn database_url(&self) -> &str {
        &self.env["DATABASE_URL"]
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(name)
}

/// Cumulative counters read by [`BenchEnv::commit_counters`].
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    pub commits: i64,
    pub wal_syncs: i64,
}

/// What `orderdesk worker` logs when its apalis worker died or stopped and is being
/// restarted (`workers::worker::supervise`).
const WORKER_DIED: [&str; 2] = ["apalis worker died", "apalis worker stopped by itself"];

/// A child process of the bench.
pub struct Process {
    child: Child,
    what: String,
    deaths: Arc<AtomicUsize>,
}

impl Process {
    /// How many times this process logged that its apalis worker died (0 for other programs).
    pub fn deaths(&self) -> usize {
        self.deaths.load(Ordering::Relaxed)
    }

    /// Fails if the process has exited (e.g. it could not start).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("`{}` exited: {status}", self.what);
        }
        Ok(())
    }

    /// The most memory the process has had resident so far (`VmHWM`), in bytes.
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the process has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .context("no VmHWM in /proc/<pid>/status")?;
        Ok(kib * 1024)
    }

    /// Waits until the process ends by itself (a one-shot command such as `seed`).
    pub async fn wait(mut self) -> anyhow::Result<std::process::ExitStatus> {
        Ok(self.child.wait().await?)
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// Runs each worker process executes at once: the concurrency BENCHMARKS.md gives the peers
/// (BullMQ's `Worker`), so that both sides may have as much work in flight.
pub const WORKER_CONCURRENCY: usize = 50;

/// Starts `n` worker processes (`--concurrency` [`WORKER_CONCURRENCY`]) and gives them time to
/// connect and subscribe.
pub async fn start_workers(env: &BenchEnv, n: usize) -> anyhow::Result<Vec<Process>> {
    let concurrency = WORKER_CONCURRENCY.to_string();
    let mut workers = (0..n)
        .map(|_| env.spawn(&["worker", "--concurrency", &concurrency]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for w in &mut workers {
        w.check_alive()?;
    }
    Ok(workers)
}

/// Stops the processes, then waits until their backends have reported their counters.
pub async fn stop_all(processes: Vec<Process>) -> anyhow::Result<()> {
    for p in processes {
        p.stop().await?;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    Ok(())
}
