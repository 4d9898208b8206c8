//! Operational figures of one tenant: order KPIs by day (`GET /v1/admin/metrics/orders`) and
//! the conditions that raise alerts (`GET /v1/admin/alerts`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::domain::ids::TenantId;
use crate::domain::settings::AlertSlas;

/// One day of orders placed (UTC), and of customer messages sent that day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderDay {
    pub day: NaiveDate,
    pub orders_placed: i64,
    /// Of the orders placed that day: those with a shipment, and the mean hours from
    /// placing to the first shipment leaving.
    pub orders_shipped: i64,
    pub avg_hours_to_ship: Option<f64>,
    /// Of the orders placed that day: cancelled ones, and those with a disputed payment.
    pub orders_cancelled: i64,
    pub orders_disputed: i64,
    /// Customer messages sent that day, those an agent answered, and the mean minutes to
    /// the first answer.
    pub customer_messages: i64,
    pub messages_answered: i64,
    pub avg_response_minutes: Option<f64>,
}

/// Every day from `from` to `to` (inclusive), days without orders included.
pub async fn order_days(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<Vec<OrderDay>> {
    sqlx::query_as!(
        OrderDay,
        r#"WITH days AS (
               SELECT d::date AS day FROM generate_series($2::date, $3::date, interval '1 day') d),
           orders AS (
               SELECT (v.placed_at AT TIME ZONE 'UTC')::date AS day,
                      count(*) AS placed,
                      count(*) FILTER (WHERE v.status = 'cancelled') AS cancelled,
                      count(*) FILTER (
                          WHERE jsonb_path_exists(v.doc, '$.payments[*] ? (@.status == "disputed")'))
                          AS disputed,
                      count(shipped.first_at) AS shipped,
                      avg(extract(epoch FROM shipped.first_at - v.placed_at) / 3600.0) AS hours
               FROM order_views v
               LEFT JOIN LATERAL (
                   SELECT min((s ->> 'shipped_at')::timestamptz) AS first_at
                   FROM jsonb_array_elements(coalesce(v.doc -> 'shipments', '[]')) s) shipped ON true
               WHERE v.tenant_id = $1
                 AND v.placed_at >= $2::date AND v.placed_at < $3::date + 1
               GROUP BY 1),
           messages AS (
               SELECT (m.created_at AT TIME ZONE 'UTC')::date AS day,
                      count(*) AS sent,
                      count(reply.at) AS answered,
                      avg(extract(epoch FROM reply.at - m.created_at) / 60.0) AS minutes
               FROM support_messages m
               LEFT JOIN LATERAL (
                   SELECT min(r.created_at) AS at FROM support_messages r
                   WHERE r.tenant_id = m.tenant_id AND r.case_id = m.case_id
                     AND r.author_kind = 'agent' AND NOT r.internal
                     AND r.created_at > m.created_at) reply ON true
               WHERE m.tenant_id = $1 AND m.author_kind = 'customer'
                 AND m.created_at >= $2::date AND m.created_at < $3::date + 1
               GROUP BY 1)
           SELECT days.day AS "day!",
                  coalesce(o.placed, 0) AS "orders_placed!",
                  coalesce(o.shipped, 0) AS "orders_shipped!",
                  o.hours::float8 AS avg_hours_to_ship,
                  coalesce(o.cancelled, 0) AS "orders_cancelled!",
                  coalesce(o.disputed, 0) AS "orders_disputed!",
                  coalesce(m.sent, 0) AS "customer_messages!",
                  coalesce(m.answered, 0) AS "messages_answered!",
                  m.minutes::float8 AS avg_response_minutes
           FROM days
           LEFT JOIN orders o ON o.day = days.day
           LEFT JOIN messages m ON m.day = days.day
           ORDER BY days.day"#,
        tenant_id.as_str(),
        from,
        to,
    )
    .fetch_all(conn)
    .await
}

/// How many of something need attention, and since when.
#[derive(Debug, Clone, Default)]
pub struct Backlog {
    pub count: i64,
    pub oldest_at: Option<DateTime<Utc>>,
}

/// What `GET /v1/admin/alerts` judges, read in one statement.
#[derive(Debug, Clone, Default)]
pub struct AlertSignals {
    /// Cancellations waiting for an agent longer than the review SLA.
    pub overdue_reviews: Backlog,
    /// Open cases whose last message is the customer's, older than the reply SLA.
    pub unanswered_cases: Backlog,
    /// Runs whose lease ran out long ago, or queued runs never started.
    pub stuck_runs: Backlog,
    /// Holds past their expiry that no release has taken.
    pub overdue_holds: Backlog,
    /// Runs that failed in the last 15 minutes, and per 15 minutes over the hour before.
    pub failed_recently: i64,
    pub failed_per_quarter_before: f64,
}

pub async fn alert_signals(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    slas: &AlertSlas,
) -> sqlx::Result<AlertSignals> {
    let r = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM requests WHERE tenant_id = $1 AND status = 'pending_review'
                 AND created_at < now() - make_interval(mins => $2::int)) AS "reviews!",
             (SELECT min(created_at) FROM requests WHERE tenant_id = $1
                 AND status = 'pending_review'
                 AND created_at < now() - make_interval(mins => $2::int)) AS reviews_oldest,
             (SELECT count(*) FROM support_cases c WHERE c.tenant_id = $1 AND c.status <> 'closed'
                 AND c.last_message_at < now() - make_interval(mins => $3::int)
                 AND (SELECT m.author_kind FROM support_messages m
                      WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND NOT m.internal
                      ORDER BY m.created_at DESC LIMIT 1) = 'customer') AS "cases!",
             (SELECT min(c.last_message_at) FROM support_cases c
                 WHERE c.tenant_id = $1 AND c.status <> 'closed'
                 AND c.last_message_at < now() - make_interval(mins => $3::int)
                 AND (SELECT m.author_kind FROM support_messages m
                      WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND NOT m.internal
                      ORDER BY m.created_at DESC LIMIT 1) = 'customer') AS cases_oldest,
             (SELECT count(*) FROM runs WHERE tenant_id = $1 AND (
                 (status = 'running' AND lease_until < now() - interval '1 minute')
                 OR (status = 'queued' AND next_attempt_at < now() - interval '5 minutes')))
                 AS "stuck!",
             (SELECT min(created_at) FROM runs WHERE tenant_id = $1 AND (
                 (status = 'running' AND lease_until < now() - interval '1 minute')
                 OR (status = 'queued' AND next_attempt_at < now() - interval '5 minutes')))
                 AS stuck_oldest,
             (SELECT count(*) FROM order_holds WHERE tenant_id = $1 AND released_at IS NULL
                 AND release_run_id IS NULL AND expires_at < now() - interval '1 minute')
                 AS "holds!",
             (SELECT min(expires_at) FROM order_holds WHERE tenant_id = $1
                 AND released_at IS NULL AND release_run_id IS NULL
                 AND expires_at < now() - interval '1 minute') AS holds_oldest,
             (SELECT count(*) FROM runs WHERE tenant_id = $1 AND status IN ('failed', 'compensated')
                 AND finished_at >= now() - interval '15 minutes') AS "failed_recently!",
             (SELECT count(*) FROM runs WHERE tenant_id = $1 AND status IN ('failed', 'compensated')
                 AND finished_at >= now() - interval '75 minutes'
                 AND finished_at < now() - interval '15 minutes') AS "failed_hour_before!""#,
        tenant_id.as_str(),
        i32::try_from(slas.cancel_review).unwrap_or(i32::MAX),
        i32::try_from(slas.customer_reply).unwrap_or(i32::MAX),
    )
    .fetch_one(conn)
    .await?;
    let backlog = |count, oldest_at| Backlog { count, oldest_at };
    Ok(AlertSignals {
        overdue_reviews: backlog(r.reviews, r.reviews_oldest),
        unanswered_cases: backlog(r.cases, r.cases_oldest),
        stuck_runs: backlog(r.stuck, r.stuck_oldest),
        overdue_holds: backlog(r.holds, r.holds_oldest),
        failed_recently: r.failed_recently,
        failed_per_quarter_before: r.failed_hour_before as f64 / 4.0,
    })
}
