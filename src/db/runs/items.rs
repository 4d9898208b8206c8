//! The items of a long job (`run_items`): one per order of a bulk job, each carried out by a
//! child run. Written by the job's steps while they hold the run's lease; each write is its
//! own short transaction, so a crash loses at most the items in flight, whose child runs
//! are found again by `settle`.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ids::{RunId, TenantId};

/// Adds the job's items, each with its own input when `inputs` has one at its place (an
/// import's lines), and sets the job's progress to count items; the number of items the job
/// has. A job that has items already keeps them, untouched, whatever `subjects` is now: a
/// step re-run after a crash may find another list (a filter that matches `[X, A, B, C]`
/// where it matched `[A, B, C]`), and merging it by place would skip `X` and repeat `C`.
pub async fn insert(
    conn: &mut PgConnection,
    run_id: RunId,
    tenant: &TenantId,
    subjects: &[String],
    inputs: &[Value],
) -> sqlx::Result<i64> {
    let had = sqlx::query_scalar!(
        r#"WITH had AS (SELECT count(*) AS n FROM run_items WHERE run_id = $1),
           i AS (
             INSERT INTO run_items (run_id, idx, tenant_id, subject_id, input)
             SELECT $1, t.ord - 1, $2, t.subject, t.input
             FROM unnest($3::text[], $5::jsonb[]) WITH ORDINALITY AS t(subject, input, ord)
             WHERE t.subject IS NOT NULL AND (SELECT n FROM had) = 0
             ON CONFLICT DO NOTHING),
           r AS (
             UPDATE runs SET progress_unit = 'items', progress_total = $4, progress_done = 0,
                 progress_failed = 0, updated_at = now()
             WHERE id = $1 AND (SELECT n FROM had) = 0)
         SELECT n AS "had!" FROM had"#,
        run_id.as_uuid(),
        tenant.as_str(),
        subjects,
        i32::try_from(subjects.len()).unwrap_or(i32::MAX),
        inputs,
    )
    .fetch_one(conn)
    .await?;
    Ok(if had == 0 { subjects.len() as i64 } else { had })
}

/// Items of the tenant's bulk jobs whose child run is under way: the per-tenant bound.
pub async fn running_of_tenant(conn: &mut PgConnection, tenant: &TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "running!" FROM run_items WHERE tenant_id = $1 AND status = 'running'"#,
        tenant.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// A pending item, locked.
pub struct PendingItem {
    pub idx: i32,
    pub subject_id: String,
    /// Its own input (an import's line), if any.
    pub input: Option<Value>,
}

/// Up to `limit` pending items, in order, locked for the caller's transaction.
pub async fn lock_pending(
    conn: &mut PgConnection,
    run_id: RunId,
    limit: i64,
) -> sqlx::Result<Vec<PendingItem>> {
    sqlx::query_as!(
        PendingItem,
        "SELECT idx, subject_id, input FROM run_items WHERE run_id = $1 AND status = 'pending'
         ORDER BY idx LIMIT $2 FOR UPDATE SKIP LOCKED",
        run_id.as_uuid(),
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Records how an item went without a child run (`skipped` with the blocked code, or
/// `failed` when its order is gone) or that its child run started (`running`).
pub async fn set(
    conn: &mut PgConnection,
    run_id: RunId,
    idx: i32,
    status: &str,
    child: Option<RunId>,
    code: Option<&str>,
    detail: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE run_items SET status = $3, child_run_id = $4, code = $5, detail = $6,
             updated_at = now()
         WHERE run_id = $1 AND idx = $2",
        run_id.as_uuid(),
        idx,
        status,
        child.map(|c| c.as_uuid()),
        code,
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the outcome of every running item whose child run ended (`succeeded`, else
/// `failed` with the child's problem code); returns how many ended.
pub async fn settle(conn: &mut PgConnection, run_id: RunId) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE run_items i SET updated_at = now(),
             status = CASE WHEN c.status = 'succeeded' THEN 'succeeded' ELSE 'failed' END,
             code = CASE WHEN c.status = 'succeeded' THEN NULL
                         ELSE coalesce(c.error->>'code', 'job.' || c.status) END,
             detail = CASE WHEN c.status = 'succeeded' THEN NULL ELSE c.error->>'detail' END
         FROM runs c
         WHERE i.run_id = $1 AND i.status = 'running' AND c.id = i.child_run_id
           AND c.status NOT IN ('queued', 'running')",
        run_id.as_uuid(),
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Whether any item of the job is pending or running (one entry of `run_items_open`).
pub async fn any_open(conn: &mut PgConnection, run_id: RunId) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT FROM run_items WHERE run_id = $1
                          AND status IN ('pending', 'running')) AS "open!""#,
        run_id.as_uuid(),
    )
    .fetch_one(conn)
    .await
}

/// Marks the pending items `cancelled` (the job was cancelled before reaching them).
pub async fn cancel_pending(conn: &mut PgConnection, run_id: RunId) -> sqlx::Result<u64> {
    let n = sqlx::query!(
        "UPDATE run_items SET status = 'cancelled', updated_at = now()
         WHERE run_id = $1 AND status = 'pending'",
        run_id.as_uuid(),
    )
    .execute(conn)
    .await?;
    Ok(n.rows_affected())
}

/// How many items are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemCounts {
    pub pending: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    pub cancelled: i64,
}

impl ItemCounts {
    /// Items that reached an outcome.
    pub fn finished(&self) -> i64 {
        self.succeeded + self.failed + self.skipped + self.cancelled
    }
}

/// The job's item counts, and its progress set from them (`done` = finished items,
/// `failed` = failed ones), while `worker` holds it.
pub async fn count_and_report(
    conn: &mut PgConnection,
    run_id: RunId,
    worker: &str,
) -> sqlx::Result<ItemCounts> {
    let c = sqlx::query!(
        r#"WITH c AS (
             SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                    count(*) FILTER (WHERE status = 'running') AS running,
                    count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                    count(*) FILTER (WHERE status = 'failed') AS failed,
                    count(*) FILTER (WHERE status = 'skipped') AS skipped,
                    count(*) FILTER (WHERE status = 'cancelled') AS cancelled
             FROM run_items WHERE run_id = $1),
         r AS (UPDATE runs SET updated_at = now(),
                   progress_done = (SELECT succeeded + failed + skipped + cancelled FROM c)::int,
                   progress_failed = (SELECT failed FROM c)::int
               WHERE id = $1 AND lease_owner = $2)
         SELECT pending AS "pending!", running AS "running!", succeeded AS "succeeded!",
                failed AS "failed!", skipped AS "skipped!", cancelled AS "cancelled!" FROM c"#,
        run_id.as_uuid(),
        worker,
    )
    .fetch_one(conn)
    .await?;
    Ok(ItemCounts {
        pending: c.pending,
        running: c.running,
        succeeded: c.succeeded,
        failed: c.failed,
        skipped: c.skipped,
        cancelled: c.cancelled,
    })
}

/// One item as the job's item listing shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemRow {
    pub idx: i32,
    /// The order.
    pub subject_id: String,
    pub status: String,
    /// The run that carried it out.
    pub child_run_id: Option<Uuid>,
    /// Why it failed or was skipped (a problem code such as `order.blocked.already_shipped`).
    pub code: Option<String>,
    pub detail: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The items of a job of the tenant after `after_idx`, in order, optionally of one status.
pub async fn list(
    conn: &mut PgConnection,
    tenant: &TenantId,
    run_id: RunId,
    status: Option<&str>,
    after_idx: i32,
    limit: i64,
) -> sqlx::Result<Vec<ItemRow>> {
    sqlx::query_as!(
        ItemRow,
        "SELECT idx, subject_id, status, child_run_id, code, detail, updated_at FROM run_items
         WHERE tenant_id = $1 AND run_id = $2 AND ($3::text IS NULL OR status = $3) AND idx > $4
         ORDER BY idx LIMIT $5",
        tenant.as_str(),
        run_id.as_uuid(),
        status,
        after_idx,
        limit,
    )
    .fetch_all(conn)
    .await
}
