//! `GET|PATCH /v1/admin/settings`: a merge patch guarded by `If-Match`, audited, replayable.

use std::sync::Arc;
use std::time::Duration;

use orderdesk::db;
use orderdesk::domain::ids::TenantId;
use orderdesk::tenant_settings::SettingsCache;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

const PATH: &str = "/v1/admin/settings";

async fn app() -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await
}

/// PATCHes as `token` in `tenant`, with `If-Match` and `Idempotency-Key` when given.
async fn patch(
    app: &TestApp,
    (token, tenant): (&str, &str),
    if_match: Option<&str>,
    key: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut req = app
        .http
        .patch(format!("{}{PATH}", app.api))
        .headers(app.auth(token, tenant))
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string());
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn read(app: &TestApp, token: &str, tenant: &str) -> Value {
    let res = app
        .http
        .get(format!("{}{PATH}", app.api))
        .headers(app.auth(token, tenant))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["etag"], etag.as_str(), "header and body agree");
    body
}

#[tokio::test]
async fn an_admin_changes_settings_by_merge_patch_and_the_change_is_audited() {
    let app = app().await;
    let admin = app.agent_token(TENANT, "agt_set", &["admin"]);
    let before = read(&app, &admin, TENANT).await;
    assert_eq!(before["settings"]["capabilities"]["coupons_enabled"], true);

    let change = json!({"return_window_days": 14, "capabilities": {"coupons_enabled": false},
                        "support_email": "help@acme.example"});
    let etag = before["etag"].as_str().unwrap();
    let (status, after) = patch(&app, (&admin, TENANT), Some(etag), None, &change).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["settings"]["return_window_days"], 14);
    assert_eq!(after["settings"]["capabilities"]["coupons_enabled"], false);
    // members the patch did not name keep their values
    assert_eq!(after["settings"]["capabilities"]["returns_enabled"], true);
    assert_ne!(after["etag"], before["etag"]);
    assert_eq!(read(&app, &admin, TENANT).await, after);

    // null resets a setting to its default
    let tag = after["etag"].as_str().unwrap();
    let reset = json!({"return_window_days": null});
    let (status, reset) = patch(&app, (&admin, TENANT), Some(tag), None, &reset).await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["settings"]["return_window_days"], 30);

    let mut conn = app.state.db.acquire().await.unwrap();
    let tenant = TenantId::new(TENANT);
    let audit = db::audit::list_for_subject(&mut conn, &tenant, "tenant", TENANT, 0, 10)
        .await
        .unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].action, "settings.changed");
    assert_eq!(audit[0].actor_id, "agt_set");
    assert_eq!(
        audit[0].before.as_ref().unwrap()["return_window_days"],
        before["settings"]["return_window_days"]
    );
    assert_eq!(audit[0].after.as_ref().unwrap()["return_window_days"], 14);
}

#[tokio::test]
async fn a_change_against_an_old_version_or_without_one_is_refused() {
    let app = app().await;
    let admin = app.agent_token(TENANT, "agt_set", &["admin"]);
    let first = read(&app, &admin, TENANT).await;
    let old = first["etag"].as_str().unwrap();
    let (status, _) = patch(
        &app,
        (&admin, TENANT),
        Some(old),
        None,
        &json!({"edit_window_minutes": 5}),
    )
    .await;
    assert_eq!(status, 200);

    // a second agent still holding the first version loses nothing silently
    let change = json!({"edit_window_minutes": 90});
    let (status, body) = patch(&app, (&admin, TENANT), Some(old), None, &change).await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["code"], "settings.stale");
    assert_eq!(body["etag"], read(&app, &admin, TENANT).await["etag"]);

    let (status, body) = patch(&app, (&admin, TENANT), None, None, &change).await;
    assert_eq!(status, 428, "{body}");
    assert_eq!(body["code"], "settings.if_match_required");
    assert_eq!(
        read(&app, &admin, TENANT).await["settings"]["edit_window_minutes"],
        5
    );
}

#[tokio::test]
async fn unknown_or_out_of_range_settings_are_named_and_nothing_changes() {
    let app = app().await;
    let admin = app.agent_token(TENANT, "agt_set", &["admin"]);
    let current = read(&app, &admin, TENANT).await;
    let tag = current["etag"].as_str().unwrap();
    let cases = [
        (json!({"return_window_dayz": 3}), "return_window_dayz"),
        (
            json!({"capabilities": {"teleport": true}}),
            "capabilities.teleport",
        ),
        (
            json!({"cancel_window_minutes": -1}),
            "cancel_window_minutes",
        ),
        // too large to convert to minutes: refused, not overflowed
        (
            json!({"return_window_days": 12_810_238_940_076_078_i64}),
            "return_window_days",
        ),
        (json!({"return_window_days": 3651}), "return_window_days"),
        (
            json!({"edit_window_minutes": i64::MAX}),
            "edit_window_minutes",
        ),
        (
            json!({"rate_limits": {"agent_per_minute": 0}}),
            "rate_limits.agent_per_minute",
        ),
        (json!({"support_email": "nobody"}), "support_email"),
        (json!({"ship_from_country": "de"}), "ship_from_country"),
        (json!({"ship_from_country": "XX"}), "ship_from_country"),
        (json!({"edit_window_minutes": "soon"}), "body"),
        (json!({}), "body"),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        let (status, problem) = patch(&app, (&admin, TENANT), Some(tag), None, &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["code"], "validation.failed");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {problem}");
    }
    assert_eq!(read(&app, &admin, TENANT).await, current);
}

#[tokio::test]
async fn settings_need_an_agent_with_the_permission_of_the_same_tenant() {
    let app = app().await;
    let change = json!({"edit_window_minutes": 7});
    let (status, _) = app.get(PATH, Default::default()).await;
    assert_eq!(status, 401);
    let (status, _) = patch(&app, ("not-a-token", TENANT), Some("\"x\""), None, &change).await;
    assert_eq!(status, 401);

    let agent = app.agent_token(TENANT, "agt_cs", &["cs_lead"]);
    let tag = read(&app, &agent, TENANT).await["etag"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = patch(&app, (&agent, TENANT), Some(&tag), None, &change).await;
    assert_eq!(status, 403, "cs_lead may read, not change: {body}");
    assert_eq!(body["required_permission"], "tenant.settings.write");
    let customer = app.customer_token(TENANT, "cus_0001");
    let (status, _) = patch(&app, (&customer, TENANT), Some(&tag), None, &change).await;
    assert_eq!(status, 403);

    // another tenant's admin changes only their own tenant's settings
    let foreign = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let theirs = read(&app, &foreign, OTHER_TENANT).await;
    let their_tag = theirs["etag"].as_str().unwrap();
    let (status, _) = patch(
        &app,
        (&foreign, OTHER_TENANT),
        Some(their_tag),
        None,
        &change,
    )
    .await;
    assert_eq!(status, 200);
    let ours = read(&app, &agent, TENANT).await;
    assert_eq!(
        ours["etag"],
        tag.as_str(),
        "this tenant's settings are untouched"
    );
    let (status, _) = patch(&app, (&foreign, TENANT), Some(&tag), None, &change).await;
    assert_eq!(status, 403, "a token of one tenant does not act in another");
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_answer() {
    let app = app().await;
    let admin = app.agent_token(TENANT, "agt_set", &["admin"]);
    let tag = read(&app, &admin, TENANT).await["etag"]
        .as_str()
        .unwrap()
        .to_string();
    let change = json!({"address_change_window_minutes": 15});
    let key = "settings-retry-1";
    let (status, first) = patch(&app, (&admin, TENANT), Some(&tag), Some(key), &change).await;
    assert_eq!(status, 200, "{first}");
    // the settings moved on, yet the retry answers what the first call did (not 412)
    let (status, again) = patch(&app, (&admin, TENANT), Some(&tag), Some(key), &change).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first);
    let mut conn = app.state.db.acquire().await.unwrap();
    let audit =
        db::audit::list_for_subject(&mut conn, &TenantId::new(TENANT), "tenant", TENANT, 0, 10)
            .await
            .unwrap();
    assert_eq!(audit.len(), 1, "changed once");
    // the same key with another body is a conflict, not a replay
    let other = json!({"address_change_window_minutes": 16});
    let (status, body) = patch(&app, (&admin, TENANT), Some(&tag), Some(key), &other).await;
    assert_eq!(status, 422, "{body}");
}

/// The `cases` queue as `token` of `tenant` sees it.
async fn cases_queue(app: &TestApp, token: &str, tenant: &str) -> Value {
    let (status, q) = app.get("/v1/admin/queues", app.auth(token, tenant)).await;
    assert_eq!(status, 200, "{q}");
    q["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue_id"] == "cases")
        .cloned()
        .unwrap()
}

/// The `sla.customer_reply` alert, if raised.
async fn reply_alert(app: &TestApp, token: &str) -> Option<Value> {
    let (status, alerts) = app.get("/v1/admin/alerts", app.auth(token, TENANT)).await;
    assert_eq!(status, 200, "{alerts}");
    alerts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "sla.customer_reply")
        .cloned()
}

#[tokio::test]
async fn the_tenants_slas_judge_its_queues_and_alerts() {
    let app = app().await;
    let admin = app.agent_token(TENANT, "agt_set", &["admin"]);
    let ops = app.agent_token(TENANT, "agt_ops", &["cs_agent"]);
    let current = read(&app, &admin, TENANT).await;
    assert_eq!(
        current["settings"]["sla_minutes"],
        json!({"queues": {"fraud_review": 240, "cancel_review": 60, "cases": 480, "tasks": 1440},
               "alerts": {"cancel_review": 60, "customer_reply": 240}}),
        "today's values are the defaults"
    );

    // a customer's message unanswered for 3 hours: within the default SLAs
    let order = app.order_in("confirmed").clone();
    let customer = app.customer_token(TENANT, &order.customer_id);
    let (status, sent) = app
        .post_as(
            &customer,
            TENANT,
            &format!("/v1/customer/orders/{}/messages", order.id),
            None,
            None,
            json!({"body": "Anyone there?"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    sqlx::query(
        "UPDATE support_cases SET last_message_at = now() - interval '3 hours' WHERE id = $1",
    )
    .bind(sent["case"]["id"].as_str().unwrap())
    .execute(&app.state.db)
    .await
    .unwrap();
    let before = cases_queue(&app, &ops, TENANT).await;
    assert_eq!(before["sla_minutes"], 480);
    assert_eq!(before["count"], 1, "{before}");
    assert_eq!(before["sla_breaches"], 0);
    assert!(reply_alert(&app, &ops).await.is_none());

    // tighter SLAs turn the same wait into a breach and an alert
    let tag = current["etag"].as_str().unwrap();
    let change =
        json!({"sla_minutes": {"queues": {"cases": 120}, "alerts": {"customer_reply": 90}}});
    let (status, changed) = patch(&app, (&admin, TENANT), Some(tag), Some("sla-1"), &change).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["settings"]["sla_minutes"]["queues"],
        json!({"fraud_review": 240, "cancel_review": 60, "cases": 120, "tasks": 1440})
    );
    let (status, replay) = patch(&app, (&admin, TENANT), Some(tag), Some("sla-1"), &change).await;
    assert_eq!((status, &replay), (200, &changed));
    let after = cases_queue(&app, &ops, TENANT).await;
    assert_eq!(
        (&after["sla_minutes"], &after["sla_breaches"]),
        (&json!(120), &json!(1))
    );
    let alert = reply_alert(&app, &ops)
        .await
        .expect("the reply SLA is breached");
    assert_eq!(
        (&alert["count"], &alert["message"]),
        (
            &json!(1),
            &json!("1 cases waiting for an answer over 90 minutes")
        )
    );
    // another tenant keeps its own
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    assert_eq!(
        cases_queue(&app, &foreign, OTHER_TENANT).await["sla_minutes"],
        480
    );

    // out of range, unknown or mistyped: 422 naming the member, nothing changes
    let tag = changed["etag"].as_str().unwrap();
    for (bad, field) in [
        (
            json!({"sla_minutes": {"queues": {"cases": 0}}}),
            "sla_minutes.queues.cases",
        ),
        (
            json!({"sla_minutes": {"alerts": {"customer_reply": 43_201}}}),
            "sla_minutes.alerts.customer_reply",
        ),
        (
            json!({"sla_minutes": {"queues": {"returns": 5}}}),
            "sla_minutes.queues.returns",
        ),
        (
            json!({"sla_minutes": {"queues": {"cases": "soon"}}}),
            "body",
        ),
    ] {
        let (status, body) = patch(&app, (&admin, TENANT), Some(tag), None, &bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation.failed")),
            "{bad}: {body}"
        );
        assert!(body.to_string().contains(field), "{field} named: {body}");
    }
    let res = app
        .http
        .patch(format!("{}{PATH}", app.api))
        .header("x-tenant-id", TENANT)
        .header("if-match", tag)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"sla_minutes": {"queues": {"cases": 5}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(cases_queue(&app, &ops, TENANT).await["sla_minutes"], 120);

    // null puts the default back: no breach again
    let reset = json!({"sla_minutes": {"queues": {"cases": null}}});
    let (status, reset) = patch(&app, (&admin, TENANT), Some(tag), None, &reset).await;
    assert_eq!(status, 200, "{reset}");
    let again = cases_queue(&app, &ops, TENANT).await;
    assert_eq!(
        (&again["sla_minutes"], &again["sla_breaches"]),
        (&json!(480), &json!(0))
    );
}

/// `allowed_actions.reorder` of a customer's read of `order`.
async fn reorder_verdict(app: &TestApp, order: &orderdesk::domain::order::Order) -> Value {
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}", order.id);
    let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    body["allowed_actions"]["reorder"].clone()
}

#[tokio::test]
async fn an_order_read_right_after_a_change_answers_by_the_new_settings() {
    let app = app().await;
    let order = app.orders[0].clone();
    // the read caches the tenant's settings
    assert_eq!(reorder_verdict(&app, &order).await["allowed"], true);

    let admin = app.agent_token(TENANT, "agt_set", &["admin"]);
    let etag = read(&app, &admin, TENANT).await["etag"].clone();
    let off = json!({"capabilities": {"reorder_enabled": false}});
    let (status, body) = patch(&app, (&admin, TENANT), etag.as_str(), None, &off).await;
    assert_eq!(status, 200, "{body}");

    let verdict = reorder_verdict(&app, &order).await;
    assert_eq!(verdict["allowed"], false, "{verdict}");
    assert_eq!(verdict["reason"]["code"], "reorder.disabled", "{verdict}");
}

/// Polls `cache` until `tenant`'s return window is `days` (10 s at most).
async fn until_window(cache: &SettingsCache, app: &TestApp, tenant: &TenantId, days: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let seen = cache.get(&app.state.db, tenant).await.unwrap();
        if seen.return_window_days == days {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cache still holds a return window of {} days, not {days}",
            seen.return_window_days
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Sets `tenant`'s return window to `days` in a committed transaction, as any process would.
async fn set_window(app: &TestApp, tenant: &TenantId, days: i64) {
    let mut tx = app.state.db.begin().await.unwrap();
    let mut s = db::tenants::settings(&mut tx, tenant).await.unwrap();
    s.return_window_days = days;
    db::tenants::set_settings(&mut tx, tenant, &s)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_change_reaches_the_cache_of_every_process_long_before_its_entries_expire() {
    let app = app().await;
    let tenant = TenantId::new(TENANT);
    let stop = tokio_util::sync::CancellationToken::new();
    // two processes' caches, whose entries would outlive the test by far
    let caches: Vec<Arc<SettingsCache>> = (0..2)
        .map(|_| Arc::new(SettingsCache::with_ttl(Duration::from_secs(3600))))
        .collect();
    for cache in &caches {
        let (watched, db, stop) = (cache.clone(), app.state.db.clone(), stop.clone());
        tokio::spawn(async move { watched.watch(&db, stop).await });
        cache.get(&app.state.db, &tenant).await.unwrap();
    }
    // the first change is seen once each cache listens (it drops everything as it starts)
    set_window(&app, &tenant, 21).await;
    for cache in &caches {
        until_window(cache, &app, &tenant, 21).await;
    }
    // both listen now: only the notification of the second change can drop their entries
    set_window(&app, &tenant, 45).await;
    for cache in &caches {
        until_window(cache, &app, &tenant, 45).await;
    }
    stop.cancel();
}
