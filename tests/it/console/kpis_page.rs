//! The KPI page: charts of the signed-in agent's own tenant (runs by status, pick-up, the
//! slowest steps, failing upstreams, orders), for those allowed to read the metrics only.

use serde_json::json;

use super::browser::Browser;
use super::session::{cookie_of, get_page, sign_in};
use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};
use crate::resilience::request_cancel;

/// Cancels `n` confirmed orders (after `skip`) and waits for each job; their final statuses.
async fn cancel_orders(app: &TestApp, skip: usize, n: usize) -> Vec<String> {
    let orders: Vec<_> = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .skip(skip)
        .take(n)
        .map(|o| (o.id.to_string(), o.customer_id.to_string()))
        .collect();
    assert_eq!(orders.len(), n, "not enough confirmed orders");
    let mut statuses = vec![];
    for (order, customer) in orders {
        let job = request_cancel(app, &order, &customer).await;
        let ended = app.wait_job(&job, 30).await;
        statuses.push(ended["status"].as_str().unwrap().to_string());
    }
    statuses
}

/// The figure of `<dd data-kpi="name">` on the page.
fn kpi<'a>(page: &'a str, name: &str) -> &'a str {
    let start = format!("data-kpi=\"{name}\">");
    page.split(start.as_str())
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no {name} figure on the page"))
}

/// The markup of the chart (or its empty state) with id `id`.
fn chart<'a>(page: &'a str, id: &str) -> &'a str {
    let start = format!("<figure class=\"chart\" id=\"{id}\">");
    let rest = page
        .split(start.as_str())
        .nth(1)
        .unwrap_or_else(|| panic!("no {id} on the page"));
    rest.split("</figure>").next().unwrap()
}

#[tokio::test]
async fn the_kpi_page_charts_the_tenants_own_runs_for_those_allowed() {
    let app = helpers::spawn().await;
    assert_eq!(cancel_orders(&app, 0, 2).await, ["succeeded", "succeeded"]);
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    assert_eq!(cancel_orders(&app, 2, 1).await, ["compensated"]);
    app.clear_faults().await;

    // one shipped order placed yesterday, shipped 20 hours later (the demo's are older)
    let shipped = app.order_in("shipped").id.to_string();
    sqlx::query(
        "UPDATE order_views SET placed_at = now() - interval '1 day',
             doc = jsonb_set(doc, '{shipments,0,shipped_at}', to_jsonb(now() - interval '4 hours'))
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(TENANT)
    .bind(&shipped)
    .execute(&app.state.db)
    .await
    .unwrap();

    let ours = sign_in(&app, &app.agent_token(TENANT, "agt_ops", &["cs_agent"])).await;
    let (status, page) = get_page(&app, "/console/kpis", Some(&ours.cookie)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(kpi(&page, "succeeded"), "2");
    assert_eq!(kpi(&page, "failed"), "1");
    let runs = chart(&page, "chart-runs");
    assert!(
        runs.contains("<svg") && runs.contains("role=\"img\""),
        "{runs}"
    );
    assert!(
        runs.contains("aria-label=\"3 runs ended in the last hour: 2 succeeded, 1 compensated.\""),
        "{runs}"
    );
    for id in ["chart-pickup", "chart-steps"] {
        assert!(chart(&page, id).contains("<svg"), "{id}");
    }
    // the refund failed at Payments: the step's error names the service
    let upstreams = chart(&page, "chart-upstreams");
    assert!(upstreams.contains("<svg"), "{upstreams}");
    assert!(upstreams.contains("payments"), "{upstreams}");
    // the step durations name the workflow's steps
    assert!(chart(&page, "chart-steps").contains("cancel_order · "));
    // the orders' figures are those of GET /v1/admin/metrics/orders
    assert_eq!(
        (kpi(&page, "orders-placed"), kpi(&page, "orders-shipped")),
        ("1", "1")
    );
    assert_eq!(kpi(&page, "time-to-ship"), "20 h");
    assert!(chart(&page, "chart-orders").contains("<svg"));
    assert!(chart(&page, "chart-ship").contains("20 h"));
    let (status, day) = get_page(&app, "/console/kpis?window=24h", Some(&ours.cookie)).await;
    assert_eq!(status, 200);
    assert_eq!(kpi(&day, "succeeded"), "2");
    assert!(chart(&day, "chart-runs").contains("per 30 minutes"));
    let (status, _) = get_page(&app, "/console/kpis?window=7d", Some(&ours.cookie)).await;
    assert_eq!(status, 422);

    // another tenant's agent sees its own figures: none
    let theirs = sign_in(&app, &app.agent_token(OTHER_TENANT, "agt_g", &["admin"])).await;
    let (status, page) = get_page(&app, "/console/kpis", Some(&theirs.cookie)).await;
    assert_eq!(status, 200);
    assert_eq!(kpi(&page, "succeeded"), "0");
    assert_eq!(kpi(&page, "failed"), "0");
    assert!(chart(&page, "chart-runs").contains("No run ended in this window."));
    assert!(
        chart(&page, "chart-upstreams")
            .contains("No step failed at an upstream service in this window.")
    );
    assert!(!page.contains("cancel_order"));

    // without orders.search and jobs.read: 403; without a session: to the sign-in page
    let auditor = cookie_of(&app, &app.agent_token(TENANT, "agt_audit", &["auditor"])).await;
    let (status, page) = get_page(&app, "/console/kpis", Some(&auditor)).await;
    assert_eq!(status, 403, "{page}");
    let (status, location) = get_page(&app, "/console/kpis", None).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/console/sign-in?next=%2Fconsole%2Fkpis")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kpi_page_draws_its_charts_in_a_browser() {
    let app = helpers::spawn().await;
    cancel_orders(&app, 0, 2).await;
    let browser = Browser::start(&app).await;
    browser
        .sign_in(&app.agent_token(TENANT, "agt_ops", &["admin"]))
        .await;
    browser.goto("/console/kpis").await;
    browser.wait_for_css("#chart-runs svg").await;
    // tall enough for the whole page at 1280 px
    browser.client.set_window_size(1280, 1900).await.unwrap();
    browser.screenshot("kpis").await;
    // each drawn chart has a visible size, and its bars or lines are there
    let drawn = browser
        .client
        .execute(
            "return Array.from(document.querySelectorAll('figure.chart svg')).map(s => {
                 const r = s.getBoundingClientRect();
                 return [s.closest('figure').id, Math.round(r.width), Math.round(r.height),
                         s.querySelectorAll('rect, path, circle').length];
             });",
            vec![],
        )
        .await
        .unwrap();
    let drawn: Vec<(String, i64, i64, usize)> = serde_json::from_value(drawn).unwrap();
    let ids: Vec<&str> = drawn.iter().map(|d| d.0.as_str()).collect();
    for id in ["chart-runs", "chart-pickup", "chart-steps"] {
        assert!(ids.contains(&id), "{id} not drawn: {drawn:?}");
    }
    for (id, width, height, marks) in &drawn {
        assert!(*width >= 300 && *height >= 150, "{id}: {width}×{height}");
        assert!(*marks > 0, "{id} has nothing drawn");
    }
    // on a phone the charts take the screen's width, one under the other
    browser.client.set_window_size(390, 844).await.unwrap();
    let widths = browser
        .client
        .execute(
            "return Array.from(document.querySelectorAll('figure.chart svg'))
                 .map(s => Math.round(s.getBoundingClientRect().width));",
            vec![],
        )
        .await
        .unwrap();
    let widths: Vec<i64> = serde_json::from_value(widths).unwrap();
    let viewport = browser
        .client
        .execute("return document.documentElement.clientWidth;", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(
        widths.iter().all(|w| *w > 250 && *w <= viewport),
        "{widths:?} in {viewport}"
    );
    browser
        .client
        .execute(
            "document.getElementById('chart-pickup').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("kpis-phone").await;
    browser.close().await;
}
