//! Agents' review work: fraud flags and their assignment, work queues and their claims,
//! tasks, and the order's case with its notes.

mod case_attachments;
mod case_work;
mod cases;
mod fraud;
mod queues;
mod tasks;

use serde_json::Value;

use crate::helpers::TestApp;

/// POSTs `body` to `path` as `token` of `tenant`, with `key`.
async fn post(
    app: &TestApp,
    token: &str,
    tenant: &str,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    app.post_as(token, tenant, path, key, None, body).await
}

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
