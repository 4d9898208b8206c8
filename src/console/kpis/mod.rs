//! The KPI page: the tenant's runs and orders as charts drawn on the server — runs ended per
//! interval by status, pick-up latency, the slowest steps, the steps failing at upstream
//! services (over the last hour or day), and order throughput and time to ship by day (the
//! figures of `GET /v1/admin/metrics/orders`).

use axum::extract::State;
use chrono::{DateTime, Duration, TimeZone, Utc};
use maud::{Markup, html};
use serde::Deserialize;

mod figures;

use super::SignedIn;
use super::charts::{self, PALETTE, figure};
use super::extract::PageQuery;
use super::layout::{PageError, page};
use crate::api::admin::kpis::OrderMetricsOut;
use crate::auth::Permission;
use crate::db;
use crate::db::run_kpis::{EndedRuns, InFlight, Pickup, StepDurations, UpstreamFailures};
use crate::db::runs::RunStatus;
use crate::error::{Error, FieldError};
use crate::state::AppState;

/// Days of order figures shown, today included.
const ORDER_DAYS: i64 = 14;
/// Steps in the slowest-steps chart.
const SLOWEST_STEPS: i64 = 8;
/// The ended statuses, in the order they stack, with their colours.
const ENDED: [(RunStatus, &str); 4] = [
    (RunStatus::Succeeded, PALETTE[2]),
    (RunStatus::Failed, PALETTE[3]),
    (RunStatus::Compensated, PALETTE[1]),
    (RunStatus::Cancelled, "#8c959f"),
];

/// The span the run charts cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Hour,
    Day,
}

impl Window {
    const ALL: [Window; 2] = [Window::Hour, Window::Day];

    fn param(self) -> &'static str {
        match self {
            Window::Hour => "1h",
            Window::Day => "24h",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Window::Hour => "last hour",
            Window::Day => "last 24 hours",
        }
    }
    /// The interval of one bar or point, and its name.
    fn bucket(self) -> (i32, &'static str) {
        match self {
            Window::Hour => (60, "minute"),
            Window::Day => (1800, "30 minutes"),
        }
    }
    fn buckets(self) -> i64 {
        match self {
            Window::Hour => 60,
            Window::Day => 48,
        }
    }
    /// The starts of the window's intervals, the last one holding `now`.
    fn grid(self, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let secs = i64::from(self.bucket().0);
        let last = now.timestamp().div_euclid(secs) * secs;
        (0..self.buckets())
            .rev()
            .filter_map(|k| Utc.timestamp_opt(last - k * secs, 0).single())
            .collect()
    }
}

#[derive(Debug, Deserialize)]
pub struct KpisQuery {
    /// `1h` (the default) or `24h`.
    pub window: Option<String>,
}

impl KpisQuery {
    fn window(&self) -> Result<Window, Error> {
        match self.window.as_deref() {
            None | Some("") => Ok(Window::Hour),
            Some(w) => Window::ALL
                .into_iter()
                .find(|x| x.param() == w)
                .ok_or_else(|| {
                    Error::validation(vec![FieldError {
                        field: "window".into(),
                        message: "1h or 24h".into(),
                    }])
                }),
        }
    }
}

/// What the page shows, read before any drawing.
struct Figures {
    window: Window,
    grid: Vec<DateTime<Utc>>,
    in_flight: InFlight,
    ended: Vec<EndedRuns>,
    pickup: Vec<Pickup>,
    steps: Vec<StepDurations>,
    failures: Vec<UpstreamFailures>,
    orders: OrderMetricsOut,
}

/// The page needs what the metrics API needs (`orders.search`) and what the runs' figures
/// need (`jobs.read`, as for the alerts).
pub async fn show(
    State(state): State<AppState>,
    who: SignedIn,
    PageQuery(q): PageQuery<KpisQuery>,
) -> Result<Markup, PageError> {
    who.require(Permission::OrdersSearch)?;
    who.require(Permission::JobsRead)?;
    let window = q.window()?;
    let now = Utc::now();
    let grid = window.grid(now);
    let since = grid[0];
    let tenant = &who.agent.tenant_id;
    let mut conn = state.db.acquire().await?;
    let (bucket_secs, _) = window.bucket();
    let in_flight = db::run_kpis::in_flight(&mut conn, tenant).await?;
    let ended = db::run_kpis::ended_by_status(&mut conn, tenant, since, bucket_secs).await?;
    let pickup = db::run_kpis::pickup(&mut conn, tenant, since, bucket_secs).await?;
    let steps = db::run_kpis::slowest_steps(&mut conn, tenant, since, SLOWEST_STEPS).await?;
    let failures = db::run_kpis::upstream_failures(&mut conn, tenant, since).await?;
    let to = now.date_naive();
    let from = to - Duration::days(ORDER_DAYS - 1);
    let days = db::kpis::order_days(&mut conn, tenant, from, to).await?;
    drop(conn);
    let f = Figures {
        window,
        grid,
        in_flight,
        ended,
        pickup,
        steps,
        failures,
        orders: OrderMetricsOut::of(from, to, days),
    };
    Ok(page(&who, "KPIs", "/console/kpis", content(&f)))
}

fn content(f: &Figures) -> Markup {
    let ended_count = |s: RunStatus| -> i64 {
        f.ended
            .iter()
            .filter(|e| e.status == s)
            .map(|e| e.runs)
            .sum()
    };
    let failed = ended_count(RunStatus::Failed) + ended_count(RunStatus::Compensated);
    let t = &f.orders.totals;
    html! {
        form.filters method="get" action="/console/kpis" {
            label { "Runs over the"
                select name="window" {
                    @for w in Window::ALL {
                        option value=(w.param()) selected[w == f.window] { (w.label()) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        dl.kpi-figures {
            div { dt { "Runs succeeded" } dd data-kpi="succeeded" { (ended_count(RunStatus::Succeeded)) } }
            div { dt { "Runs failed or compensated" } dd data-kpi="failed" { (failed) } }
            div { dt { "Runs queued / running now" } dd data-kpi="in-flight" { (f.in_flight.queued) " / " (f.in_flight.running) } }
            div { dt { "Orders placed, " (ORDER_DAYS) " days" } dd data-kpi="orders-placed" { (t.orders_placed) } }
            div { dt { "Orders shipped" } dd data-kpi="orders-shipped" { (t.orders_shipped) } }
            div { dt { "Mean time to ship" } dd data-kpi="time-to-ship" { (t.avg_hours_to_ship.map(|h| figure(h, "h")).unwrap_or_else(|| "–".into())) } }
        }
        p.muted { "Runs: the " (f.window.label()) ", in UTC. Orders: by the day they were placed." }
        div.charts {
            section.card { (charts::stacked_bars(&figures::runs_chart(f))) }
            section.card { (charts::lines(&figures::pickup_chart(f))) }
            section.card { (charts::horizontal_bars(&figures::steps_chart(f))) }
            section.card { (charts::horizontal_bars(&figures::failures_chart(f))) }
            section.card { (charts::lines(&figures::throughput_chart(f))) }
            section.card { (charts::lines(&figures::ship_chart(f))) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::figures::hhmm;
    use super::*;

    #[test]
    fn the_grid_ends_with_the_interval_of_now() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 14, 5, 30).unwrap();
        let hour = Window::Hour.grid(now);
        assert_eq!(hour.len(), 60);
        assert_eq!(hhmm(hour.last().unwrap()), "14:05");
        assert_eq!(hhmm(&hour[0]), "13:06");
        let day = Window::Day.grid(now);
        assert_eq!(day.len(), 48);
        assert_eq!(hhmm(day.last().unwrap()), "14:00");
        assert_eq!(
            day[0],
            Utc.with_ymd_and_hms(2026, 11, 30, 14, 30, 0).unwrap()
        );
    }

    #[test]
    fn the_window_is_1h_or_24h() {
        let q = |w: Option<&str>| KpisQuery {
            window: w.map(str::to_string),
        };
        assert_eq!(q(None).window().unwrap(), Window::Hour);
        assert_eq!(q(Some("24h")).window().unwrap(), Window::Day);
        assert!(q(Some("7d")).window().is_err());
    }
}
