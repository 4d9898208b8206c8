//! The health of one tenant's runs over a recent window, for the console's KPI page: runs
//! ended by status, pick-up latency, step durations and the steps failing at an upstream.
//!
//! Every figure reads the same two sets of the tenant's runs, each through an existing
//! partial index whatever the size of the table: the runs that ended in the window
//! (`runs_finished`, on `finished_at` of ended runs, so the window bounds the scan) and the
//! runs in flight (`runs_due`, on queued and running runs only). A run's steps are read from
//! its own row (`runs.steps`, one element per step).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::runs::RunStatus;
use crate::domain::ids::TenantId;

/// Runs that ended in one interval with one status.
#[derive(Debug, Clone)]
pub struct EndedRuns {
    /// Start of the interval.
    pub bucket: DateTime<Utc>,
    pub status: RunStatus,
    pub runs: i64,
}

/// Runs ended since `since`, per interval of `bucket_secs` (aligned to the epoch) and status.
pub async fn ended_by_status(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    since: DateTime<Utc>,
    bucket_secs: i32,
) -> sqlx::Result<Vec<EndedRuns>> {
    sqlx::query_as!(
        EndedRuns,
        r#"SELECT to_timestamp(floor(extract(epoch FROM finished_at)::float8
                                     / $3::float8) * $3::float8) AS "bucket!",
                  status AS "status!: RunStatus",
                  count(*) AS "runs!"
           FROM runs
           WHERE finished_at >= $2
             AND status NOT IN ('queued', 'running') AND tenant_id = $1
           GROUP BY 1, 2
           ORDER BY 1, 2"#,
        tenant_id.as_str(),
        since,
        f64::from(bucket_secs),
    )
    .fetch_all(conn)
    .await
}

/// The tenant's runs waiting and running now.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    pub queued: i64,
    pub running: i64,
}

pub async fn in_flight(conn: &mut PgConnection, tenant_id: &TenantId) -> sqlx::Result<InFlight> {
    sqlx::query_as!(
        InFlight,
        r#"SELECT count(*) FILTER (WHERE status = 'queued') AS "queued!",
                  count(*) FILTER (WHERE status = 'running') AS "running!"
           FROM runs WHERE status IN ('queued', 'running') AND tenant_id = $1"#,
        tenant_id.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// Pick-up latency of the runs first claimed in one interval: from the run's `created_at`
/// (its acceptance) to its `started_at` (the first claim by a worker), in milliseconds.
#[derive(Debug, Clone)]
pub struct Pickup {
    pub bucket: DateTime<Utc>,
    pub runs: i64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Pick-up percentiles of the runs first claimed since `since`, per interval.
pub async fn pickup(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    since: DateTime<Utc>,
    bucket_secs: i32,
) -> sqlx::Result<Vec<Pickup>> {
    sqlx::query_as!(
        Pickup,
        r#"WITH picked AS (
               SELECT started_at, extract(epoch FROM started_at - created_at)::float8 * 1000 AS ms
               FROM runs
               WHERE finished_at >= $2
                 AND status NOT IN ('queued', 'running') AND tenant_id = $1
                 AND started_at >= $2
               UNION ALL
               SELECT started_at, extract(epoch FROM started_at - created_at)::float8 * 1000
               FROM runs
               WHERE status IN ('queued', 'running') AND tenant_id = $1 AND started_at >= $2)
           SELECT to_timestamp(floor(extract(epoch FROM started_at)::float8 / $3::float8)
                               * $3::float8) AS "bucket!",
                  count(*) AS "runs!",
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS "p50_ms!",
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS "p95_ms!",
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS "p99_ms!"
           FROM picked
           GROUP BY 1
           ORDER BY 1"#,
        tenant_id.as_str(),
        since,
        f64::from(bucket_secs),
    )
    .fetch_all(conn)
    .await
}

/// How long one step of one workflow took when it succeeded.
#[derive(Debug, Clone)]
pub struct StepDurations {
    pub kind: String,
    pub step: String,
    pub steps: i64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// The `limit` steps (by workflow and step name) with the longest p95 among the steps done
/// since `since` in runs that ended since then or are in flight.
pub async fn slowest_steps(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    since: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<StepDurations>> {
    sqlx::query_as!(
        StepDurations,
        r#"WITH recent AS (
               SELECT kind, steps FROM runs
               WHERE finished_at >= $2
                 AND status NOT IN ('queued', 'running') AND tenant_id = $1
               UNION ALL
               SELECT kind, steps FROM runs WHERE status IN ('queued', 'running') AND tenant_id = $1)
           SELECT r.kind AS "kind!", s.name AS "step!", count(*) AS "steps!",
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY s.duration_ms::float8) AS "p50_ms!",
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY s.duration_ms::float8) AS "p95_ms!"
           FROM recent r
           CROSS JOIN LATERAL (
               SELECT e ->> 'name' AS name, (e ->> 'duration_ms')::bigint AS duration_ms
               FROM jsonb_array_elements(r.steps) e
               WHERE e ->> 'status' = 'done' AND e ->> 'duration_ms' IS NOT NULL
                 AND (e ->> 'finished_at')::timestamptz >= $2) s
           GROUP BY 1, 2
           ORDER BY 5 DESC, 1, 2
           LIMIT $3"#,
        tenant_id.as_str(),
        since,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Steps whose last attempt failed at an upstream service, by service and error code.
#[derive(Debug, Clone)]
pub struct UpstreamFailures {
    /// The service the upstream client names in the step's error (`service`); `unknown`
    /// for an `upstream.*` error recorded without it.
    pub service: String,
    pub code: String,
    pub steps: i64,
}

/// The steps of runs that ended since `since`, or are in flight and changed since then,
/// whose stored error came from an upstream call, most first.
pub async fn upstream_failures(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<UpstreamFailures>> {
    sqlx::query_as!(
        UpstreamFailures,
        r#"WITH recent AS (
               SELECT steps FROM runs
               WHERE finished_at >= $2
                 AND status NOT IN ('queued', 'running') AND tenant_id = $1
               UNION ALL
               SELECT steps FROM runs
               WHERE status IN ('queued', 'running') AND tenant_id = $1 AND updated_at >= $2)
           SELECT coalesce(s.last_error ->> 'service', 'unknown') AS "service!",
                  coalesce(s.last_error ->> 'code', '') AS "code!",
                  count(*) AS "steps!"
           FROM recent r
           CROSS JOIN LATERAL (
               SELECT e -> 'last_error' AS last_error FROM jsonb_array_elements(r.steps) e
               WHERE jsonb_typeof(e -> 'last_error') = 'object'
                 AND (e -> 'last_error' ->> 'service' IS NOT NULL
                      OR e -> 'last_error' ->> 'code' LIKE 'upstream.%')) s
           GROUP BY 1, 2
           ORDER BY 3 DESC, 1, 2"#,
        tenant_id.as_str(),
        since,
    )
    .fetch_all(conn)
    .await
}
