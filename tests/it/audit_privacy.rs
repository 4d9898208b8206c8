//! Personal data in the append-only audit log: sealed under the customer's key, readable by
//! auditors until the customer is erased, unreadable for good afterwards — while the records
//! themselves (who did what to which order, when) stay.

use serde_json::{Value, json};

use crate::helpers::{self, TENANT, TestApp};

const REASON: &str = "moving abroad, call me on +44 7700 900456";

async fn post(app: &TestApp, token: &str, key: &str, path: &str, body: Value) -> (u16, Value) {
    let mut headers = app.auth(token, TENANT);
    headers.insert("idempotency-key", key.parse().unwrap());
    let res = app.post(path, headers, &body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn audit_of(app: &TestApp, order_id: impl AsRef<str>) -> Vec<Value> {
    let order_id = order_id.as_ref();
    let auditor = app.agent_token(TENANT, "agt_auditor", &["auditor"]);
    let path = format!("/v1/admin/orders/{order_id}/audit");
    let (status, body) = app.get(&path, app.auth(&auditor, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_erased_customers_reasons_and_ip_do_not_survive_in_audit_records() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let cancel = format!("/v1/customer/orders/{}/cancel-request", order.id);
    let (status, body) = post(&app, &token, "k-cancel", &cancel, json!({"reason": REASON})).await;
    assert_eq!(status, 202, "{body}");

    // stored sealed: no plain copy of the reason anywhere in the table
    let mut conn = app.state.db.acquire().await.unwrap();
    let (plain, sealed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE coalesce(reason, '') || coalesce(after::text, '') LIKE '%7700 900456%'),
                count(*) FILTER (WHERE sealed_for = $2 AND sealed IS NOT NULL)
         FROM audit_log WHERE tenant_id = $1",
    )
    .bind(TENANT)
    .bind(&order.customer_id)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(plain, 0, "the reason is stored in clear");
    assert!(sealed >= 1, "the request's record is sealed");
    drop(conn);

    // an auditor reads it while the customer exists
    let records = audit_of(&app, &order.id).await;
    let requested = records
        .iter()
        .find(|r| r["action"] == "order.cancel_requested")
        .expect("the request is audited");
    assert_eq!(requested["reason"], REASON, "{requested}");
    assert_eq!(requested["erased"], false);
    assert!(requested["ip"].is_string(), "{requested}");

    // once the customer is erased, the record stays but its personal data is gone
    let (status, erase) = post(
        &app,
        &token,
        "k-erase",
        "/v1/customer/gdpr/erase-request",
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{erase}");
    let job = app.wait_job(erase["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let records = audit_of(&app, &order.id).await;
    let requested = records
        .iter()
        .find(|r| r["action"] == "order.cancel_requested")
        .expect("the record itself stays");
    assert_eq!(requested["erased"], true, "{requested}");
    for field in ["reason", "ip", "before", "after"] {
        assert!(requested[field].is_null(), "{field} survived: {requested}");
    }
    assert_eq!(requested["actor_id"], order.customer_id.as_str());
    let remaining: i64 = {
        let mut conn = app.state.db.acquire().await.unwrap();
        sqlx::query_scalar(
            "SELECT count(*) FROM subject_keys WHERE tenant_id = $1 AND customer_id = $2",
        )
        .bind(TENANT)
        .bind(&order.customer_id)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
    };
    assert_eq!(remaining, 0, "the customer's key is destroyed");
}

#[tokio::test]
async fn erasure_redacts_the_previous_address_an_address_change_kept() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let mut conn = app.state.db.acquire().await.unwrap();
    let redacted: Value = sqlx::query_scalar(
        "SELECT redact_pii('{\"previous_address\": {\"line1\": \"1 Main St\", \"country\": \"DE\"}}'::jsonb)",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        redacted,
        json!({"previous_address": {"line1": "[redacted]", "country": "DE"}})
    );
}
