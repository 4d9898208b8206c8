//! What operators rely on: metrics on their own listener (and not on the public API), and the
//! retention of finished runs.

use std::time::Duration;

use orderdesk::app;
use orderdesk::db::requests::{self, NewRequest, OpenedEvent};
use orderdesk::db::runs::{self, NewRunRow};
use orderdesk::domain::ids::{CustomerId, RunId, TenantId};
use orderdesk::domain::request::RequestStatus;
use orderdesk::workers::sweeper;
use serde_json::json;
use sqlx::PgConnection;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, TENANT, TestApp};

async fn app_without_workers() -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await
}

/// The metrics listener on a port of its own: its `/metrics` URL, and what stops it.
async fn metrics_listener() -> (String, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(app::serve_metrics(listener, stop.clone()));
    (metrics_url, stop)
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only() {
    let app = app_without_workers().await;
    let (metrics_url, stop) = metrics_listener().await;

    // the public API has no /metrics: it would tell anyone every tenant's volume
    let res = app
        .http
        .get(format!("{}/metrics", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let order = &app.orders[0];
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}", order.id);
    let before = served_count(&app.http, &metrics_url).await;
    let (status, _) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200);

    let res = app.http.get(&metrics_url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains("# TYPE orderdesk_http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains(r#"orderdesk_http_request_duration_seconds_bucket{method="GET",route="/v1/customer/orders/{order_id}",le="+Inf"}"#),
        "{text}"
    );
    // tests share the process's registry: the count grew by at least this request
    let after = served_count(&app.http, &metrics_url).await;
    assert!(after > before, "{before} -> {after}");
    assert!(
        !text.contains(order.id.as_str()),
        "concrete paths never become labels"
    );
    assert!(!text.contains(TENANT), "no tenant in any label");

    let res = app
        .http
        .get(metrics_url.replace("/metrics", "/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    stop.cancel();
}

/// The layers around the router (request id, metrics, problem details) answer for what the
/// router refuses too: a method a route lacks is a problem carrying the request's id, counted
/// under its route; a path no route has is counted as `unmatched`.
#[tokio::test]
async fn the_router_refusals_go_through_every_layer() {
    let app = app_without_workers().await;
    let (metrics_url, stop) = metrics_listener().await;
    let order = &app.orders[0];
    let token = app.customer_token(TENANT, &order.customer_id);
    let refused = r#"orderdesk_http_requests_total{method="DELETE",route="/v1/customer/orders/{order_id}",status="4xx"} "#;
    let unmatched =
        r#"orderdesk_http_requests_total{method="GET",route="unmatched",status="4xx"} "#;
    let before = (
        count(&app.http, &metrics_url, refused).await,
        count(&app.http, &metrics_url, unmatched).await,
    );

    let res = app
        .http
        .delete(format!("{}/v1/customer/orders/{}", app.api, order.id))
        .headers(app.auth(&token, TENANT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "request.method_not_allowed", "{body}");
    assert_eq!(body["request_id"], id.as_str(), "{body}");
    let (status, body) = app.get("/v1/no-such-thing", app.auth(&token, TENANT)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("route.not_found")),
        "{body}"
    );

    let after = (
        count(&app.http, &metrics_url, refused).await,
        count(&app.http, &metrics_url, unmatched).await,
    );
    assert!(
        after.0 > before.0,
        "405 under its route: {before:?} -> {after:?}"
    );
    assert!(
        after.1 > before.1,
        "404 as unmatched: {before:?} -> {after:?}"
    );
    stop.cancel();
}

/// The value of the series whose name and labels are `series` (0 when absent).
async fn count(http: &reqwest::Client, url: &str, series: &str) -> u64 {
    let text = http.get(url).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// `orderdesk_http_requests_total` of a 2xx `GET /v1/customer/orders/{order_id}`.
async fn served_count(http: &reqwest::Client, url: &str) -> u64 {
    let series = r#"orderdesk_http_requests_total{method="GET",route="/v1/customer/orders/{order_id}",status="2xx"} "#;
    count(http, url, series).await
}

/// A run of `kind` with one step, set to `status`, finished (or updated) `days_ago`.
async fn run_aged(conn: &mut PgConnection, status: &str, days_ago: i64) -> RunId {
    let id = RunId::now_v7();
    let input = json!({});
    runs::insert(
        conn,
        &NewRunRow {
            id,
            tenant_id: &TenantId::new(TENANT),
            kind: "retention_test",
            subject_id: None,
            customer_id: None,
            requested_by: "test",
            input: &input,
            steps: &[("only", false)],
            correlation_id: None,
            queue: "interactive",
            announce: true,
            request: None,
            decided_by: None,
        },
    )
    .await
    .unwrap();
    sqlx::query(
        "UPDATE runs SET status = $2,
             finished_at = CASE WHEN $2 IN ('queued','running') THEN NULL
                                ELSE now() - $3 * interval '1 day' END,
             updated_at = now() - $3 * interval '1 day'
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(days_ago)
    .execute(&mut *conn)
    .await
    .unwrap();
    id
}

async fn exists(conn: &mut PgConnection, table: &str, column: &str, id: RunId) -> bool {
    sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} = $1)"
    ))
    .bind(id)
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn retention_deletes_old_finished_runs_only() {
    let app = app_without_workers().await;
    let mut conn = app.state.db.acquire().await.unwrap();
    let old = run_aged(&mut conn, "succeeded", 40).await;
    let old_failed = run_aged(&mut conn, "failed", 31).await;
    let recent = run_aged(&mut conn, "succeeded", 2).await;
    let running = run_aged(&mut conn, "running", 90).await;
    // a closed request pointing at the old run, and an open one at the old failed run
    let input = json!({});
    let (tenant, customer) = (TenantId::new(TENANT), CustomerId::new("cus_0001"));
    let request = |order: &'static str, status: RequestStatus, run: RunId| NewRequest {
        tenant_id: &tenant,
        kind: "retention_test",
        order_id: order,
        customer_id: &customer,
        status,
        input: &input,
        run_id: Some(run),
        decided_by: None,
        event: OpenedEvent {
            type_: "admin.retention_test_requested",
            by: "test",
            order_id: Some(order),
        },
    };
    let closed = requests::insert(&mut conn, &request("ord_r1", RequestStatus::Succeeded, old))
        .await
        .unwrap()
        .unwrap();
    let open = requests::insert(
        &mut conn,
        &request("ord_r2", RequestStatus::Running, old_failed),
    )
    .await
    .unwrap()
    .unwrap();

    let deleted = sweeper::delete_old_runs(&mut conn, Duration::from_secs(30 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert!(!exists(&mut conn, "runs", "id", old).await);
    for kept in [recent, running, old_failed] {
        assert!(exists(&mut conn, "runs", "id", kept).await, "{kept} kept");
    }
    // the request outlives its run and keeps its own status
    let closed = requests::get(&mut conn, &TenantId::new(TENANT), closed.id, None)
        .await
        .unwrap()
        .expect("the request stays");
    assert_eq!((closed.status.as_str(), closed.run_id), ("succeeded", None));
    let open = requests::get(&mut conn, &TenantId::new(TENANT), open.id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.run_id, Some(old_failed));

    // once the request takes its run's status, the run can go too
    requests::close_if_run_finished(
        &mut conn,
        &TenantId::new(TENANT),
        "ord_r2",
        "retention_test",
    )
    .await
    .unwrap();
    let deleted = sweeper::delete_old_runs(&mut conn, Duration::from_secs(30 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert!(!exists(&mut conn, "runs", "id", old_failed).await);
}

/// `orderdesk healthcheck`, the containers' healthcheck: exit 0 on a 2xx, 1 otherwise.
#[tokio::test]
async fn healthcheck_command_exits_by_the_answer() {
    let app = app_without_workers().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    for (url, ok) in [
        (format!("{}/v1/customer/health", app.api), true),
        (format!("{}/no/such/route", app.api), false),
        (closed_url, false),
    ] {
        let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_orderdesk"))
            .args(["healthcheck", "--url", &url, "--timeout-secs", "5"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .unwrap();
        assert_eq!(status.success(), ok, "{url}: {status}");
        if !ok {
            assert_eq!(status.code(), Some(1), "{url}");
        }
    }
}
