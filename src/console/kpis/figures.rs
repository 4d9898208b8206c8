//! The page's figures as charts: what each chart shows, its summary and its empty state.

use chrono::{DateTime, Utc};

use super::{ENDED, Figures, ORDER_DAYS};
use crate::console::charts::{Chart, PALETTE, Series, figure};
use crate::db::kpis::OrderDay;
use crate::db::run_kpis::{EndedRuns, Pickup};

pub(super) fn hhmm(t: &DateTime<Utc>) -> String {
    t.format("%H:%M").to_string()
}

/// The value of each interval of the grid, `None` where `rows` has none.
fn on_grid<T>(
    grid: &[DateTime<Utc>],
    rows: &[T],
    at: impl Fn(&T) -> DateTime<Utc>,
    value: impl Fn(&T) -> f64,
) -> Vec<Option<f64>> {
    grid.iter()
        .map(|g| {
            let mut hits = rows.iter().filter(|r| at(r) == *g).peekable();
            hits.peek().is_some().then(|| hits.map(&value).sum())
        })
        .collect()
}

pub(super) fn runs_chart(f: &Figures) -> Chart<'static> {
    let (_, per) = f.window.bucket();
    let series: Vec<Series> = ENDED
        .iter()
        .map(|(status, color)| {
            let rows: Vec<&EndedRuns> = f.ended.iter().filter(|e| e.status == *status).collect();
            let values = on_grid(&f.grid, &rows, |e| e.bucket, |e| e.runs as f64);
            Series::new(status.as_str(), color, values)
        })
        .collect();
    let total: i64 = f.ended.iter().map(|e| e.runs).sum();
    let parts: Vec<String> = series
        .iter()
        .map(|s| (s.name.as_str(), s.values.iter().flatten().sum::<f64>()))
        .filter(|(_, n)| *n > 0.0)
        .map(|(name, n)| format!("{} {name}", figure(n, "")))
        .collect();
    Chart {
        id: "chart-runs",
        title: format!("Runs ended per {per}, by status"),
        summary: format!(
            "{total} runs ended in the {}{}{}.",
            f.window.label(),
            if parts.is_empty() { "" } else { ": " },
            parts.join(", ")
        ),
        unit: "",
        labels: f.grid.iter().map(hhmm).collect(),
        series,
        empty: "No run ended in this window.",
    }
}

pub(super) fn pickup_chart(f: &Figures) -> Chart<'static> {
    let (_, per) = f.window.bucket();
    let p = |name: &str, color, of: fn(&Pickup) -> f64| {
        Series::new(name, color, on_grid(&f.grid, &f.pickup, |r| r.bucket, of))
    };
    let runs: i64 = f.pickup.iter().map(|r| r.runs).sum();
    let worst = f.pickup.iter().max_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
    Chart {
        id: "chart-pickup",
        title: format!("Pick-up latency per {per} (created → first claim)"),
        summary: match worst {
            Some(w) => format!(
                "Pick-up latency of {runs} runs first claimed in the {}; the highest p99 was {} at {} UTC (p50 {}).",
                f.window.label(),
                figure(w.p99_ms, "ms"),
                hhmm(&w.bucket),
                figure(w.p50_ms, "ms")
            ),
            None => "No run was picked up in this window.".into(),
        },
        unit: "ms",
        labels: f.grid.iter().map(hhmm).collect(),
        series: vec![
            p("p50", PALETTE[5], |r| r.p50_ms),
            p("p95", PALETTE[0], |r| r.p95_ms),
            p("p99", PALETTE[3], |r| r.p99_ms),
        ],
        empty: "No run was picked up in this window.",
    }
}

pub(super) fn steps_chart(f: &Figures) -> Chart<'static> {
    let first = f.steps.first();
    Chart {
        id: "chart-steps",
        title: "Slowest steps (p50 and p95 of successful attempts)".into(),
        summary: match first {
            Some(s) => format!(
                "The {} slowest steps by p95; the slowest is {} of {}: p95 {}, p50 {}, over {} steps.",
                f.steps.len(),
                s.step,
                s.kind,
                figure(s.p95_ms, "ms"),
                figure(s.p50_ms, "ms"),
                s.steps
            ),
            None => String::new(),
        },
        unit: "ms",
        labels: f
            .steps
            .iter()
            .map(|s| format!("{} · {}", s.kind, s.step))
            .collect(),
        series: vec![
            Series::new(
                "p50",
                PALETTE[5],
                f.steps.iter().map(|s| Some(s.p50_ms)).collect(),
            ),
            Series::new(
                "p95",
                PALETTE[0],
                f.steps.iter().map(|s| Some(s.p95_ms)).collect(),
            ),
        ],
        empty: "No step finished in this window.",
    }
}

pub(super) fn failures_chart(f: &Figures) -> Chart<'static> {
    // by service, most first; each service's codes in its label's table row
    let mut services: Vec<(String, i64, Vec<String>)> = Vec::new();
    for r in &f.failures {
        match services.iter_mut().find(|(s, _, _)| *s == r.service) {
            Some((_, n, codes)) => {
                *n += r.steps;
                codes.push(r.code.clone());
            }
            None => services.push((r.service.clone(), r.steps, vec![r.code.clone()])),
        }
    }
    services.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: i64 = services.iter().map(|s| s.1).sum();
    Chart {
        id: "chart-upstreams",
        title: "Failing upstreams (steps whose last attempt failed there)".into(),
        summary: format!(
            "{total} steps failed at upstream services in the {}: {}.",
            f.window.label(),
            services
                .iter()
                .map(|(s, n, _)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        unit: "",
        labels: services
            .iter()
            .map(|(s, _, codes)| format!("{s} ({})", codes.join(", ")))
            .collect(),
        series: vec![Series::new(
            "failed steps",
            PALETTE[3],
            services.iter().map(|s| Some(s.1 as f64)).collect(),
        )],
        empty: "No step failed at an upstream service in this window.",
    }
}

fn day_labels(f: &Figures) -> Vec<String> {
    f.orders
        .days
        .iter()
        .map(|d| d.figures.day.format("%m-%d").to_string())
        .collect()
}

pub(super) fn throughput_chart(f: &Figures) -> Chart<'static> {
    let t = &f.orders.totals;
    let of = |v: fn(&OrderDay) -> i64| -> Vec<Option<f64>> {
        f.orders
            .days
            .iter()
            .map(|d| Some(v(&d.figures) as f64))
            .collect()
    };
    Chart {
        id: "chart-orders",
        title: "Orders placed and shipped per day".into(),
        summary: format!(
            "Over the last {ORDER_DAYS} days {} orders were placed and {} of them shipped.",
            t.orders_placed, t.orders_shipped
        ),
        unit: "",
        labels: day_labels(f),
        series: vec![
            Series::new("placed", PALETTE[0], of(|d| d.orders_placed)),
            Series::new("shipped", PALETTE[2], of(|d| d.orders_shipped)),
        ],
        empty: "No order was placed in these days.",
    }
}

pub(super) fn ship_chart(f: &Figures) -> Chart<'static> {
    Chart {
        id: "chart-ship",
        title: "Mean time to ship, by day placed".into(),
        summary: match f.orders.totals.avg_hours_to_ship {
            Some(h) => format!(
                "Orders placed in the last {ORDER_DAYS} days shipped after {} on average.",
                figure(h, "hours")
            ),
            None => String::new(),
        },
        unit: "h",
        labels: day_labels(f),
        series: vec![Series::new(
            "hours to ship",
            PALETTE[4],
            f.orders
                .days
                .iter()
                .map(|d| d.figures.avg_hours_to_ship)
                .collect(),
        )],
        empty: "No order placed in these days has shipped yet.",
    }
}
