//! `POST /v1/admin/jobs/{id}/cancel`, `/retry`, `GET /v1/admin/jobs/dead`,
//! `POST /v1/admin/jobs/dead/retry`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, Options, TENANT, TestApp, spawn, spawn_with};
use crate::resilience::request_cancel;

fn ops(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_ops", &["admin"])
}

/// A customer's cancellation whose refund Payments refuses for good: compensated.
async fn compensated_cancellation(app: &TestApp, order: usize) -> (String, String) {
    let order = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .nth(order)
        .expect("enough confirmed orders")
        .clone();
    let job = request_cancel(app, &order.id, &order.customer_id).await;
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "compensated", "{ended}");
    (job, order.id.to_string())
}

async fn step_status(app: &TestApp, job: &str, step: &str) -> Value {
    let (_, view) = app
        .get(
            &format!("/v1/admin/jobs/{job}"),
            app.auth(&ops(app), TENANT),
        )
        .await;
    let steps = view["steps"].as_array().cloned().unwrap_or_default();
    let s = steps.iter().find(|s| s["name"] == step).cloned();
    s.map(|s| s["status"].clone()).unwrap_or(Value::Null)
}

/// A compensated job goes again: its compensated steps run under new upstream keys (the
/// Orders service cancels the order a second time instead of replaying the first answer),
/// and it succeeds. The replay of the same request answers the same; a second retry of a
/// job that succeeded is a 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compensated_job_is_retried_under_new_keys_and_succeeds() {
    let app = spawn().await;
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    let (job, order) = compensated_cancellation(&app, 0).await;
    assert_eq!(
        step_status(&app, &job, "cancel_at_orders").await,
        "compensated"
    );
    assert_eq!(app.effects_of_kind(TENANT, &order, "order.cancel").await, 1);
    app.clear_faults().await;

    let token = ops(&app);
    let path = format!("/v1/admin/jobs/{job}/retry");
    let body = json!({"reason": "Payments fixed the card processor"});
    let (status, retried) = app
        .admin_post(&token, &path, Some("retry-1"), None, body.clone())
        .await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["status"], "queued", "{retried}");
    assert_eq!(retried["retries"], 1, "{retried}");
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(ended["error"], Value::Null);
    // new keys: the second cancel reached the Orders service as a new effect
    assert_eq!(app.effects_of_kind(TENANT, &order, "order.cancel").await, 2);

    let (again, replay) = app
        .admin_post(&token, &path, Some("retry-1"), None, body.clone())
        .await;
    assert_eq!((again, &replay["id"]), (202, &retried["id"]), "{replay}");
    let (status, p) = app
        .admin_post(&token, &path, Some("retry-2"), None, body.clone())
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("job.not_retryable")),
        "{p}"
    );

    // the audit trail names who retried and why
    let mut conn = app.state.db.acquire().await.unwrap();
    let (actor, reason): (String, Option<String>) = sqlx::query_as(
        "SELECT actor_id, reason FROM audit_log WHERE action = 'job.retry' AND subject_id = $1",
    )
    .bind(&job)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(actor, "agt_ops");
    assert_eq!(reason.as_deref(), Some("Payments fixed the card processor"));
}

/// Bad input, no token, a role without the permission, another tenant's job, a job that
/// does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_control_refuses_what_it_must() {
    let app = spawn().await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    app.wait_job(&job, 30).await;
    let token = ops(&app);
    for action in ["cancel", "retry"] {
        let path = format!("/v1/admin/jobs/{job}/{action}");
        let (status, p) = app.admin_post(&token, &path, None, None, json!({})).await;
        assert_eq!(status, 422, "{action}: {p}");
        let (status, p) = app
            .admin_post(&token, &path, None, None, json!({"reason": " "}))
            .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (422, Some("validation.failed")),
            "{p}"
        );
        let ok = json!({"reason": "because"});
        let res = app.post(&path, Default::default(), &ok).await;
        assert_eq!(res.status(), 401, "{action}");
        let agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
        let (status, p) = app.admin_post(&agent, &path, None, None, ok.clone()).await;
        assert_eq!(status, 403, "{action}: {p}");
        let other = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
        let (status, p) = app
            .post_as(&other, OTHER_TENANT, &path, None, None, ok.clone())
            .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (404, Some("job.not_found")),
            "{p}"
        );
        let missing = format!("/v1/admin/jobs/{}/{action}", uuid::Uuid::now_v7());
        let (status, _) = app
            .admin_post(&token, &missing, None, None, ok.clone())
            .await;
        assert_eq!(status, 404);
    }
    let path = format!("/v1/admin/jobs/{job}/cancel");
    let (status, p) = app
        .admin_post(&token, &path, None, None, json!({"reason": "too late"}))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("job.already_finished")),
        "{p}"
    );
}

/// A job no worker took yet is cancelled at once, and the customer's request with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_is_cancelled_at_once() {
    let app = spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    let path = format!("/v1/admin/jobs/{job}/cancel");
    let body = json!({"reason": "customer called: keep the order"});
    let (status, out) = app
        .admin_post(&ops(&app), &path, Some("c-1"), None, body.clone())
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "cancelled");
    assert_eq!(out["error"]["code"], "job.cancelled");
    assert!(out["cancel_requested_at"].is_string(), "{out}");
    let (again, replay) = app
        .admin_post(&ops(&app), &path, Some("c-1"), None, body)
        .await;
    assert_eq!((again, &replay), (200, &out));
    let mut conn = app.state.db.acquire().await.unwrap();
    let request: String =
        sqlx::query_scalar("SELECT status FROM requests WHERE run_id = $1::text::uuid")
            .bind(&job)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(request, "cancelled");
}

/// A running job stops at its next step boundary: the step in flight finishes, the done
/// steps are compensated in reverse, and the job ends `cancelled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_stops_at_its_next_step_and_is_compensated() {
    let app = spawn().await;
    app.set_faults(json!({"service": "payments", "latency_ms": 2500}))
        .await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while step_status(&app, &job, "cancel_at_orders").await != "done" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never got past cancel_at_orders"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let path = format!("/v1/admin/jobs/{job}/cancel");
    let (status, out) = app
        .admin_post(
            &ops(&app),
            &path,
            None,
            None,
            json!({"reason": "wrong order"}),
        )
        .await;
    assert_eq!(status, 202, "{out}");
    assert!(out["cancel_requested_at"].is_string(), "{out}");
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert_eq!(ended["error"]["code"], "job.cancelled", "{ended}");
    assert_eq!(
        step_status(&app, &job, "cancel_at_orders").await,
        "compensated"
    );
    assert_eq!(step_status(&app, &job, "notify_customer").await, "pending");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "order.reinstate")
            .await,
        1
    );
}

/// The dead jobs by kind, and their retry in bulk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_jobs_are_listed_by_kind_and_retried_in_bulk() {
    let app = spawn().await;
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    let (a, _) = compensated_cancellation(&app, 0).await;
    let (b, _) = compensated_cancellation(&app, 1).await;
    app.clear_faults().await;
    let token = ops(&app);
    let (status, dead) = app
        .get("/v1/admin/jobs/dead", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{dead}");
    let kind = dead["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "cancel_order");
    let kind = kind.expect("cancel_order is listed").clone();
    assert_eq!(kind["count"], 2, "{dead}");
    assert_eq!(kind["queue"], "interactive");
    assert_eq!(
        kind["codes"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        2
    );
    let other = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (_, theirs) = app
        .get("/v1/admin/jobs/dead", app.auth(&other, OTHER_TENANT))
        .await;
    assert_eq!(
        theirs["data"],
        json!([]),
        "another tenant sees none of them"
    );

    let body = json!({"kind": "cancel_order", "reason": "processor fixed", "limit": 10});
    let (status, out) = app
        .admin_post(
            &token,
            "/v1/admin/jobs/dead/retry",
            Some("bulk-1"),
            None,
            body.clone(),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let mut retried: Vec<String> = out["retried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    retried.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(retried, expected);
    for job in [&a, &b] {
        assert_eq!(app.wait_job(job, 30).await["status"], "succeeded");
    }
    let (_, dead) = app
        .get("/v1/admin/jobs/dead", app.auth(&token, TENANT))
        .await;
    assert_eq!(dead["data"], json!([]), "{dead}");
    let (status, replay) = app
        .admin_post(
            &token,
            "/v1/admin/jobs/dead/retry",
            Some("bulk-1"),
            None,
            body,
        )
        .await;
    assert_eq!((status, &replay), (200, &out));
    let bad = json!({"kind": "cancel_order", "reason": "x", "limit": 501});
    let (status, p) = app
        .admin_post(&token, "/v1/admin/jobs/dead/retry", None, None, bad)
        .await;
    assert_eq!(status, 422, "{p}");
}
