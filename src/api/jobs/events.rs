//! `GET /v1/admin/jobs/{id}/events` and `GET /v1/admin/jobs/events?ids=…`: jobs' progress
//! and state as server-sent events, so a console need not poll. A stream reads its jobs by
//! primary key every [`POLL`] (one indexed read for all of them) and sends each job that
//! changed — one read per open stream, and no connection held between reads (a LISTEN
//! would hold one per stream). A page of jobs opens one stream for all of them: browsers
//! allow six connections per origin.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use sqlx::PgPool;
use tokio::time::Instant;
use utoipa::IntoParams;

use super::{JobOut, Viewer, jobs_read};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, ValidQuery, Validate, invalid};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::runs::RunStatus;
use crate::domain::ids::{RunId, TenantId};
use crate::error::{Error, Result};
use crate::state::AppState;

/// How often an open stream looks at its job.
pub const POLL: Duration = Duration::from_millis(250);
/// How long one stream stays open; the client reconnects to go on (EventSource does).
pub const MAX_OPEN: Duration = Duration::from_secs(15 * 60);

/// At most this many jobs in one stream (a page of the console's job list).
pub const MAX_IDS: usize = 50;

/// Streams the job as server-sent events: `job` (the job as `GET /v1/admin/jobs/{id}` shows
/// it, without its steps) at once and whenever it changes, then `end` once it ended, and
/// the stream closes. A stream closes after 15 minutes in any case; polling the job stays.
/// Requires `jobs.read`.
#[utoipa::path(get, path = "/v1/admin/jobs/{job_id}/events", tag = "admin", params(("job_id" = Uuid, Path)),
    security(("bearer" = ["jobs.read"])),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "`event: job` with a JobOut, `event: end` at the end"),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn stream_job_events(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
    meta: RequestMeta,
    Path(id): Path<RunId>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let mut tx = state.db.begin().await?;
    let run = db::runs::get(&mut tx, &agent.tenant_id, id).await?;
    let run = run.ok_or_else(|| Error::not_found("job"))?;
    jobs_read(&mut tx, &agent, &meta, std::slice::from_ref(&run)).await?;
    tx.commit().await?;
    let viewer = Viewer::of(&agent);
    let stream = job_events(state.db.clone(), agent.tenant_id.clone(), vec![id], viewer);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsEventsQuery {
    /// 1 to 50 job ids, comma-separated.
    pub ids: Option<String>,
}

impl Validate for JobsEventsQuery {
    type Checked = Vec<RunId>;

    fn validate(&self) -> Result<Vec<RunId>> {
        let wrong = || invalid("ids", format!("1 to {MAX_IDS} job ids, comma-separated"));
        let raw = self.ids.as_deref().unwrap_or("");
        let mut ids = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = RunId::parse(part).map_err(|_| wrong())?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() || ids.len() > MAX_IDS {
            return Err(wrong());
        }
        Ok(ids)
    }
}

/// Streams several jobs of the tenant (a page of them) over one connection: `job` for each
/// at once and whenever it changes, and `end` (`{"<id>": "<status>", …}`) once all of them
/// ended; the stream then closes. Ids of no job of the tenant are left out, as if ended.
/// Requires `jobs.read`; which jobs were shown is recorded as for the listing.
#[utoipa::path(get, path = "/v1/admin/jobs/events", tag = "admin", params(JobsEventsQuery),
    security(("bearer" = ["jobs.read"])),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "`event: job` with a JobOut per change, `event: end` once all ended"),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn stream_jobs_events(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
    meta: RequestMeta,
    ValidQuery(ids): ValidQuery<JobsEventsQuery>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let mut tx = state.db.begin().await?;
    let runs = db::runs::get_many(&mut tx, &agent.tenant_id, &ids).await?;
    jobs_read(&mut tx, &agent, &meta, &runs).await?;
    tx.commit().await?;
    // in the order asked for, only the tenant's
    let found: Vec<RunId> = ids
        .into_iter()
        .filter(|id| runs.iter().any(|r| r.id == *id))
        .collect();
    let viewer = Viewer::of(&agent);
    let stream = job_events(state.db.clone(), agent.tenant_id.clone(), found, viewer);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The version of a job last sent (`updated_at`, progress), so an unchanged job is not resent.
type Version = (chrono::DateTime<chrono::Utc>, i32, i32);

struct Watch {
    db: PgPool,
    tenant: TenantId,
    /// The jobs still watched: those not yet ended.
    ids: Vec<RunId>,
    /// One job's stream ends with its status alone; several jobs' with a map of them.
    single: bool,
    viewer: Viewer,
    last: HashMap<RunId, Version>,
    /// How each ended job ended (absent: deleted, by retention).
    ended_as: BTreeMap<RunId, Option<RunStatus>>,
    /// Events read and not yet sent.
    queued: VecDeque<Event>,
    ended: bool,
    closes_at: Instant,
}

impl Watch {
    /// One read of the watched jobs: an event for each that changed, and `end` once every
    /// job ended (a finished job's last state goes out before it).
    async fn read(&mut self) {
        let runs = match self.db.acquire().await {
            Ok(mut conn) => db::runs::get_many(&mut conn, &self.tenant, &self.ids).await,
            Err(e) => Err(e),
        };
        // unreadable for now: try again at the next turn
        let Ok(runs) = runs else { return };
        let mut still = Vec::with_capacity(self.ids.len());
        for id in std::mem::take(&mut self.ids) {
            let Some(run) = runs.iter().find(|r| r.id == id) else {
                // deleted (retention): it ended
                self.ended_as.insert(id, None);
                continue;
            };
            let version = (run.updated_at, run.progress_done, run.progress_failed);
            if self.last.get(&id) != Some(&version) {
                self.last.insert(id, version);
                self.queued
                    .push_back(job_event(&JobOut::admin(run, &self.viewer)));
            }
            if run.status.is_terminal() {
                self.ended_as.insert(id, Some(run.status));
            } else {
                still.push(id);
            }
        }
        self.ids = still;
        if self.ids.is_empty() {
            self.ended = true;
            self.queued.push_back(self.end_event());
        }
    }

    fn end_event(&self) -> Event {
        let data = if self.single {
            match self.ended_as.values().next() {
                Some(Some(status)) => status.as_str().to_string(),
                _ => "{}".to_string(),
            }
        } else {
            let map: serde_json::Map<String, serde_json::Value> = self
                .ended_as
                .iter()
                .map(|(id, s)| (id.to_string(), s.map(|s| s.as_str()).into()))
                .collect();
            serde_json::Value::Object(map).to_string()
        };
        Event::default().event("end").data(data)
    }
}

fn job_events(
    db: PgPool,
    tenant: TenantId,
    ids: Vec<RunId>,
    viewer: Viewer,
) -> impl Stream<Item = std::result::Result<Event, Infallible>> {
    let watch = Watch {
        db,
        tenant,
        single: ids.len() == 1,
        ids,
        viewer,
        last: HashMap::new(),
        ended_as: BTreeMap::new(),
        queued: VecDeque::new(),
        ended: false,
        closes_at: Instant::now() + MAX_OPEN,
    };
    futures::stream::unfold(watch, |mut w| async move {
        let mut first = true;
        loop {
            if let Some(event) = w.queued.pop_front() {
                return Some((Ok(event), w));
            }
            if w.ended || Instant::now() >= w.closes_at {
                return None;
            }
            if !first {
                tokio::time::sleep(POLL).await;
            }
            first = false;
            w.read().await;
        }
    })
}

fn job_event(job: &JobOut) -> Event {
    let data = serde_json::to_string(job).unwrap_or_else(|_| "{}".into());
    Event::default().event("job").data(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &str) -> Result<Vec<RunId>> {
        JobsEventsQuery {
            ids: Some(raw.to_string()),
        }
        .validate()
    }

    #[test]
    fn a_page_stream_takes_1_to_50_distinct_job_ids() {
        let a = RunId::now_v7();
        let b = RunId::now_v7();
        assert_eq!(ids(&format!("{a}, {b},{a},")).unwrap(), vec![a, b]);
        let fifty: Vec<String> = (0..MAX_IDS).map(|_| RunId::now_v7().to_string()).collect();
        assert_eq!(ids(&fifty.join(",")).unwrap().len(), MAX_IDS);
        let more = format!("{},{}", fifty.join(","), RunId::now_v7());
        for wrong in ["", " , ", "nope", &format!("{a},x"), &more] {
            assert_eq!(
                ids(wrong).unwrap_err().code(),
                "validation.failed",
                "{wrong}"
            );
        }
        let none = JobsEventsQuery { ids: None }.validate();
        assert!(none.is_err());
    }
}
