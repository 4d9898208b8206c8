//! `GET /v1/admin/orders/{order_id}?expand=…`: what each expansion adds, and the
//! permission each guarded one needs (as its own endpoint does).

use serde_json::{Value, json};

use super::{access_records, get_as, refuses_without_a_valid_token, spawn};
use crate::helpers::{OTHER_TENANT, TENANT};

const ALL: &str = "payments,fulfillment,audit,events,raw_events,reconciliation";
/// Roles that grant every expansion: `payments.read` and `audit.read` (cs_lead) and
/// `reconcile` (finance).
const EVERY_EXPANSION: &[&str] = &["cs_lead", "finance"];

#[tokio::test]
async fn without_expand_the_view_is_as_before_and_each_expansion_adds_its_key() {
    let app = spawn().await;
    let order = app.order_in("shipped").clone();
    let path = format!("/v1/admin/orders/{}", order.id);
    let (status, plain) = get_as(&app, &["cs_agent"], &path).await;
    assert_eq!(status, 200, "{plain}");
    let keys: Vec<&String> = plain.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "allowed_actions",
            "holds",
            "legal_hold",
            "open_requests",
            "order"
        ]
    );

    let (status, body) = get_as(&app, EVERY_EXPANSION, &format!("{path}?expand={ALL},audit")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order"], plain["order"]);
    let payments = &body["payments"];
    assert_eq!(payments["payments"], json!(order.payments));
    assert_eq!(payments["upstream"][0]["id"], json!(order.payments[0].id));
    assert_eq!(payments["upstream"][0]["payment"], json!(order.payments[0]));
    let fulfillment = &body["fulfillment"];
    assert_eq!(fulfillment["status"], "in_transit", "{fulfillment}");
    assert_eq!(fulfillment["shipments"], json!(order.shipments));
    assert!(
        fulfillment["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["shipped"] == l["ordered"])
    );
    // the first read's own access record is the newest audit record of the second
    assert_eq!(body["audit"]["data"][0]["action"], "order.viewed", "{body}");
    assert_eq!(body["audit"]["has_more"], false);
    let events = body["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "order.placed", "{body}");
    assert!(
        events.iter().any(|e| e["type"] == "shipment.shipped"),
        "{body}"
    );
    assert_eq!(body["raw_events"], json!({"data": [], "has_more": false}));
    let rec = &body["reconciliation"];
    assert_eq!(rec["version"], "in_sync", "{rec}");
    assert_eq!(rec["differences"], json!([]), "{rec}");
    assert_eq!(rec["error"], Value::Null);
}

#[tokio::test]
async fn reconciliation_names_the_fields_that_differ_and_an_upstream_failure_is_no_5xx() {
    let app = spawn().await;
    let order = app.order_in("confirmed").clone();
    let mut conn = app.state.db.acquire().await.unwrap();
    sqlx::query(
        "UPDATE sandbox.orders SET version = version + 1,
             doc = doc || jsonb_build_object('version', version + 1, 'status', 'on_hold')
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(TENANT)
    .bind(order.id.as_str())
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let path = format!("/v1/admin/orders/{}?expand=reconciliation", order.id);
    let (status, body) = get_as(&app, &["finance"], &path).await;
    assert_eq!(status, 200, "{body}");
    let rec = &body["reconciliation"];
    assert_eq!(rec["version"], "behind", "{rec}");
    assert_eq!(rec["upstream_version"], order.version + 1);
    let fields: Vec<&str> = rec["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["status", "version"], "{rec}");
    assert_eq!(rec["differences"][0]["upstream"], "on_hold");

    app.set_faults(json!({"service": "orders", "error_rate": 1.0, "error_status": 503}))
        .await;
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 503}))
        .await;
    let path = format!(
        "/v1/admin/orders/{}?expand=reconciliation,payments",
        order.id
    );
    let (status, body) = get_as(&app, &["finance"], &path).await;
    assert_eq!(status, 200, "{body}");
    let rec = &body["reconciliation"];
    assert!(rec["error"]["code"].is_string(), "{rec}");
    assert_eq!(rec["read_model_version"], order.version);
    assert_eq!(rec["version"], Value::Null);
    assert!(
        body["payments"]["upstream"][0]["error"]["code"].is_string(),
        "{body}"
    );
    assert_eq!(body["payments"]["payments"], json!(order.payments));
}

#[tokio::test]
async fn raw_events_are_what_ingest_recorded_newest_first() {
    let app = spawn().await;
    let order = app.order_in("confirmed").clone();
    let mut conn = app.state.db.acquire().await.unwrap();
    let tenant = orderdesk::domain::ids::TenantId::new(TENANT);
    for (i, kind) in ["order.updated", "order.held"].iter().enumerate() {
        let at = order.placed_at + chrono::Duration::minutes(i as i64 + 1);
        let payload = json!({"status": "on_hold", "n": i});
        orderdesk::db::orders::insert_event(
            &mut conn,
            &tenant,
            &order.id,
            &format!("evt_{i}"),
            kind,
            &payload,
            at,
        )
        .await
        .unwrap();
    }
    drop(conn);
    let path = format!("/v1/admin/orders/{}?expand=raw_events", order.id);
    let (status, body) = get_as(&app, &["auditor"], &path).await;
    assert_eq!(status, 200, "{body}");
    let data = body["raw_events"]["data"].as_array().unwrap();
    let ids: Vec<&str> = data
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["evt_1", "evt_0"]);
    assert_eq!(data[0]["type"], "order.held");
    assert_eq!(data[0]["payload"]["n"], 1);
}

#[tokio::test]
async fn unknown_expansions_are_named_with_the_known_ones() {
    let app = spawn().await;
    let order = app.order_in("shipped").clone();
    let path = format!(
        "/v1/admin/orders/{}?expand=payments,secrets,payments,lies",
        order.id
    );
    let (status, body) = get_as(&app, &["cs_agent"], &path).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "expand.unknown");
    assert_eq!(body["unknown"], json!(["secrets", "lies"]));
    assert_eq!(body["allowed"].as_array().unwrap().len(), 6);
    assert!(body["detail"].as_str().unwrap().contains("secrets"));
}

#[tokio::test]
async fn tokens_tenants_and_the_access_record_of_what_was_read() {
    let app = spawn().await;
    let order = app.order_in("shipped").clone();
    let path = format!("/v1/admin/orders/{}?expand=audit,payments", order.id);
    refuses_without_a_valid_token(&app, &path).await;
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["admin"]);
    let (status, body) = app.get(&path, app.auth(&foreign, OTHER_TENANT)).await;
    assert_eq!(status, 404, "{body}");

    let plain = format!("/v1/admin/orders/{}", order.id);
    assert_eq!(get_as(&app, &["cs_agent"], &plain).await.0, 200);
    assert_eq!(get_as(&app, &["cs_lead"], &path).await.0, 200);
    let records = access_records(&app, "order.viewed").await;
    assert_eq!(
        records,
        [Value::Null, json!({"expand": ["payments", "audit"]})]
    );
}

/// 403 `auth.forbidden` naming `permission`, as the expansion's own endpoint answers.
fn assert_refused(status: u16, body: &Value, permission: &str) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "auth.forbidden", "{body}");
    assert_eq!(body["required_permission"], permission, "{body}");
}

#[tokio::test]
async fn a_guarded_expansion_needs_its_endpoints_permission() {
    let app = spawn().await;
    let order = app.order_in("shipped").clone();
    let view = format!("/v1/admin/orders/{}", order.id);
    // cs_agent (orders.read and payments.read, not audit.read nor reconcile)
    let (status, body) = get_as(&app, &["cs_agent"], &format!("{view}?expand=audit")).await;
    assert_refused(status, &body, "audit.read");
    let (status, own) = get_as(&app, &["cs_agent"], &format!("{view}/audit")).await;
    assert_refused(status, &own, "audit.read");
    assert_eq!(body["code"], own["code"]);
    let (status, body) = get_as(
        &app,
        &["cs_agent"],
        &format!("{view}?expand=reconciliation"),
    )
    .await;
    assert_refused(status, &body, "reconcile");
    let (status, body) = get_as(&app, &["cs_agent"], &format!("{view}?expand=payments")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["payments"].is_object(), "{body}");
    // the auditor (orders.read and audit.read, not payments.read)
    let (status, body) = get_as(&app, &["auditor"], &format!("{view}?expand=audit,payments")).await;
    assert_refused(status, &body, "payments.read");
    // a refused view shows nothing, so it records no read
    assert_eq!(access_records(&app, "order.viewed").await.len(), 1);
    assert_eq!(
        access_records(&app, "order.audit_viewed").await,
        [] as [Value; 0]
    );
    // unguarded expansions stay open to orders.read
    let open = format!("{view}?expand=fulfillment,events,raw_events");
    assert_eq!(get_as(&app, &["cs_agent"], &open).await.0, 200);
}

#[tokio::test]
async fn expand_audit_is_recorded_as_the_audit_trail_is() {
    let app = spawn().await;
    let order = app.order_in("shipped").clone();
    let view = format!("/v1/admin/orders/{}", order.id);
    let token = app.agent_token(TENANT, "agt_inspect", &["admin"]);
    assert_eq!(app.get(&view, app.auth(&token, TENANT)).await.0, 200);
    let (status, body) = app
        .get(&format!("{view}?expand=audit"), app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{body}");
    let shown: Vec<Value> = body["audit"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert!(!shown.is_empty(), "{body}");
    let recorded = access_records(&app, "order.audit_viewed").await;
    assert_eq!(recorded, [json!({ "audit_ids": shown })]);
}
