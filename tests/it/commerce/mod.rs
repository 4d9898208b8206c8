//! Reorder, shipping-address change and coupon preview, end to end over the sandbox.

mod address;
mod coupon;
mod reorder;

use orderdesk::domain::ids::CustomerId;
use orderdesk::domain::order::Order;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::helpers::{TENANT, TestApp};

/// `POST {path}` as `token` of `tenant`, with an optional Idempotency-Key and `Prefer`.
pub async fn post(
    app: &TestApp,
    token: &str,
    tenant: &str,
    path: &str,
    key: Option<&str>,
    prefer: Option<&str>,
    body: &Value,
) -> (u16, HeaderMap, Value) {
    let mut h = app.auth(token, tenant);
    if let Some(k) = key {
        h.insert("idempotency-key", k.parse().unwrap());
    }
    if let Some(p) = prefer {
        h.insert("prefer", p.parse().unwrap());
    }
    let res = app.post(path, h, body).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

/// `POST {path}` without any token.
pub async fn post_anonymous(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let res = app
        .http
        .post(format!("{}{path}", app.api))
        .header("x-tenant-id", TENANT)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A call to the sandbox as tenant [`TENANT`].
pub async fn sandbox(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.sandbox))
        .header("x-tenant-id", TENANT);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A customer of [`TENANT`] other than the order's.
pub fn stranger(app: &TestApp, order: &Order) -> CustomerId {
    app.orders
        .iter()
        .map(|o| o.customer_id.clone())
        .find(|c| *c != order.customer_id)
        .unwrap()
}

pub async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}
