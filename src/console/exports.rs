//! The exports and imports page (`/console/exports`): the tenant's order exports (status,
//! format, rows, bytes, sha256 and a freshly signed download link once finished), listed
//! by the API's own code and permission (`orders.export`), and its NDJSON imports (the
//! `import_orders` jobs: status, lines, failures) for an agent who may read jobs.

use axum::extract::State;
use maud::{Markup, html};

use super::SignedIn;
use super::extract::PageQuery;
use super::jobs::{progress_bar, query_value, status_badge};
use super::layout::{PageError, page};
use crate::api::admin::exports::{ExportOut, ListExportsQuery, exports_page};
use crate::api::admin::import::IMPORT_WORKFLOW;
use crate::api::extract::Validate;
use crate::api::jobs::{JobOut, Viewer, jobs_read};
use crate::api::shared::{Listing, RequestMeta};
use crate::auth::Permission;
use crate::db;
use crate::db::runs::{RunFilter, RunStatus};
use crate::state::AppState;

type PageResult = Result<Markup, PageError>;

/// Imports listed (the newest).
const IMPORTS_SHOWN: i64 = 20;

pub async fn list(
    State(state): State<AppState>,
    who: SignedIn,
    meta: RequestMeta,
    PageQuery(q): PageQuery<ListExportsQuery>,
) -> PageResult {
    who.require(Permission::OrdersExport)?;
    let Listing { filter, limit } = q.validate()?;
    let exports = exports_page(&state, &who.agent.tenant_id, filter, limit).await?;
    let may_read_jobs = who.agent.require(Permission::JobsRead).is_ok();
    let imports = if may_read_jobs {
        Some(imports(&state, &who, &meta).await?)
    } else {
        None
    };
    let content = html! {
        h2 { "Exports" }
        (exports_table(&exports.data, may_read_jobs))
        @if let Some(cursor) = &exports.next_cursor {
            p { a href=(format!("/console/exports?cursor={}", query_value(cursor))) { "Older exports →" } }
        }
        h2 { "Imports" }
        @match &imports {
            Some(imports) => (imports_table(imports)),
            None => p.muted { "Reading imports needs the jobs.read permission." },
        }
    };
    Ok(page(
        &who,
        "Exports and imports",
        "/console/exports",
        content,
    ))
}

/// The newest `import_orders` jobs, read (and recorded as read) as the jobs listing does.
async fn imports(
    state: &AppState,
    who: &SignedIn,
    meta: &RequestMeta,
) -> Result<Vec<JobOut>, PageError> {
    let filter = RunFilter {
        kind: Some(IMPORT_WORKFLOW.into()),
        status: None,
        customer_id: None,
        queue: None,
        before: None,
        limit: IMPORTS_SHOWN,
    };
    let mut tx = state.db.begin().await?;
    let runs = db::runs::list(&mut tx, &who.agent.tenant_id, &filter).await?;
    jobs_read(&mut tx, &who.agent, meta, &runs).await?;
    tx.commit().await?;
    let viewer = Viewer::of(&who.agent);
    Ok(runs.iter().map(|r| JobOut::admin(r, &viewer)).collect())
}

fn exports_table(exports: &[ExportOut], live: bool) -> Markup {
    html! {
        @if exports.is_empty() {
            p.muted { "No exports yet." }
        } @else {
            div.table-wrap { table #exports {
                thead { tr {
                    th scope="col" { "Export" } th scope="col" { "Status" } th scope="col" { "Format" }
                    th scope="col" class="num" { "Rows" } th scope="col" class="num" { "Bytes" }
                    th scope="col" class="hide-narrow" { "SHA-256" } th scope="col" { "Download" }
                    th scope="col" class="hide-narrow" { "Created" }
                } }
                tbody {
                    @for e in exports {
                        @let running = e.finished_at.is_none() && matches!(e.status.as_str(), "queued" | "running");
                        tr data-export=(e.id) data-job=(e.job_id)
                            data-live-stream=[(live && running).then(|| format!("/v1/admin/jobs/{}/events", e.job_id))]
                            data-reload-on-end="" {
                            td.mono { @if live { a href=(format!("/console/jobs/{}", e.job_id)) { (short(&e.id.to_string())) } } @else { (short(&e.id.to_string())) } }
                            td { @match RunStatus::parse(&e.status) {
                                Some(s) => (status_badge(s)),
                                None => span.status data-field="status" { (e.status) },
                            } }
                            td { (e.format) @if e.compression != "none" { " · " (e.compression) } }
                            td.num data-field="rows" { (e.row_count.unwrap_or(e.rows_so_far)) @if let (None, Some(total)) = (e.row_count, e.total_rows) { " / " (total) } }
                            td.num data-field="bytes" { @if let Some(b) = e.bytes { (b) } }
                            td.mono.hide-narrow data-field="sha256" { @if let Some(h) = &e.sha256 { (h) } }
                            td { @if let (Some(url), Some(until)) = (&e.download_url, e.expires_at) {
                                a data-field="download" href=(url) download title=(format!("Link valid until {}", until.to_rfc3339())) { "Download" }
                            } }
                            td.hide-narrow { (e.created_at.format("%Y-%m-%d %H:%M:%S")) }
                        }
                    }
                }
            } }
        }
    }
}

fn imports_table(imports: &[JobOut]) -> Markup {
    html! {
        @if imports.is_empty() {
            p.muted { "No imports yet." }
        } @else {
            div.table-wrap { table #imports {
                thead { tr {
                    th scope="col" { "Import" } th scope="col" { "Status" } th scope="col" class="num" { "Lines" }
                    th scope="col" { "Progress" } th scope="col" class="num" { "Failures" } th scope="col" class="hide-narrow" { "Created" }
                } }
                tbody {
                    @for job in imports {
                        tr data-import=(job.id) data-job=(job.id) {
                            td { a.mono href=(format!("/console/jobs/{}", job.id)) { (short(&job.id.to_string())) } }
                            td { (status_badge(job.status)) }
                            td.num data-field="lines" { (job.progress.total) }
                            td { (progress_bar(job)) }
                            td.num data-field="failures" { (job.progress.failed) }
                            td.hide-narrow { (job.created_at.format("%Y-%m-%d %H:%M:%S")) }
                        }
                    }
                }
            } }
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
