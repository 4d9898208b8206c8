//! What orderdesk puts on the wire to the canonical services, as the sandbox's request log
//! (`/sandbox/requests`) saw it: the caller's W3C trace context, from a read in a handler
//! and from a workflow run accepted by a request, and ids that stay one path segment.

use orderdesk::domain::ids::TenantId;
use orderdesk::upstream::Upstream;
use serde_json::{Value, json};

use crate::helpers::{self, Options, TENANT, TestApp};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn traceparent() -> String {
    format!("00-{TRACE_ID}-{CALLER_SPAN}-01")
}

/// The calls the sandbox received, oldest first.
async fn seen(app: &TestApp) -> Vec<Value> {
    let res = app
        .http
        .get(format!("{}/sandbox/requests", app.sandbox))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["data"].as_array().cloned().unwrap_or_default()
}

/// The one call of `service` whose path is `path`.
async fn seen_call(app: &TestApp, service: &str, method: &str, path: &str) -> Value {
    let calls: Vec<Value> = seen(app)
        .await
        .into_iter()
        .filter(|c| c["service"] == service && c["method"] == method && c["path"] == path)
        .collect();
    assert_eq!(calls.len(), 1, "{method} {service}{path} once: {calls:?}");
    calls[0].clone()
}

/// `version-trace_id-parent_id-flags` of a `traceparent` the sandbox received.
fn parts(call: &Value) -> Vec<String> {
    let tp = call["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("no traceparent on {call}"));
    let parts: Vec<String> = tp.split('-').map(str::to_string).collect();
    assert_eq!(parts.len(), 4, "{tp}");
    parts
}

#[tokio::test]
async fn a_read_in_a_handler_carries_the_callers_trace_upstream() {
    orderdesk::telemetry::init(false);
    let app = helpers::spawn().await;
    let order = app.order_in("delivered").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}?expand=invoices", order.id);

    let mut h = app.auth(&token, TENANT);
    h.insert("traceparent", traceparent().parse().unwrap());
    let (status, body) = app.get(&path, h).await;
    assert_eq!(status, 200, "{body}");
    let call = seen_call(&app, "billing", "GET", "/v1/invoices").await;
    let p = parts(&call);
    assert_eq!(p[1], TRACE_ID, "the caller's trace: {call}");
    assert_ne!(
        p[2], CALLER_SPAN,
        "the parent is orderdesk's request span: {call}"
    );
    assert_eq!(p[3], "01", "the caller's sampling decision is passed on");

    // without a caller's trace, the call still carries one: the request's own
    app.http
        .delete(format!("{}/sandbox/requests", app.sandbox))
        .send()
        .await
        .unwrap();
    let (status, _) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200);
    let call = seen_call(&app, "billing", "GET", "/v1/invoices").await;
    let p = parts(&call);
    assert_ne!(p[1], TRACE_ID);
    assert_ne!(p[1], "0".repeat(32));
}

#[tokio::test]
async fn a_workflow_run_joins_the_trace_of_the_request_that_accepted_it() {
    orderdesk::telemetry::init(false);
    // no worker (and so no outbox relay) until the request pushed its own trigger
    let mut app = helpers::spawn_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "k-trace".parse().unwrap());
    h.insert("traceparent", traceparent().parse().unwrap());
    let res = app
        .post(
            &format!("/v1/customer/orders/{}/cancel-request", order.id),
            h,
            &json!({"reason": "changed my mind"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    app.start_worker();
    let job = app.wait_job(body["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let path = format!("/v1/orders/{}/cancel", order.id);
    let call = seen_call(&app, "orders", "POST", &path).await;
    assert_eq!(parts(&call)[1], TRACE_ID, "{call}");
    assert!(call["idempotency_key"].is_string(), "{call}");
}

#[tokio::test]
async fn an_id_with_reserved_characters_stays_one_path_segment() {
    let app = helpers::spawn().await;
    let mut order = app.order_in("confirmed").clone();
    order.id = "ord/../x?y=1#z%41".into();
    order.number = format!("{}-ODD", order.number);
    helpers::seed_both_sides(
        &app.state.db,
        TENANT,
        &orderdesk::seed::demo_settings(),
        std::slice::from_ref(&order),
    )
    .await;

    let upstream = Upstream::new(&app.config).unwrap();
    let got = upstream
        .get_order(&TenantId::new(TENANT), &order.id)
        .await
        .unwrap();
    assert_eq!(got.id, order.id);
    seen_call(
        &app,
        "orders",
        "GET",
        "/v1/orders/ord%2F..%2Fx%3Fy=1%23z%2541",
    )
    .await;

    // a query value cannot add parameters either
    let rmas = upstream
        .list_rmas(&TenantId::new(TENANT), &order.id)
        .await
        .unwrap();
    assert!(rmas.is_empty());
    let call = seen_call(&app, "fulfillment", "GET", "/v1/returns").await;
    assert_eq!(call["query"], "order_id=ord%2F..%2Fx%3Fy%3D1%23z%2541");
}

#[tokio::test]
async fn a_runs_upstream_calls_carry_the_correlation_id_of_the_request_that_started_it() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").id.to_string();
    let agent = app.agent_token(TENANT, "agt_cor", &["cs_agent"]);
    let path = format!("/v1/admin/orders/{order}/hold");
    let mut h = app.auth(&agent, TENANT);
    h.insert("idempotency-key", "h-1".parse().unwrap());
    h.insert("x-correlation-id", "ticket-4711".parse().unwrap());
    let res = app.post(&path, h, &json!({"reason": "check"})).await;
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 20)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["correlation_id"], "ticket-4711", "{job}");
    let call = seen_call(&app, "orders", "POST", &format!("/v1/orders/{order}/hold")).await;
    assert_eq!(call["correlation_id"], "ticket-4711", "{call}");
    // the acceptance's audit record carries the same id
    let auditor = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let (_, audit) = app
        .get(
            &format!("/v1/admin/orders/{order}/audit?action=order.hold"),
            app.auth(&auditor, TENANT),
        )
        .await;
    assert_eq!(audit["data"][0]["correlation_id"], "ticket-4711", "{audit}");

    // a request that names none correlates by its request id; a bad one is refused
    let mut h = app.auth(&agent, TENANT);
    h.insert("idempotency-key", "r-1".parse().unwrap());
    h.insert("x-correlation-id", "two words".parse().unwrap());
    let res = app
        .post(
            &format!("/v1/admin/orders/{order}/release"),
            h,
            &json!({"resolution": "ok"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "request.invalid_correlation_id");
    let mut h = app.auth(&agent, TENANT);
    h.insert("idempotency-key", "r-2".parse().unwrap());
    h.insert("x-request-id", "req-99".parse().unwrap());
    let res = app
        .post(
            &format!("/v1/admin/orders/{order}/release"),
            h,
            &json!({"resolution": "ok"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 20)
        .await;
    assert_eq!(job["correlation_id"], "req-99", "{job}");
}
