//! The customer's reads of an order: detail with `expand` and `allowed_actions` (which must
//! agree with each action's own endpoint), timeline, shipments, live tracking, help entries
//! and spending metrics; each for success, bad input, no token and others' orders.

mod agreement;
mod detail;
mod help_and_metrics;
mod tracking;

use chrono::{DateTime, Duration, Utc};
use orderdesk::domain::ids::TenantId;
use orderdesk::domain::order::{Order, OrderStatus};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

/// An app without workers: these tests only read.
/// No worker; the default 30-day return window, so orders delivered in January are past it
/// (the demo tenant's own settings keep returns open for the walk-through).
async fn spawn() -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        settings: orderdesk::domain::settings::TenantSettings {
            return_window_days: 30,
            ..orderdesk::seed::demo_settings()
        },
        ..Default::default()
    })
    .await
}

/// Headers with a tenant but no token.
fn no_token() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-tenant-id", TENANT.parse().unwrap());
    h
}

/// Stores `order` in the read model only (the sandbox does not know it).
async fn put_view(app: &TestApp, order: &Order) {
    let mut conn = app.state.db.acquire().await.unwrap();
    orderdesk::db::orders::upsert_view(&mut conn, order)
        .await
        .unwrap();
}

/// Stores an upstream event of `order` as the ingest endpoint would.
async fn put_event(
    app: &TestApp,
    order: &Order,
    id: &str,
    kind: &str,
    status: &str,
    at: DateTime<Utc>,
) {
    let mut conn = app.state.db.acquire().await.unwrap();
    let mut snapshot = serde_json::to_value(order).unwrap();
    snapshot["status"] = json!(status);
    snapshot["internal_risk_score"] = json!(97);
    orderdesk::db::orders::insert_event(
        &mut conn,
        &TenantId::new(TENANT),
        &order.id,
        id,
        kind,
        &snapshot,
        at,
    )
    .await
    .unwrap();
}

/// A copy of the first seeded order in `status`, re-dated so its windows are open now.
fn fresh_copy(app: &TestApp, status: &str, id: &str, number: &str) -> Order {
    let mut o = app.order_in(status).clone();
    let now = Utc::now();
    o.id = id.into();
    o.number = number.into();
    o.placed_at = now - Duration::days(3);
    o.updated_at = now - Duration::days(1);
    for s in &mut o.shipments {
        s.shipped_at = Some(now - Duration::days(2));
        s.eta = Some(now + Duration::days(1));
        if s.delivered_at.is_some() {
            s.delivered_at = Some(now - Duration::days(1));
        }
    }
    if o.status == OrderStatus::Delivered {
        assert!(!o.shipments.is_empty());
    }
    o
}

/// Asserts the four refusals every order read shares: 422 for a malformed id, 401 without
/// a token, 404 for another customer of the tenant and for the same customer id in
/// another tenant.
async fn assert_order_read_refusals(app: &TestApp, order: &Order, suffix: &str) {
    let own = app.customer_token(TENANT, &order.customer_id);
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/bad%20id%21{suffix}"),
            app.auth(&own, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed")),
        "{suffix}: {body}"
    );

    let path = format!("/v1/customer/orders/{}{suffix}", order.id);
    let (status, body) = app.get(&path, no_token()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.missing_token")),
        "{suffix}"
    );

    let other_customer = app
        .orders
        .iter()
        .map(|o| o.customer_id.clone())
        .find(|c| *c != order.customer_id)
        .unwrap();
    let other = app.customer_token(TENANT, &other_customer);
    let (status, body) = app.get(&path, app.auth(&other, TENANT)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("order.not_found")),
        "{suffix}"
    );

    let foreign = app.customer_token(OTHER_TENANT, &order.customer_id);
    let (status, body) = app.get(&path, app.auth(&foreign, OTHER_TENANT)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("order.not_found")),
        "{suffix}"
    );
}

fn codes(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|v| v[field].as_str().unwrap_or_default().to_string())
        .collect()
}
