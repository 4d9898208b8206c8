//! `POST /v1/customer/orders/{id}/update-address`: the change at Orders and Fulfillment,
//! validation, eligibility (shipment, window), the race with shipping, idempotency.

use chrono::Utc;
use orderdesk::domain::eligibility::allowed_actions;
use orderdesk::domain::ids::OrderId;
use orderdesk::domain::order::Order;
use orderdesk::domain::settings::TenantSettings;
use reqwest::Method;
use serde_json::{Value, json};

use super::{count, post, post_anonymous, sandbox, stranger};
use crate::helpers::{self, OTHER_TENANT, Options, TENANT, TestApp};

fn path(order: &Order) -> String {
    format!("/v1/customer/orders/{}/update-address", order.id)
}

/// Demo settings with an address-change window wide enough for the (old) seeded orders.
fn open_window() -> TenantSettings {
    TenantSettings {
        address_change_window_minutes: 60 * 24 * 365 * 10,
        ..orderdesk::seed::demo_settings()
    }
}

async fn spawn(workers: usize, settings: TenantSettings) -> TestApp {
    helpers::spawn_with(Options {
        workers,
        settings,
        ..Default::default()
    })
    .await
}

fn new_address() -> Value {
    json!({"address": {"name": "Ada Lovelace", "line1": "12 Keizersgracht", "line2": "",
        "city": "Amsterdam", "postal_code": "1015cj", "country": "nl"}})
}

async fn sandbox_order(app: &TestApp, id: &OrderId) -> Value {
    sandbox(app, Method::GET, &format!("/sandbox/orders/{id}"), None)
        .await
        .1
}

/// The code `allowed_actions.update_address` gives for `order` under `settings`.
fn allowed_actions_code(order: &Order, settings: &TenantSettings) -> String {
    let verdicts = allowed_actions(order, settings, Utc::now());
    verdicts["update_address"]
        .reason
        .as_ref()
        .expect("refused")
        .code
        .clone()
}

#[tokio::test]
async fn changes_the_address_at_orders_and_fulfillment_then_again() {
    let app = spawn(1, open_window()).await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (s, h, b) = post(
        &app,
        &token,
        TENANT,
        &path(&order),
        Some("k-a1"),
        Some("wait=20"),
        &new_address(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        h["location"]
            .to_str()
            .unwrap()
            .starts_with("/v1/customer/requests/")
    );
    assert_eq!(
        (b["job"]["kind"].as_str(), b["job"]["status"].as_str()),
        (Some("update_address"), Some("succeeded")),
        "{b}"
    );
    let stored = json!({"name": "Ada Lovelace", "line1": "12 Keizersgracht", "line2": null,
        "city": "Amsterdam", "postal_code": "1015 CJ", "country": "NL"});
    assert_eq!(b["job"]["result"]["address"], stored);

    let upstream = sandbox_order(&app, &order.id).await;
    assert_eq!(upstream["shipping_address"], stored);
    assert_eq!(upstream["version"], json!(order.version + 1));
    let (_, at_fulfillment) = sandbox(
        &app,
        Method::GET,
        &format!("/fulfillment/v1/orders/{}/address", order.id),
        None,
    )
    .await;
    assert_eq!(at_fulfillment["address"], stored);
    for kind in [
        "order.address_update",
        "fulfillment.address_update",
        "notification.send",
    ] {
        assert_eq!(
            app.effects_of_kind(TENANT, &order.id, kind).await,
            1,
            "{kind}"
        );
    }
    let (_, view) = app
        .get(
            &format!("/v1/customer/orders/{}", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        view["shipping_address"], stored,
        "the read model was refreshed"
    );

    let auditor = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let (_, audit) = app
        .get(
            &format!("/v1/admin/orders/{}/audit", order.id),
            app.auth(&auditor, TENANT),
        )
        .await;
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "order.address_change_requested"),
        "{audit}"
    );

    // the first change ended, so a second one may start
    let mut again = new_address();
    again["address"]["line1"] = json!("14 Keizersgracht");
    let (s, _, b) = post(
        &app,
        &token,
        TENANT,
        &path(&order),
        Some("k-a2"),
        Some("wait=20"),
        &again,
    )
    .await;
    assert_eq!(
        (s, b["job"]["status"].as_str()),
        (200, Some("succeeded")),
        "{b}"
    );
    assert_eq!(
        sandbox_order(&app, &order.id).await["shipping_address"]["line1"],
        "14 Keizersgracht"
    );
}

#[tokio::test]
async fn validates_every_field_and_dry_runs_change_nothing() {
    let app = spawn(0, open_window()).await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let bad = json!({"address": {"name": " ", "line1": "x".repeat(101), "city": "Berlin",
        "postal_code": "1234", "country": "DE"}});
    let (s, _, b) = post(&app, &token, TENANT, &path(&order), None, None, &bad).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("validation.failed")),
        "{b}"
    );
    let fields: Vec<_> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["address.name", "address.line1", "address.postal_code"]
    );
    let (s, _, b) = post(
        &app,
        &token,
        TENANT,
        &path(&order),
        None,
        None,
        &json!({"address": {"country": "XX"}}),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(
        b["errors"].as_array().unwrap().len(),
        5,
        "name, line1, city, country, postal_code: {b}"
    );
    for body in [
        json!({}),
        json!({"address": {"street": "x"}}),
        json!({"address": new_address()["address"], "why": 1}),
    ] {
        let (s, _, b) = post(&app, &token, TENANT, &path(&order), None, None, &body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (422, Some("validation.failed")),
            "{body}: {b}"
        );
    }

    let mut dry = new_address();
    dry["dry_run"] = json!(true);
    let (s, _, b) = post(&app, &token, TENANT, &path(&order), None, None, &dry).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["address"]["postal_code"], "1015 CJ");
    assert_eq!(b["current_address"], json!(order.shipping_address));
    assert_eq!(
        b["steps"],
        json!([
            "update_at_orders",
            "update_at_fulfillment",
            "notify_customer"
        ])
    );
    assert_eq!(
        (count(&app, "runs").await, count(&app, "requests").await),
        (0, 0)
    );
    assert!(app.effects(TENANT, &order.id).await.is_empty());
}

#[tokio::test]
async fn shipped_orders_and_closed_windows_are_refused_with_the_allowed_actions_code() {
    let app = spawn(0, open_window()).await;
    for status in ["shipped", "delivered", "partially_shipped"] {
        let order = app.order_in(status).clone();
        let token = app.customer_token(TENANT, &order.customer_id);
        let (s, _, b) = post(
            &app,
            &token,
            TENANT,
            &path(&order),
            None,
            None,
            &new_address(),
        )
        .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (409, Some("address.already_shipped")),
            "{status}: {b}"
        );
        assert_eq!(
            b["code"],
            allowed_actions_code(&order, &open_window()).as_str()
        );
    }

    let closed = spawn(0, orderdesk::seed::demo_settings()).await;
    let order = closed.order_in("confirmed").clone();
    let token = closed.customer_token(TENANT, &order.customer_id);
    let mut dry = new_address();
    dry["dry_run"] = json!(true);
    for body in [new_address(), dry] {
        let (s, _, b) = post(
            &closed,
            &token,
            TENANT,
            &path(&order),
            Some("k-w"),
            None,
            &body,
        )
        .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (409, Some("address.change_window_expired")),
            "{b}"
        );
        assert_eq!(
            b["code"],
            allowed_actions_code(&order, &orderdesk::seed::demo_settings()).as_str()
        );
    }
    assert_eq!(count(&closed, "runs").await, 0);
}

/// A change accepted just before the window closed, its answer lost: the retry under the
/// same key after the window closed is answered the saved 202, not refused (the window is
/// judged once the key is claimed); a new key is refused.
#[tokio::test]
async fn a_retry_after_the_window_closed_is_answered_what_was_accepted() {
    let app = spawn(0, open_window()).await;
    let order = app.order_in("pending").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let p = path(&order);
    let (s1, _, b1) = post(
        &app,
        &token,
        TENANT,
        &p,
        Some("k-late"),
        None,
        &new_address(),
    )
    .await;
    assert_eq!(s1, 202, "{b1}");
    sqlx::query(
        "UPDATE tenants SET settings = jsonb_set(settings, '{address_change_window_minutes}', '0')
         WHERE id = $1",
    )
    .bind(TENANT)
    .execute(&app.state.db)
    .await
    .unwrap();
    let (s2, h2, b2) = post(
        &app,
        &token,
        TENANT,
        &p,
        Some("k-late"),
        None,
        &new_address(),
    )
    .await;
    assert_eq!(s2, 202, "{b2}");
    assert_eq!(h2["idempotent-replayed"], "true");
    assert_eq!(b2, b1);
    let (s3, _, b3) = post(
        &app,
        &token,
        TENANT,
        &p,
        Some("k-new"),
        None,
        &new_address(),
    )
    .await;
    assert_eq!(
        (s3, b3["code"].as_str()),
        (409, Some("address.change_window_expired")),
        "{b3}"
    );
    assert_eq!(count(&app, "runs").await, 1);
}

#[tokio::test]
async fn an_order_that_ships_before_the_job_runs_keeps_its_address() {
    let mut app = spawn(0, open_window()).await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (s, _, b) = post(
        &app,
        &token,
        TENANT,
        &path(&order),
        Some("k-race"),
        None,
        &new_address(),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let (s, shipped) = sandbox(
        &app,
        Method::POST,
        &format!("/sandbox/orders/{}/ship", order.id),
        Some(&json!({})),
    )
    .await;
    assert_eq!((s, shipped["status"].as_str()), (200, Some("shipped")));
    app.start_worker();
    let job = app.wait_job(b["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "compensated", "{job}");
    assert_eq!(job["error"]["code"], "address.already_shipped");
    assert_eq!(job["error"]["upstream_code"], "order.address_locked");
    assert_eq!(
        sandbox_order(&app, &order.id).await["shipping_address"],
        json!(order.shipping_address)
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "order.address_update")
            .await,
        0
    );
    let (_, req) = app
        .get(
            &format!(
                "/v1/customer/requests/{}",
                b["request_id"].as_str().unwrap()
            ),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(req["status"], "compensated");
}

#[tokio::test]
async fn a_refusal_at_fulfillment_puts_the_old_address_back_at_orders() {
    let app = spawn(1, open_window()).await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    app.set_faults(json!({"service": "fulfillment", "error_rate": 1.0, "error_status": 409}))
        .await;
    let (s, _, b) = post(
        &app,
        &token,
        TENANT,
        &path(&order),
        Some("k-ff"),
        Some("wait=20"),
        &new_address(),
    )
    .await;
    app.clear_faults().await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (
            b["job"]["status"].as_str(),
            b["job"]["error"]["code"].as_str()
        ),
        (Some("compensated"), Some("address.already_shipped")),
        "{b}"
    );
    let upstream = sandbox_order(&app, &order.id).await;
    assert_eq!(
        upstream["shipping_address"],
        json!(order.shipping_address),
        "never half applied"
    );
    assert_eq!(
        upstream["version"],
        json!(order.version + 2),
        "changed, then reverted"
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "order.address_update")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "order.address_revert")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "fulfillment.address_update")
            .await,
        0
    );
    let (_, view) = app
        .get(
            &format!("/v1/customer/orders/{}", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(view["shipping_address"], json!(order.shipping_address));
}

#[tokio::test]
async fn replays_a_key_and_hides_other_customers_orders() {
    let app = spawn(0, open_window()).await;
    let order = app.order_in("pending").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let p = path(&order);
    let (s1, _, b1) = post(
        &app,
        &token,
        TENANT,
        &p,
        Some("k-rep"),
        None,
        &new_address(),
    )
    .await;
    let (s2, h2, b2) = post(
        &app,
        &token,
        TENANT,
        &p,
        Some("k-rep"),
        None,
        &new_address(),
    )
    .await;
    assert_eq!((s1, s2), (202, 202), "{b1}");
    assert_eq!(
        (b1.clone(), h2["idempotent-replayed"].to_str().unwrap()),
        (b2, "true")
    );
    let mut other = new_address();
    other["address"]["city"] = json!("Utrecht");
    let (s, _, b) = post(&app, &token, TENANT, &p, Some("k-rep"), None, &other).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
    let (s, _, b) = post(&app, &token, TENANT, &p, Some("k-rep2"), None, &other).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("request.already_open")),
        "one change at a time: {b}"
    );
    assert_eq!(count(&app, "runs").await, 1);

    let (s, _) = post_anonymous(&app, &p, &new_address()).await;
    assert_eq!(s, 401);
    let other_customer = app.customer_token(TENANT, stranger(&app, &order));
    let (s, _, b) = post(
        &app,
        &other_customer,
        TENANT,
        &p,
        None,
        None,
        &new_address(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("order.not_found")));
    let foreign = app.customer_token(OTHER_TENANT, &order.customer_id);
    let (s, _, _) = post(&app, &foreign, OTHER_TENANT, &p, None, None, &new_address()).await;
    assert_eq!(s, 404);
}
