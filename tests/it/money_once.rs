//! Money moves once through an operator's control of a job: a retry keeps the upstream key
//! of a step whose effect was not undone (a refund whose answer was lost is not made
//! again), and a cancel after an edit's refund does not charge the customer back.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{self, TENANT, TestApp};
use crate::resilience::request_cancel;

fn ops(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_ops", &["admin"])
}

/// `step` of run `job` as the engine last wrote it.
async fn stored_step(app: &TestApp, job: &str, step: &str) -> Value {
    sqlx::query_scalar(
        "SELECT s FROM runs, jsonb_array_elements(steps) s
         WHERE runs.id = $1::uuid AND s ->> 'name' = $2",
    )
    .bind(job)
    .bind(step)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

/// Waits until `step` of run `job` satisfies `ok` (at most 20 s).
async fn wait_step(app: &TestApp, job: &str, step: &str, ok: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = stored_step(app, job, step).await;
        if ok(&s) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{step}: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A test app whose refund steps give up after 3 quick attempts (instead of 25 over
/// minutes), so that a step failing on lost answers ends its run within the test.
async fn spawn_with_short_refund_retries() -> TestApp {
    let workflows = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows.toml"))
        .unwrap()
        .replace(
            "retry = { max_attempts = 25, base_ms = 250, max_delay_ms = 8000 }",
            "retry = { max_attempts = 3, base_ms = 20, max_delay_ms = 40 }",
        );
    let file = std::env::temp_dir().join(format!("od-wf-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, workflows).unwrap();
    helpers::spawn_with(helpers::Options {
        extra_env: vec![("ORDERDESK_WORKFLOWS".into(), file.display().to_string())],
        ..Default::default()
    })
    .await
}

async fn retry(app: &TestApp, job: &str, key: &str) {
    let (status, retried) = app
        .admin_post(
            &ops(app),
            &format!("/v1/admin/jobs/{job}/retry"),
            Some(key),
            None,
            json!({"reason": "Payments is back"}),
        )
        .await;
    assert_eq!(status, 202, "{retried}");
}

/// Payments commits the cancellation's refund but every answer is lost, so the refund step
/// fails and the job is compensated. The operator's retry runs the compensated steps under
/// new keys and the refund again under the key it ran under, so Payments answers from
/// memory and the customer is refunded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_does_not_refund_again_what_a_lost_answer_refunded() {
    let app = spawn_with_short_refund_retries().await;
    let order = app.order_in("confirmed").clone();
    app.set_faults(json!({"service": "payments", "lost_response_rate": 1.0}))
        .await;
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "compensated", "{ended}");
    let refunds = || app.effects_of_kind(TENANT, &order.id, "payment.refund");
    assert_eq!(
        refunds().await,
        1,
        "the lost answers' refund was committed once"
    );
    let refund = stored_step(&app, &job, "refund").await;
    assert_eq!(refund["status"], "failed", "{refund}");
    assert_eq!(
        stored_step(&app, &job, "cancel_at_orders").await["status"],
        "compensated"
    );
    app.clear_faults().await;

    retry(&app, &job, "retry-lost").await;
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(
        refunds().await,
        1,
        "the retry replayed the refund, not made it again"
    );
    let payment = app
        .sandbox_get(&format!("/sandbox/payments/{}", order.payments[0].id))
        .await;
    assert_eq!(payment["refunds"].as_array().unwrap().len(), 1, "{payment}");
    // the compensated step ran under the retry's key, the refund under its first one
    assert_eq!(
        stored_step(&app, &job, "cancel_at_orders").await["key_retry"],
        1
    );
    assert_eq!(stored_step(&app, &job, "refund").await["key_retry"], 0);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "order.cancel").await,
        2
    );
}

/// A refund Payments refused (a 4xx answer: nothing was done) is asked afresh by the
/// retry, under the retry's key, rather than answered the saved refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_asks_again_under_a_new_key_what_was_refused() {
    let app = spawn_with_short_refund_retries().await;
    let order = app.order_in("confirmed").clone();
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "compensated", "{ended}");
    let refund = stored_step(&app, &job, "refund").await;
    assert_eq!(refund["status"], "failed", "{refund}");
    assert_eq!(refund["last_error"]["status"], 422, "{refund}");
    let refunds = || app.effects_of_kind(TENANT, &order.id, "payment.refund");
    assert_eq!(refunds().await, 0, "refused: nothing refunded");
    app.clear_faults().await;

    retry(&app, &job, "retry-refused").await;
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(refunds().await, 1);
    assert_eq!(stored_step(&app, &job, "refund").await["key_retry"], 1);
}

/// An edit that lowers the total refunds the difference; an operator's cancel after the
/// refund (while the customer's notice is under way) cannot take the refund back: the
/// reversal refuses (`edit.refund_not_reversible`), nothing before it is undone, the job
/// ends `failed` for a person, and Payments sees no charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_edit_after_its_refund_charges_nothing() {
    let app = helpers::spawn().await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let order = app
        .orders
        .iter()
        .find(|o| o.status.as_str() == "confirmed" && o.lines.len() >= 2 && o.shipments.is_empty())
        .expect("a confirmed order with two lines")
        .clone();
    let (status, q) = app
        .admin_post(
            &lead,
            &format!("/v1/admin/orders/{}/quote", order.id),
            None,
            None,
            json!({"changes": [{"op": "remove", "path": "/lines/1"}]}),
        )
        .await;
    assert_eq!(status, 201, "{q}");
    assert_eq!(q["delta"]["settle"], "refund", "{q}");
    let refund = q["delta"]["amount_minor"].as_i64().unwrap();
    // the notice hangs, so the cancel lands at the boundary after the refund
    app.set_faults(json!({"service": "notifications", "latency_ms": 3000}))
        .await;
    let mut h = app.auth(&lead, TENANT);
    h.insert("idempotency-key", "edit-1".parse().unwrap());
    h.insert(
        "if-match",
        format!("\"{}\"", order.version).parse().unwrap(),
    );
    h.insert("x-admin-auth-sudo", sudo.parse().unwrap());
    let path = format!("/v1/admin/quotes/{}/apply", q["quote_id"].as_str().unwrap());
    let res = app
        .post(&path, h, &json!({"reason": "line out of stock"}))
        .await;
    let status = res.status();
    let applied: Value = res.json().await.unwrap();
    assert_eq!(status, 202, "{applied}");
    let job = applied["job"]["id"].as_str().unwrap().to_string();
    wait_step(&app, &job, "settle_difference", |s| s["status"] == "done").await;
    let (status, out) = app
        .admin_post(
            &ops(&app),
            &format!("/v1/admin/jobs/{job}/cancel"),
            None,
            None,
            json!({"reason": "customer changed their mind"}),
        )
        .await;
    assert_eq!(status, 202, "{out}");
    let ended = app.wait_job(&job, 30).await;
    app.clear_faults().await;
    assert_eq!(ended["status"], "failed", "{ended}");
    assert_eq!(
        ended["error"]["code"], "workflow.compensation_failed",
        "{ended}"
    );
    assert_eq!(
        ended["error"]["compensation"]["error"]["code"], "edit.refund_not_reversible",
        "{ended}"
    );
    let settle = stored_step(&app, &job, "settle_difference").await;
    assert_eq!(settle["status"], "done", "the refund stands: {settle}");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.charge")
            .await,
        0,
        "the refund was not charged back"
    );
    let payment = app
        .sandbox_get(&format!("/sandbox/payments/{}", order.payments[0].id))
        .await;
    assert_eq!(
        payment["refunded_minor"],
        json!(order.payments[0].refunded_minor + refund),
        "{payment}"
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
}
