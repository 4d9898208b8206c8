//! The job resource that clients poll: a run of a workflow, rendered from Postgres.
//! `GET /v1/admin/jobs/{id}`, `GET /v1/admin/jobs` (and customers' requests embed it); its
//! control (`control`: cancel, retry, the dead jobs), its progress stream (`events`), and
//! what of a result each caller may see (`viewer`).

pub mod control;
pub mod events;
pub mod items;
pub mod viewer;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::admin::access_log;
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::Path;
use crate::api::extract::{ValidQuery, Validate, invalid};
use crate::api::shared::{Listing, RequestMeta, bounded_limit, decode_cursor, page_of};
use crate::db;
use crate::db::runs::{RunRow, RunStatus, StepRow, StepStatus};
use crate::domain::ids::RunId;
use crate::error::{Error, Result};
use crate::state::AppState;
pub use viewer::Viewer;

/// How far a job got, in the unit its work is counted in.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressOut {
    /// `steps` for a workflow's steps; a long job counts `items`, `rows` or `parts`.
    pub unit: String,
    pub done: i32,
    pub total: i32,
    /// Items that failed so far (a long job goes on past them); 0 for steps.
    pub failed: i32,
    /// The step running now or last run.
    pub step: Option<String>,
    /// `done / total` in percent, one decimal; absent while the total is unknown (0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Units done per second since the job started, while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<f64>,
    /// Seconds left at that rate, while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<u64>,
}

impl ProgressOut {
    fn of(run: &RunRow, now: DateTime<Utc>) -> ProgressOut {
        let (done, total) = (run.progress_done, run.progress_total);
        let percent =
            (total > 0).then(|| (1000.0 * f64::from(done) / f64::from(total)).round() / 10.0);
        let running = run.status == RunStatus::Running || run.status == RunStatus::Queued;
        let elapsed = run
            .started_at
            .map(|s| (now - s).num_milliseconds() as f64 / 1000.0)
            .filter(|secs| *secs > 0.0 && running && done > 0);
        let rate = elapsed.map(|secs| (f64::from(done) / secs * 10.0).round() / 10.0);
        let eta = elapsed
            .filter(|_| total >= done)
            .map(|secs| (f64::from(total - done) * secs / f64::from(done)).ceil() as u64);
        ProgressOut {
            unit: run.progress_unit.clone(),
            done,
            total,
            failed: run.progress_failed,
            step: run.current_step.clone(),
            percent,
            rate_per_second: rate,
            eta_seconds: eta,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    pub name: String,
    pub status: StepStatus,
    pub attempts: i32,
    #[schema(value_type = Option<Object>)]
    pub last_error: Option<serde_json::Value>,
}

/// A job: one run of a workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobOut {
    #[schema(value_type = uuid::Uuid)]
    pub id: RunId,
    pub kind: String,
    pub status: RunStatus,
    pub progress: ProgressOut,
    pub attempts: i32,
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// A problem object when the job failed or was compensated.
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Admin views only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepOut>>,
    /// Admin views only: the correlation id of the request that started the job, which its
    /// upstream calls send as `X-Correlation-ID` and its acceptance's audit record holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Admin views only: the queue it waits in (`workflows.toml`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Admin views only: when a cancel was asked for (the job stops at its next step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// Admin views only: how many times an operator retried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    /// Whom the view was rendered for, so that the same job rendered again once it ended
    /// (`Prefer: wait`) shows that caller no more than before.
    #[serde(skip)]
    shown_to: Viewer,
}

impl JobOut {
    /// The view of whoever asked for the job (a customer, or the agent whose request
    /// started it): no steps, no internals, the whole result. Any other reader of a job
    /// gets [`JobOut::admin`].
    pub fn from_run(run: &RunRow) -> JobOut {
        JobOut {
            id: run.id,
            kind: run.kind.clone(),
            status: run.status,
            progress: ProgressOut::of(run, Utc::now()),
            attempts: run.attempts,
            result: run.result.clone(),
            error: run.error.clone().map(without_service),
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            updated_at: run.updated_at,
            steps: None,
            correlation_id: None,
            queue: None,
            cancel_requested_at: None,
            retries: None,
            shown_to: Viewer::default(),
        }
    }

    /// The admin's view without the steps (listings), with the result as `viewer` may see it.
    pub fn admin(run: &RunRow, viewer: &Viewer) -> JobOut {
        let mut out = JobOut::from_run(run);
        out.result = viewer.result(&run.kind, out.result.take());
        out.error = run.error.clone();
        out.shown_to = viewer.clone();
        out.correlation_id = run.correlation_id.clone();
        out.queue = Some(run.queue.clone());
        out.cancel_requested_at = run.cancel_requested_at;
        out.retries = Some(run.retries);
        out
    }

    /// The admin's view, with each step.
    pub fn with_steps(run: &RunRow, steps: &[StepRow], viewer: &Viewer) -> JobOut {
        let mut out = JobOut::admin(run, viewer);
        out.steps = Some(
            steps
                .iter()
                .map(|s| StepOut {
                    name: s.name.clone(),
                    status: s.status,
                    attempts: s.attempts,
                    last_error: s.last_error.clone(),
                })
                .collect(),
        );
        out
    }

    pub fn is_finished(&self) -> bool {
        self.status.is_terminal()
    }
}

/// Where a job is polled.
pub fn admin_location(id: RunId) -> String {
    format!("/v1/admin/jobs/{id}")
}

/// A run's error as its customer sees it: without the internal service an upstream error
/// names (agents' views keep it: the console counts failures by it).
fn without_service(mut error: serde_json::Value) -> serde_json::Value {
    if let Some(members) = error.as_object_mut() {
        members.remove(crate::upstream::SERVICE);
    }
    error
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListJobsQuery {
    /// Workflow name, e.g. `cancel_order`.
    pub kind: Option<String>,
    pub status: Option<String>,
    /// A queue of `workflows.toml`, e.g. `bulk`.
    pub queue: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobListOut {
    pub data: Vec<JobOut>,
    pub next_cursor: Option<String>,
}

impl Validate for ListJobsQuery {
    type Checked = Listing<db::runs::RunFilter>;

    fn validate(&self) -> Result<Self::Checked> {
        let limit = bounded_limit(self.limit, 20, 100)?;
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
                let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                invalid("status", format!("one of {}", names.join(", ")))
            })?),
        };
        if let Some(q) = &self.queue
            && !crate::workflows::spec::is_queue_name(q)
        {
            return Err(invalid("queue", "a queue name, [a-z][a-z0-9_]{0,31}"));
        }
        let filter = db::runs::RunFilter {
            kind: self.kind.clone(),
            status,
            customer_id: None,
            queue: self.queue.clone(),
            before: self.cursor.as_deref().map(decode_cursor).transpose()?,
            limit: limit + 1,
        };
        Ok(Listing { filter, limit })
    }
}

/// One job of the agent's tenant, with its steps.
#[utoipa::path(get, path = "/v1/admin/jobs/{job_id}", tag = "admin", params(("job_id" = Uuid, Path)),
    security(("bearer" = ["jobs.read"])),
    responses((status = 200, body = JobOut), (status = 404, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn get_job(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
    meta: RequestMeta,
    Path(id): Path<RunId>,
) -> Result<Json<JobOut>> {
    let mut tx = state.db.begin().await?;
    let run = db::runs::get(&mut tx, &agent.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found("job"))?;
    let steps = db::runs::steps(&mut tx, &agent.tenant_id, id).await?;
    jobs_read(&mut tx, &agent, &meta, std::slice::from_ref(&run)).await?;
    tx.commit().await?;
    Ok(Json(JobOut::with_steps(&run, &steps, &Viewer::of(&agent))))
}

/// The access record of a read of jobs: their inputs and results may hold a customer's
/// personal data (an address, a message), so which jobs were shown is recorded.
pub(crate) async fn jobs_read(
    tx: &mut sqlx::PgConnection,
    agent: &Agent,
    meta: &RequestMeta,
    runs: &[RunRow],
) -> Result<()> {
    let ids: Vec<RunId> = runs.iter().map(|r| r.id).collect();
    let read = access_log::Read {
        action: "jobs.viewed",
        subject_type: "job",
        subject_id: "",
        shown: serde_json::json!({ "job_ids": ids }),
    };
    access_log::record(tx, agent, meta, read).await
}

/// The tenant's jobs, newest first, filtered by kind and status.
#[utoipa::path(get, path = "/v1/admin/jobs", tag = "admin", params(ListJobsQuery),
    security(("bearer" = ["jobs.read"])),
    responses((status = 200, body = JobListOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
    meta: RequestMeta,
    ValidQuery(Listing { filter, limit }): ValidQuery<ListJobsQuery>,
) -> Result<Json<JobListOut>> {
    let mut tx = state.db.begin().await?;
    let runs = db::runs::list(&mut tx, &agent.tenant_id, &filter).await?;
    let (runs, next_cursor) = page_of(runs, limit, |r| (r.created_at, r.id));
    jobs_read(&mut tx, &agent, &meta, &runs).await?;
    tx.commit().await?;
    let viewer = Viewer::of(&agent);
    Ok(Json(JobListOut {
        data: runs.iter().map(|r| JobOut::admin(r, &viewer)).collect(),
        next_cursor,
    }))
}
