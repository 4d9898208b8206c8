//! `GET /v1/admin/jobs/{id}/events`: a job's progress and state as server-sent events, so a
//! console need not poll. The stream reads the job by primary key every
//! [`POLL`] and sends it when it changed — one indexed read per open stream, and no
//! connection held between reads (a LISTEN would hold one per stream).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sqlx::PgPool;
use tokio::time::Instant;

use super::{JobOut, Viewer, jobs_read};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::Path;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::domain::ids::{RunId, TenantId};
use crate::error::{Error, Result};
use crate::state::AppState;

/// How often an open stream looks at its job.
pub const POLL: Duration = Duration::from_millis(250);
/// How long one stream stays open; the client reconnects to go on (EventSource does).
pub const MAX_OPEN: Duration = Duration::from_secs(15 * 60);

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
    let stream = job_events(state.db.clone(), agent.tenant_id.clone(), id, viewer);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

struct Watch {
    db: PgPool,
    tenant: TenantId,
    id: RunId,
    viewer: Viewer,
    /// The last version sent (`updated_at`, progress), so an unchanged job is not resent.
    last: Option<(chrono::DateTime<chrono::Utc>, i32, i32)>,
    ended: bool,
    closes_at: Instant,
}

fn job_events(
    db: PgPool,
    tenant: TenantId,
    id: RunId,
    viewer: Viewer,
) -> impl Stream<Item = std::result::Result<Event, Infallible>> {
    let watch = Watch {
        db,
        tenant,
        id,
        viewer,
        last: None,
        ended: false,
        closes_at: Instant::now() + MAX_OPEN,
    };
    futures::stream::unfold(watch, |mut w| async move {
        if w.ended {
            return None;
        }
        loop {
            if Instant::now() >= w.closes_at {
                return None;
            }
            let run = match w.db.acquire().await {
                Ok(mut conn) => db::runs::get(&mut conn, &w.tenant, w.id)
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            match run {
                // deleted (retention) or unreadable for now: say so and stop
                None => {
                    w.ended = true;
                    return Some((Ok(Event::default().event("end").data("{}")), w));
                }
                Some(run) => {
                    let version = (run.updated_at, run.progress_done, run.progress_failed);
                    if w.last != Some(version) {
                        // a finished job's last state goes out first; `end` on the next turn
                        w.last = Some(version);
                        return Some((Ok(job_event(&JobOut::admin(&run, &w.viewer))), w));
                    }
                    if run.status.is_terminal() {
                        w.ended = true;
                        let end = Event::default().event("end").data(run.status.as_str());
                        return Some((Ok(end), w));
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
    })
}

fn job_event(job: &JobOut) -> Event {
    let data = serde_json::to_string(job).unwrap_or_else(|_| "{}".into());
    Event::default().event("job").data(data)
}
