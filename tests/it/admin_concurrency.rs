//! Optimistic concurrency on orders: the `ETag` of the order reads and the preconditions of
//! edits (`If-Match` → 412, body `version` → 409) judged at acceptance and again at the
//! Orders service; the settings' `If-Match` through the same extractor.

use orderdesk::db;
use orderdesk::domain::ids::TenantId;
use orderdesk::domain::order::Order;
use orderdesk::domain::settings::TenantSettings;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, Options, TENANT, TestApp};

fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// POSTs `body` to `path` as `token` of `tenant` with the headers given: status and body.
async fn post(
    app: &TestApp,
    (token, tenant): (&str, &str),
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Value) {
    let mut h = app.auth(token, tenant);
    for (name, value) in headers {
        h.append(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let res = app.post(path, h, &body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn hold_path(order: &Order, action: &str) -> String {
    format!("/v1/admin/orders/{}/{action}", order.id)
}

/// The order's version in the read model now.
async fn version_now(app: &TestApp, order: &Order) -> i64 {
    app.admin_view(order.id.as_str()).await["order"]["version"]
        .as_i64()
        .unwrap()
}

async fn viewed_count(app: &TestApp, order: &Order) -> usize {
    let mut conn = app.state.db.acquire().await.unwrap();
    let tenant = TenantId::new(TENANT);
    let id = order.id.as_str();
    db::audit::list_for_subject(&mut conn, &tenant, "order", id, 0, 100)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "order.viewed")
        .count()
}

#[tokio::test]
async fn order_reads_carry_the_version_as_etag() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let agent = app.agent_token(TENANT, "agt_ro", &["cs_agent"]);
    let url = format!("{}/v1/admin/orders/{}", app.api, order.id);
    let read = |inm: Option<&str>| {
        let mut req = app.http.get(&url).headers(app.auth(&agent, TENANT));
        if let Some(tag) = inm {
            req = req.header("if-none-match", tag);
        }
        req.send()
    };

    let res = read(None).await.unwrap();
    assert_eq!(res.status(), 200);
    let tag = res.headers()["etag"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(tag, etag(body["order"]["version"].as_i64().unwrap()));
    assert_eq!(tag, etag(order.version));

    // no 304: the answer holds more than the order document its tag versions
    let res = read(Some(&tag)).await.unwrap();
    assert_eq!(res.status(), 200, "If-None-Match is not answered with 304");
    assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);
    assert!(
        viewed_count(&app, &order).await >= 2,
        "every read is audited"
    );

    // another tenant's agent learns nothing
    let globex = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let res = app
        .http
        .get(&url)
        .headers(app.auth(&globex, OTHER_TENANT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let customer = app.customer_token(TENANT, &order.customer_id);
    let res = app
        .http
        .get(format!("{}/v1/customer/orders/{}", app.api, order.id))
        .headers(app.auth(&customer, TENANT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"], json!(order.version));
}

#[tokio::test]
async fn a_current_precondition_is_accepted_and_a_stale_one_answers_the_current_order() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let agent = app.agent_token(TENANT, "agt_occ", &["cs_agent"]);
    let who = (agent.as_str(), TENANT);
    let first = etag(order.version);
    let hold = json!({"reason": "address check"});

    let (status, body) = post(
        &app,
        who,
        &hold_path(&order, "hold"),
        &[("idempotency-key", "h-1"), ("if-match", &first)],
        hold.clone(),
    )
    .await;
    app.job_succeeded((status, body)).await;
    let now = version_now(&app, &order).await;
    assert!(now > order.version, "the hold moved the order on");

    let release = json!({"resolution": "checked"});
    let (status, stale) = post(
        &app,
        who,
        &hold_path(&order, "release"),
        &[("idempotency-key", "r-1"), ("if-match", &first)],
        release.clone(),
    )
    .await;
    assert_eq!(status, 412, "{stale}");
    assert_eq!(stale["code"], "order.version_mismatch");
    assert_eq!(stale["current_version"], json!(now));
    assert_eq!(stale["etag"], etag(now).as_str());
    assert_eq!(stale["order"]["id"], order.id.as_str());
    assert_eq!(stale["order"]["status"], "on_hold");
    assert_eq!(
        stale["order"]["email"],
        order.email.as_str(),
        "the admin view"
    );

    let mut old_body = release.clone();
    old_body["version"] = json!(order.version);
    let (status, conflict) = post(
        &app,
        who,
        &hold_path(&order, "release"),
        &[("idempotency-key", "r-2")],
        old_body,
    )
    .await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["code"], "order.version_mismatch");
    assert_eq!(conflict["current_version"], json!(now));
    assert_eq!(conflict["order"]["status"], "on_hold");

    for (bad, code) in [
        ("3", "precondition.if_match_malformed"),
        ("\"3", "precondition.if_match_malformed"),
    ] {
        let (status, body) = post(
            &app,
            who,
            &hold_path(&order, "release"),
            &[("idempotency-key", "r-3"), ("if-match", bad)],
            release.clone(),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{bad}");
    }
    let mut negative = release.clone();
    negative["version"] = json!(-1);
    let (status, body) = post(
        &app,
        who,
        &hold_path(&order, "release"),
        &[("idempotency-key", "r-4")],
        negative,
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("version"))
    );

    // nothing was accepted above: the hold is still open, and `*` releases it
    let (status, body) = post(
        &app,
        who,
        &hold_path(&order, "release"),
        &[("idempotency-key", "r-5"), ("if-match", "*")],
        release,
    )
    .await;
    app.job_succeeded((status, body)).await;
    assert_eq!(
        app.admin_view(order.id.as_str()).await["order"]["status"],
        "confirmed"
    );
}

#[tokio::test]
async fn a_replay_under_the_same_key_answers_as_first_even_after_the_order_moved() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let agent = app.agent_token(TENANT, "agt_occ", &["cs_agent"]);
    let who = (agent.as_str(), TENANT);
    let tag = etag(order.version);
    let headers = [("idempotency-key", "h-1"), ("if-match", tag.as_str())];
    let hold = json!({"reason": "address check"});

    let first = post(
        &app,
        who,
        &hold_path(&order, "hold"),
        &headers,
        hold.clone(),
    )
    .await;
    let first = app.job_succeeded(first).await;
    assert!(version_now(&app, &order).await > order.version);

    let (status, replay) = post(
        &app,
        who,
        &hold_path(&order, "hold"),
        &headers,
        hold.clone(),
    )
    .await;
    assert_eq!(status, 202, "{replay}");
    assert_eq!(replay["job"]["id"], first["job"]["id"]);

    // under a new key the same precondition is stale
    let again = [("idempotency-key", "h-2"), ("if-match", tag.as_str())];
    let (status, body) = post(&app, who, &hold_path(&order, "hold"), &again, hold).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (412, Some("order.version_mismatch"))
    );
}

#[tokio::test]
async fn other_edits_take_the_precondition_and_another_tenant_gets_404_not_412() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let stale = etag(order.version + 1);
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let edits = [
        (
            "force-cancel",
            json!({"refund": false, "restock": false, "reason": "fraud"}),
        ),
        ("legal-hold", json!({"reason": "litigation"})),
        ("confirm", json!({})),
        ("approve-cancel", json!({})),
    ];
    for (action, body) in &edits {
        let (k1, k2, k3) = (
            format!("{action}-1"),
            format!("{action}-2"),
            format!("{action}-3"),
        );
        let headers = [
            ("idempotency-key", k1.as_str()),
            ("if-match", stale.as_str()),
            ("x-admin-auth-sudo", sudo.as_str()),
        ];
        let path = hold_path(&order, action);
        let (status, answer) = post(&app, (&lead, TENANT), &path, &headers, body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (412, Some("order.version_mismatch")),
            "{action}"
        );
        let mut versioned = body.clone();
        versioned["version"] = json!(order.version + 1);
        let headers = [
            ("idempotency-key", k2.as_str()),
            ("x-admin-auth-sudo", sudo.as_str()),
        ];
        let (status, answer) = post(&app, (&lead, TENANT), &path, &headers, versioned).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (409, Some("order.version_mismatch")),
            "{action}"
        );

        let globex = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
        let globex_sudo = app.sudo_token(OTHER_TENANT, "agt_g", &["admin"]);
        let headers = [
            ("idempotency-key", k3.as_str()),
            ("if-match", stale.as_str()),
            ("x-admin-auth-sudo", globex_sudo.as_str()),
        ];
        let (status, answer) =
            post(&app, (&globex, OTHER_TENANT), &path, &headers, body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (404, Some("order.not_found")),
            "{action}"
        );
    }
    let view = app.admin_view(order.id.as_str()).await;
    assert_eq!(view["order"]["status"], "confirmed");
    assert!(view["legal_hold"].is_null(), "{view}");
}

#[tokio::test]
async fn a_customers_stale_address_change_gets_the_customer_view_only() {
    let app = helpers::spawn_with(Options {
        settings: TenantSettings {
            address_change_window_minutes: 60 * 24 * 365 * 10,
            ..orderdesk::seed::demo_settings()
        },
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let who = (token.as_str(), TENANT);
    let path = format!("/v1/customer/orders/{}/update-address", order.id);
    let address = |line1: &str| {
        json!({"address": {"name": "Ada Lovelace", "line1": line1, "city": "Amsterdam",
                           "postal_code": "1015 CJ", "country": "NL"}})
    };
    let first = etag(order.version);
    let headers = [("if-match", first.as_str()), ("prefer", "wait=20")];
    let (status, done) = post(&app, who, &path, &headers, address("12 Keizersgracht")).await;
    assert_eq!(
        (status, done["job"]["status"].as_str()),
        (200, Some("succeeded")),
        "{done}"
    );
    let now = version_now(&app, &order).await;
    assert!(now > order.version);

    let (status, stale) = post(&app, who, &path, &headers, address("1 Dam")).await;
    assert_eq!(status, 412, "{stale}");
    assert_eq!(stale["code"], "order.version_mismatch");
    assert_eq!(stale["current_version"], json!(now));
    let current = &stale["order"];
    assert_eq!(current["version"], json!(now));
    assert_eq!(current["shipping_address"]["line1"], "12 Keizersgracht");
    for internal in [
        "email",
        "tenant_id",
        "customer_id",
        "payments",
        "notes",
        "risk",
        "fraud_state",
    ] {
        assert!(
            current.get(internal).is_none(),
            "{internal} shown to the customer: {current}"
        );
    }

    let mut old = address("1 Dam");
    old["version"] = json!(order.version);
    let (status, body) = post(&app, who, &path, &[], old).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.version_mismatch"))
    );

    // another customer's order is not theirs to learn the version of
    let other = app
        .orders
        .iter()
        .find(|o| o.customer_id != order.customer_id)
        .unwrap();
    let other_path = format!("/v1/customer/orders/{}/update-address", other.id);
    let (status, _) = post(&app, who, &other_path, &headers, address("1 Dam")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_orders_service_refuses_a_change_when_the_order_moved_after_acceptance() {
    let mut app = helpers::spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let confirmed: Vec<Order> = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .take(2)
        .cloned()
        .collect();
    let (guarded, unguarded) = (&confirmed[0], &confirmed[1]);
    let agent = app.agent_token(TENANT, "agt_occ", &["cs_agent"]);
    let who = (agent.as_str(), TENANT);
    let hold = json!({"reason": "address check"});
    let tag = etag(guarded.version);
    let headers = [("idempotency-key", "h-1"), ("if-match", tag.as_str())];
    let (status, a) = post(
        &app,
        who,
        &hold_path(guarded, "hold"),
        &headers,
        hold.clone(),
    )
    .await;
    assert_eq!(status, 202, "{a}");
    let headers = [("idempotency-key", "h-2")];
    let (status, b) = post(&app, who, &hold_path(unguarded, "hold"), &headers, hold).await;
    assert_eq!(status, 202, "{b}");

    // someone else changes both orders at the Orders service before the worker gets there
    for order in [guarded, unguarded] {
        let res = app
            .http
            .post(format!(
                "{}/orders/v1/orders/{}/fraud",
                app.sandbox, order.id
            ))
            .header("x-tenant-id", TENANT)
            .header("idempotency-key", format!("elsewhere-{}", order.id))
            .json(&json!({"state": "review", "reason": "elsewhere"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    app.start_worker();

    let job = app.wait_job(a["job"]["id"].as_str().unwrap(), 20).await;
    // a permanent failure: the steps done before it are compensated, none retried
    assert_eq!(
        (job["status"].as_str(), job["attempts"].as_i64()),
        (Some("compensated"), Some(1)),
        "{job}"
    );
    assert_eq!(job["error"]["code"], "order.version_mismatch", "{job}");
    assert_eq!(
        app.effects_of_kind(TENANT, &guarded.id, "order.hold").await,
        0
    );

    let job = app.wait_job(b["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "without a precondition: {job}");
    assert_eq!(
        app.effects_of_kind(TENANT, &unguarded.id, "order.hold")
            .await,
        1
    );
}

#[tokio::test]
async fn settings_take_if_match_through_the_same_extractor() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.agent_token(TENANT, "agt_set", &["admin"]);
    let (_, current) = app
        .get("/v1/admin/settings", app.auth(&admin, TENANT))
        .await;
    let tag = current["etag"].as_str().unwrap().to_string();
    let patch = |if_match: Option<&str>, days: i64| {
        let mut req = app
            .http
            .patch(format!("{}/v1/admin/settings", app.api))
            .headers(app.auth(&admin, TENANT))
            .header("content-type", "application/merge-patch+json")
            .body(json!({"return_window_days": days}).to_string());
        if let Some(t) = if_match {
            req = req.header("if-match", t);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = patch(None, 10).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (428, Some("settings.if_match_required"))
    );
    let (status, body) = patch(Some("no-quotes"), 10).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("precondition.if_match_malformed"))
    );
    let (status, body) = patch(Some(&format!("W/{tag}")), 10).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (412, Some("settings.stale")),
        "weak never matches"
    );
    let (status, body) = patch(Some(&format!("\"old\", {tag}")), 11).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = patch(Some("*"), 12).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["settings"]["return_window_days"], 12);
}
