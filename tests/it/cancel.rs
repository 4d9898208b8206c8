//! The customer's cancellation, end to end: request → job on a worker → upstream calls →
//! read model, and the ways it must not go wrong.

use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

async fn cancel(
    app: &TestApp,
    token: &str,
    order_id: impl AsRef<str>,
    key: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let order_id = order_id.as_ref();
    let mut h = app.auth(token, TENANT);
    h.insert("idempotency-key", key.parse().unwrap());
    let res = app
        .post(
            &format!("/v1/customer/orders/{order_id}/cancel-request"),
            h,
            &body,
        )
        .await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn happy_path_cancels_refunds_restocks_and_notifies_once() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, headers, body) = cancel(
        &app,
        &token,
        &order.id,
        "k-happy",
        json!({"reason": "changed my mind"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let request_id = body["request_id"].as_str().unwrap();
    assert_eq!(
        headers["location"],
        format!("/v1/customer/requests/{request_id}").as_str()
    );
    let job_id = body["job"]["id"].as_str().unwrap();
    assert_eq!(body["job"]["kind"], "cancel_order");

    let job = app.wait_job(job_id, 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["progress"]["done"], job["progress"]["total"]);
    assert!(
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "done"),
        "{job}"
    );

    for kind in [
        "order.cancel",
        "payment.refund",
        "inventory.release",
        "notification.send",
    ] {
        assert_eq!(
            app.effects_of_kind(TENANT, &order.id, kind).await,
            1,
            "{kind}"
        );
    }
    let (status, req) = app
        .get(
            &format!("/v1/customer/requests/{request_id}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        (status, req["status"].as_str()),
        (200, Some("succeeded")),
        "{req}"
    );
    assert!(
        req["job"].get("steps").is_none(),
        "customers do not see step internals"
    );

    let (_, view) = app
        .get(
            &format!("/v1/customer/orders/{}", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        view["status"], "cancelled",
        "the read model was refreshed: {view}"
    );
    assert_eq!(view["refunded_minor"], json!(order.refundable_minor()));

    let admin = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let (status, audit) = app
        .get(
            &format!("/v1/admin/orders/{}/audit", order.id),
            app.auth(&admin, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"order.cancel_requested"), "{actions:?}");
    assert!(
        actions.contains(&"job.cancel_order.succeeded"),
        "the outcome is audited too: {actions:?}"
    );
}

#[tokio::test]
async fn shipped_order_is_blocked_with_reasons() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("shipped").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, _, body) = cancel(&app, &token, &order.id, "k-blocked", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "order.blocked.already_shipped");
    assert_eq!(
        body["blocked_reasons"][0]["code"],
        "order.blocked.already_shipped"
    );
    assert_eq!(app.effects(TENANT, &order.id).await.len(), 0);
}

#[tokio::test]
async fn dry_run_plans_and_changes_nothing() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let res = app
        .post(
            &format!("/v1/customer/orders/{}/cancel-request", order.id),
            app.auth(&token, TENANT),
            &json!({"dry_run": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let plan: Value = res.json().await.unwrap();
    assert_eq!(
        plan["plan"]["refund_minor"],
        json!(order.refundable_minor())
    );
    assert_eq!(
        plan["plan"]["restock_lines"].as_array().unwrap().len(),
        order.lines.len()
    );
    let steps: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"refund") && steps.contains(&"release_inventory"),
        "{steps:?}"
    );
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM requests")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!((runs, requests), (0, 0));
    assert!(app.effects(TENANT, &order.id).await.is_empty());
}

#[tokio::test]
async fn idempotent_replay_and_key_reuse() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (s1, h1, b1) = cancel(
        &app,
        &token,
        &order.id,
        "k-replay",
        json!({"reason": "dup"}),
    )
    .await;
    let (s2, h2, b2) = cancel(
        &app,
        &token,
        &order.id,
        "k-replay",
        json!({"reason": "dup"}),
    )
    .await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(b1, b2);
    assert!(h1.get("idempotent-replayed").is_none());
    assert_eq!(h2["idempotent-replayed"], "true");
    assert_eq!(h1["location"], h2["location"]);

    let (s3, _, b3) = cancel(
        &app,
        &token,
        &order.id,
        "k-replay",
        json!({"reason": "another body"}),
    )
    .await;
    assert_eq!(
        (s3, b3["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );

    let (s4, _, b4) = cancel(&app, &token, &order.id, "k-other", json!({"reason": "dup"})).await;
    assert!(
        s4 == 409,
        "a second cancellation with another key: {s4} {b4}"
    );

    let mut h = app.auth(&token, TENANT);
    h.remove("idempotency-key");
    let res = app
        .post(
            &format!("/v1/customer/orders/{}/cancel-request", order.id),
            h,
            &json!({}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "idempotency.key_required");

    app.wait_job(b1["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
}

/// A key claimed by a transaction still open: a second claim waits only as long as it is
/// told, then fails with PostgreSQL's lock-timeout code (answered 409
/// `idempotency.in_flight`); a claim that got its key leaves the rest of its transaction
/// without that bound.
#[tokio::test]
async fn a_key_in_flight_bounds_only_the_claims_wait() {
    use orderdesk::db::idempotency::{Claim, claim};
    use orderdesk::domain::ids::TenantId;
    use std::time::Duration;
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let tenant = TenantId::new(TENANT);
    let wait = Duration::from_millis(200);
    let mut first = app.state.db.begin().await.unwrap();
    let got = claim(&mut first, &tenant, "cus_1", "k-held", "h", wait).await;
    assert!(matches!(got, Ok(Claim::Fresh)), "{got:?}");
    let lock_timeout: String = sqlx::query_scalar("SHOW lock_timeout")
        .fetch_one(&mut *first)
        .await
        .unwrap();
    assert_eq!(lock_timeout, "0", "the bound ends with the claim");

    let mut second = app.state.db.begin().await.unwrap();
    let started = std::time::Instant::now();
    let err = claim(&mut second, &tenant, "cus_1", "k-held", "h", wait)
        .await
        .expect_err("the key is held by an open transaction");
    let code = err
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.to_string());
    assert_eq!(code.as_deref(), Some("55P03"), "{err}");
    assert!(started.elapsed() >= wait, "it waited for the bound");
    drop(second);

    first.rollback().await.unwrap();
    let mut third = app.state.db.begin().await.unwrap();
    let got = claim(&mut third, &tenant, "cus_1", "k-held", "h", wait).await;
    assert!(
        matches!(got, Ok(Claim::Fresh)),
        "a rolled-back claim frees the key: {got:?}"
    );
}

#[tokio::test]
async fn concurrent_duplicates_make_one_refund() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let same_key =
        (0..8).map(|_| cancel(&app, &token, &order.id, "k-race", json!({"reason": "race"})));
    let results = futures::future::join_all(same_key).await;
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|(s, _, b)| {
            assert_eq!(*s, 202, "{b}");
            b["request_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one request for one key");

    let other = app
        .orders
        .iter()
        .find(|o| {
            o.status.as_str() == "confirmed"
                && o.id != order.id
                && o.customer_id == order.customer_id
        })
        .or_else(|| {
            app.orders
                .iter()
                .find(|o| o.status.as_str() == "pending" && o.customer_id == order.customer_id)
        })
        .expect("a second cancellable order of the same customer")
        .clone();
    let keys: Vec<String> = (0..8).map(|i| format!("k-many-{i}")).collect();
    let results = futures::future::join_all(
        keys.iter()
            .map(|k| cancel(&app, &token, &other.id, k, json!({}))),
    )
    .await;
    let accepted: Vec<_> = results.iter().filter(|(s, _, _)| *s == 202).collect();
    assert_eq!(
        accepted.len(),
        1,
        "different keys at once: exactly one accepted: {results:?}"
    );
    assert!(results.iter().all(|(s, _, _)| *s == 202 || *s == 409));

    for (_, _, b) in [&results.iter().find(|r| r.0 == 202).unwrap().clone()] {
        app.wait_job(b["job"]["id"].as_str().unwrap(), 20).await;
    }
    let first = app
        .get(
            &format!("/v1/customer/requests/{}", ids.iter().next().unwrap()),
            app.auth(&token, TENANT),
        )
        .await
        .1;
    app.wait_job(first["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &other.id, "payment.refund")
            .await,
        1
    );
}

#[tokio::test]
async fn other_customers_and_tenants_get_404() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let stranger = app
        .orders
        .iter()
        .map(|o| o.customer_id.clone())
        .find(|c| *c != order.customer_id)
        .unwrap();
    let token = app.customer_token(TENANT, &stranger);
    let (status, _, body) = cancel(&app, &token, &order.id, "k-x", json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("order.not_found"))
    );

    let foreign = app.customer_token(OTHER_TENANT, &order.customer_id);
    let mut h = app.auth(&foreign, OTHER_TENANT);
    h.insert("idempotency-key", "k-y".parse().unwrap());
    let res = app
        .post(
            &format!("/v1/customer/orders/{}/cancel-request", order.id),
            h,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);

    let (status, _) = app
        .get(
            &format!("/v1/customer/requests/{}", uuid::Uuid::now_v7()),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 404);
    assert!(app.effects(TENANT, &order.id).await.is_empty());
}

#[tokio::test]
async fn bad_input_is_a_clear_problem() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, _, body) = cancel(
        &app,
        &token,
        &order.id,
        "k-bad",
        json!({"reason": "x".repeat(501)}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed"))
    );
    assert_eq!(body["errors"][0]["field"], "reason");
    let (status, _, body) = cancel(
        &app,
        &token,
        &order.id,
        "k-bad2",
        json!({"refund": "yes please"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed")),
        "unknown field: {body}"
    );
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "k-bad3".parse().unwrap());
    h.insert("content-type", "application/json".parse().unwrap());
    let res = app
        .http
        .post(format!(
            "{}/v1/customer/orders/{}/cancel-request",
            app.api, order.id
        ))
        .headers(h)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "request.invalid_json");
}

#[tokio::test]
async fn prefer_wait_answers_with_the_finished_job() {
    let app = helpers::spawn().await;
    let order = app.order_in("pending").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "k-wait".parse().unwrap());
    h.insert("prefer", "wait=20".parse().unwrap());
    let res = app
        .post(
            &format!("/v1/customer/orders/{}/cancel-request", order.id),
            h,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["job"]["status"], "succeeded", "{body}");
}

/// A failed upstream call names its service (`service`) for agents — the console counts
/// failures by it — but the customer's view of the same job leaves it out.
#[tokio::test]
async fn the_failing_upstream_is_named_to_agents_and_not_to_the_customer() {
    let app = helpers::spawn().await;
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, _, body) = cancel(&app, &token, &order.id, "k-svc", json!({})).await;
    assert_eq!(status, 202, "{body}");
    let job = app.wait_job(body["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "compensated", "{job}");
    let refund = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "refund")
        .cloned()
        .unwrap();
    assert_eq!(refund["last_error"]["service"], "payments", "{refund}");
    assert_eq!(job["error"]["service"], "payments", "{job}");

    let request = body["request_id"].as_str().unwrap();
    let (status, mine) = app
        .get(
            &format!("/v1/customer/requests/{request}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    let error = &mine["job"]["error"];
    assert!(error["code"].is_string(), "{mine}");
    assert!(error.get("service").is_none(), "{mine}");
}

/// A customer's request is written once: opened `queued`, naming the run that a later
/// statement of the same transaction inserts (the link checked at commit). The run's insert
/// no longer updates it, so the request's row is still the version its opening statement
/// wrote, an earlier command of the transaction than the run's (whose statement wrote the
/// trigger, left in the outbox here: no worker, so no relay).
#[tokio::test]
async fn a_request_is_opened_naming_its_run() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let body = json!({"reason": "changed my mind"});
    let (status, _, accepted) = cancel(&app, &token, &order.id, "k-once", body).await;
    assert_eq!(status, 202, "{accepted}");
    let request_id: uuid::Uuid = accepted["request_id"].as_str().unwrap().parse().unwrap();
    let (run_id, status, request_cmd, run_cmd): (uuid::Uuid, String, i64, i64) = sqlx::query_as(
        "SELECT q.run_id, q.status, q.cmin::text::bigint, o.cmin::text::bigint
         FROM requests q JOIN outbox o ON o.run_id = q.run_id AND o.kind = 'trigger'
         WHERE q.id = $1",
    )
    .bind(request_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(run_id.to_string(), accepted["job"]["id"].as_str().unwrap());
    assert_eq!(status, "queued");
    assert!(
        request_cmd < run_cmd,
        "the request's row was written by its own insert ({request_cmd}), not by the run's ({run_cmd})"
    );
}
