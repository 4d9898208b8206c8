//! Agents' tasks (`tasks`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::{CustomerId, TenantId};
use crate::domain::tasks::{TaskKind, TaskStatus};

/// A task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskRow {
    pub id: Uuid,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub title: String,
    /// Internal; never shown to the customer.
    pub notes: Option<String>,
    /// The order it concerns, if any.
    pub order_id: Option<String>,
    /// The agent (or `team:<name>`) it is given to.
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A row as stored: kind and status as text.
struct Stored {
    id: Uuid,
    kind: String,
    status: String,
    title: String,
    notes: Option<String>,
    order_id: Option<String>,
    assignee: Option<String>,
    due_at: Option<DateTime<Utc>>,
    created_by: String,
    created_at: DateTime<Utc>,
    closed_by: Option<String>,
    closed_at: Option<DateTime<Utc>>,
}

impl From<Stored> for TaskRow {
    fn from(s: Stored) -> Self {
        TaskRow {
            id: s.id,
            // the table's CHECKs allow only these
            kind: TaskKind::parse(&s.kind).unwrap_or(TaskKind::Escalate),
            status: TaskStatus::parse(&s.status).unwrap_or(TaskStatus::Open),
            title: s.title,
            notes: s.notes,
            order_id: s.order_id,
            assignee: s.assignee,
            due_at: s.due_at,
            created_by: s.created_by,
            created_at: s.created_at,
            closed_by: s.closed_by,
            closed_at: s.closed_at,
        }
    }
}

pub struct NewTask<'a> {
    pub tenant_id: &'a TenantId,
    pub kind: TaskKind,
    pub title: &'a str,
    pub notes: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub customer_id: Option<&'a CustomerId>,
    pub assignee: Option<&'a str>,
    pub due_at: Option<DateTime<Utc>>,
    pub created_by: &'a str,
}

pub async fn insert(conn: &mut PgConnection, t: &NewTask<'_>) -> sqlx::Result<TaskRow> {
    let row = sqlx::query_as!(
        Stored,
        "INSERT INTO tasks (tenant_id, id, kind, title, notes, order_id, customer_id, assignee,
                            due_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING id, kind, status, title, notes, order_id, assignee, due_at, created_by,
                   created_at, closed_by, closed_at",
        t.tenant_id.as_str(),
        Uuid::now_v7(),
        t.kind.as_str(),
        t.title,
        t.notes,
        t.order_id,
        t.customer_id.map(|c| c.as_str()),
        t.assignee,
        t.due_at,
        t.created_by,
    )
    .fetch_one(conn)
    .await?;
    Ok(row.into())
}

/// Which tasks to list: newest first, after the cursor's `(created_at, id)`.
#[derive(Debug, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub assignee: Option<String>,
    pub order_id: Option<String>,
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    f: &TaskFilter,
) -> sqlx::Result<Vec<TaskRow>> {
    let (at, id) = f.before.unzip();
    let rows = sqlx::query_as!(
        Stored,
        "SELECT id, kind, status, title, notes, order_id, assignee, due_at, created_by,
                created_at, closed_by, closed_at
         FROM tasks
         WHERE tenant_id = $1
           AND ($2::text IS NULL OR status = $2)
           AND ($3::text IS NULL OR assignee = $3)
           AND ($4::text IS NULL OR order_id = $4)
           AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
         ORDER BY created_at DESC, id DESC
         LIMIT $7",
        tenant_id.as_str(),
        f.status.map(TaskStatus::as_str),
        f.assignee.as_deref(),
        f.order_id.as_deref(),
        at,
        id,
        f.limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(TaskRow::from).collect())
}

/// The task, locked until the transaction ends (outside one, only while it is read).
pub async fn lock(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
) -> sqlx::Result<Option<TaskRow>> {
    let row = sqlx::query_as!(
        Stored,
        "SELECT id, kind, status, title, notes, order_id, assignee, due_at, created_by,
                created_at, closed_by, closed_at
         FROM tasks WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant_id.as_str(),
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(TaskRow::from))
}

/// Closes an open task as `status` (done or cancelled), appending `note` to its notes.
pub async fn close(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
    status: TaskStatus,
    note: Option<&str>,
    by: &str,
) -> sqlx::Result<Option<TaskRow>> {
    let row = sqlx::query_as!(
        Stored,
        "UPDATE tasks
         SET status = $3, closed_by = $4, closed_at = now(),
             notes = CASE WHEN $5::text IS NULL THEN notes
                          WHEN notes IS NULL THEN $5
                          ELSE notes || E'\\n' || $5 END
         WHERE tenant_id = $1 AND id = $2 AND status = 'open'
         RETURNING id, kind, status, title, notes, order_id, assignee, due_at, created_by,
                   created_at, closed_by, closed_at",
        tenant_id.as_str(),
        id,
        status.as_str(),
        by,
        note,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(TaskRow::from))
}

/// Erasure: what agents wrote on the customer's tasks may name them; the tasks stay.
pub async fn redact_of_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE tasks SET title = $3, notes = CASE WHEN notes IS NULL THEN NULL ELSE $3 END
         WHERE tenant_id = $1 AND customer_id = $2 AND (title <> $3 OR notes <> $3)",
        tenant_id.as_str(),
        customer_id.as_str(),
        crate::db::gdpr::REDACTED,
    )
    .execute(conn)
    .await?;
    Ok(())
}
