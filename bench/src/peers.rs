//! Peers measured in the same run: BullMQ 6.7 (Node) doing what BENCHMARKS.md describes,
//! driven by `benches/peers/bullmq.mjs`. Its dependencies are pinned in `package.json` and
//! `package-lock.json` there; `node_modules` is not committed: when it is missing the bench
//! installs it with `npm ci`. Without Node (or without the registry) the peer is not
//! measured, and the bench says so instead of comparing with another day's figure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::process::Command;

use super::env::BenchEnv;

/// BENCHMARKS.md's protocol: 2,000 three-step chains, and a backlog of 20,000 no-op jobs.
pub const CHAINS: usize = 2_000;
pub const DRAIN_JOBS: usize = 20_000;
/// BENCHMARKS.md, 2026-11-25, another sitting: for reference only, never for a verdict.
pub const BULLMQ_CHAINS_REFERENCE: f64 = 2_172.0;
pub const BULLMQ_DRAIN_REFERENCE: f64 = 13_935.0;
/// A sample that takes longer than this is broken, not slow.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(300);

/// What BullMQ measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Three-step chains, each step added by the previous one's handler.
    Chain,
    /// A backlog of no-op jobs added before the worker starts.
    Drain,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Chain => "chain",
            Mode::Drain => "drain",
        }
    }
}

/// BullMQ, ready to run: Node found and the pinned packages installed.
#[derive(Debug, Clone)]
pub struct BullMq {
    node: PathBuf,
    dir: PathBuf,
    /// `node --version`, printed with the figures.
    pub node_version: String,
}

/// BullMQ is ready, or why it is not measured in this run.
pub type Availability = Result<BullMq, String>;

impl BullMq {
    /// Finds `node` (18 or newer) and installs `dir`'s pinned packages with `npm ci` when
    /// `node_modules` lacks BullMQ. Err says why BullMQ cannot be measured.
    pub async fn locate(dir: &Path) -> Availability {
        let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !dir.join("bullmq.mjs").exists() {
            return Err(format!("{} has no bullmq.mjs", dir.display()));
        }
        let node = PathBuf::from("node");
        let version = match Command::new(&node).arg("--version").output().await {
            Ok(out) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            }
            Ok(out) => return Err(format!("`node --version` failed: {}", out.status)),
            Err(e) => return Err(format!("Node is not installed (`node`: {e})")),
        };
        let major: u32 = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major < 18 {
            return Err(format!("Node {version} is older than 18"));
        }
        if !dir.join("node_modules/bullmq/package.json").exists() {
            println!(
                "    installing BullMQ's pinned packages: npm ci in {}",
                dir.display()
            );
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .await;
            match out {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Err(format!(
                        "`npm ci` in {} failed ({}): {}",
                        dir.display(),
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Err(e) => return Err(format!("npm is not installed (`npm`: {e})")),
            }
        }
        Ok(BullMq {
            node,
            dir,
            node_version: version,
        })
    }

    /// One sample: items (chains or jobs) per second. Its Redis keys live under the bench's
    /// prefix and are deleted afterwards.
    pub async fn measure(&self, env: &BenchEnv, mode: Mode, sample: usize) -> anyhow::Result<f64> {
        let prefix = format!("{}:bullmq-{}-{sample}", env.name, mode.arg());
        let items = match mode {
            Mode::Chain => CHAINS,
            Mode::Drain => DRAIN_JOBS,
        };
        let count_arg = match mode {
            Mode::Chain => "--chains",
            Mode::Drain => "--jobs",
        };
        let run = Command::new(&self.node)
            .arg(self.dir.join("bullmq.mjs"))
            .arg(mode.arg())
            .args(["--redis", env.redis_url(), "--prefix", &prefix])
            .args([count_arg, &items.to_string()])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(SAMPLE_TIMEOUT, run).await;
        env.delete_redis_keys(&format!("{prefix}:*")).await?;
        let out =
            out.with_context(|| format!("BullMQ {} took over {SAMPLE_TIMEOUT:?}", mode.arg()))??;
        if !out.status.success() {
            bail!(
                "BullMQ {} failed ({}): {}",
                mode.arg(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let line = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(line.trim())
            .with_context(|| format!("BullMQ's output is not one JSON line: {line}"))?;
        v["per_sec"]
            .as_f64()
            .with_context(|| format!("BullMQ's output has no per_sec: {line}"))
    }
}
