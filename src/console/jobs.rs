//! The jobs pages: the tenant's jobs with live progress (one event stream for the page's
//! unfinished jobs) and a search by job, order, request or correlation id; one job with its
//! steps (attempts, durations, last error, upstream key), a bulk job's items, the audit
//! records it caused and the retry and cancel buttons; the dead jobs by kind with a bulk
//! retry per kind. Every button calls the admin API.

use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::SignedIn;
use super::layout::{PageError, page};
use crate::api::admin::access_log;
use crate::api::extract::{Path, Validate, invalid};
use crate::api::jobs::events::MAX_IDS;
use crate::api::jobs::items::{ItemsQuery, STATUSES as ITEM_STATUSES, read_items};
use crate::api::jobs::{JobOut, ListJobsQuery, Viewer, jobs_read};
use crate::api::shared::{Listing, RequestMeta, page_of};
use crate::auth::Permission;
use crate::db;
use crate::db::audit::AuditRow;
use crate::db::runs::items::ItemRow;
use crate::db::runs::{RunRow, RunSearch, RunStatus, StepRow, StepStatus};
use crate::domain::ids::RunId;
use crate::error::Error;
use crate::state::AppState;

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
    Query(page_q): Query<JobsPageQuery>,
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

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The job page's query: which of a bulk job's items to show.
#[derive(Debug, Default, Deserialize)]
pub struct JobPageQuery {
    /// An item status, or empty for all.
    pub items: Option<String>,
    /// The last item index of the previous page of items.
    pub after: Option<i32>,
}

/// Items a page of them shows.
const ITEMS_PER_PAGE: i64 = 50;
/// Audit records the job page shows (oldest first).
const AUDIT_LIMIT: i64 = 100;

pub async fn show(
    State(state): State<AppState>,
    who: SignedIn,
    meta: RequestMeta,
    Path(id): Path<RunId>,
    Query(page_q): Query<JobPageQuery>,
) -> PageResult {
    who.require(Permission::JobsRead)?;
    let tenant = &who.agent.tenant_id;
    let mut tx = state.db.begin().await?;
    let run = db::runs::get(&mut tx, tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("job"))?;
    let steps = db::runs::steps(&mut tx, tenant, id).await?;
    jobs_read(&mut tx, &who.agent, &meta, std::slice::from_ref(&run)).await?;
    // the records hold personal data (reasons, before/after): only for audit.read, and the
    // read is itself recorded, as the order's audit listing does
    let audit = if who.agent.can(Permission::AuditRead) {
        let rows = db::audit::of_job(
            &mut tx,
            tenant,
            &id.to_string(),
            run.correlation_id.as_deref(),
            AUDIT_LIMIT,
        )
        .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let read = access_log::Read {
            action: "job.audit_viewed",
            subject_type: "job",
            subject_id: &id.to_string(),
            shown: serde_json::json!({ "audit_ids": ids }),
        };
        access_log::record(&mut tx, &who.agent, &meta, read).await?;
        Some(rows)
    } else {
        None
    };
    tx.commit().await?;
    let items = if run.progress_unit == "items" {
        let items_q = ItemsQuery {
            status: page_q.items.clone().filter(|s| !s.is_empty()),
            after: page_q.after,
            limit: Some(ITEMS_PER_PAGE),
            format: None,
        };
        let listing = items_q.validate()?;
        let mut rows = read_items(&state, &who.agent, &meta, id, &listing).await?;
        let more = rows.len() as i64 > listing.limit;
        rows.truncate(listing.limit as usize);
        Some((rows, more))
    } else {
        None
    };
    let job = JobOut::with_steps(&run, &steps, &Viewer::of(&who.agent));
    let finished = job.is_finished();
    let content = html! {
        div data-job=(job.id)
            data-live-stream=[(!finished).then(|| format!("/v1/admin/jobs/{}/events", job.id))]
            data-reload-on-end="" {
            dl.facts {
                dt { "Job" } dd.mono { (job.id) }
                dt { "Kind" } dd { (job.kind) }
                dt { "Queue" } dd { (job.queue.as_deref().unwrap_or("")) }
                dt { "Status" } dd { (status_badge(job.status)) }
                dt { "Progress" } dd { (progress_bar(&job)) }
                dt { "Attempts" } dd { (job.attempts) }
                @if let Some(subject) = &run.subject_id { dt { "Subject" } dd.mono { (subject) } }
                dt { "Requested by" } dd { (run.requested_by) }
                dt { "Correlation id" } dd.mono { (job.correlation_id.as_deref().unwrap_or("")) }
                dt { "Operator retries" } dd { (run.retries) }
                dt { "Created" } dd { (job.created_at.to_rfc3339()) }
                @if let Some(at) = job.finished_at { dt { "Finished" } dd { (at.to_rfc3339()) } }
                @if let Some(at) = job.cancel_requested_at { dt { "Cancel requested" } dd { (at.to_rfc3339()) } }
            }
        }
        @if let Some(error) = &job.error {
            h2 { "Error" }
            pre.mono { (serde_json::to_string_pretty(error).unwrap_or_default()) }
        }
        (steps_table(&run, &steps))
        (controls(&job))
        @if let Some((rows, more)) = &items {
            (items_section(&run, rows, *more, page_q.items.as_deref().filter(|s| !s.is_empty())))
        }
        (audit_section(audit.as_deref()))
    };
    Ok(page(
        &who,
        &format!("Job {}", short_id(&job.id.to_string())),
        "/console",
        content,
    ))
}

/// The steps with their attempts, durations, last errors and the upstream Idempotency-Key
/// each sends (`RunRow::step_key`; its compensation sends `{key}:compensate`).
fn steps_table(run: &RunRow, steps: &[StepRow]) -> Markup {
    html! {
        h2 #steps { "Steps" }
        @if steps.is_empty() {
            p.muted { "This job has no steps." }
        } @else {
            div.table-wrap { table aria-labelledby="steps" {
                thead { tr {
                    th scope="col" class="num" { "#" } th scope="col" { "Step" } th scope="col" { "Status" }
                    th scope="col" class="num" { "Attempts" } th scope="col" class="num" { "Duration" }
                    th scope="col" { "Last error" } th scope="col" { "Upstream Idempotency-Key" }
                } }
                tbody {
                    @for step in steps {
                        tr {
                            td.num { (step.idx + 1) }
                            td { (step.name) }
                            td { span.status.(format!("status-{}", step_class(step.status))) { (step.status.as_str()) } }
                            td.num { (step.attempts) }
                            td.num { @if let Some(ms) = step.duration_ms { (ms) " ms" } }
                            td { @if let Some(e) = &step.last_error {
                                code { (e.get("code").and_then(|c| c.as_str()).unwrap_or("")) } " "
                                (e.get("detail").and_then(|c| c.as_str()).unwrap_or(""))
                            } }
                            td.mono.key {
                                @if step.status == StepStatus::Skipped { span.muted { "none (skipped)" } }
                                @else {
                                    (run.step_key(&step.name))
                                    @if step.status == StepStatus::Compensated {
                                        br; (run.step_key(&step.name)) ":compensate"
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            @if run.retries > 0 {
                p.muted { "Keys end in :r" (run.retries) " since the operator's retry; a step done before it kept the key it ran under." }
            }
        }
    }
}

fn step_class(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Done => "succeeded",
        StepStatus::Failed => "failed",
        StepStatus::Compensated => "compensated",
        StepStatus::Pending | StepStatus::Skipped => "pending",
    }
}

/// A bulk job's items with their outcomes, a page at a time, filtered by status; the whole
/// list as CSV from the API.
fn items_section(run: &RunRow, rows: &[ItemRow], more: bool, status: Option<&str>) -> Markup {
    let base = format!("/console/jobs/{}", run.id);
    let status_q = status
        .map(|s| format!("items={}&", query_value(s)))
        .unwrap_or_default();
    html! {
        h2 #items { "Items" }
        form.filters method="get" action=(base) aria-label="Filter items" {
            label for="items-status" { "Outcome"
                select #items-status name="items" {
                    option value="" { "any" }
                    @for s in ITEM_STATUSES {
                        option value=(s) selected[status == Some(s)] { (s) }
                    }
                }
            }
            button type="submit" { "Show" }
            a href=(format!("/v1/admin/jobs/{}/items?format=csv{}", run.id,
                status.map(|s| format!("&status={}", query_value(s))).unwrap_or_default())) download {
                "Download CSV"
            }
        }
        @if rows.is_empty() {
            p.muted { "No items" @if let Some(s) = status { " " (s) } "." }
        } @else {
            div.table-wrap { table aria-labelledby="items" {
                thead { tr {
                    th scope="col" class="num" { "#" } th scope="col" { "Order" } th scope="col" { "Outcome" }
                    th scope="col" { "Code" } th scope="col" class="hide-narrow" { "Detail" } th scope="col" class="hide-narrow" { "Item's job" }
                } }
                tbody {
                    @for item in rows {
                        tr {
                            td.num { (item.idx + 1) }
                            td.mono { (item.subject_id) }
                            td { span.status.(format!("status-{}", item.status)) { (item.status) } }
                            td { @if let Some(code) = &item.code { code { (code) } } }
                            td.hide-narrow { (item.detail.as_deref().unwrap_or("")) }
                            td.hide-narrow { @if let Some(child) = item.child_run_id {
                                a.mono href=(format!("/console/jobs/{child}")) { (short_id(&child.to_string())) }
                            } }
                        }
                    }
                }
            } }
            @if more {
                @if let Some(last) = rows.last() {
                    p { a href=(format!("{base}?{status_q}after={}#items", last.idx)) { "More items →" } }
                }
            }
        }
    }
}

/// The audit records the job caused (its acceptance and what it did, under its correlation
/// id, and its control), for those who may read the audit log.
fn audit_section(rows: Option<&[AuditRow]>) -> Markup {
    html! {
        h2 #audit { "Audit" }
        @match rows {
            None => p.muted { "Reading the audit records this job caused requires audit.read." },
            Some([]) => p.muted { "No audit records name this job or its correlation id." },
            Some(rows) => {
                div.table-wrap { table aria-labelledby="audit" {
                    thead { tr {
                        th scope="col" { "At" } th scope="col" { "Action" } th scope="col" { "Subject" }
                        th scope="col" class="hide-narrow" { "By" } th scope="col" { "Reason" }
                    } }
                    tbody {
                        @for r in rows {
                            tr {
                                td { (r.at.format("%Y-%m-%d %H:%M:%S")) }
                                td { code { (r.action) } }
                                td.mono { (r.subject_type) " " (r.subject_id) }
                                td.hide-narrow { (r.actor_kind) ":" (r.actor_id) }
                                td { @if r.erased { span.muted { "(erased)" } } @else { (r.reason.as_deref().unwrap_or("")) } }
                            }
                        }
                    }
                } }
                @if rows.len() as i64 >= AUDIT_LIMIT { p.muted { "The first " (AUDIT_LIMIT) " records." } }
            }
        }
    }
}

/// Retry (a failed or compensated job) and cancel (a queued or running one), through the
/// admin API; each button carries its own Idempotency-Key, so a double click is one action.
fn controls(job: &JobOut) -> Markup {
    let can_retry = matches!(job.status, RunStatus::Failed | RunStatus::Compensated);
    let can_cancel = !job.is_finished();
    html! {
        @if can_retry || can_cancel {
            h2 { "Control" }
            label for="job-reason" { "Reason (kept in the audit log)" }
            input #job-reason type="text" maxlength="500" value="from the console";
            div.actions {
                @if can_retry {
                    button type="button" data-api=(format!("POST /v1/admin/jobs/{}/retry", job.id))
                        data-key=(uuid::Uuid::new_v4()) data-reason-from="job-reason"
                        data-done="Retry accepted." data-then="reload" { "Retry" }
                }
                @if can_cancel {
                    button.danger type="button" data-api=(format!("POST /v1/admin/jobs/{}/cancel", job.id))
                        data-key=(uuid::Uuid::new_v4()) data-reason-from="job-reason"
                        data-confirm="Cancel this job? It stops at its next step and undoes what it declared."
                        data-done="Cancel requested." data-then="reload" { "Cancel" }
                }
            }
        }
    }
}

/// The dead jobs (failed or compensated) by kind, as `GET /v1/admin/jobs/dead` lists them,
/// with a retry of each kind's oldest (`POST /v1/admin/jobs/dead/retry`).
pub async fn dead(State(state): State<AppState>, who: SignedIn) -> PageResult {
    who.require(Permission::JobsRead)?;
    let mut conn = state.db.acquire().await?;
    let dead = db::runs::dead_by_kind(&mut conn, &who.agent.tenant_id).await?;
    drop(conn);
    let may_retry = who.agent.can(Permission::JobsRetry);
    let content = html! {
        p { a href="/console" { "← All jobs" } }
        @if dead.is_empty() {
            p.muted #no-dead { "No dead jobs." }
        } @else {
            p { "Jobs that failed for good or were compensated, by kind. A retry runs the oldest " (RETRY_DEAD_LIMIT)
                " of a kind again, as each job's own retry would; a job whose order has a newer request of its kind stays dead." }
            @if may_retry {
                label for="dead-reason" { "Reason (kept in the audit log)" }
                input #dead-reason type="text" maxlength="500" value="from the console";
            }
            div.table-wrap { table #dead {
                thead { tr {
                    th scope="col" { "Kind" } th scope="col" class="hide-narrow" { "Queue" } th scope="col" class="num" { "Dead" }
                    th scope="col" { "Error codes" } th scope="col" class="hide-narrow" { "Latest" } th scope="col" { "Action" }
                } }
                tbody {
                    @for d in &dead {
                        tr data-kind=(d.kind) {
                            td { (d.kind) }
                            td.hide-narrow { (d.queue) }
                            td.num { (d.count) }
                            td { @if let Some(codes) = d.codes.as_object() {
                                @for (code, n) in codes { code { (code) } " ×" (n) br; }
                            } }
                            td.hide-narrow { @if let Some(at) = d.newest { (at.format("%Y-%m-%d %H:%M:%S")) } }
                            td { div.actions {
                                a href=(format!("/console?kind={}&status=failed", query_value(&d.kind))) { "Failed" }
                                a href=(format!("/console?kind={}&status=compensated", query_value(&d.kind))) { "Compensated" }
                                @if may_retry {
                                    button type="button" data-api="POST /v1/admin/jobs/dead/retry"
                                        data-body=(serde_json::json!({"kind": d.kind, "limit": RETRY_DEAD_LIMIT}).to_string())
                                        data-key=(uuid::Uuid::new_v4()) data-reason-from="dead-reason"
                                        data-confirm=(format!("Retry the oldest {} dead {} jobs?", d.count.min(RETRY_DEAD_LIMIT), d.kind))
                                        data-done="Retried: they are back in their queue." data-then="reload"
                                        aria-label=(format!("Retry the dead {} jobs", d.kind)) { "Retry all" }
                                }
                            } }
                        }
                    }
                }
            } }
        }
    };
    Ok(page(&who, "Dead jobs", "/console", content))
}

/// How many of a kind's dead jobs one retry takes (the API's default).
const RETRY_DEAD_LIMIT: i64 = 100;
