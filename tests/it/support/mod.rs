//! Support messages (with attachments sniffed by content), shipment-update subscriptions and
//! the GDPR erasure workflow, over real HTTP with a worker and the sandbox; shipment updates
//! sent to subscribers in `shipment_notices`.

mod shipment_notices;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use orderdesk::db;
use orderdesk::domain::ids::TenantId;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

async fn send(
    app: &TestApp,
    headers: HeaderMap,
    path: &str,
    body: &Value,
) -> (u16, HeaderMap, Value) {
    let res = app.post(path, headers, body).await;
    let status = res.status().as_u16();
    let h = res.headers().clone();
    (status, h, res.json().await.unwrap_or(Value::Null))
}

fn with_key(mut h: HeaderMap, key: &str) -> HeaderMap {
    h.insert("idempotency-key", key.parse().unwrap());
    h
}

fn messages_path(order_id: impl AsRef<str>) -> String {
    let order_id = order_id.as_ref();
    format!("/v1/customer/orders/{order_id}/messages")
}

/// The id of the newest job of `kind` (admin jobs list).
async fn newest_job(app: &TestApp, kind: &str) -> String {
    let admin = app.agent_token(TENANT, "agt_jobs", &["admin"]);
    let (status, jobs) = app
        .get(
            &format!("/v1/admin/jobs?kind={kind}"),
            app.auth(&admin, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{jobs}");
    jobs["data"][0]["id"].as_str().expect("a job").to_string()
}

async fn sandbox_notifications(app: &TestApp, key: impl AsRef<str>) -> Vec<Value> {
    let key = key.as_ref();
    let res = app
        .http
        .get(format!(
            "{}/sandbox/notifications?order_id={key}",
            app.sandbox
        ))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn message_opens_a_case_lists_downloads_and_notifies_support() {
    let app = helpers::spawn().await;
    let order = app.order_in("delivered").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = messages_path(&order.id);
    let body = json!({
        "body": "The parcel arrived damaged, photo attached.",
        "subject": "Damaged parcel",
        "attachment": {"filename": "photo.png", "content_base64": STANDARD.encode(PNG)},
    });
    let (status, _, sent) = send(&app, app.auth(&token, TENANT), &path, &body).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["case_created"], true);
    assert_eq!(sent["case"]["status"], "open");
    assert_eq!(sent["case"]["subject"], "Damaged parcel");
    assert!(sent["case"]["id"].as_str().unwrap().starts_with("case_"));
    assert_eq!(sent["message"]["author"], "customer");
    assert_eq!(sent["message"]["attachment"]["content_type"], "image/png");
    assert_eq!(sent["message"]["attachment"]["size_bytes"], PNG.len());
    let first_id = sent["message"]["id"].as_str().unwrap().to_string();

    // the notify_support workflow sent one notification to the support inbox
    let job = app
        .wait_job(&newest_job(&app, "notify_support").await, 20)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let notes = sandbox_notifications(&app, &order.id).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["template"], "support_message");
    assert_eq!(notes[0]["to"], format!("support@{TENANT}.invalid"));
    assert_eq!(notes[0]["data"]["message_id"], first_id.as_str());

    // the attachment downloads as sniffed, never inline
    let res = app
        .http
        .get(format!(
            "{}{}",
            app.api,
            sent["message"]["attachment"]["url"].as_str().unwrap()
        ))
        .headers(app.auth(&token, TENANT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // a second message updates the same case; support's reply and an internal note follow
    let (status, _, second) = send(
        &app,
        app.auth(&token, TENANT),
        &path,
        &json!({"body": "Any news?"}),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["case_created"], false);
    assert_eq!(second["case"]["message_count"], 2);
    let case_id = second["case"]["id"].as_str().unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();
    for (id, body, internal) in [
        ("msg_agent_reply", "We are sending a new one.", false),
        (
            "msg_agent_note",
            "INTERNAL: customer is a VIP, risk 0.2",
            true,
        ),
    ] {
        db::support::insert_message(
            &mut conn,
            &db::support::NewMessage {
                tenant_id: &TenantId::new(TENANT),
                id,
                case_id,
                order_id: &order.id,
                author_kind: "agent",
                author_id: "agt_secret",
                body,
                internal,
            },
            None,
        )
        .await
        .unwrap();
    }

    let (status, page1) = app
        .get(&format!("{path}?limit=2"), app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["case"]["id"], case_id);
    let ids: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [first_id.as_str(), second["message"]["id"].as_str().unwrap()]
    );
    let cursor = page1["next_cursor"].as_str().expect("a second page");
    let (_, page2) = app
        .get(
            &format!("{path}?limit=2&cursor={cursor}"),
            app.auth(&token, TENANT),
        )
        .await;
    let rest = page2["data"].as_array().unwrap();
    assert_eq!(rest.len(), 1, "the internal note is never listed: {page2}");
    assert_eq!(rest[0]["author"], "support");
    assert!(page2["next_cursor"].is_null());
    let all = format!("{page1}{page2}");
    assert!(
        !all.contains("agt_secret") && !all.contains("INTERNAL"),
        "{all}"
    );
    let (status, _) = app
        .get(
            &format!("{path}/msg_agent_note/attachment"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn message_input_is_bounded_and_sniffed() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = messages_path(&order.id);
    let h = || app.auth(&token, TENANT);
    let cases = [
        (json!({"body": "   "}), 422, "validation.failed"),
        (json!({"body": "x".repeat(5001)}), 422, "validation.failed"),
        (json!({"body": "hi", "extra": 1}), 422, "validation.failed"),
        (
            json!({"body": "hi", "attachment": {"filename": "a.txt", "content_base64": "%%%"}}),
            422,
            "validation.failed",
        ),
        // a Windows executable named like a picture
        (
            json!({"body": "see photo", "attachment": {"filename": "cat.png",
                   "content_base64": STANDARD.encode(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0")}}),
            422,
            "message.attachment_type",
        ),
        (
            json!({"body": "big", "attachment": {"filename": "big.txt",
                   "content_base64": STANDARD.encode(vec![b'a'; 5 * 1024 * 1024 + 1])}}),
            413,
            "message.attachment_too_large",
        ),
        (
            json!({"body": "x".repeat(8 * 1024 * 1024)}),
            413,
            "request.too_large",
        ),
        // a name longer than is stored: refused, never cut
        (
            json!({"body": "hi", "attachment": {"filename": format!("{}.txt", "n".repeat(117)),
                   "content_base64": STANDARD.encode("hello")}}),
            422,
            "validation.failed",
        ),
    ];
    for (body, want_status, want_code) in cases {
        let (status, _, problem) = send(&app, h(), &path, &body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (want_status, Some(want_code)),
            "{problem}"
        );
    }
    // the larger limit is this route's only: other routes keep 256 KiB
    let notify = format!("/v1/customer/orders/{}/notify", order.id);
    let big = json!({"channel": "email", "subscribe": true, "destination": "a".repeat(300 * 1024)});
    let (status, _, problem) = send(&app, h(), &notify, &big).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (413, Some("request.too_large"))
    );
    // nothing was stored
    let (_, list) = app.get(&path, h()).await;
    assert_eq!(list["data"], json!([]), "{list}");
    assert!(list["case"].is_null());
    // the longest name accepted is kept whole
    let name = format!("{}.txt", "n".repeat(116));
    let body = json!({"body": "hi", "attachment": {"filename": name, "content_base64": STANDARD.encode("hello")}});
    let (status, _, sent) = send(&app, h(), &path, &body).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["message"]["attachment"]["filename"], name.as_str());
}

#[tokio::test]
async fn support_routes_need_a_token_and_the_callers_own_order() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let other = app
        .orders
        .iter()
        .find(|o| o.customer_id != order.customer_id)
        .unwrap()
        .customer_id
        .clone();
    let mut no_token = HeaderMap::new();
    no_token.insert("x-tenant-id", TENANT.parse().unwrap());
    let someone_else = app.auth(&app.customer_token(TENANT, &other), TENANT);
    let other_tenant = app.auth(
        &app.customer_token(OTHER_TENANT, &order.customer_id),
        OTHER_TENANT,
    );
    let msg = json!({"body": "hello"});
    let sub = json!({"channel": "email", "subscribe": true});
    let base = format!("/v1/customer/orders/{}", order.id);
    let (status, _, body) = send(
        &app,
        with_key(no_token.clone(), "k-erase-401"),
        "/v1/customer/gdpr/erase-request",
        &json!({}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    for (headers, want) in [(no_token, 401), (someone_else, 404), (other_tenant, 404)] {
        for path in ["/messages", "/notify", "/messages/msg_x/attachment"] {
            let (status, body) = app.get(&format!("{base}{path}"), headers.clone()).await;
            assert_eq!(status, want, "GET {path}: {body}");
        }
        let (status, _, body) =
            send(&app, headers.clone(), &format!("{base}/messages"), &msg).await;
        assert_eq!(status, want, "{body}");
        let (status, _, body) = send(&app, headers, &format!("{base}/notify"), &sub).await;
        assert_eq!(status, want, "{body}");
    }
}

#[tokio::test]
async fn message_and_notify_replay_with_the_same_key() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = messages_path(&order.id);
    let body = json!({"body": "Where is my order?"});
    let (s1, h1, first) = send(
        &app,
        with_key(app.auth(&token, TENANT), "k-msg"),
        &path,
        &body,
    )
    .await;
    let (s2, h2, again) = send(
        &app,
        with_key(app.auth(&token, TENANT), "k-msg"),
        &path,
        &body,
    )
    .await;
    assert_eq!((s1, s2), (201, 201), "{first} {again}");
    assert!(h1.get("idempotent-replayed").is_none());
    assert_eq!(h2["idempotent-replayed"], "true");
    assert_eq!(first["message"]["id"], again["message"]["id"]);
    let (s3, _, reused) = send(
        &app,
        with_key(app.auth(&token, TENANT), "k-msg"),
        &path,
        &json!({"body": "other"}),
    )
    .await;
    assert_eq!(
        (s3, reused["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
    let (_, list) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");

    let notify = format!("/v1/customer/orders/{}/notify", order.id);
    let sub = json!({"channel": "sms", "subscribe": true, "destination": "+14155550123"});
    let (s1, _, _) = send(
        &app,
        with_key(app.auth(&token, TENANT), "k-sub"),
        &notify,
        &sub,
    )
    .await;
    let (s2, h2, _) = send(
        &app,
        with_key(app.auth(&token, TENANT), "k-sub"),
        &notify,
        &sub,
    )
    .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(h2["idempotent-replayed"], "true");
    let other = json!({"channel": "sms", "subscribe": false});
    let (s3, _, reused) = send(
        &app,
        with_key(app.auth(&token, TENANT), "k-sub"),
        &notify,
        &other,
    )
    .await;
    assert_eq!(
        (s3, reused["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
}

#[tokio::test]
async fn subscriptions_validate_each_channel_and_toggle() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("shipped").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}/notify", order.id);
    let h = || app.auth(&token, TENANT);
    for (body, field) in [
        (json!({"channel": "fax", "subscribe": true}), "channel"),
        (
            json!({"channel": "sms", "subscribe": true, "destination": "0044 20 7946"}),
            "destination",
        ),
        (json!({"channel": "sms", "subscribe": true}), "destination"),
        (
            json!({"channel": "email", "subscribe": true, "destination": "not-an-email"}),
            "destination",
        ),
        (
            json!({"channel": "push", "subscribe": true, "destination": "<script>"}),
            "destination",
        ),
    ] {
        let (status, _, problem) = send(&app, h(), &path, &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let token_push = "fcm:APA91b".to_string() + &"x".repeat(40);
    for body in [
        json!({"channel": "email", "subscribe": true}),
        json!({"channel": "sms", "subscribe": true, "destination": "+447700900123"}),
        json!({"channel": "push", "subscribe": true, "destination": token_push}),
        json!({"channel": "sms", "subscribe": false}),
    ] {
        let (status, _, out) = send(&app, h(), &path, &body).await;
        assert_eq!(status, 200, "{out}");
    }
    let (status, subs) = app.get(&path, h()).await;
    assert_eq!(status, 200, "{subs}");
    let by = |c: &str| {
        subs["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["channel"] == c)
            .unwrap()
            .clone()
    };
    assert_eq!(by("email")["subscribed"], true);
    assert_eq!(
        by("email")["destination"],
        order.email.as_str(),
        "defaults to the order's email"
    );
    assert_eq!(
        (
            by("sms")["subscribed"].clone(),
            by("sms")["destination"].clone()
        ),
        (json!(false), Value::Null)
    );
    assert_eq!(by("push")["destination"], token_push.as_str());
}

async fn erase(app: &TestApp, token: &str, key: &str, body: Value) -> (u16, HeaderMap, Value) {
    let h = with_key(app.auth(token, TENANT), key);
    send(app, h, "/v1/customer/gdpr/erase-request", &body).await
}

#[tokio::test]
async fn erasure_is_refused_under_legal_hold_and_needs_a_key_and_an_account() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let customer = app.orders[0].customer_id.clone();
    let token = app.customer_token(TENANT, &customer);
    let hold = {
        let mut conn = app.state.db.acquire().await.unwrap();
        db::gdpr::place_legal_hold(
            &mut conn,
            &TenantId::new(TENANT),
            &customer,
            "litigation 2026-17",
            "agt_legal",
            None,
        )
        .await
        .unwrap()
    };
    for body in [json!({}), json!({"dry_run": true})] {
        let (status, _, problem) = erase(&app, &token, "k-held", body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some("gdpr.legal_hold")),
            "{problem}"
        );
        assert!(
            !problem.to_string().contains("litigation"),
            "the hold's reason is internal"
        );
    }
    let (status, _, problem) = send(
        &app,
        app.auth(&token, TENANT),
        "/v1/customer/gdpr/erase-request",
        &json!({}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );
    let guest = orderdesk::auth::mint::mint(
        &app.config,
        &orderdesk::auth::mint::MintRequest::customer(&TenantId::new(TENANT), &customer)
            .order(&app.orders[0].id),
    )
    .unwrap();
    let (status, _, problem) = erase(&app, &guest, "k-guest", json!({})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("gdpr.account_required"))
    );

    // a hold that has ended no longer blocks; the dry run tells what would go
    let mut conn = app.state.db.acquire().await.unwrap();
    assert!(
        db::gdpr::release_legal_hold(&mut conn, &TenantId::new(TENANT), hold.id)
            .await
            .unwrap()
    );
    let past = chrono::Utc::now() - chrono::Duration::days(1);
    db::gdpr::place_legal_hold(
        &mut conn,
        &TenantId::new(TENANT),
        &customer,
        "expired",
        "agt_legal",
        Some(past),
    )
    .await
    .unwrap();
    let (status, _, plan) = erase(&app, &token, "k-dry", json!({"dry_run": true})).await;
    // the redaction of workflow data works by key, whatever the document's shape
    let step_output = json!({"order": {"email": "ada@example.test", "number": "100001"},
        "refunds": [{"payment_id": "pay_1", "amount_minor": 100}],
        "new_address": {"name": "Ada", "line1": "1 Main St", "country": "GB"}, "reason": "moving"});
    let redacted: Value = sqlx::query_scalar("SELECT redact_pii($1)")
        .bind(&step_output)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(
        redacted,
        json!({"order": {"email": db::gdpr::REDACTED_EMAIL, "number": "100001"},
            "refunds": [{"payment_id": "pay_1", "amount_minor": 100}],
            "new_address": {"name": "[redacted]", "line1": "[redacted]", "country": "GB"},
            "reason": "[redacted]"})
    );
    assert_eq!(status, 200, "{plan}");
    let own = app
        .orders
        .iter()
        .filter(|o| o.customer_id == customer)
        .count();
    assert_eq!(plan["would_erase"]["orders"], own);
    assert_eq!(plan["steps"][0], "check_legal_hold");
}

#[tokio::test]
async fn erasure_end_to_end() {
    let mut app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("delivered").clone();
    let customer = order.customer_id.clone();
    let email = order.email.clone();
    let token = app.customer_token(TENANT, &customer);
    let bystander = app
        .orders
        .iter()
        .find(|o| o.customer_id != customer)
        .unwrap()
        .clone();
    let (status, _, _) = send(
        &app,
        app.auth(&token, TENANT),
        &messages_path(&order.id),
        &json!({"body": "My phone is +44 7700 900123",
                "attachment": {"filename": "note.txt", "content_base64": STANDARD.encode("call me")}}),
    )
    .await;
    assert_eq!(status, 201);
    let notify = format!("/v1/customer/orders/{}/notify", order.id);
    let (status, _, _) = send(
        &app,
        app.auth(&token, TENANT),
        &notify,
        &json!({"channel": "email", "subscribe": true}),
    )
    .await;
    assert_eq!(status, 200);

    // an upstream event puts the whole order document (with the email) into the history
    let held = app
        .orders
        .iter()
        .find(|o| o.customer_id == customer && o.status.as_str() == "confirmed")
        .expect("the customer has a confirmed order")
        .clone();
    let res = app
        .http
        .post(format!("{}/orders/v1/orders/{}/hold", app.sandbox, held.id))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut conn = app.state.db.acquire().await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM order_events WHERE tenant_id = $1 AND payload::text LIKE '%' || $2 || '%'",
        )
        .bind(TENANT)
        .bind(&email)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        if n > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hold event never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // accepted and queued (no worker yet): a second erasure is refused while it is open
    let body = json!({"reason": "I am leaving"});
    let (status, headers, accepted) = erase(&app, &token, "k-erase", body.clone()).await;
    assert_eq!(status, 202, "{accepted}");
    let request_id = accepted["request_id"].as_str().unwrap().to_string();
    assert_eq!(
        headers["location"],
        format!("/v1/customer/requests/{request_id}").as_str()
    );
    let (status, replay_h, replay) = erase(&app, &token, "k-erase", body).await;
    assert_eq!(
        (status, replay["request_id"].as_str()),
        (202, Some(request_id.as_str()))
    );
    assert_eq!(replay_h["idempotent-replayed"], "true");
    let (status, _, reused) = erase(&app, &token, "k-erase", json!({})).await;
    assert_eq!(
        (status, reused["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
    let (status, _, open) = erase(&app, &token, "k-erase-2", json!({})).await;
    assert_eq!(
        (status, open["code"].as_str()),
        (409, Some("request.already_open")),
        "{open}"
    );

    app.start_worker();
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["upstream_erased"], true, "{job}");
    let (status, req) = app
        .get(
            &format!("/v1/customer/requests/{request_id}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        (status, req["kind"].as_str(), req["status"].as_str()),
        (200, Some("erase"), Some("succeeded")),
        "{req}"
    );
    assert!(req.get("order_id").is_none(), "{req}");

    // orderdesk's read model and history no longer hold the email or the address
    let mut conn = app.state.db.acquire().await.unwrap();
    let (views, events): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM order_views WHERE tenant_id = $1 AND (email = $2 OR doc::text LIKE '%' || $2 || '%')),
                (SELECT count(*) FROM order_events WHERE tenant_id = $1 AND payload::text LIKE '%' || $2 || '%')",
    )
    .bind(TENANT)
    .bind(&email)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!((views, events), (0, 0));
    let admin = app.agent_token(TENANT, "agt_dpo", &["admin"]);
    let (_, view) = app
        .get(
            &format!("/v1/admin/orders/{}", order.id),
            app.auth(&admin, TENANT),
        )
        .await;
    let text = view.to_string();
    assert!(
        !text.contains(&email) && !text.contains(&order.shipping_address.line1),
        "{view}"
    );
    let (_, own) = app
        .get(
            &format!("/v1/admin/orders/{}", bystander.id),
            app.auth(&admin, TENANT),
        )
        .await;
    assert!(
        own.to_string().contains(&bystander.email),
        "other customers are untouched"
    );

    // support messages and subscriptions are gone too
    let (_, list) = app
        .get(&messages_path(&order.id), app.auth(&token, TENANT))
        .await;
    let m = &list["data"][0];
    assert_eq!(
        (
            m["redacted"].clone(),
            m["body"].clone(),
            m["attachment"].clone()
        ),
        (json!(true), json!("[redacted]"), Value::Null),
        "{list}"
    );
    let (_, subs) = app.get(&notify, app.auth(&token, TENANT)).await;
    assert!(
        subs["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["subscribed"] == false),
        "{subs}"
    );

    // the Orders service erased its copy, once per order; support was told
    let sandbox_order: Value = app
        .http
        .get(format!("{}/sandbox/orders/{}", app.sandbox, order.id))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sandbox_order["email"], db::gdpr::REDACTED_EMAIL);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "customer.erase")
            .await,
        1
    );
    let notes = sandbox_notifications(&app, &customer).await;
    assert!(
        notes
            .iter()
            .any(|n| n["template"] == "gdpr_erasure_completed"),
        "{notes:?}"
    );

    // once finished, a new erasure may be asked for (and finds nothing more upstream)
    let (status, _, again) = erase(&app, &token, "k-erase-3", json!({})).await;
    assert_eq!(status, 202, "{again}");
    let job = app.wait_job(again["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "customer.erase")
            .await,
        1
    );
}
