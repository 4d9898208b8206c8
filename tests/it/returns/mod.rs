//! Returns and exchanges, end to end: request → job on a worker → RMA at the sandbox's
//! Returns API → pollable status and label; and every way a request must be refused.

use orderdesk::domain::order::{Order, OrderStatus};
use orderdesk::domain::settings::TenantSettings;
use orderdesk::seed;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{self, Options, TENANT, TestApp};

/// Demo orders were delivered in early 2026: a long window keeps them returnable.
fn settings(window_days: i64) -> TenantSettings {
    TenantSettings {
        return_window_days: window_days,
        ..seed::demo_settings()
    }
}

async fn spawn(workers: usize) -> TestApp {
    helpers::spawn_with(Options {
        workers,
        settings: settings(3650),
        ..Default::default()
    })
    .await
}

/// A delivered order with at least two lines.
fn delivered(app: &TestApp) -> Order {
    app.orders
        .iter()
        .find(|o| o.status == OrderStatus::Delivered && o.lines.len() >= 2)
        .expect("a delivered order with two lines")
        .clone()
}

fn return_body(o: &Order, qty: i32) -> Value {
    json!({
        "lines": [{"line_id": o.lines[0].id, "qty": qty, "reason": "damaged", "comment": "cracked"}],
        "preferred_refund": "card",
        "method": "dropoff",
    })
}

async fn post(
    app: &TestApp,
    token: &str,
    tenant: &str,
    action: &str,
    order_id: impl AsRef<str>,
    key: Option<&str>,
    body: &Value,
) -> (u16, HeaderMap, Value) {
    let order_id = order_id.as_ref();
    let mut h = app.auth(token, tenant);
    if let Some(k) = key {
        h.insert("idempotency-key", k.parse().unwrap());
    }
    let path = format!("/v1/customer/orders/{order_id}/{action}");
    let res = app.post(&path, h, body).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

/// Asks to return one unit of `order`'s first line, with Idempotency-Key `key`.
async fn ask_return(
    app: &TestApp,
    token: &str,
    order: &Order,
    key: &str,
) -> (u16, HeaderMap, Value) {
    let body = return_body(order, 1);
    post(
        app,
        token,
        TENANT,
        "return-request",
        &order.id,
        Some(key),
        &body,
    )
    .await
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn return_end_to_end_makes_one_rma_with_a_pollable_status_and_label() {
    let app = spawn(1).await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    let body = return_body(&order, 1);
    let (status, headers, accepted) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        Some("k-ret"),
        &body,
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let rma_id = accepted["rma_id"].as_str().unwrap().to_string();
    assert!(rma_id.starts_with("rma_"));
    assert_eq!(accepted["status"], "requested");
    assert!(!accepted["instructions"].as_str().unwrap().is_empty());
    assert_eq!(accepted["job"]["kind"], "return_order");
    assert_eq!(
        accepted["expected_refund"]["amount_minor"],
        json!(order.lines[0].unit_price_minor)
    );
    let request_id = accepted["request_id"].as_str().unwrap();
    assert_eq!(
        headers["location"],
        format!("/v1/customer/requests/{request_id}").as_str()
    );

    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["rma_id"], rma_id.as_str());

    let (status, ret) = app
        .get(
            &format!("/v1/customer/returns/{rma_id}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{ret}");
    assert_eq!(ret["status"], "requested");
    assert_eq!(ret["kind"], "return");
    assert_eq!(ret["refund"]["status"], "pending");
    assert_eq!(ret["lines"][0]["sku"], order.lines[0].sku.as_str());
    assert_eq!(ret["lines"][0]["comment"], "cracked");
    let label = ret["label_url"].as_str().expect("a label link").to_string();
    let pdf = app.http.get(&label).send().await.unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));

    let (status, req) = app
        .get(
            &format!("/v1/customer/requests/{request_id}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        (status, req["kind"].as_str()),
        (200, Some("return")),
        "{req}"
    );
    assert_eq!(req["status"], "succeeded");

    let (status, headers, replay) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        Some("k-ret"),
        &body,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(replay["rma_id"], rma_id.as_str());
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.create")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "notification.send")
            .await,
        1
    );
    let rma: Value = app
        .http
        .get(format!("{}/fulfillment/v1/returns/{rma_id}", app.sandbox))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rma["order_id"], order.id.as_str(), "{rma}");
}

async fn one_rma_despite(faults: Value) {
    let app = spawn(1).await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    app.set_faults(faults).await;
    let (status, _, accepted) = ask_return(&app, &token, &order, "k-faulty").await;
    assert_eq!(status, 202, "{accepted}");
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 90)
        .await;
    app.clear_faults().await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.create")
            .await,
        1
    );
    let rma_id = accepted["rma_id"].as_str().unwrap();
    let (_, ret) = app
        .get(
            &format!("/v1/customer/returns/{rma_id}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(ret["status"], "requested");
    assert!(ret["label_url"].is_string(), "{ret}");
}

#[tokio::test]
async fn half_the_returns_calls_failing_still_makes_one_rma() {
    one_rma_despite(json!({"service": "fulfillment", "error_rate": 0.5})).await;
}

#[tokio::test]
async fn half_the_returns_answers_lost_still_makes_one_rma() {
    one_rma_despite(json!({"service": "fulfillment", "lost_response_rate": 0.5})).await;
}

#[tokio::test]
async fn idempotent_retry_key_reuse_and_earlier_returns_counted() {
    let app = spawn(1).await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    let all = return_body(&order, order.lines[0].qty);
    let (s1, h1, b1) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        Some("k-1"),
        &all,
    )
    .await;
    let (s2, h2, b2) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        Some("k-1"),
        &all,
    )
    .await;
    assert_eq!((s1, s2), (202, 202), "{b1} {b2}");
    assert_eq!(b1, b2);
    assert!(h1.get("idempotent-replayed").is_none());
    assert_eq!(h2["idempotent-replayed"], "true");

    let (s3, _, b3) = ask_return(&app, &token, &order, "k-1").await;
    assert_eq!(
        (s3, b3["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
    let (s4, _, b4) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        None,
        &all,
    )
    .await;
    assert_eq!(
        (s4, b4["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );

    let job = app.wait_job(b1["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    // every unit of the line is now on its way back: another request for it is refused
    let (s5, _, b5) = ask_return(&app, &token, &order, "k-2").await;
    assert_eq!(
        (s5, b5["code"].as_str()),
        (409, Some("return.not_eligible")),
        "{b5}"
    );
    assert_eq!(
        b5["line_errors"][0]["code"],
        "return.qty_exceeds_returnable"
    );
    // the other line still can go back, in a second return of the same order; with
    // `Prefer: wait` the answer is the finished job with the label
    let second = json!({
        "lines": [{"line_id": order.lines[1].id, "qty": 1, "reason": "no_longer_needed"}],
        "preferred_refund": "card", "method": "pickup",
    });
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "k-3".parse().unwrap());
    h.insert("prefer", "wait=20".parse().unwrap());
    let path = format!("/v1/customer/orders/{}/return-request", order.id);
    let res = app.post(&path, h, &second).await;
    assert_eq!(res.status(), 200);
    let b6: Value = res.json().await.unwrap();
    assert_eq!(b6["job"]["status"], "succeeded", "{b6}");
    assert_eq!(b6["status"], "requested");
    assert!(b6["label_url"].is_string(), "{b6}");
    assert!(b6["instructions"].as_str().unwrap().contains("courier"));
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.create")
            .await,
        2
    );

    let auditor = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let path = format!("/v1/admin/orders/{}/audit", order.id);
    let (status, audit) = app.get(&path, app.auth(&auditor, TENANT)).await;
    assert_eq!(status, 200, "{audit}");
    let returns = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "order.return_requested")
        .count();
    assert_eq!(returns, 2, "{audit}");
}

mod exchange;
mod refusals;
