//! The engine pages: the tenant's runs per engine queue (`/console/queues`) and the worker
//! processes with the tenant's runs on each (`/console/workers`), the same figures as
//! `GET /v1/admin/engine/queues` and `/v1/admin/engine/workers`.

use axum::extract::State;
use maud::{Markup, html};

use super::SignedIn;
use super::jobs::query_value;
use super::layout::{PageError, page};
use crate::api::admin::engine::{EngineQueueOut, WINDOW, engine_queues, worker_processes};
use crate::auth::Permission;
use crate::state::AppState;

type PageResult = Result<Markup, PageError>;

pub async fn queues(State(state): State<AppState>, who: SignedIn) -> PageResult {
    who.require(Permission::JobsRead)?;
    let queues = engine_queues(&state, &who.agent.tenant_id).await?;
    let minutes = WINDOW.as_secs() / 60;
    let content = html! {
        p.muted { "Your tenant's jobs per engine queue. Finished, failed and throughput count the last " (minutes) " minutes." }
        div.table-wrap { table #engine-queues {
            thead { tr {
                th scope="col" { "Queue" }
                th scope="col" class="num" { "Waiting" }
                th scope="col" class="num hide-narrow" { "In backoff" }
                th scope="col" class="num" { "Oldest waiting" }
                th scope="col" class="num" { "Running" }
                th scope="col" class="num" { "Per minute" }
                th scope="col" class="num hide-narrow" { "Finished" }
                th scope="col" class="num" { "Failed" }
            } }
            tbody {
                @for q in &queues { (queue_row(q)) }
            }
        } }
    };
    Ok(page(&who, "Queues", "/console/queues", content))
}

fn queue_row(q: &EngineQueueOut) -> Markup {
    let jobs = |status: &str| format!("/console?queue={}&status={status}", query_value(&q.queue));
    html! {
        tr data-queue=(q.queue) {
            th scope="row" { a href=(format!("/console?queue={}", query_value(&q.queue))) { (q.queue) } }
            td.num data-field="queued" { a href=(jobs("queued")) { (q.queued) } }
            td.num.hide-narrow data-field="delayed" { (q.delayed) }
            td.num data-field="oldest" { @if let Some(age) = q.oldest_queued_age_secs { (age_text(age)) } @else { "—" } }
            td.num data-field="running" { a href=(jobs("running")) { (q.running) } }
            td.num data-field="throughput" { (format!("{:.1}", q.throughput_per_minute)) }
            td.num.hide-narrow data-field="finished" { (q.finished) }
            td.num data-field="failed" {
                @if q.failed > 0 { a.error href=(jobs("failed")) { (q.failed) } } @else { "0" }
            }
        }
    }
}

/// `42 s`, `3 min`, `2 h 5 min`.
fn age_text(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

pub async fn workers(State(state): State<AppState>, who: SignedIn) -> PageResult {
    who.require(Permission::JobsRead)?;
    let workers = worker_processes(&state, &who.agent.tenant_id).await?;
    let content = html! {
        p.muted { "The worker processes running jobs (shared by every tenant). Runs in flight counts your tenant's only; a process silent for over 30 seconds is marked stale." }
        @if workers.is_empty() {
            p.muted { "No worker process is registered." }
        } @else {
            div.table-wrap { table #engine-workers {
                thead { tr {
                    th scope="col" { "Process" }
                    th scope="col" class="hide-narrow" { "Host" }
                    th scope="col" class="num hide-narrow" { "PID" }
                    th scope="col" { "Queues" }
                    th scope="col" class="num" { "Concurrency" }
                    th scope="col" class="num" { "Runs in flight" }
                    th scope="col" { "Last heartbeat" }
                    th scope="col" class="hide-narrow" { "Started" }
                } }
                tbody {
                    @for w in &workers {
                        tr data-worker=(w.name) .stale[w.stale] {
                            td.mono data-field="name" { (w.name) }
                            td.hide-narrow data-field="host" { (w.host) }
                            td.num.hide-narrow data-field="pid" { (w.pid) }
                            td data-field="queues" { (w.queues.join(", ")) }
                            td.num data-field="concurrency" { (w.concurrency) }
                            td.num data-field="in-flight" { (w.runs_in_flight) }
                            td data-field="heartbeat" {
                                (age_text(w.heartbeat_age_secs)) " ago"
                                @if w.stale { " " span.status.status-failed data-field="stale" { "stale" } }
                            }
                            td.hide-narrow { (w.started_at.format("%Y-%m-%d %H:%M:%S")) }
                        }
                    }
                }
            } }
        }
    };
    Ok(page(&who, "Workers", "/console/workers", content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age_text(0), "0 s");
        assert_eq!(age_text(59), "59 s");
        assert_eq!(age_text(61), "1 min");
        assert_eq!(age_text(3 * 3600 + 5 * 60), "3 h 5 min");
    }
}
