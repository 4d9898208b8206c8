//! The registry of worker processes (`worker_processes`): written by each process at start
//! and on its heartbeat, read by the console's workers page and the engine API. Shared
//! infrastructure: no tenant; the per-tenant part (runs in flight) is counted from `runs`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::ids::TenantId;

/// What a worker process says about itself.
pub struct ProcessBeat<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub pid: i32,
    pub queues: &'a [String],
    pub concurrency: i32,
    pub lease_owners: &'a [String],
}

/// One row of `worker_processes`.
pub struct ProcessRow {
    pub name: String,
    pub host: String,
    pub pid: i32,
    pub queues: Vec<String>,
    pub concurrency: i32,
    pub lease_owners: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
}

/// The process's start and each heartbeat: one UPSERT.
pub async fn beat(conn: &mut PgConnection, p: &ProcessBeat<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO worker_processes (name, host, pid, queues, concurrency, lease_owners)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name) DO UPDATE
         SET lease_owners = EXCLUDED.lease_owners, heartbeat_at = now()",
        p.name,
        p.host,
        p.pid,
        p.queues,
        p.concurrency,
        p.lease_owners,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A clean shutdown: the process is gone.
pub async fn remove(conn: &mut PgConnection, name: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM worker_processes WHERE name = $1", name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the rows of processes silent for longer than `older_than`; returns how many.
pub async fn prune(conn: &mut PgConnection, older_than: std::time::Duration) -> sqlx::Result<u64> {
    let secs = older_than.as_secs_f64();
    let done = sqlx::query!(
        "DELETE FROM worker_processes WHERE heartbeat_at < now() - make_interval(secs => $1)",
        secs,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Every registered process, the most recently started first (bounded: the table holds
/// at most a day of processes).
pub async fn list(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<ProcessRow>> {
    sqlx::query_as!(
        ProcessRow,
        "SELECT name, host, pid, queues, concurrency, lease_owners, started_at, heartbeat_at
         FROM worker_processes ORDER BY started_at DESC, name LIMIT $1",
        limit,
    )
    .fetch_all(conn)
    .await
}

/// The tenant's running runs per lease owner, among `owners` (the registered processes'
/// names): what each process is doing for this tenant, and nothing of other tenants.
pub async fn tenant_runs_in_flight(
    conn: &mut PgConnection,
    tenant: &TenantId,
    owners: &[String],
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT lease_owner AS "lease_owner!", count(*) AS "runs!"
           FROM runs
           WHERE status = 'running' AND tenant_id = $1 AND lease_owner = ANY($2)
           GROUP BY lease_owner"#,
        tenant.as_str(),
        owners,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.lease_owner, r.runs)).collect())
}
