//! Personal data where an erasure must reach it or where it must not be written at all: the
//! append-only audit log (`audit`), the runs' step outputs (`step_outputs`) and the problem
//! details of failed jobs (`storage_errors`).

mod audit;
mod step_outputs;
mod storage_errors;

use serde_json::Value;

use crate::helpers::{TENANT, TestApp};

pub(crate) use crate::gdpr_privacy::erase;

/// How many audit records of the test tenant hold `text` in clear, in any column.
pub async fn audit_records_holding(app: &TestApp, text: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_log a WHERE tenant_id = $1 AND strpos(a::text, $2) > 0",
    )
    .bind(TENANT)
    .bind(text)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

/// The order's audit records as an auditor reads them.
pub async fn audit_of(app: &TestApp, order_id: &str) -> Vec<Value> {
    let auditor = app.agent_token(TENANT, "agt_auditor", &["auditor"]);
    let path = format!("/v1/admin/orders/{order_id}/audit?limit=100");
    let (status, body) = app.get(&path, app.auth(&auditor, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}
