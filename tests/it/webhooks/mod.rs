//! Outgoing events and webhooks: subscriptions over the admin API, signed deliveries to a
//! local receiver (verified independently), retries, auto-disable, the SSRF guard, the
//! events stream.

mod claims;
mod receiver;
mod replay;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{self, OTHER_TENANT, Options, TENANT, TestApp};
use receiver::{Received, Receiver};

async fn spawn(receiver: &Receiver) -> TestApp {
    helpers::spawn_with(Options {
        extra_env: vec![
            (
                "ORDERDESK_WEBHOOK_ALLOW_HOSTS".into(),
                receiver.addr.clone(),
            ),
            ("ORDERDESK_WEBHOOK_RETRY_BASE_MS".into(), "100".into()),
            ("ORDERDESK_WEBHOOK_MAX_ATTEMPTS".into(), "4".into()),
        ],
        ..Options::default()
    })
    .await
}

/// Every entry of the app's events stream, oldest first: its id and its fields.
async fn stream_entries(app: &TestApp) -> Vec<(String, Vec<(String, String)>)> {
    let mut redis = app.state.redis.clone();
    redis::cmd("XRANGE")
        .arg(format!("{}:events", app.db_name))
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap()
}

fn admin(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_admin", &["admin"])
}

async fn create(app: &TestApp, token: &str, key: &str, body: Value) -> (u16, Value) {
    app.admin_post(token, "/v1/admin/webhooks", Some(key), None, body)
        .await
}

async fn send(app: &TestApp, method: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .http
        .request(method.parse().unwrap(), format!("{}{path}", app.api))
        .headers(app.auth(token, TENANT))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The Standard Webhooks signature checked by hand (HMAC-SHA256 over `id.timestamp.body`,
/// base64), independently of the crate that signed it.
fn verify_by_hand(secret: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let h = |n: &str| r.headers[n].to_str().unwrap().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", h("webhook-id"), h("webhook-timestamp")).as_bytes());
    mac.update(&r.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    h("webhook-signature")
        .split(' ')
        .any(|s| s == format!("v1,{expected}"))
}

async fn deliveries(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let path = format!("/v1/admin/webhooks/{id}/deliveries");
    let (status, body) = app.get(&path, app.auth(token, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

async fn cancel_as_customer(app: &TestApp) -> String {
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "k-cancel".parse().unwrap());
    let path = format!("/v1/customer/orders/{}/cancel-request", order.id);
    let res = app
        .post(&path, h, &json!({"reason": "changed my mind"}))
        .await;
    assert_eq!(res.status(), 202);
    order.id.to_string()
}

#[tokio::test]
async fn events_reach_the_stream_and_a_subscription_signed_and_in_order() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let token = admin(&app);
    let body = json!({"url": receiver.url("all"), "description": "everything"});
    let (status, made) = create(&app, &token, "wh-1", body.clone()).await;
    assert_eq!(status, 201, "{made}");
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    // a replay of the creation answers the same webhook, without the secret
    let (status, again) = create(&app, &token, "wh-1", body).await;
    assert_eq!((status, &again["id"]), (201, &made["id"]));
    assert_eq!(again["secret"], Value::Null);
    let (status, list) = app
        .get("/v1/admin/webhooks", app.auth(&token, TENANT))
        .await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 1));
    assert!(list["data"][0].get("secret").is_none(), "{list}");
    // stored sealed: the database alone does not hold the secret
    let stored: String = sqlx::query_scalar("SELECT secret FROM webhooks WHERE id = $1::uuid")
        .bind(made["id"].as_str().unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(
        stored.starts_with("sealed:v1:") && !stored.contains(&secret[6..]),
        "{stored}"
    );
    // only job events
    let jobs = json!({"url": receiver.url("jobs"), "event_types": ["job.finished"]});
    assert_eq!(create(&app, &token, "wh-2", jobs).await.0, 201);

    let order_id = cancel_as_customer(&app).await;
    receiver.wait_for("all", 3, 30).await;
    // job.finished may come after one or two order.updated: wait for it, not for a count
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let got = loop {
        let got = receiver.received("all");
        if got.iter().any(|r| r.json()["type"] == "job.finished") {
            break got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no job.finished arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    for r in &got {
        assert!(
            verifier.verify(&r.body, &r.headers).is_ok(),
            "{:?}",
            r.headers
        );
        assert!(verify_by_hand(&secret, r));
        let e = r.json();
        assert_eq!(
            (e["version"].as_u64(), e["tenant_id"].as_str()),
            (Some(1), Some(TENANT))
        );
        assert!(e["id"].as_str().unwrap().starts_with("evt_"));
    }
    let types: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().into())
        .collect();
    assert_eq!(types[0], "customer.cancel_requested", "{types:?}");
    assert_eq!(got[0].json()["data"]["order_id"], order_id.as_str());
    let finished = types
        .iter()
        .position(|t| t == "job.finished")
        .expect("job.finished");
    assert!(finished > 0, "{types:?}");
    // the cancellation at Orders comes back through the ingest as order.updated
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let updated = loop {
        let all: Vec<Value> = receiver
            .received("all")
            .iter()
            .map(Received::json)
            .collect();
        let updated: Vec<Value> = all
            .into_iter()
            .filter(|e| e["type"] == "order.updated")
            .collect();
        if !updated.is_empty() || tokio::time::Instant::now() > deadline {
            break updated;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!updated.is_empty(), "{types:?}");
    assert_eq!(updated[0]["data"]["status"], "cancelled");
    // the filtered subscription only got job.finished
    let jobs_got = receiver.wait_for("jobs", 1, 30).await;
    assert!(jobs_got.iter().all(|r| r.json()["type"] == "job.finished"));
    // a tampered body fails the reference verifier
    assert!(verifier.verify(b"{}", &got[0].headers).is_err());

    // the delivery log
    let id = made["id"].as_str().unwrap();
    let log = deliveries(&app, &token, id).await;
    assert!(log.len() >= 3, "{log:?}");
    assert!(
        log.iter()
            .any(|d| d["status"] == "delivered" && d["last_status"] == 200)
    );

    // the stream
    let entries = stream_entries(&app).await;
    let kinds: Vec<&str> = entries
        .iter()
        .flat_map(|(_, f)| {
            f.iter()
                .filter(|(k, _)| k == "type")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    assert!(kinds.contains(&"customer.cancel_requested"), "{kinds:?}");
    assert!(kinds.contains(&"job.finished"), "{kinds:?}");
}

/// A receiver that answers slowly holds up only its own deliveries: another webhook's are
/// sent meanwhile, each as soon as it is due (a worker's pass of 32 used to wait for its
/// slowest send, up to 15 s, for every tenant).
#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_another_webhook() {
    let receiver = Receiver::start().await;
    receiver.delay("slow", std::time::Duration::from_secs(10));
    let app = spawn(&receiver).await;
    let token = admin(&app);
    let types = json!(["customer.cancel_requested"]);
    let slow = json!({"url": receiver.url("slow"), "event_types": types});
    assert_eq!(create(&app, &token, "wh-slow", slow).await.0, 201);
    let fast = json!({"url": receiver.url("fast"), "event_types": types});
    assert_eq!(create(&app, &token, "wh-fast", fast).await.0, 201);
    let orders: Vec<_> = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .take(3)
        .cloned()
        .collect();
    assert_eq!(orders.len(), 3);
    for (i, order) in orders.iter().enumerate() {
        let token = app.customer_token(TENANT, &order.customer_id);
        let mut h = app.auth(&token, TENANT);
        h.insert("idempotency-key", format!("k-slow-{i}").parse().unwrap());
        let path = format!("/v1/customer/orders/{}/cancel-request", order.id);
        let res = app
            .post(&path, h, &json!({"reason": "changed my mind"}))
            .await;
        assert_eq!(res.status(), 202);
    }
    // all three reach the fast receiver while the slow one still holds its first
    receiver.wait_for("fast", 3, 5).await;
    assert_eq!(
        receiver.received("slow").len(),
        1,
        "one at a time, in order"
    );
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_a_dead_receiver_is_disabled() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let token = admin(&app);
    receiver.script("flaky", &[500, 503, 200]);
    receiver.script("dead", &[500]);
    let types = json!(["customer.cancel_requested"]);
    let flaky = json!({"url": receiver.url("flaky"), "event_types": types});
    let (_, flaky) = create(&app, &token, "wh-f", flaky).await;
    let dead = json!({"url": receiver.url("dead"), "event_types": types});
    let (_, dead) = create(&app, &token, "wh-d", dead).await;
    cancel_as_customer(&app).await;

    // the same message (same webhook-id) three times, the third one taken
    let got = receiver.wait_for("flaky", 3, 30).await;
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = deliveries(&app, &token, flaky["id"].as_str().unwrap()).await;
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["attempts"].as_i64()),
        (Some("delivered"), Some(3))
    );

    // four attempts (max), then failed for good and the webhook disabled
    receiver.wait_for("dead", 4, 30).await;
    let dead_id = dead["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let hook = loop {
        let (_, hook) = app
            .get(
                &format!("/v1/admin/webhooks/{dead_id}"),
                app.auth(&token, TENANT),
            )
            .await;
        if hook["enabled"] == false || tokio::time::Instant::now() > deadline {
            break hook;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(hook["enabled"], false, "{hook}");
    assert!(
        hook["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("4 failed attempts")
    );
    let log = deliveries(&app, &token, dead_id).await;
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["last_status"].as_i64()),
        (Some("failed"), Some(500))
    );
    assert_eq!(receiver.received("dead").len(), 4);
}

#[tokio::test]
async fn targets_that_are_not_public_are_refused() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let token = admin(&app);
    for (i, url) in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.8/hook",
        "http://192.168.1.1/hook",
        "http://[::1]:8080/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ]
    .iter()
    .enumerate()
    {
        let (status, body) = create(&app, &token, &format!("s-{i}"), json!({"url": url})).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("webhooks.url_refused")),
            "{url}: {body}"
        );
        // what a name resolves to stays inside: the answer holds no address
        let text = body.to_string();
        let address = text
            .split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
            .find(|t| t.contains(['.', ':']) && t.parse::<std::net::IpAddr>().is_ok());
        assert_eq!(address, None, "{url}: {body}");
    }
    for (i, body) in [
        json!({"url": "ftp://example.com/x"}),
        json!({"url": "not a url"}),
        json!({"url": "https://example.com", "event_types": ["Bad Type"]}),
        json!({"url": "https://example.com", "extra": 1}),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, res) = create(&app, &token, &format!("v-{i}"), body).await;
        assert_eq!(status, 422, "{res}");
    }

    // a redirect is not followed: the attempt fails and the target is never asked
    receiver.script("moved", &[302]);
    let body = json!({"url": receiver.url("moved"), "event_types": ["customer.cancel_requested"]});
    let (status, made) = create(&app, &token, "r-1", body).await;
    assert_eq!(status, 201);
    cancel_as_customer(&app).await;
    receiver.wait_for("moved", 1, 30).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = deliveries(&app, &token, made["id"].as_str().unwrap()).await;
    assert_eq!(log[0]["last_status"], 302, "{log:?}");
    assert_eq!(log[0]["last_error"], "redirect not followed");
    assert!(receiver.received("redirected").is_empty());
}

#[tokio::test]
async fn subscriptions_are_managed_within_the_tenant_and_permission() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let token = admin(&app);
    let (status, made) = create(&app, &token, "m-1", json!({"url": receiver.url("m")})).await;
    assert_eq!(status, 201);
    let id = made["id"].as_str().unwrap();
    let one = format!("/v1/admin/webhooks/{id}");

    // 401 without a token, 403 without webhooks.manage
    let res = app
        .http
        .get(format!("{}/v1/admin/webhooks", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let (status, body) = app.get("/v1/admin/webhooks", app.auth(&lead, TENANT)).await;
    assert_eq!(
        (status, body["required_permission"].as_str()),
        (403, Some("webhooks.manage"))
    );
    let (status, _) = create(&app, &lead, "m-lead", json!({"url": receiver.url("m")})).await;
    assert_eq!(status, 403);
    // creation needs an Idempotency-Key
    let (status, body) = app
        .admin_post(
            &token,
            "/v1/admin/webhooks",
            None,
            None,
            json!({"url": receiver.url("m")}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );

    // another tenant's admin sees none of it
    let other = app.agent_token(OTHER_TENANT, "agt_other", &["admin"]);
    let (status, _) = app.get(&one, app.auth(&other, OTHER_TENANT)).await;
    assert_eq!(status, 404);
    let (status, list) = app
        .get("/v1/admin/webhooks", app.auth(&other, OTHER_TENANT))
        .await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 0));
    let path = format!("{one}/disable");
    let (status, _) = app
        .post_as(&other, OTHER_TENANT, &path, None, None, json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get("/v1/admin/webhooks/not-a-uuid", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 404);

    // change, disable, enable, rotate, delete
    let patch = json!({"description": "orders", "event_types": ["order.updated"]});
    let (status, changed) = send(&app, "PATCH", &token, &one, patch).await;
    assert_eq!(
        (status, &changed["event_types"]),
        (200, &json!(["order.updated"]))
    );
    let (status, _) = send(
        &app,
        "PATCH",
        &token,
        &one,
        json!({"url": "http://127.0.0.1:1/x"}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, off) = app
        .admin_post(&token, &format!("{one}/disable"), None, None, json!({}))
        .await;
    assert_eq!((status, off["enabled"].as_bool()), (200, Some(false)));
    let (status, on) = send(&app, "PATCH", &token, &one, json!({"enabled": true})).await;
    assert_eq!(
        (status, on["enabled"].as_bool(), &on["disabled_reason"]),
        (200, Some(true), &Value::Null)
    );
    let rotate = format!("{one}/rotate-secret");
    let (status, rotated) = app
        .admin_post(&token, &rotate, Some("rot-1"), None, json!({}))
        .await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_eq!(status, 200);
    assert_ne!(new_secret, made["secret"].as_str().unwrap());
    let (_, replayed) = app
        .admin_post(&token, &rotate, Some("rot-1"), None, json!({}))
        .await;
    assert_eq!(replayed["secret"], Value::Null);
    let (status, _) = send(&app, "DELETE", &token, &one, json!(null)).await;
    assert_eq!(status, 200);
    let (status, _) = app.get(&one, app.auth(&token, TENANT)).await;
    assert_eq!(status, 404);
}

/// While one relay has the turn, another publishes nothing; then the events go out in id
/// order, each once, to the stream and to the tenant's subscription; the event of an order
/// stays in the outbox (replay reads it), the others are deleted.
#[tokio::test]
async fn one_relay_at_a_time_publishes_in_id_order() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let ctx = orderdesk::events::EventsCtx {
        db: app.state.db.clone(),
        config: app.state.config.clone(),
        redis: app.state.redis.clone(),
    };
    let tenant = orderdesk::domain::ids::TenantId::new(TENANT);
    let mut conn = app.state.db.acquire().await.unwrap();
    // a subscription to every type, written directly: nothing is sent in this test
    sqlx::query(
        "INSERT INTO webhooks (id, tenant_id, url, secret, created_by)
         VALUES (gen_random_uuid(), $1, 'https://example.com/hook', 'sealed:v1:x', 'test')",
    )
    .bind(TENANT)
    .execute(&mut *conn)
    .await
    .unwrap();
    for n in 1..=3 {
        let order = (n == 2).then_some("ord_relay");
        orderdesk::db::events::record(
            &mut conn,
            &tenant,
            "order.updated",
            order,
            json!({ "n": n }),
        )
        .await
        .unwrap();
    }
    drop(conn);
    let relay = orderdesk::events::relay::relay_once;
    let mut other = app.state.db.begin().await.unwrap();
    assert!(
        orderdesk::db::events::try_relay_turn(&mut other)
            .await
            .unwrap()
    );
    assert_eq!(relay(&ctx).await.unwrap(), 0, "one relay at a time");
    other.rollback().await.unwrap();
    assert_eq!(relay(&ctx).await.unwrap(), 3);
    assert_eq!(relay(&ctx).await.unwrap(), 0, "each event once");

    let entries = stream_entries(&app).await;
    let ns: Vec<u64> = entries
        .iter()
        .flat_map(|(_, f)| f.iter().filter(|(k, _)| k == "event"))
        .map(|(_, v)| {
            serde_json::from_str::<Value>(v).unwrap()["data"]["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ns, vec![1, 2, 3]);
    let delivered: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(delivered, 3, "every event fanned out, kept or not");
    let kept: Vec<(Option<String>, bool)> =
        sqlx::query_as("SELECT order_id, sent_at IS NOT NULL FROM outbox WHERE kind = 'event'")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(kept, [(Some("ord_relay".to_string()), true)]);
}
