//! The dead jobs by kind, with a retry of each kind through the admin API.

use axum::extract::State;
use maud::html;

use super::{PageResult, query_value};
use crate::auth::Permission;
use crate::console::SignedIn;
use crate::console::layout::page;
use crate::db;
use crate::state::AppState;

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
    Ok(page(&who, "Dead jobs", "/console/jobs/dead", content))
}

/// How many of a kind's dead jobs one retry takes (the API's default).
const RETRY_DEAD_LIMIT: i64 = 100;
