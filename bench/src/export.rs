//! Scenario "export" (only with `--only export`: its load takes a while): exports of one
//! tenant of a million orders through `POST /v1/admin/orders/exports`, run by one worker
//! process into the local object store, next to `psql \copy` of the same rows and columns to
//! a file, measured in the same rounds. CSV is judged by its ratio to psql (the issue's
//! ≥ 0.9×), Parquet by rows/s (≥ 0.8 M), and the worker's peak resident memory (< 64 MiB).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use uuid::Uuid;

use super::env::{self, BenchEnv};
use super::search::{admin_client, load_tenant};
use super::summary::{Figure, Summary};
use super::{load_line, medians};
use orderdesk::db::exports::select::csv_select_list;
use orderdesk::domain::exports::Column;

const TENANT: &str = "export";
const MIB: f64 = 1024.0 * 1024.0;

/// One export job, from the request to the job's end (Postgres' clock).
struct Finished {
    rows: i64,
    bytes: i64,
    elapsed: Duration,
}

/// Loads `orders` orders, then measures `repeat` rounds of psql, CSV and Parquet.
pub async fn report(
    env: &BenchEnv,
    orders: usize,
    repeat: usize,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    println!(
        "\n(export) {orders} orders of one tenant, default columns: `psql \\copy` to a file, then CSV and Parquet\n    exports through the api, run by 1 worker process into the local object store (seconds)"
    );
    let seeded = load_tenant(env, TENANT, orders).await?;
    println!("    loaded in {:.1} s", seeded.as_secs_f64());
    settle_writes(env).await;
    let (api, base) = super::load::start_api(env, "admin").await?;
    let mut workers = env::start_workers(env, 1).await?;
    let idle_rss = workers[0].peak_rss_bytes()? as f64 / MIB;
    let (client, headers) = admin_client(env, TENANT)?;
    let http = Http {
        client,
        headers,
        url: format!("{base}/v1/admin/orders/exports"),
    };
    println!("{}", load_line());
    println!(
        "    {:<8}{:>10}{:>10}{:>10}{:>12}{:>16}{:>10}",
        "sample", "psql s", "csv s", "csv/psql", "parquet s", "parquet rows/s", "csv MiB"
    );
    let line = |label: &str, r: &[f64; 6]| {
        println!(
            "    {label:<8}{:>10.2}{:>10.2}{:>10.2}{:>12.2}{:>16.0}{:>10.1}",
            r[0], r[1], r[2], r[3], r[4], r[5]
        )
    };
    let mut rows = Vec::new();
    for i in 1..=repeat {
        let (psql, psql_bytes) = psql_copy(env).await?;
        let csv = http.export(env, "csv").await?;
        let parquet = http.export(env, "parquet").await?;
        check_rows(orders, &[&csv, &parquet])?;
        if csv.bytes as u64 != psql_bytes {
            bail!(
                "the CSV export has {} bytes, psql's copy {psql_bytes}: not the same rows",
                csv.bytes
            );
        }
        workers[0].check_alive()?;
        let psql_s = psql.as_secs_f64();
        let csv_s = csv.elapsed.as_secs_f64();
        let row = [
            psql_s,
            csv_s,
            psql_s / csv_s,
            parquet.elapsed.as_secs_f64(),
            parquet.rows as f64 / parquet.elapsed.as_secs_f64(),
            csv.bytes as f64 / MIB,
        ];
        line(&i.to_string(), &row);
        rows.push(row);
    }
    let m = medians(&rows);
    line("median", &m);
    let peak = workers[0].peak_rss_bytes()? as f64 / MIB;
    println!(
        "    the worker's peak resident memory (VmHWM): {peak:.1} MiB ({idle_rss:.1} MiB before the first export)"
    );
    println!("{}", load_line());
    env::stop_all(workers).await?;
    api.stop().await?;
    let per_sec = |secs: f64| orders as f64 / secs;
    summary.push(Figure::relative(
        "export.csv_rows_per_sec",
        format!("(export) CSV of {orders} orders, rows/s"),
        per_sec(m[1]),
        "rows/s",
        "≥ 0.9× psql \\copy, same rounds",
        Some(("psql \\copy, same rounds".into(), per_sec(m[0]))),
        |r| r >= 0.9,
    ));
    summary.push(Figure::absolute(
        "export.parquet_rows_per_sec",
        "(export) Parquet rows/s",
        m[4],
        "rows/s",
        "≥ 800,000 rows/s",
        m[4] >= 800_000.0,
    ));
    // The issue set 800k rows/s on a day psql's copy of these rows took about 1 s: the same
    // target as a ratio to psql measured in the same rounds, which the box's speed cancels.
    summary.push(Figure::relative(
        "export.parquet_rows_per_sec_vs_psql",
        "(export) Parquet rows/s against psql's",
        m[4],
        "rows/s",
        "≥ 0.8× psql's rows/s, same rounds",
        Some(("psql \\copy, same rounds".into(), per_sec(m[0]))),
        |r| r >= 0.8,
    ));
    summary.push(Figure::absolute(
        "export.worker_peak_rss_mib",
        "(export) worker's peak resident memory",
        peak,
        "MiB",
        "< 64 MiB at 1 M rows",
        peak < 64.0,
    ));
    Ok(())
}

/// Writes the load's dirty pages out before the rounds: left to the checkpointer, they went
/// to disk during the rounds (bursts of 150–350 MB/s, I/O wait up to a third of the CPU)
/// and single-row commits of the exports took over a second (2026-12-02). A CHECKPOINT needs
/// a superuser (or `pg_checkpoint`); without one the rounds go on and say so.
async fn settle_writes(env: &BenchEnv) {
    let started = Instant::now();
    match sqlx::query("CHECKPOINT").execute(&env.state.db).await {
        Ok(_) => println!(
            "    checkpoint after the load: {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Err(e) => println!("    no checkpoint after the load ({e}): the rounds may pay its writes"),
    }
}

fn check_rows(orders: usize, done: &[&Finished]) -> anyhow::Result<()> {
    for f in done {
        if f.rows != orders as i64 {
            bail!("an export wrote {} rows of {orders}", f.rows);
        }
    }
    Ok(())
}

/// The peer: `psql \copy` of the same SELECT (the export's default columns, in order id
/// order) to a file in the bench's scratch directory; its time and the file's size.
async fn psql_copy(env: &BenchEnv) -> anyhow::Result<(Duration, u64)> {
    let dir = env.scratch_dir();
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("psql.csv");
    let copy = format!(
        "\\copy (SELECT {} FROM order_views v WHERE v.tenant_id = '{TENANT}' ORDER BY v.id) TO '{}' WITH (FORMAT csv, HEADER true)",
        csv_select_list(&Column::DEFAULT),
        file.display()
    );
    let started = Instant::now();
    let out = tokio::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            env.database_url(),
        ])
        .args(["-c", &copy])
        .output()
        .await
        .context("psql (the peer) could not start: is the PostgreSQL client installed?")?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        bail!(
            "psql \\copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bytes = std::fs::metadata(&file)?.len();
    std::fs::remove_file(&file)?;
    Ok((elapsed, bytes))
}

struct Http {
    client: reqwest::Client,
    headers: HeaderMap,
    url: String,
}

impl Http {
    /// Requests an export of every order and waits for its job to end.
    async fn export(&self, env: &BenchEnv, format: &str) -> anyhow::Result<Finished> {
        let started = Instant::now();
        let res = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .json(&json!({ "format": format }))
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await?;
        if status != reqwest::StatusCode::ACCEPTED {
            bail!("POST exports ({format}): HTTP {status}: {body}");
        }
        let job: Uuid = body["job"]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("the answer has no job id")?;
        let export: Uuid = body["export_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("the answer has no export id")?;
        wait_ended(env, job, started).await?;
        let (rows, bytes, elapsed): (Option<i64>, Option<i64>, f64) = sqlx::query_as(
            "SELECT e.row_count, e.bytes, extract(epoch FROM r.finished_at - r.created_at)::float8
             FROM exports e JOIN runs r ON r.id = e.run_id WHERE e.id = $1",
        )
        .bind(export)
        .fetch_one(&env.state.db)
        .await?;
        Ok(Finished {
            rows: rows.context("the export has no row count")?,
            bytes: bytes.context("the export has no size")?,
            elapsed: Duration::from_secs_f64(elapsed),
        })
    }
}

async fn wait_ended(env: &BenchEnv, job: Uuid, since: Instant) -> anyhow::Result<()> {
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
            .bind(job)
            .fetch_one(&env.state.db)
            .await?;
        match status.as_str() {
            "succeeded" => return Ok(()),
            "queued" | "running" if since.elapsed() < Duration::from_secs(600) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => bail!("the export job is {other} after {:?}", since.elapsed()),
        }
    }
}
