//! The jobs pages: the tenant's jobs with live progress, and one job with its steps and the
//! retry and cancel buttons (which call the admin API).

use axum::extract::{Query, State};
use maud::{Markup, html};

use super::SignedIn;
use super::layout::{PageError, page};
use crate::api::extract::{Path, Validate};
use crate::api::jobs::{JobOut, ListJobsQuery, Viewer, jobs_read};
use crate::api::shared::{Listing, RequestMeta, page_of};
use crate::auth::Permission;
use crate::db;
use crate::db::runs::RunStatus;
use crate::domain::ids::RunId;
use crate::error::Error;
use crate::state::AppState;

type PageResult = Result<Markup, PageError>;

pub async fn list(
    State(state): State<AppState>,
    who: SignedIn,
    meta: RequestMeta,
    Query(q): Query<ListJobsQuery>,
) -> PageResult {
    who.require(Permission::JobsRead)?;
    let Listing { filter, limit } = q.validate()?;
    let mut tx = state.db.begin().await?;
    let runs = db::runs::list(&mut tx, &who.agent.tenant_id, &filter).await?;
    let (runs, next_cursor) = page_of(runs, limit, |r| (r.created_at, r.id));
    jobs_read(&mut tx, &who.agent, &meta, &runs).await?;
    tx.commit().await?;
    let viewer = Viewer::of(&who.agent);
    let jobs: Vec<JobOut> = runs.iter().map(|r| JobOut::admin(r, &viewer)).collect();
    let statuses: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
    let content = html! {
        form.filters method="get" action="/console" {
            label { "Kind" input name="kind" value=[q.kind.as_deref()] placeholder="e.g. bulk_update_status"; }
            label { "Queue" input name="queue" value=[q.queue.as_deref()] placeholder="e.g. bulk"; }
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in &statuses {
                        option value=(s) selected[q.status.as_deref() == Some(*s)] { (s) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        (jobs_table(&jobs))
        @if let Some(cursor) = next_cursor {
            p { a href=(format!("/console?{}", next_page_query(&q, &cursor))) { "Older jobs →" } }
        }
    };
    Ok(page(&who, "Jobs", "/console", content))
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

pub async fn show(
    State(state): State<AppState>,
    who: SignedIn,
    meta: RequestMeta,
    Path(id): Path<RunId>,
) -> PageResult {
    who.require(Permission::JobsRead)?;
    let mut tx = state.db.begin().await?;
    let run = db::runs::get(&mut tx, &who.agent.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found("job"))?;
    let steps = db::runs::steps(&mut tx, &who.agent.tenant_id, id).await?;
    jobs_read(&mut tx, &who.agent, &meta, std::slice::from_ref(&run)).await?;
    tx.commit().await?;
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
                dt { "Correlation id" } dd.mono { (job.correlation_id.as_deref().unwrap_or("")) }
                dt { "Created" } dd { (job.created_at.to_rfc3339()) }
            }
        }
        @if let Some(error) = &job.error {
            h2 { "Error" }
            pre.mono { (serde_json::to_string_pretty(error).unwrap_or_default()) }
        }
        h2 { "Steps" }
        div.table-wrap { table {
            thead { tr { th scope="col" { "#" } th scope="col" { "Step" } th scope="col" { "Status" } th scope="col" class="num" { "Attempts" } th scope="col" class="num" { "Duration" } th scope="col" { "Last error" } } }
            tbody {
                @for step in &steps {
                    tr {
                        td.num { (step.idx + 1) }
                        td { (step.name) }
                        td { (step.status.as_str()) }
                        td.num { (step.attempts) }
                        td.num { @if let Some(ms) = step.duration_ms { (ms) " ms" } }
                        td { @if let Some(e) = &step.last_error { code { (e.get("code").and_then(|c| c.as_str()).unwrap_or("")) } " " (e.get("detail").and_then(|c| c.as_str()).unwrap_or("")) } }
                    }
                }
            }
        } }
        (controls(&job))
    };
    Ok(page(
        &who,
        &format!("Job {}", short_id(&job.id.to_string())),
        "/console",
        content,
    ))
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
