//! Inspecting orders as an agent: `expand=` on the order view, the filtered audit trail,
//! the fraud list, and the access records their reads leave; and the customer's order list
//! of summaries.

mod audit;
mod customer_list;
mod expand;
mod fraud;
mod jobs;

use serde_json::Value;

use crate::helpers::{self, TENANT, TestApp};

async fn spawn() -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await
}

/// GET `path` as an agent of the test tenant with `roles`.
async fn get_as(app: &TestApp, roles: &[&str], path: &str) -> (u16, Value) {
    let token = app.agent_token(TENANT, "agt_inspect", roles);
    app.get(path, app.auth(&token, TENANT)).await
}

/// The `after` of each access record `action` of the tenant, oldest first.
async fn access_records(app: &TestApp, action: &str) -> Vec<Value> {
    let mut conn = app.state.db.acquire().await.unwrap();
    let rows: Vec<(Option<Value>,)> = sqlx::query_as(
        "SELECT after FROM audit_log WHERE tenant_id = $1 AND action = $2 AND actor_id = 'agt_inspect'
         ORDER BY id",
    )
    .bind(TENANT)
    .bind(action)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(a,)| a.unwrap_or(Value::Null))
        .collect()
}

/// 401 without a token and with a token that is not one.
async fn refuses_without_a_valid_token(app: &TestApp, path: &str) {
    let (status, body) = app.get(path, Default::default()).await;
    assert_eq!(status, 401, "{path} without a token: {body}");
    let (status, body) = app.get(path, app.auth("not-a-token", TENANT)).await;
    assert_eq!(status, 401, "{path} with a wrong token: {body}");
    assert_eq!(
        body["type"].as_str().map(|_| ()),
        Some(()),
        "problem+json: {body}"
    );
}
