//! Exports for finance: the `exports` row of each export and its closed `export_parts`.
//! The rows themselves are selected in [`select`], the one place an export's SQL is built
//! at run time (the search language's WHERE clause, values bound).

pub mod select;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ids::{ExportId, RunId, TenantId};

/// An export as listed and shown: its row and the status of its run.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub id: ExportId,
    pub tenant_id: TenantId,
    pub run_id: RunId,
    pub format: String,
    pub compression: String,
    pub columns: Vec<String>,
    pub requested_by: String,
    pub total_rows: Option<i64>,
    pub row_count: Option<i64>,
    pub bytes: Option<i64>,
    pub sha256: Option<String>,
    pub object_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The run's status (`queued`, `running`, `succeeded`, `failed`…); `succeeded` once
    /// finished even after the run itself was deleted by retention.
    pub status: String,
    /// Rows in the parts closed so far.
    pub rows_so_far: i64,
    pub parts_closed: i64,
}

/// One closed part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    pub n: i32,
    pub rows: i64,
    pub bytes: i64,
    pub sha256: String,
    pub last_id: Option<String>,
    pub object_key: String,
}

pub struct NewExport<'a> {
    pub id: ExportId,
    pub tenant_id: &'a TenantId,
    pub run_id: RunId,
    pub format: &'a str,
    pub compression: &'a str,
    pub columns: Vec<String>,
    pub requested_by: &'a str,
}

pub async fn insert(conn: &mut PgConnection, e: &NewExport<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO exports (id, tenant_id, run_id, format, compression, columns, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        e.id.as_uuid(),
        e.tenant_id.as_str(),
        e.run_id.as_uuid(),
        e.format,
        e.compression,
        &e.columns,
        e.requested_by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The export `id` of `tenant`, with its status and progress.
pub async fn get(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: ExportId,
) -> sqlx::Result<Option<ExportRow>> {
    let rows = list_where(conn, tenant, Some(id), None, 1).await?;
    Ok(rows.into_iter().next())
}

/// The tenant's exports, newest first, after the cursor `before` (created_at, id).
pub async fn list(
    conn: &mut PgConnection,
    tenant: &TenantId,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<ExportRow>> {
    list_where(conn, tenant, None, before, limit).await
}

async fn list_where(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: Option<ExportId>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<ExportRow>> {
    let (before_at, before_id) = before.unzip();
    sqlx::query_as!(
        ExportRow,
        r#"SELECT e.id AS "id: ExportId", e.tenant_id AS "tenant_id: TenantId",
                  e.run_id AS "run_id: RunId", e.format, e.compression, e.columns,
                  e.requested_by, e.total_rows, e.row_count, e.bytes, e.sha256, e.object_key,
                  e.created_at, e.finished_at,
                  CASE WHEN e.finished_at IS NOT NULL THEN 'succeeded'
                       ELSE coalesce(r.status, 'failed') END AS "status!",
                  coalesce(p.rows, 0)::bigint AS "rows_so_far!",
                  coalesce(p.parts, 0)::bigint AS "parts_closed!"
             FROM exports e
             LEFT JOIN runs r ON r.id = e.run_id
             LEFT JOIN LATERAL (SELECT sum(rows) AS rows, count(*) AS parts
                                  FROM export_parts WHERE export_id = e.id) p ON true
            WHERE e.tenant_id = $1
              AND ($2::uuid IS NULL OR e.id = $2)
              AND ($3::timestamptz IS NULL OR (e.created_at, e.id) < ($3, $4::uuid))
            ORDER BY e.created_at DESC, e.id DESC
            LIMIT $5"#,
        tenant.as_str(),
        id.map(|i| i.as_uuid()),
        before_at,
        before_id,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// The closed parts of an export, in order.
pub async fn parts(
    conn: &mut PgConnection,
    tenant: &TenantId,
    export: ExportId,
) -> sqlx::Result<Vec<PartRow>> {
    sqlx::query_as!(
        PartRow,
        "SELECT n, rows, bytes, sha256, last_id, object_key FROM export_parts
          WHERE tenant_id = $1 AND export_id = $2 ORDER BY n",
        tenant.as_str(),
        export.as_uuid(),
    )
    .fetch_all(conn)
    .await
}

/// Records part `p` as closed. A part already closed stays as it was (false): a closed
/// part is never rewritten.
pub async fn close_part(
    conn: &mut PgConnection,
    tenant: &TenantId,
    export: ExportId,
    p: &PartRow,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO export_parts (tenant_id, export_id, n, rows, bytes, sha256, last_id, object_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (export_id, n) DO NOTHING",
        tenant.as_str(),
        export.as_uuid(),
        p.n,
        p.rows,
        p.bytes,
        p.sha256,
        p.last_id,
        p.object_key,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the closed parts after part `n` (those a second COPY closed past a part the
/// first never closed): they are written again from part `n` + 1. The keys of their
/// objects, which the new parts of the same numbers overwrite.
pub async fn reopen_after(
    conn: &mut PgConnection,
    tenant: &TenantId,
    export: ExportId,
    n: i32,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "DELETE FROM export_parts WHERE tenant_id = $1 AND export_id = $2 AND n > $3
         RETURNING object_key",
        tenant.as_str(),
        export.as_uuid(),
        n,
    )
    .fetch_all(conn)
    .await
}

/// How many rows the export has: its closed parts' and those its COPY found still to write.
pub async fn set_total(
    conn: &mut PgConnection,
    tenant: &TenantId,
    export: ExportId,
    total: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE exports SET total_rows = $3 WHERE tenant_id = $1 AND id = $2",
        tenant.as_str(),
        export.as_uuid(),
        total,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What a finished export holds.
pub struct Finished<'a> {
    pub row_count: i64,
    pub bytes: i64,
    pub sha256: &'a str,
    pub object_key: Option<&'a str>,
}

pub async fn finish(
    conn: &mut PgConnection,
    tenant: &TenantId,
    export: ExportId,
    f: &Finished<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE exports SET row_count = $3, bytes = $4, sha256 = $5, object_key = $6,
                finished_at = coalesce(finished_at, now())
          WHERE tenant_id = $1 AND id = $2",
        tenant.as_str(),
        export.as_uuid(),
        f.row_count,
        f.bytes,
        f.sha256,
        f.object_key,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Exports started longer than `older_than` ago whose run is not still going, oldest first,
/// at most `limit`: those retention deletes (`workers::sweeper`).
pub async fn past_retention(
    conn: &mut PgConnection,
    older_than: std::time::Duration,
    limit: i64,
) -> sqlx::Result<Vec<(TenantId, ExportId)>> {
    let secs = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
    let rows = sqlx::query!(
        r#"SELECT e.tenant_id AS "tenant_id: TenantId", e.id AS "id: ExportId" FROM exports e
            WHERE e.created_at < now() - $1::bigint * interval '1 second'
              AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = e.run_id
                              AND r.status IN ('queued', 'running'))
            ORDER BY e.created_at
            LIMIT $2"#,
        secs,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.id)).collect())
}

/// Deletes an export's record and its parts' (its files go first: a record left by a
/// crash in between is taken again by the next pass).
pub async fn delete(
    conn: &mut PgConnection,
    tenant: &TenantId,
    export: ExportId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM exports WHERE tenant_id = $1 AND id = $2",
        tenant.as_str(),
        export.as_uuid(),
    )
    .execute(conn)
    .await?;
    Ok(())
}
