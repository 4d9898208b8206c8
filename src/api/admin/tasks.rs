//! Agents' tasks — pick up a parcel, call the customer, escalate — with an assignee and a
//! due date, listed and filtered, and closed as done or cancelled. orderdesk's own records:
//! no workflow, in force when answered.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, PathParams, Valid, ValidQuery, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::{Listing, RequestMeta, bounded_limit, decode_cursor, page_of};
use crate::db;
use crate::db::audit::Entry;
use crate::db::tasks::{NewTask, TaskFilter, TaskRow};
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::domain::tasks::{TaskKind, TaskStatus};
use crate::error::{Error, Result};
use crate::state::AppState;

/// The longest title, and the longest assignee.
const MAX_TITLE: usize = 200;
const MAX_ASSIGNEE: usize = 100;

/// A task id in a path: a malformed one is a task that does not exist.
pub struct TaskRef(pub Uuid);

impl PathParams for TaskRef {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self> {
        Uuid::parse_str(&raw)
            .map(TaskRef)
            .map_err(|_| Error::not_found("task"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskIn {
    pub kind: TaskKind,
    /// 1 to 200 characters.
    pub title: String,
    /// At most 500 characters; internal (never shown to the customer).
    #[serde(default)]
    pub notes: Option<String>,
    /// An order of the tenant's (404 otherwise).
    #[serde(default)]
    pub order_id: Option<String>,
    /// An agent id or `team:<name>`, at most 100 characters.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub dry_run: bool,
}

/// The text without surrounding blanks; none when nothing is left.
fn trimmed(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn check_len(field: &str, text: &str, max: usize) -> Result<()> {
    let n = text.trim().chars().count();
    if n == 0 || n > max {
        return Err(invalid(field, format!("1 to {max} characters")));
    }
    Ok(())
}

impl Validate for TaskIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        check_len("title", &self.title, MAX_TITLE)?;
        validate_note("notes", self.notes.as_deref(), false)?;
        if let Some(a) = &self.assignee {
            check_len("assignee", a, MAX_ASSIGNEE)?;
        }
        if let Some(o) = &self.order_id {
            OrderId::parse(o).map_err(|_| invalid("order_id", "not an order id"))?;
        }
        Ok(())
    }
}

/// The answer to `dry_run: true`: the task as it would be created (the body is valid and
/// names an order of the tenant's).
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskDryRunOut {
    pub dry_run: bool,
    pub task: TaskIn,
}

impl Answer for TaskRow {}

struct CreateTask<'a> {
    body: &'a TaskIn,
    order: Option<Order>,
}

impl Intake for CreateTask<'_> {
    type Answer = TaskRow;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<TaskRow>> {
        let (b, by) = (self.body, adm.caller().principal.clone());
        let tenant = adm.caller().tenant_id.clone();
        let new = NewTask {
            tenant_id: &tenant,
            kind: b.kind,
            title: b.title.trim(),
            notes: trimmed(&b.notes),
            order_id: self.order.as_ref().map(|o| o.id.as_str()),
            customer_id: self.order.as_ref().map(|o| &o.customer_id),
            assignee: trimmed(&b.assignee),
            due_at: b.due_at,
            created_by: &by,
        };
        let task = db::tasks::insert(adm.conn(), &new).await?;
        let id = task.id.to_string();
        adm.audit(Entry {
            action: "task.create",
            subject_type: "task",
            subject_id: &id,
            reason: None,
            before: None,
            after: Some(json!({ "kind": task.kind, "order_id": task.order_id,
                                "assignee": task.assignee, "due_at": task.due_at })),
            personal_data_of: self.order.as_ref().map(|o| &o.customer_id),
        })
        .await?;
        Ok(Admitted::done(StatusCode::CREATED, task))
    }
}

async fn create(
    state: &AppState,
    agent: &Authorized<can::QueuesWork>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    body: TaskIn,
) -> Result<Response> {
    let order = match &body.order_id {
        Some(id) => Some(
            agent
                .tenant_order(state, &OrderId::new(id.as_str()))
                .await?,
        ),
        None => None,
    };
    if body.dry_run {
        return Ok(Json(TaskDryRunOut {
            dry_run: true,
            task: body,
        })
        .into_response());
    }
    let key = key.optional_for("task.create", &body);
    let intake = CreateTask { body: &body, order };
    accept(state, agent.caller(meta), key, intake).await
}

/// Creates a task (201), optionally on an order of the tenant's, given to an agent or team
/// and due at a time. Requires `queues.work`; an `Idempotency-Key` replays the creation.
#[utoipa::path(post, path = "/v1/admin/tasks", tag = "admin",
    params(("Idempotency-Key" = Option<String>, Header)), request_body = TaskIn, security(("bearer" = ["queues.work"])),
    responses((status = 201, body = TaskRow), (status = 200, body = TaskDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_task(
    State(state): State<AppState>,
    agent: Authorized<can::QueuesWork>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Valid { body, .. }: Valid<TaskIn>,
) -> Result<Response> {
    create(&state, &agent, &meta, key, body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTasksQuery {
    /// `open`, `done` or `cancelled`.
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub order_id: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for ListTasksQuery {
    type Checked = Listing<TaskFilter>;

    fn validate(&self) -> Result<Self::Checked> {
        let limit = bounded_limit(self.limit, 20, 100)?;
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(
                TaskStatus::parse(s).ok_or_else(|| invalid("status", "open, done or cancelled"))?,
            ),
        };
        let filter = TaskFilter {
            status,
            assignee: self.assignee.clone(),
            order_id: self.order_id.clone(),
            before: self.cursor.as_deref().map(decode_cursor).transpose()?,
            limit: limit + 1,
        };
        Ok(Listing { filter, limit })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskListOut {
    pub data: Vec<TaskRow>,
    pub next_cursor: Option<String>,
}

/// The tenant's tasks, newest first, filtered by status, assignee and order. Requires
/// `orders.read`.
#[utoipa::path(get, path = "/v1/admin/tasks", tag = "admin", params(ListTasksQuery),
    security(("bearer" = ["orders.read"])),
    responses((status = 200, body = TaskListOut), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_tasks(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
    ValidQuery(Listing { filter, limit }): ValidQuery<ListTasksQuery>,
) -> Result<Json<TaskListOut>> {
    let mut conn = state.db.acquire().await?;
    let tasks = db::tasks::list(&mut conn, &agent.tenant_id, &filter).await?;
    let (data, next_cursor) = page_of(tasks, limit, |t| (t.created_at, t.id));
    Ok(Json(TaskListOut { data, next_cursor }))
}

/// How a task ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    #[default]
    Done,
    Cancelled,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTaskIn {
    /// `done` (default) or `cancelled`.
    #[serde(default)]
    pub status: TaskOutcome,
    /// At most 500 characters, appended to the task's notes.
    #[serde(default)]
    pub note: Option<String>,
    /// Check that the task can be closed, closing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for CompleteTaskIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("note", self.note.as_deref(), false)
    }
}

/// The answer to `dry_run: true`: the open task a completion would close.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompleteTaskDryRunOut {
    pub dry_run: bool,
    pub task: TaskRow,
}

/// The task if it can be closed: 404 `task.not_found`, 409 `task.closed` otherwise.
fn closable(task: Option<TaskRow>) -> Result<TaskRow> {
    let task = task.ok_or_else(|| Error::not_found("task"))?;
    if task.status != TaskStatus::Open {
        let detail = format!("the task is already {}", task.status.as_str());
        return Err(Error::conflict("task.closed", detail));
    }
    Ok(task)
}

async fn complete(
    state: &AppState,
    agent: &Authorized<can::QueuesWork>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    (id, body): (Uuid, &CompleteTaskIn),
) -> Result<Response> {
    if body.dry_run {
        let mut conn = state.db.acquire().await?;
        let task = closable(db::tasks::lock(&mut conn, &agent.tenant_id, id).await?)?;
        return Ok(Json(CompleteTaskDryRunOut {
            dry_run: true,
            task,
        })
        .into_response());
    }
    let key = key.optional_for(&format!("task.complete:{id}"), body);
    let intake = CompleteTask { id, body };
    accept(state, agent.caller(meta), key, intake).await
}

struct CompleteTask<'a> {
    id: Uuid,
    body: &'a CompleteTaskIn,
}

impl Intake for CompleteTask<'_> {
    type Answer = TaskRow;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<TaskRow>> {
        let (tenant, by) = (
            adm.caller().tenant_id.clone(),
            adm.caller().principal.clone(),
        );
        let task = closable(db::tasks::lock(adm.conn(), &tenant, self.id).await?)?;
        let status = match self.body.status {
            TaskOutcome::Done => TaskStatus::Done,
            TaskOutcome::Cancelled => TaskStatus::Cancelled,
        };
        let note = self
            .body
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let closed = db::tasks::close(adm.conn(), &tenant, self.id, status, note, &by).await?;
        // the row is locked: it is still open
        let closed = closed.ok_or_else(|| Error::conflict("task.closed", "the task was closed"))?;
        let id = closed.id.to_string();
        adm.audit(Entry {
            action: "task.complete",
            subject_type: "task",
            subject_id: &id,
            reason: None,
            before: Some(json!({ "status": task.status })),
            after: Some(json!({ "status": closed.status })),
            personal_data_of: None,
        })
        .await?;
        Ok(Admitted::done(StatusCode::OK, closed))
    }
}

/// Closes an open task as `done` (default) or `cancelled`, with an optional note; a closed
/// task → 409 `task.closed`. `dry_run: true` answers the task it would close (a
/// `CompleteTaskDryRunOut`), closing nothing. Requires `queues.work`; an `Idempotency-Key` replays it.
#[utoipa::path(post, path = "/v1/admin/tasks/{task_id}/complete", tag = "admin",
    params(("task_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = CompleteTaskIn, security(("bearer" = ["queues.work"])),
    responses((status = 200, body = TaskRow), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn complete_task(
    State(state): State<AppState>,
    agent: Authorized<can::QueuesWork>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(TaskRef(id)): Path<TaskRef>,
    Valid { body, .. }: Valid<CompleteTaskIn>,
) -> Result<Response> {
    complete(&state, &agent, &meta, key, (id, &body)).await
}
