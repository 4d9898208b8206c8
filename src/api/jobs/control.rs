//! Operators steer jobs: cancel one (cooperative: it stops at the next step or item
//! boundary and its done steps are compensated), retry a failed or compensated one (its
//! unfinished steps again, under new upstream keys), list the dead jobs by kind and retry
//! them in bulk. Each is an acceptance (`api::accept`): idempotent under `Idempotency-Key`
//! and audited with its reason.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{Acquire, PgPool};
use utoipa::ToSchema;

use super::{JobOut, Viewer, admin_location};
use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::runs::{Retried, RunRow, RunStatus};
use crate::domain::ids::RunId;
use crate::error::{Error, Result, problem};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobActionIn {
    /// Required, at most 500 characters: why (kept in the audit log).
    pub reason: String,
}

impl Validate for JobActionIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("reason", Some(&self.reason), true)
    }
}

impl Answer for JobOut {
    async fn finished(self, run: &RunRow, _: &PgPool) -> Result<Self> {
        Ok(JobOut::admin(run, &self.shown_to))
    }
}

enum Control {
    Cancel,
    Retry,
}

struct ControlJob {
    id: RunId,
    control: Control,
    reason: String,
    viewer: Viewer,
}

impl Intake for ControlJob {
    type Answer = JobOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<JobOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let run = db::runs::lock(adm.conn(), &tenant, self.id)
            .await?
            .ok_or_else(|| Error::not_found("job"))?;
        let (action, status) = match self.control {
            Control::Cancel => ("job.cancel", cancel(adm, &run).await?),
            Control::Retry => ("job.retry", retry(adm, &run).await?),
        };
        adm.audit(Entry {
            action,
            subject_type: "job",
            subject_id: &self.id.to_string(),
            reason: Some(&self.reason),
            before: Some(json!({ "status": run.status })),
            after: None,
            personal_data_of: None,
        })
        .await?;
        let run = db::runs::get(adm.conn(), &tenant, self.id)
            .await?
            .ok_or_else(|| Error::not_found("job"))?;
        let out = JobOut::admin(&run, &self.viewer);
        Ok(match status {
            StatusCode::ACCEPTED => Admitted::accepted(admin_location(self.id), out, Some(self.id)),
            status => Admitted::done(status, out),
        })
    }
}

/// Cancels at once what has nothing to undo (200, `cancelled`); asks the engine for the rest
/// (202: poll the job, or `Prefer: wait`).
async fn cancel(adm: &mut Admission<'_>, run: &RunRow) -> Result<StatusCode> {
    if run.status.is_terminal() {
        return Err(Error::conflict(
            "job.already_finished",
            format!("the job already ended {}", run.status.as_str()),
        ));
    }
    let by = adm.caller().principal.clone();
    let error = json!(problem(
        StatusCode::CONFLICT,
        "job.cancelled",
        "the job was cancelled on request before any of its steps was done",
    ));
    if db::runs::cancel_now(adm.conn(), run.id, &by, &error).await? {
        return Ok(StatusCode::OK);
    }
    db::runs::request_cancel(adm.conn(), run.id, &by).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Puts a failed or compensated job back in its queue (202).
async fn retry(adm: &mut Admission<'_>, run: &RunRow) -> Result<StatusCode> {
    match db::runs::retry(adm.conn(), run.id, db::outbox::CHANNEL).await? {
        Retried::Queued => {}
        Retried::NotRetryable => return Err(not_retryable(run.status)),
        Retried::Superseded => return Err(superseded()),
    }
    adm.dispatch_after_commit(run);
    Ok(StatusCode::ACCEPTED)
}

fn not_retryable(status: RunStatus) -> Error {
    Error::conflict(
        "job.not_retryable",
        format!(
            "only a failed or compensated job can be retried; this one is {}",
            status.as_str()
        ),
    )
}

fn superseded() -> Error {
    Error::conflict(
        "job.superseded",
        "the order has a newer open request of the same kind; retry that one instead",
    )
}

async fn control(
    state: &AppState,
    caller: crate::api::accept::Caller,
    key: IdempotencyKey,
    job: ControlJob,
) -> Result<Response> {
    let op = match job.control {
        Control::Cancel => "job.cancel",
        Control::Retry => "job.retry",
    };
    let body = json!({ "job_id": job.id, "reason": job.reason });
    let key = key.optional_for(&format!("{op}:{}", job.id), &body);
    accept(state, caller, key, job).await
}

/// Cancels a queued or running job: at once (200) when none of its steps is done, else at
/// its next step or item boundary (202), after compensating its done steps; it ends
/// `cancelled`. Requires `jobs.cancel`.
#[utoipa::path(post, path = "/v1/admin/jobs/{job_id}/cancel", tag = "admin",
    params(("job_id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = JobActionIn,
    security(("bearer" = ["jobs.cancel"])),
    responses((status = 200, body = JobOut), (status = 202, body = JobOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn cancel_job(
    State(state): State<AppState>,
    agent: Authorized<can::JobsCancel>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<RunId>,
    Valid { body, .. }: Valid<JobActionIn>,
) -> Result<Response> {
    let (control_, reason) = (Control::Cancel, body.reason.trim().to_string());
    let job = ControlJob {
        id,
        control: control_,
        reason,
        viewer: Viewer::of(&agent),
    };
    control(&state, agent.caller(&meta), key, job).await
}

/// Runs a failed or compensated job again (202): its failed and compensated steps start over
/// under new upstream Idempotency-Keys, its done steps are kept. Requires `jobs.retry`.
#[utoipa::path(post, path = "/v1/admin/jobs/{job_id}/retry", tag = "admin",
    params(("job_id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = JobActionIn,
    security(("bearer" = ["jobs.retry"])),
    responses((status = 202, body = JobOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn retry_job(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRetry>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<RunId>,
    Valid { body, .. }: Valid<JobActionIn>,
) -> Result<Response> {
    let (control_, reason) = (Control::Retry, body.reason.trim().to_string());
    let job = ControlJob {
        id,
        control: control_,
        reason,
        viewer: Viewer::of(&agent),
    };
    control(&state, agent.caller(&meta), key, job).await
}

/// The dead jobs (failed or compensated) of one kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadKindOut {
    pub kind: String,
    pub queue: String,
    pub count: i64,
    pub oldest_finished_at: Option<DateTime<Utc>>,
    pub newest_finished_at: Option<DateTime<Utc>>,
    /// How many ended with each problem code.
    #[schema(value_type = Object)]
    pub codes: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadJobsOut {
    pub data: Vec<DeadKindOut>,
}

/// The tenant's dead jobs (failed or compensated) by kind, most first, with their error
/// codes; list them with `GET /v1/admin/jobs?kind=…&status=failed`. Requires `jobs.read`.
#[utoipa::path(get, path = "/v1/admin/jobs/dead", tag = "admin", security(("bearer" = ["jobs.read"])),
    responses((status = 200, body = DeadJobsOut), (status = 403, body = crate::error::Problem)))]
pub async fn list_dead_jobs(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
) -> Result<Json<DeadJobsOut>> {
    let mut conn = state.db.acquire().await?;
    let dead = db::runs::dead_by_kind(&mut conn, &agent.tenant_id).await?;
    let data = dead.into_iter().map(DeadKindOut::from).collect();
    Ok(Json(DeadJobsOut { data }))
}

impl From<db::runs::DeadKind> for DeadKindOut {
    fn from(d: db::runs::DeadKind) -> Self {
        DeadKindOut {
            kind: d.kind,
            queue: d.queue,
            count: d.count,
            oldest_finished_at: d.oldest,
            newest_finished_at: d.newest,
            codes: d.codes,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryDeadIn {
    /// The workflow whose dead jobs to retry, e.g. `cancel_order`.
    pub kind: String,
    /// 1 to 500 (default 100): the oldest first.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Required, at most 500 characters.
    pub reason: String,
}

impl Validate for RetryDeadIn {
    type Checked = i64;

    fn validate(&self) -> Result<i64> {
        validate_note("reason", Some(&self.reason), true)?;
        if self.kind.is_empty() || self.kind.len() > 64 {
            return Err(invalid("kind", "a workflow name, 1 to 64 characters"));
        }
        match self.limit.unwrap_or(100) {
            n @ 1..=500 => Ok(n),
            _ => Err(invalid("limit", "between 1 and 500")),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetryDeadOut {
    pub kind: String,
    /// Back in their queue.
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub retried: Vec<RunId>,
    /// Left dead: the order has a newer open request of the same kind.
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub superseded: Vec<RunId>,
}

impl Answer for RetryDeadOut {}

struct RetryDead {
    kind: String,
    limit: i64,
    reason: String,
}

impl Intake for RetryDead {
    type Answer = RetryDeadOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<RetryDeadOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let ids = db::runs::lock_dead(adm.conn(), &tenant, &self.kind, self.limit).await?;
        let (mut retried, mut superseded) = (Vec::new(), Vec::new());
        for id in ids {
            // a savepoint each: one superseded run must not undo the others
            let mut sp = adm.conn().begin().await?;
            match db::runs::retry(&mut sp, id, db::outbox::CHANNEL).await? {
                Retried::Queued => {
                    sp.commit().await?;
                    retried.push(id);
                }
                _ => {
                    sp.rollback().await?;
                    superseded.push(id);
                }
            }
        }
        for id in &retried {
            let run = db::runs::get(adm.conn(), &tenant, *id).await?;
            if let Some(run) = run {
                adm.dispatch_after_commit(&run);
            }
        }
        adm.audit(Entry {
            action: "jobs.retry_dead",
            subject_type: "job_kind",
            subject_id: &self.kind,
            reason: Some(&self.reason),
            before: None,
            after: Some(json!({ "retried": retried, "superseded": superseded })),
            personal_data_of: None,
        })
        .await?;
        let out = RetryDeadOut {
            kind: self.kind,
            retried,
            superseded,
        };
        Ok(Admitted::done(StatusCode::OK, out))
    }
}

/// Retries the oldest dead jobs (failed or compensated) of one kind, up to `limit`, as
/// `POST /v1/admin/jobs/{id}/retry` would each. Requires `jobs.retry`.
#[utoipa::path(post, path = "/v1/admin/jobs/dead/retry", tag = "admin",
    params(("Idempotency-Key" = Option<String>, Header)), request_body = RetryDeadIn,
    security(("bearer" = ["jobs.retry"])),
    responses((status = 200, body = RetryDeadOut), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn retry_dead_jobs(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRetry>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Valid { body, checked }: Valid<RetryDeadIn>,
) -> Result<Response> {
    let key = key.optional_for("jobs.retry_dead", &body);
    let (kind, reason) = (body.kind, body.reason.trim().to_string());
    let intake = RetryDead {
        kind,
        limit: checked,
        reason,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}
