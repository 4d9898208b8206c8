//! The box's durable-commit ceiling, the peer of scenario (f): `pgbench` with a custom script
//! of one transaction per round — one INSERT and one UPDATE, committed with the server's own
//! `synchronous_commit` (durable, as the API's acceptances are) — from [`CLIENTS`] clients,
//! in the bench's database (its tables go with it).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

use super::env::BenchEnv;

/// pgbench clients (and 2 threads: the machine's cores).
pub const CLIENTS: usize = 8;

const SETUP: &str = "
CREATE TABLE IF NOT EXISTS ceiling_log (
    id bigserial PRIMARY KEY, client int NOT NULL, k bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS ceiling_counters (client int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
INSERT INTO ceiling_counters (client) SELECT generate_series(0, 63) ON CONFLICT DO NOTHING;";

/// One transaction per round; each client updates its own counter row, so no client waits
/// for another's lock and the commit (the WAL flush) is what bounds the rate.
const SCRIPT: &str = "\\set k random(1, 1000000000)
BEGIN;
INSERT INTO ceiling_log (client, k) VALUES (:client_id, :k);
UPDATE ceiling_counters SET n = n + 1 WHERE client = :client_id;
COMMIT;
";

/// `pgbench`, found on PATH or under `/usr/lib/postgresql/*/bin`.
pub struct PgBench {
    exe: PathBuf,
    script: PathBuf,
}

impl PgBench {
    /// Finds pgbench and prepares its tables and script; `Err` says why it cannot be used.
    pub async fn locate(env: &BenchEnv) -> Result<PgBench, String> {
        let exe =
            find_exe().ok_or("pgbench is neither on PATH nor in /usr/lib/postgresql/*/bin")?;
        sqlx::raw_sql(SETUP)
            .execute(&env.state.db)
            .await
            .map_err(|e| format!("cannot create pgbench's tables: {e}"))?;
        let script = std::env::temp_dir().join(format!("{}-ceiling.sql", env.name));
        std::fs::write(&script, SCRIPT).map_err(|e| format!("cannot write {script:?}: {e}"))?;
        Ok(PgBench { exe, script })
    }

    /// Runs the script for `duration` and returns its transactions/s.
    pub async fn measure(&self, env: &BenchEnv, duration: Duration) -> anyhow::Result<f64> {
        let url = reqwest::Url::parse(&env.state.config.database_url).context("DATABASE_URL")?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(["-n", "-j", "2", "-c", &CLIENTS.to_string()])
            .args(["-T", &duration.as_secs().max(1).to_string()])
            .arg("-f")
            .arg(&self.script)
            .args(["-h", url.host_str().unwrap_or("127.0.0.1")])
            .args(["-p", &url.port().unwrap_or(5432).to_string()])
            .args(["-U", url.username()])
            .arg(url.path().trim_start_matches('/'))
            .kill_on_drop(true);
        if let Some(password) = url.password() {
            cmd.env("PGPASSWORD", password);
        }
        let out = cmd.output().await.context("cannot run pgbench")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "pgbench failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        tps(&stdout).with_context(|| format!("no tps in pgbench's output: {stdout}"))
    }
}

impl Drop for PgBench {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.script);
    }
}

fn find_exe() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("pgbench"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut versioned: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("bin/pgbench"))
        .collect();
    versioned.sort();
    on_path
        .into_iter()
        .chain(versioned.into_iter().rev())
        .find(|p| p.is_file())
}

/// `tps = 4312.5 (without initial connection time)` → 4312.5.
fn tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rate_from_pgbench_output() {
        let out = "number of failed transactions: 0 (0.000%)\nlatency average = 1.851 ms\ninitial connection time = 9.1 ms\ntps = 4321.987654 (without initial connection time)\n";
        assert_eq!(tps(out), Some(4321.987654));
        assert_eq!(tps("nothing"), None);
    }
}
