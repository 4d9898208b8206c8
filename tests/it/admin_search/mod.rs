//! `POST /v1/admin/orders/search`: every filter family, and/or/not, full text, sort and
//! cursors, aggregations — each checked against the seeded orders — and refusals, auth and
//! tenancy. The helpers here search as an agent and compute what the seeded orders say the
//! answer must be.

mod aggregations;
mod filters;
mod pages;
mod privacy;
mod refusals;
mod seeded_by_copy;

use std::collections::BTreeSet;

use orderdesk::domain::order::{Order, OrderStatus};
use serde_json::{Value, json};

use crate::helpers::{self, TENANT, TestApp};

pub const PATH: &str = "/v1/admin/orders/search";

/// 120 orders of 6 customers: over four days, in every status, channel and currency.
pub async fn spawn() -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        customers: 6,
        orders: 120,
        ..Default::default()
    })
    .await
}

pub fn admin(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_search", &["cs_agent"])
}

pub async fn search_as(app: &TestApp, token: &str, tenant: &str, body: &Value) -> (u16, Value) {
    let res = app.post(PATH, app.auth(token, tenant), body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub async fn search(app: &TestApp, body: Value) -> Value {
    let (status, out) = search_as(app, &admin(app), TENANT, &body).await;
    assert_eq!(status, 200, "{body} → {out}");
    out
}

pub fn ids_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of every order `filter` matches, read page by page.
pub async fn all_ids(app: &TestApp, mut body: Value) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let page = search(app, body.clone()).await;
        ids.extend(ids_of(&page));
        match page["next_cursor"].as_str() {
            Some(c) => body["cursor"] = json!(c),
            None => return ids,
        }
    }
}

pub fn seeded(app: &TestApp, keep: impl Fn(&Order) -> bool) -> BTreeSet<String> {
    app.orders
        .iter()
        .filter(|o| keep(o))
        .map(|o| o.id.to_string())
        .collect()
}

pub async fn matched(app: &TestApp, filter: Value) -> BTreeSet<String> {
    let ids = all_ids(app, json!({"filter": filter, "limit": 200})).await;
    ids.into_iter().collect()
}

pub fn fulfillment(o: &Order) -> &str {
    const PROGRESS: [&str; 4] = [
        "label_created",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ];
    if o.shipments.is_empty() {
        "unfulfilled"
    } else if o.status == OrderStatus::PartiallyShipped {
        "partial"
    } else {
        o.shipments
            .iter()
            .map(|s| s.status.as_str())
            .min_by_key(|s| PROGRESS.iter().position(|p| p == s))
            .unwrap()
    }
}

pub async fn refused(app: &TestApp, body: Value) -> Value {
    let (status, out) = search_as(app, &admin(app), TENANT, &body).await;
    assert_eq!(status, 422, "{body} → {out}");
    out
}
