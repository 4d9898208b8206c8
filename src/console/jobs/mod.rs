//! The jobs pages: the tenant's jobs with live progress (one event stream for the page's
//! unfinished jobs) and a search by job, order, request or correlation id; one job with its
//! steps (attempts, durations, last error, upstream key), a bulk job's items, the audit
//! records it caused and the retry and cancel buttons; the dead jobs by kind with a bulk
//! retry per kind. Every button calls the admin API.

use axum::extract::State;
use maud::{Markup, html};
use serde::Deserialize;

use super::SignedIn;
use super::extract::PageQuery;
use super::layout::{PageError, page};
use crate::api::extract::{Validate, invalid};
use crate::api::jobs::events::MAX_IDS;
use crate::api::jobs::{JobOut, ListJobsQuery, Viewer, jobs_read};
use crate::api::shared::{Listing, RequestMeta, page_of};
use crate::auth::Permission;
use crate::db;
use crate::db::runs::{RunSearch, RunStatus};
use crate::error::Error;
use crate::state::AppState;

mod dead;
mod job;

pub use dead::dead;
pub use job::show;

type PageResult = Result<Markup, PageError>;

/// The jobs list's query: the API listing's filters, and `q`, a job, order, request or
/// correlation id to look for. Empty fields (a submitted form) mean no filter.
#[derive(Debug, Default, Deserialize)]
pub struct JobsPageQuery {
    pub q: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub queue: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Matches a search shows at most.
const SEARCH_LIMIT: i64 = 50;
/// The longest search term (ids are far shorter).
const SEARCH_MAX_CHARS: usize = 200;

impl JobsPageQuery {
    fn listing(&self) -> ListJobsQuery {
        let some = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        ListJobsQuery {
            kind: some(&self.kind),
            status: some(&self.status),
            queue: some(&self.queue),
            limit: self.limit,
            cursor: some(&self.cursor),
        }
    }

    fn term(&self) -> Result<Option<String>, Error> {
        let term = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        match term {
            Some(t) if t.chars().count() > SEARCH_MAX_CHARS => Err(invalid(
                "q",
                format!(
                    "a job, order, request or correlation id, at most {SEARCH_MAX_CHARS} characters"
                ),
            )),
            t => Ok(t.map(str::to_string)),
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    who: SignedIn,
    meta: RequestMeta,
    PageQuery(page_q): PageQuery<JobsPageQuery>,
) -> PageResult {
    who.require(Permission::JobsRead)?;
    let q = page_q.listing();
    let term = page_q.term()?;
    let Listing { filter, limit } = q.validate()?;
    let mut tx = state.db.begin().await?;
    let (runs, next_cursor) = match &term {
        Some(term) => {
            let search = RunSearch {
                term: term.clone(),
                kind: filter.kind.clone(),
                status: filter.status,
                queue: filter.queue.clone(),
                limit: SEARCH_LIMIT,
            };
            (
                db::runs::search(&mut tx, &who.agent.tenant_id, &search).await?,
                None,
            )
        }
        None => {
            let runs = db::runs::list(&mut tx, &who.agent.tenant_id, &filter).await?;
            page_of(runs, limit, |r| (r.created_at, r.id))
        }
    };
    jobs_read(&mut tx, &who.agent, &meta, &runs).await?;
    tx.commit().await?;
    let viewer = Viewer::of(&who.agent);
    let jobs: Vec<JobOut> = runs.iter().map(|r| JobOut::admin(r, &viewer)).collect();
    let statuses: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
    let content = html! {
        form.filters method="get" action="/console" role="search" aria-label="Find jobs" {
            label for="jobs-q" { "Job, order or request id"
                input #jobs-q type="search" name="q" value=[term.as_deref()] maxlength="200"
                    placeholder="a job, order, request or correlation id" autocomplete="off";
            }
            label for="jobs-kind" { "Kind" input #jobs-kind name="kind" value=[q.kind.as_deref()] placeholder="e.g. bulk_update_status"; }
            label for="jobs-queue" { "Queue" input #jobs-queue name="queue" value=[q.queue.as_deref()] placeholder="e.g. bulk"; }
            label for="jobs-status" { "Status"
                select #jobs-status name="status" {
                    option value="" { "any" }
                    @for s in &statuses {
                        option value=(s) selected[q.status.as_deref() == Some(*s)] { (s) }
                    }
                }
            }
            button type="submit" { "Find" }
            @if term.is_some() || q.kind.is_some() || q.queue.is_some() || q.status.is_some() {
                a href="/console" { "Clear" }
            }
        }
        p { a href="/console/jobs/dead" { "Dead jobs by kind →" } }
        @if let Some(term) = &term {
            p.muted { "Jobs that “" (term) "” names (a job id, a request's job, an order's jobs or a correlation id), newest first"
                @if jobs.len() as i64 >= SEARCH_LIMIT { ", the first " (SEARCH_LIMIT) } "." }
        }
        (live_jobs(&jobs))
        @if let Some(cursor) = next_cursor {
            p { a href=(format!("/console?{}", next_page_query(&q, &cursor))) { "Older jobs →" } }
        }
    };
    Ok(page(&who, "Jobs", "/console", content))
}

/// The jobs table inside one event stream for its unfinished jobs (at most [`MAX_IDS`]):
/// their rows update in place as they progress, without a poll or a stream each.
fn live_jobs(jobs: &[JobOut]) -> Markup {
    let live: Vec<String> = jobs
        .iter()
        .filter(|j| !j.is_finished())
        .take(MAX_IDS)
        .map(|j| j.id.to_string())
        .collect();
    let stream =
        (!live.is_empty()).then(|| format!("/v1/admin/jobs/events?ids={}", live.join(",")));
    html! {
        div #jobs data-live-stream=[stream] { (jobs_table(jobs)) }
    }
}

fn next_page_query(q: &ListJobsQuery, cursor: &str) -> String {
    let mut pairs = vec![];
    for (k, v) in [
        ("kind", &q.kind),
        ("queue", &q.queue),
        ("status", &q.status),
    ] {
        if let Some(v) = v {
            pairs.push(format!("{k}={}", query_value(v)));
        }
    }
    pairs.push(format!("cursor={}", query_value(cursor)));
    pairs.join("&")
}

/// `value` percent-encoded for a query string.
pub fn query_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A job's progress bar; the event stream updates its value and label.
pub fn progress_bar(job: &JobOut) -> Markup {
    let p = &job.progress;
    let percent = p.percent.unwrap_or(0.0);
    let label = if p.total > 0 {
        format!("{} / {} {}", p.done, p.total, p.unit)
    } else {
        format!("{} {}", p.done, p.unit)
    };
    html! {
        div.progress {
            // a native meter: no inline style (the pages' CSP allows none), read by screen readers
            progress value=(percent) max="100" aria-label="Progress" { (percent) "%" }
            span.label { (label) @if p.failed > 0 { " · " (p.failed) " failed" } }
        }
    }
}

pub fn status_badge(status: RunStatus) -> Markup {
    html! { span.status.(format!("status-{}", status.as_str())) data-field="status" { (status.as_str()) } }
}

fn jobs_table(jobs: &[JobOut]) -> Markup {
    html! {
        @if jobs.is_empty() {
            p.muted { "No jobs match." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Job" } th scope="col" { "Kind" } th scope="col" class="hide-narrow" { "Queue" }
                        th scope="col" { "Status" } th scope="col" { "Progress" } th scope="col" class="hide-narrow" { "Created" }
                    } }
                    tbody {
                        @for job in jobs {
                            tr data-job=(job.id) {
                                td { a.mono href=(format!("/console/jobs/{}", job.id)) { (short_id(&job.id.to_string())) } }
                                td { (job.kind) }
                                td.hide-narrow { (job.queue.as_deref().unwrap_or("")) }
                                td { (status_badge(job.status)) }
                                td { (progress_bar(job)) }
                                td.hide-narrow { (job.created_at.format("%Y-%m-%d %H:%M:%S")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A job id short enough for a table: its last 8 digits. Job ids are UUIDv7, whose first
/// digits are the time they were made, the same for every job of a burst.
pub(super) fn short_id(id: &str) -> String {
    match id.len().checked_sub(8).and_then(|start| id.get(start..)) {
        Some(tail) => format!("…{tail}"),
        None => id.to_string(),
    }
}
