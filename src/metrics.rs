//! Every Prometheus metric a process exports, in one registry: HTTP requests, workflow steps,
//! runs started and finished, runs in progress, and the trigger queue's depth. Recording and
//! scraping are in-process and O(1): no metric reads Postgres or Redis when scraped. Counts
//! are this process's own; Prometheus sums the processes. `api::metrics` serves [`encode`]
//! on the private metrics listener (`ORDERDESK_METRICS_ADDR`), never on the public API.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`encode`]'s output (Prometheus text format 0.0.4).
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The route template (`/v1/customer/orders/{order_id}`), never the concrete path, so
    /// ids do not become label values.
    route: String,
    /// `2xx`, `4xx`, …
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    workflow: String,
    step: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkflowLabels {
    workflow: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    workflow: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

struct Families {
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    step_duration: Family<StepLabels, Histogram>,
    runs_started: Family<WorkflowLabels, Counter>,
    runs_finished: Family<RunLabels, Counter>,
    runs_in_progress: Family<WorkflowLabels, Gauge>,
    queue_depth: Family<QueueLabels, Gauge>,
}

/// Upper bounds (seconds) of the duration histograms: 1 ms to 10 s.
fn duration_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

static FAMILIES: LazyLock<Families> = LazyLock::new(|| Families {
    http_requests: Family::default(),
    http_duration: Family::new_with_constructor(duration_histogram),
    step_duration: Family::new_with_constructor(duration_histogram),
    runs_started: Family::default(),
    runs_finished: Family::default(),
    runs_in_progress: Family::default(),
    queue_depth: Family::default(),
});

/// The registry over [`FAMILIES`] (the families are handles: clones share their values).
static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let m = &*FAMILIES;
    let mut registry = Registry::with_prefix("orderdesk");
    registry.register(
        "http_requests",
        "HTTP requests answered, by method, route template and status class",
        m.http_requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time from a request's arrival to its response, by method and route template",
        m.http_duration.clone(),
    );
    registry.register(
        "step_duration_seconds",
        "Duration of workflow step attempts, by workflow, step and outcome",
        m.step_duration.clone(),
    );
    registry.register(
        "runs_started",
        "Runs this process claimed for the first time, by workflow",
        m.runs_started.clone(),
    );
    registry.register(
        "runs_finished",
        "Runs this process brought to a final status, by workflow and status",
        m.runs_finished.clone(),
    );
    registry.register(
        "runs_in_progress",
        "Runs this process is executing now, by workflow",
        m.runs_in_progress.clone(),
    );
    registry.register(
        "queue_depth",
        "Run triggers waiting in Redis (scheduled + ready) as this worker's sweeper last read them; capped at 2000, beyond which runs wait in Postgres",
        m.queue_depth.clone(),
    );
    registry
});

/// This process's metrics in the Prometheus text format.
pub fn encode() -> String {
    let mut out = String::new();
    // writing into a String cannot fail
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &REGISTRY);
    out
}

/// Records one answered HTTP request. `route` is the matched route template.
pub fn observe_request(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    let class = match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    let labels = RequestLabels {
        method,
        route: route.to_string(),
        status: class,
    };
    FAMILIES.http_requests.get_or_create(&labels).inc();
    let labels = RouteLabels {
        method,
        route: labels.route,
    };
    FAMILIES
        .http_duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
}

/// Records one attempt of a step; `outcome` is `ok`, `retryable` or `permanent`.
pub fn observe_step(workflow: &str, step: &str, elapsed: Duration, outcome: &'static str) {
    let labels = StepLabels {
        workflow: workflow.to_string(),
        step: step.to_string(),
        outcome,
    };
    FAMILIES
        .step_duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
}

/// A run this process executes: counted in progress until dropped.
#[must_use = "the run counts as in progress until this is dropped"]
pub struct RunInProgress(WorkflowLabels);

impl Drop for RunInProgress {
    fn drop(&mut self) {
        FAMILIES.runs_in_progress.get_or_create(&self.0).dec();
    }
}

/// Records a run claimed by this process (`first`: its first claim, the run's start).
pub fn run_claimed(workflow: &str, first: bool) -> RunInProgress {
    let labels = WorkflowLabels {
        workflow: workflow.to_string(),
    };
    if first {
        FAMILIES.runs_started.get_or_create(&labels).inc();
    }
    FAMILIES.runs_in_progress.get_or_create(&labels).inc();
    RunInProgress(labels)
}

/// Records a run that reached the final `status` in this process.
pub fn run_finished(workflow: &str, status: &'static str) {
    let labels = RunLabels {
        workflow: workflow.to_string(),
        status,
    };
    FAMILIES.runs_finished.get_or_create(&labels).inc();
}

/// Records the depth of a trigger queue as just read.
pub fn set_queue_depth(queue: &str, depth: u64) {
    let depth = i64::try_from(depth).unwrap_or(i64::MAX);
    FAMILIES
        .queue_depth
        .get_or_create(&QueueLabels {
            queue: queue.to_string(),
        })
        .set(depth);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_encodes_every_family() {
        observe_request("GET", "/metrics_test/{id}", 404, Duration::from_millis(3));
        observe_step("metrics_test", "a", Duration::from_millis(3), "ok");
        observe_step("metrics_test", "a", Duration::from_millis(300), "ok");
        let running = run_claimed("metrics_test", true);
        run_finished("metrics_test", "succeeded");
        set_queue_depth("metrics_test", 7);
        let out = encode();
        for line in [
            "# TYPE orderdesk_http_requests_total counter",
            r#"orderdesk_http_requests_total{method="GET",route="/metrics_test/{id}",status="4xx"} 1"#,
            r#"orderdesk_http_request_duration_seconds_bucket{method="GET",route="/metrics_test/{id}",le="0.005"} 1"#,
            r#"orderdesk_step_duration_seconds_bucket{workflow="metrics_test",step="a",outcome="ok",le="0.005"} 1"#,
            r#"orderdesk_step_duration_seconds_count{workflow="metrics_test",step="a",outcome="ok"} 2"#,
            r#"orderdesk_runs_started_total{workflow="metrics_test"} 1"#,
            r#"orderdesk_runs_in_progress{workflow="metrics_test"} 1"#,
            r#"orderdesk_runs_finished_total{workflow="metrics_test",status="succeeded"} 1"#,
            r#"orderdesk_queue_depth{queue="metrics_test"} 7"#,
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
        drop(running);
        assert!(encode().contains(r#"orderdesk_runs_in_progress{workflow="metrics_test"} 0"#));
    }
}
