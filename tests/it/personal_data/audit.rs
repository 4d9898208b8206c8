//! The audit log keeps who did what to which order for ever, so what it holds about a
//! customer is sealed under their key (gone with the erasure) or not written at all: a
//! finished job's record without its result, finance's and fraud reviewers' free text
//! sealed, a bulk job's record without its filter.

use serde_json::{Value, json};

use super::{audit_of, audit_records_holding, erase};
use crate::helpers::{self, Options, TENANT, TestApp};

/// A name no seeded order holds.
const NAME: &str = "Zebedee Quintrell";
/// The marker of free text agents wrote about the customer.
const MARKER: &str = "Quintrell";

fn record<'a>(records: &'a [Value], action: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["action"] == action)
        .unwrap_or_else(|| panic!("no {action} record: {records:?}"))
}

#[tokio::test]
async fn a_finished_address_change_leaves_no_name_in_the_audit_log_once_erased() {
    let app = helpers::spawn_with(Options {
        settings: orderdesk::domain::settings::TenantSettings {
            address_change_window_minutes: 60 * 24 * 365 * 10,
            ..orderdesk::seed::demo_settings()
        },
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "addr-1".parse().unwrap());
    h.insert("prefer", "wait=20".parse().unwrap());
    let body = json!({"address": {"name": NAME, "line1": "12 Keizersgracht", "city": "Amsterdam",
                                  "postal_code": "1015cj", "country": "nl"}});
    let path = format!("/v1/customer/orders/{}/update-address", order.id);
    let res = app.post(&path, h, &body).await;
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["job"]["status"], "succeeded", "{answer}");
    assert_eq!(answer["job"]["result"]["address"]["name"], NAME, "{answer}");

    // the job's end is audited on the order: which job, how it ended; not what it answered
    let records = audit_of(&app, order.id.as_str()).await;
    let ended = record(&records, "job.update_address.succeeded");
    assert_eq!(ended["after"]["job_id"], answer["job"]["id"], "{ended}");
    assert_eq!(ended["after"]["status"], "succeeded", "{ended}");
    assert!(ended["after"].get("result").is_none(), "{ended}");

    erase(&app, order.customer_id.as_str()).await;
    assert_eq!(audit_records_holding(&app, MARKER).await, 0);
    let records = audit_of(&app, order.id.as_str()).await;
    assert!(!json!(records).to_string().contains(MARKER), "{records:?}");
    record(&records, "job.update_address.succeeded");
}

/// Billing invoiced 5.00 less than the order totals (the sandbox's control).
async fn invoice_drifts(app: &TestApp, order_id: &str, total_minor: i64) {
    let res = app
        .http
        .put(format!("{}/sandbox/invoices/{order_id}", app.sandbox))
        .header("x-tenant-id", TENANT)
        .json(&json!({ "total_minor": total_minor - 500 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_reconciliation_note_is_sealed_and_gone_with_the_customer() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    invoice_drifts(&app, order.id.as_str(), order.totals.total_minor).await;
    let finance = app.agent_token(TENANT, "agt_fin", &["finance"]);
    let note = format!("{NAME} phoned: the invoice was short, credit note to follow");
    let reference = format!("bank line 17, payer {NAME}");
    let body = json!({"code": "invoice.total_differs", "note": note, "reference": reference});
    let path = format!("/v1/admin/orders/{}/reconcile", order.id);
    let (status, b) = app
        .admin_post(&finance, &path, Some("rc-1"), None, body)
        .await;
    assert_eq!(status, 201, "{b}");

    // sealed: an auditor reads it, the table holds no plain copy
    assert_eq!(audit_records_holding(&app, MARKER).await, 0);
    let records = audit_of(&app, order.id.as_str()).await;
    let reconciled = record(&records, "order.reconciled");
    assert_eq!(reconciled["reason"], note.as_str(), "{reconciled}");
    assert_eq!(reconciled["after"]["reference"], reference.as_str());

    erase(&app, order.customer_id.as_str()).await;
    let records = audit_of(&app, order.id.as_str()).await;
    let reconciled = record(&records, "order.reconciled");
    assert_eq!(reconciled["erased"], true, "{reconciled}");
    assert!(!reconciled.to_string().contains(MARKER), "{reconciled}");
    assert_eq!(audit_records_holding(&app, MARKER).await, 0);
}

#[tokio::test]
async fn a_fraud_reviews_reasons_and_notes_are_sealed() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let fraud = app.agent_token(TENANT, "agt_fay", &["fraud"]);
    let flag = format!("/v1/admin/orders/{}/flag-fraud", order.id);
    let reason = format!("card of {NAME} used from three countries");
    let (status, b) = app
        .admin_post(
            &fraud,
            &flag,
            Some("f-1"),
            None,
            json!({ "reason": reason }),
        )
        .await;
    assert_eq!(status, 202, "{b}");
    let job = app.wait_job(b["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let assign = format!("/v1/admin/orders/{}/assign-review", order.id);
    let notes = format!("call {NAME} back before noon");
    let body = json!({"assignee": "agt_rev", "notes": notes});
    let (status, b) = app
        .admin_post(&fraud, &assign, Some("a-1"), None, body)
        .await;
    assert_eq!(status, 200, "{b}");

    assert_eq!(audit_records_holding(&app, MARKER).await, 0);
    let records = audit_of(&app, order.id.as_str()).await;
    assert_eq!(
        record(&records, "order.flag_fraud")["reason"],
        reason.as_str()
    );
    assert_eq!(
        record(&records, "order.assign_review")["reason"],
        notes.as_str()
    );
}

#[tokio::test]
async fn a_bulk_jobs_record_keeps_no_filter() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let body = json!({
        "filter": {"and": [{"status": {"in": ["confirmed"]}}, {"email": {"eq": order.email}}]},
        "action": "hold",
        "reason": "warehouse audit",
        "duration_minutes": 120,
    });
    let path = "/v1/admin/orders/bulk/update-status";
    let (status, job) = app
        .admin_post(&token, path, Some("bulk-1"), None, body)
        .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap();
    let ended = app.wait_job(id, 60).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");

    let after: Value = sqlx::query_scalar(
        "SELECT after FROM audit_log WHERE action = 'orders.bulk_hold' AND subject_id = $1",
    )
    .bind(id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(after.get("filter").is_none(), "{after}");
    let matched = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed" && o.email == order.email)
        .count();
    assert_eq!(after["matched"], matched, "{after}");
    assert_eq!(audit_records_holding(&app, &order.email).await, 0);
}
