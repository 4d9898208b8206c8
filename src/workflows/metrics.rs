//! In-process metrics of the engine (step durations by workflow/step/outcome, finished runs
//! by workflow/status), rendered in the Prometheus text format by whoever serves
//! `/metrics`. Counts of runs by status and queue depth come from Postgres instead
//! (`db::runs::count_by_kind_status`, `workers::queue_depth`), since they span processes.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::Duration;

use crate::db::runs::RunStatus;

/// Upper bounds (seconds) of the step duration histogram.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

type StepKey = (String, String, &'static str);

static STEPS: LazyLock<RwLock<HashMap<StepKey, Arc<Histogram>>>> = LazyLock::new(Default::default);
static RUNS: LazyLock<Mutex<HashMap<(String, RunStatus), u64>>> = LazyLock::new(Default::default);

/// Records one attempt of a step; `outcome` is `ok`, `retryable` or `permanent`.
pub fn observe_step(kind: &str, step: &str, elapsed: Duration, outcome: &'static str) {
    let key = (kind.to_string(), step.to_string(), outcome);
    let existing = STEPS.read().ok().and_then(|m| m.get(&key).cloned());
    let h = match existing {
        Some(h) => h,
        None => match STEPS.write() {
            Ok(mut m) => m.entry(key).or_default().clone(),
            Err(_) => return,
        },
    };
    let secs = elapsed.as_secs_f64();
    for (i, le) in BUCKETS.iter().enumerate() {
        if secs <= *le {
            h.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    h.count.fetch_add(1, Ordering::Relaxed);
    h.sum_micros
        .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
}

/// Records a run that reached a final status in this process.
pub fn observe_run(kind: &str, status: RunStatus) {
    if let Ok(mut m) = RUNS.lock() {
        *m.entry((kind.to_string(), status)).or_default() += 1;
    }
}

/// Appends this process's engine metrics in the Prometheus text exposition format.
pub fn render(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP orderdesk_step_duration_seconds Duration of workflow step attempts.\n\
         # TYPE orderdesk_step_duration_seconds histogram"
    );
    if let Ok(m) = STEPS.read() {
        let mut keys: Vec<_> = m.keys().collect();
        keys.sort();
        for key in keys {
            let h = &m[key];
            let labels = format!(
                "workflow=\"{}\",step=\"{}\",outcome=\"{}\"",
                esc(&key.0),
                esc(&key.1),
                key.2
            );
            for (i, le) in BUCKETS.iter().enumerate() {
                let n = h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "orderdesk_step_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "orderdesk_step_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n\
                 orderdesk_step_duration_seconds_sum{{{labels}}} {sum}\n\
                 orderdesk_step_duration_seconds_count{{{labels}}} {count}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP orderdesk_runs_finished_total Runs this process brought to a final status.\n\
         # TYPE orderdesk_runs_finished_total counter"
    );
    if let Ok(m) = RUNS.lock() {
        let mut rows: Vec<_> = m.iter().collect();
        rows.sort_by(|a, b| (&a.0.0, a.0.1.as_str()).cmp(&(&b.0.0, b.0.1.as_str())));
        for ((kind, status), n) in rows {
            let _ = writeln!(
                out,
                "orderdesk_runs_finished_total{{workflow=\"{}\",status=\"{}\"}} {n}",
                esc(kind),
                status.as_str()
            );
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histograms_and_counters() {
        observe_step("metrics_test", "a", Duration::from_millis(3), "ok");
        observe_step("metrics_test", "a", Duration::from_millis(300), "ok");
        observe_run("metrics_test", RunStatus::Succeeded);
        let mut out = String::new();
        render(&mut out);
        let labels = "workflow=\"metrics_test\",step=\"a\",outcome=\"ok\"";
        assert!(
            out.contains(&format!(
                "orderdesk_step_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "orderdesk_step_duration_seconds_count{{{labels}}} 2"
            )),
            "{out}"
        );
        assert!(out.contains(
            "orderdesk_runs_finished_total{workflow=\"metrics_test\",status=\"succeeded\"} 1"
        ));
    }
}
