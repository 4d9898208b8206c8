//! Agents' review work: fraud flags and their assignment, work queues and their claims,
//! tasks, and the order's case with its notes.

mod cases;
mod fraud;
mod queues;
mod tasks;

use serde_json::Value;

use crate::helpers::{TENANT, TestApp};

/// POSTs `body` to `/v1/admin/orders/{order}/{action}` as `token` with `key`.
async fn act(
    app: &TestApp,
    token: &str,
    order: &str,
    action: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let path = format!("/v1/admin/orders/{order}/{action}");
    app.admin_post(token, &path, key, None, body).await
}

/// Accepted (202), then its job succeeded.
async fn done(app: &TestApp, (status, body): (u16, Value)) -> Value {
    assert_eq!(status, 202, "{body}");
    let job = app.wait_job(body["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    body
}

/// The admin view of `order`.
async fn view(app: &TestApp, order: &str) -> Value {
    let token = app.agent_token(TENANT, "agt_view", &["cs_agent"]);
    let path = format!("/v1/admin/orders/{order}");
    let (status, v) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "{v}");
    v
}
