//! Terms, sums and histograms, checked against the seeded orders.

use orderdesk::domain::ids::TenantId;
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use orderdesk::domain::order::{Order, OrderStatus};
use serde_json::json;

use super::{ids_of, search, search_as, spawn};

#[tokio::test]
async fn aggregations_count_sum_and_bucket_every_matching_order() {
    let app = spawn().await;
    let out = search(
        &app,
        json!({
            "filter": {"status": {"in": ["confirmed", "shipped", "delivered", "closed", "on_hold", "pending", "partially_shipped"]}},
            "limit": 1,
            "aggregations": {
                "by_status": {"terms": "status"},
                "by_tag": {"terms": "tags", "size": 1},
                "revenue": {"sum": "total_minor", "by": "currency"},
                "per_day": {"histogram": "placed_at", "interval": "day"},
                "per_month": {"histogram": "placed_at", "interval": "month"}
            }
        }),
    )
    .await;
    let kept: Vec<&Order> = app
        .orders
        .iter()
        .filter(|o| o.status != OrderStatus::Cancelled)
        .collect();
    assert_eq!(
        ids_of(&out).len(),
        1,
        "the page is one order; aggregations are over all"
    );
    let aggs = &out["aggregations"];

    let mut statuses: BTreeMap<String, i64> = BTreeMap::new();
    for o in &kept {
        *statuses.entry(o.status.as_str().to_string()).or_default() += 1;
    }
    let got: BTreeMap<String, i64> = aggs["by_status"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, statuses);
    assert_eq!(aggs["by_status"]["other_count"], 0);

    let vip = kept
        .iter()
        .filter(|o| o.tags.iter().any(|t| t == "vip"))
        .count() as i64;
    let gift = kept
        .iter()
        .filter(|o| o.tags.iter().any(|t| t == "gift"))
        .count() as i64;
    let top = &aggs["by_tag"]["buckets"][0];
    assert_eq!(aggs["by_tag"]["buckets"].as_array().unwrap().len(), 1);
    assert_eq!(top["count"].as_i64().unwrap(), vip.max(gift));
    assert_eq!(
        aggs["by_tag"]["other_count"].as_i64().unwrap(),
        vip.min(gift)
    );

    let mut revenue: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for o in &kept {
        let e = revenue.entry(o.currency.clone()).or_default();
        e.0 += o.totals.total_minor;
        e.1 += 1;
    }
    let got: BTreeMap<String, (i64, i64)> = aggs["revenue"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let key = b["key"].as_str().unwrap().to_string();
            (
                key,
                (b["sum"].as_i64().unwrap(), b["count"].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, revenue);
    assert!(revenue.len() >= 3, "EUR, USD and GBP: {revenue:?}");

    let mut days: BTreeMap<String, i64> = BTreeMap::new();
    for o in &kept {
        let day = o
            .placed_at
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        *days
            .entry(day.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .or_default() += 1;
    }
    let got: BTreeMap<String, i64> = aggs["per_day"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let at: DateTime<Utc> = b["key"].as_str().unwrap().parse().unwrap();
            (
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                b["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, days);
    assert!(days.len() >= 3, "the seed spans days: {days:?}");
    let month = &aggs["per_month"]["buckets"];
    assert_eq!(month.as_array().unwrap().len(), 1);
    assert_eq!(month[0]["count"].as_i64().unwrap(), kept.len() as i64);
    assert!(
        month[0]["key"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-01T00:00:00")
    );
}

#[tokio::test]
async fn a_histogram_over_a_thousand_buckets_is_refused_not_cut_and_weeks_start_on_monday() {
    let app = spawn().await;
    // a tenant of its own with 1,001 orders, one a day
    const DAILY: &str = "daily";
    let first = app.orders[0].placed_at;
    let orders = orderdesk::seed::demo_orders(&TenantId::new(DAILY), 10, 1001)
        .into_iter()
        .enumerate()
        .map(|(i, mut o)| {
            o.placed_at = first + Duration::days(i as i64);
            o
        })
        .collect::<Vec<_>>();
    let mut conn = app.state.db.acquire().await.unwrap();
    let settings = orderdesk::seed::demo_settings();
    orderdesk::db::tenants::upsert(&mut conn, &TenantId::new(DAILY), DAILY, &settings)
        .await
        .unwrap();
    orderdesk::db::orders_copy::copy_views(&mut conn, &orders)
        .await
        .unwrap();
    drop(conn);
    let token = app.agent_token(DAILY, "agt_daily", &["admin"]);
    let histogram = |interval: &str| json!({"limit": 1, "aggregations": {"h": {"histogram": "placed_at", "interval": interval}}});

    let (status, out) = search_as(&app, &token, DAILY, &histogram("day")).await;
    assert_eq!(
        (status, &out["code"]),
        (422, &json!("search.too_many_buckets"))
    );
    assert_eq!(out["errors"][0]["field"], "aggregations.h");

    let (status, out) = search_as(&app, &token, DAILY, &histogram("week")).await;
    assert_eq!(status, 200, "{out}");
    // ISO weeks: each order counted in the week from the Monday midnight UTC before it
    let mut want: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
    for i in 0..1001 {
        let at = first + Duration::days(i);
        let monday = at.date_naive() - Duration::days(at.weekday().num_days_from_monday().into());
        *want
            .entry(monday.and_hms_opt(0, 0, 0).unwrap().and_utc())
            .or_default() += 1;
    }
    let got: BTreeMap<DateTime<Utc>, i64> = out["aggregations"]["h"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let at: DateTime<Utc> = b["key"].as_str().unwrap().parse().unwrap();
            (at, b["count"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(got, want);
    assert!(
        got.keys()
            .all(|at| at.weekday() == Weekday::Mon && at.hour() == 0)
    );
}
