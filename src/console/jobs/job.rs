//! One job's page: its facts, steps (with their upstream keys), a bulk job's items, the audit
//! records it caused, and its retry and cancel buttons.

use axum::extract::State;
use maud::{Markup, html};
use serde::Deserialize;

use super::{PageResult, progress_bar, query_value, short_id, status_badge};
use crate::api::admin::access_log;
use crate::api::extract::Validate;
use crate::api::jobs::items::{ItemsQuery, STATUSES as ITEM_STATUSES, read_items};
use crate::api::jobs::{JobOut, Viewer, jobs_read};
use crate::api::shared::RequestMeta;
use crate::auth::Permission;
use crate::console::SignedIn;
use crate::console::extract::{PagePath, PageQuery};
use crate::console::layout::page;
use crate::db;
use crate::db::audit::AuditRow;
use crate::db::runs::items::ItemRow;
use crate::db::runs::{RunRow, RunStatus, StepRow, StepStatus};
use crate::domain::ids::RunId;
use crate::error::Error;
use crate::state::AppState;

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
    PagePath(id): PagePath<RunId>,
    PageQuery(page_q): PageQuery<JobPageQuery>,
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
/// each sends (`StepRow::key`; its compensation sends `{key}:compensate`).
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
                                    (step.key())
                                    @if step.status == StepStatus::Compensated {
                                        br; (step.key()) ":compensate"
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            @if run.retries > 0 {
                p.muted { "A step compensated, or refused with a 4xx, before an operator's retry runs again under a key ending in :r and the retry's number; every other step keeps the key it ran under." }
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
