//! Operations at a glance: order KPIs by day over a period, and what needs attention now
//! (SLA breaches, stuck runs, failing upstreams, a spike of failed runs).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::authorized::{Authorized, can};
use crate::api::extract::{ValidQuery, Validate};
use crate::config::Service;
use crate::db;
use crate::db::kpis::{AlertSignals, Backlog, OrderDay};
use crate::domain::settings::AlertSlas;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;
use crate::upstream::Probe;

/// The longest period one request may cover.
const MAX_DAYS: i64 = 366;
/// Failed runs in 15 minutes that count as a spike, when also 3× the hour before.
const SPIKE_MIN_FAILED: i64 = 5;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// First day (UTC, `YYYY-MM-DD`, years 1970 to 9999); default 29 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (years 1970 to 9999); default today. At most 366 days after
    /// `from`.
    pub to: Option<NaiveDate>,
}

/// The years a period's days may fall in: far enough from chrono's and PostgreSQL's limits
/// that no date arithmetic or query on them can fail.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

impl Validate for MetricsQuery {
    type Checked = (NaiveDate, NaiveDate);

    fn validate(&self) -> Result<(NaiveDate, NaiveDate)> {
        let out_of_range: Vec<FieldError> = [("from", self.from), ("to", self.to)]
            .into_iter()
            .filter(|(_, day)| day.is_some_and(|d| !YEARS.contains(&d.year())))
            .map(|(field, _)| FieldError {
                field: field.into(),
                message: format!("a day of the years {} to {}", YEARS.start(), YEARS.end()),
            })
            .collect();
        if !out_of_range.is_empty() {
            return Err(Error::validation(out_of_range));
        }
        let to = self.to.unwrap_or_else(|| Utc::now().date_naive());
        // `to` is in YEARS (checked above, or today): 29 days back cannot leave chrono's range
        let from = self.from.unwrap_or(to - Days::new(29));
        let days = (to - from).num_days() + 1;
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(Error::validation(vec![FieldError {
                field: "from".into(),
                message: format!("on or before `to`, and at most {MAX_DAYS} days before it"),
            }]));
        }
        Ok((from, to))
    }
}

/// Rates of one day or of the period: shares of the orders placed, 0 to 1.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rates {
    pub cancellation_rate: Option<f64>,
    pub dispute_rate: Option<f64>,
}

impl Rates {
    fn of(placed: i64, cancelled: i64, disputed: i64) -> Rates {
        let share = |n: i64| (placed > 0).then(|| n as f64 / placed as f64);
        Rates {
            cancellation_rate: share(cancelled),
            dispute_rate: share(disputed),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayOut {
    #[serde(flatten)]
    pub figures: OrderDay,
    #[serde(flatten)]
    pub rates: Rates,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodTotals {
    pub orders_placed: i64,
    pub orders_shipped: i64,
    pub orders_cancelled: i64,
    pub orders_disputed: i64,
    #[serde(flatten)]
    pub rates: Rates,
    pub avg_hours_to_ship: Option<f64>,
    pub avg_response_minutes: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderMetricsOut {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<DayOut>,
    pub totals: PeriodTotals,
}

impl OrderMetricsOut {
    /// The days of `order_days` with their rates, and the totals of the period.
    pub fn of(from: NaiveDate, to: NaiveDate, rows: Vec<OrderDay>) -> Self {
        let totals = totals(&rows);
        let days = rows
            .into_iter()
            .map(|d| DayOut {
                rates: Rates::of(d.orders_placed, d.orders_cancelled, d.orders_disputed),
                figures: d,
            })
            .collect();
        OrderMetricsOut {
            from,
            to,
            days,
            totals,
        }
    }
}

/// The mean of per-day means, weighted by how many each day had.
fn weighted(days: &[OrderDay], of: impl Fn(&OrderDay) -> (i64, Option<f64>)) -> Option<f64> {
    let (n, sum) = days
        .iter()
        .map(&of)
        .fold((0, 0.0), |(n, sum), (k, mean)| match mean {
            Some(m) => (n + k, sum + m * k as f64),
            None => (n, sum),
        });
    (n > 0).then(|| sum / n as f64)
}

fn totals(days: &[OrderDay]) -> PeriodTotals {
    let sum = |f: fn(&OrderDay) -> i64| days.iter().map(f).sum::<i64>();
    let (placed, cancelled, disputed) = (
        sum(|d| d.orders_placed),
        sum(|d| d.orders_cancelled),
        sum(|d| d.orders_disputed),
    );
    PeriodTotals {
        orders_placed: placed,
        orders_shipped: sum(|d| d.orders_shipped),
        orders_cancelled: cancelled,
        orders_disputed: disputed,
        rates: Rates::of(placed, cancelled, disputed),
        avg_hours_to_ship: weighted(days, |d| (d.orders_shipped, d.avg_hours_to_ship)),
        avg_response_minutes: weighted(days, |d| (d.messages_answered, d.avg_response_minutes)),
    }
}

/// Order KPIs by day (UTC) over a period: throughput, time to ship, cancellation and
/// dispute rates, customer-service response times. Requires `orders.search`.
#[utoipa::path(get, path = "/v1/admin/metrics/orders", tag = "admin", params(MetricsQuery),
    security(("bearer" = ["orders.search"])),
    responses((status = 200, body = OrderMetricsOut), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn order_metrics(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersSearch>,
    ValidQuery((from, to)): ValidQuery<MetricsQuery>,
) -> Result<Json<OrderMetricsOut>> {
    let mut conn = state.db.acquire().await?;
    let rows = db::kpis::order_days(&mut conn, &agent.tenant_id, from, to).await?;
    Ok(Json(OrderMetricsOut::of(from, to, rows)))
}

/// Something that needs attention now.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    /// `sla.cancel_review`, `sla.customer_reply`, `runs.stuck`, `holds.overdue`,
    /// `runs.failure_spike`, `upstream.down` or `upstream.degraded`.
    pub kind: String,
    /// `warning` or `critical`.
    pub severity: &'static str,
    pub message: String,
    pub count: i64,
    /// Since when the oldest of them waits.
    pub oldest_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertListOut {
    pub data: Vec<AlertOut>,
    pub checked_at: DateTime<Utc>,
}

fn backlog_alert(kind: &str, severity: &'static str, b: &Backlog, what: &str) -> Option<AlertOut> {
    (b.count > 0).then(|| AlertOut {
        kind: kind.into(),
        severity,
        message: format!("{} {what}", b.count),
        count: b.count,
        oldest_at: b.oldest_at,
    })
}

/// What needs attention in the tenant now: SLA breaches (cancellations waiting for review,
/// customer messages unanswered, longer than the tenant's `sla_minutes.alerts` settings:
/// 60 minutes and 4 hours by default), stuck runs, holds past expiry, a spike of failed
/// runs, and upstream services that are down or degraded. Requires `jobs.read`.
#[utoipa::path(get, path = "/v1/admin/alerts", tag = "admin", security(("bearer" = ["jobs.read"])),
    responses((status = 200, body = AlertListOut), (status = 403, body = crate::error::Problem)))]
pub async fn alerts(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
) -> Result<Json<AlertListOut>> {
    let probes = futures::future::join_all(Service::ALL.map(|s| state.upstream.probe(s))).await;
    let mut conn = state.db.acquire().await?;
    let slas = db::tenants::settings(&mut conn, &agent.tenant_id)
        .await?
        .sla_minutes
        .alerts;
    let s = db::kpis::alert_signals(&mut conn, &agent.tenant_id, &slas).await?;
    Ok(Json(AlertListOut {
        data: judge(&s, &slas, &probes),
        checked_at: Utc::now(),
    }))
}

/// `minutes` as the alerts say it: whole hours from two hours up, else minutes.
fn span(minutes: i64) -> String {
    if minutes >= 120 && minutes % 60 == 0 {
        format!("{} hours", minutes / 60)
    } else {
        format!("{minutes} minutes")
    }
}

/// The alerts that `s` (judged against `slas`) and the probes of the services (in
/// [`Service::ALL`]'s order) raise.
fn judge(s: &AlertSignals, slas: &AlertSlas, probes: &[Probe]) -> Vec<AlertOut> {
    let spike = s.failed_recently >= SPIKE_MIN_FAILED
        && s.failed_recently as f64 >= 3.0 * s.failed_per_quarter_before.max(1.0);
    let mut data: Vec<AlertOut> = [
        backlog_alert(
            "sla.cancel_review",
            "warning",
            &s.overdue_reviews,
            &format!(
                "cancellations waiting for review over {}",
                span(slas.cancel_review)
            ),
        ),
        backlog_alert(
            "sla.customer_reply",
            "warning",
            &s.unanswered_cases,
            &format!(
                "cases waiting for an answer over {}",
                span(slas.customer_reply)
            ),
        ),
        backlog_alert(
            "runs.stuck",
            "critical",
            &s.stuck_runs,
            "runs neither running nor started",
        ),
        backlog_alert(
            "holds.overdue",
            "warning",
            &s.overdue_holds,
            "holds past their expiry, not released",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if spike {
        let message = format!("{} runs failed in 15 minutes", s.failed_recently);
        data.push(AlertOut {
            kind: "runs.failure_spike".into(),
            severity: "critical",
            message,
            count: s.failed_recently,
            oldest_at: None,
        });
    }
    for (service, probe) in Service::ALL
        .into_iter()
        .zip(probes)
        .filter(|(_, p)| p.health != "up")
    {
        let severity = if probe.health == "down" {
            "critical"
        } else {
            "warning"
        };
        let message = format!("the {} service is {}", service.name(), probe.health);
        data.push(AlertOut {
            kind: format!("upstream.{}", probe.health),
            severity,
            message,
            count: 1,
            oldest_at: None,
        });
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<(NaiveDate, NaiveDate)> {
        MetricsQuery { from, to }.validate()
    }

    #[test]
    fn days_out_of_the_sane_years_are_refused_without_panicking() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for (from, to) in [
            (None, Some(NaiveDate::MIN)),
            (Some(NaiveDate::MIN), Some(NaiveDate::MIN)),
            (Some(day(-5000, 1, 1)), Some(day(-5000, 1, 2))),
            (None, Some(NaiveDate::MAX)),
            (Some(day(1969, 12, 31)), Some(day(1970, 1, 1))),
            (Some(day(9999, 12, 31)), Some(day(10000, 1, 1))),
        ] {
            let e = checked(from, to).unwrap_err();
            assert_eq!(e.code(), "validation.failed", "{from:?}..{to:?}");
        }
        assert_eq!(
            checked(None, Some(day(1970, 1, 1))).unwrap(),
            (day(1969, 12, 3), day(1970, 1, 1)),
            "the default start may precede 1970"
        );
        assert!(checked(Some(day(9999, 1, 1)), Some(day(9999, 12, 31))).is_ok());
    }
}
