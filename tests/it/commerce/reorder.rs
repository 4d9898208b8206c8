//! `POST /v1/customer/orders/{id}/reorder`: plan, cart, reasons, idempotency, isolation.

use std::collections::BTreeSet;

use orderdesk::domain::order::Order;
use orderdesk::domain::settings::TenantSettings;
use reqwest::Method;
use serde_json::{Value, json};

use super::{count, post, post_anonymous, sandbox, stranger};
use crate::helpers::{self, OTHER_TENANT, Options, TENANT, TestApp};

fn path(order: &Order) -> String {
    format!("/v1/customer/orders/{}/reorder", order.id)
}

fn distinct_skus(o: &Order) -> Vec<String> {
    let set: BTreeSet<_> = o.lines.iter().map(|l| l.sku.clone()).collect();
    set.into_iter().collect()
}

/// Reprices `skus[0]` (+100), discontinues `skus[1]` and sells out `skus[2]` of the order.
async fn change_the_shop(app: &TestApp, order: &Order, skus: &[String]) {
    let cur = &order.currency;
    let old = order
        .lines
        .iter()
        .find(|l| l.sku == skus[0])
        .unwrap()
        .unit_price_minor;
    let (s, b) = sandbox(
        app,
        Method::PUT,
        &format!("/sandbox/catalog/{}", skus[0]),
        Some(&json!({"currency": cur, "price_minor": old + 100})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = sandbox(
        app,
        Method::PUT,
        &format!("/sandbox/catalog/{}", skus[1]),
        Some(&json!({"currency": cur, "discontinued": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, stock) = sandbox(
        app,
        Method::GET,
        &format!("/inventory/v1/stock/{}", skus[2]),
        None,
    )
    .await;
    let on_hand = stock["on_hand"].as_i64().unwrap();
    let drain = json!({"order_id": "drain", "lines": [{"sku": skus[2], "qty": on_hand}]});
    let (s, b) = sandbox(
        app,
        Method::POST,
        "/inventory/v1/reservations",
        Some(&drain),
    )
    .await;
    assert_eq!(s, 201, "{b}");
}

fn reasons(v: &Value) -> BTreeSet<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["sku"].as_str().unwrap().to_string(),
                u["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn reorder_plans_then_creates_a_cart_at_todays_prices() {
    let app = helpers::spawn().await;
    let order = app
        .orders
        .iter()
        .find(|o| distinct_skus(o).len() >= 3 && o.lines.len() == distinct_skus(o).len())
        .expect("a seeded order with three different SKUs")
        .clone();
    let skus = distinct_skus(&order);
    change_the_shop(&app, &order, &skus).await;
    let token = app.customer_token(TENANT, &order.customer_id);
    let expected_out: BTreeSet<_> = [
        (skus[1].clone(), "reorder.discontinued".to_string()),
        (skus[2].clone(), "reorder.out_of_stock".to_string()),
    ]
    .into();

    let (s, _, dry) = post(
        &app,
        &token,
        TENANT,
        &path(&order),
        None,
        None,
        &json!({"dry_run": true}),
    )
    .await;
    assert_eq!(s, 200, "{dry}");
    assert_eq!(reasons(&dry["plan"]["unavailable"]), expected_out);
    let repriced = dry["plan"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == skus[0].as_str())
        .unwrap();
    assert_eq!(repriced["price_change_minor"], 100, "{repriced}");
    assert_eq!(dry["steps"], json!(["plan", "create_cart"]));
    assert_eq!(
        (count(&app, "runs").await, count(&app, "requests").await),
        (0, 0)
    );
    assert!(
        app.effects(TENANT, &order.id).await.is_empty(),
        "a dry run changes nothing"
    );

    let (s, h, body) = post(
        &app,
        &token,
        TENANT,
        &path(&order),
        Some("k-re-1"),
        Some("wait=20"),
        &json!({}),
    )
    .await;
    assert_eq!(s, 200, "Prefer: wait gives the cart in one call: {body}");
    let request_id = body["request_id"].as_str().unwrap();
    assert_eq!(
        h["location"],
        format!("/v1/customer/requests/{request_id}").as_str()
    );
    let job = &body["job"];
    assert_eq!(
        (job["kind"].as_str(), job["status"].as_str()),
        (Some("reorder"), Some("succeeded")),
        "{body}"
    );
    let result = &job["result"];
    assert_eq!(
        result["lines"], dry["plan"]["lines"],
        "the cart holds what the plan said"
    );
    assert_eq!(reasons(&result["unavailable"]), expected_out);
    let out_of_stock = result["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["sku"] == skus[2].as_str())
        .unwrap();
    assert_eq!(
        (
            out_of_stock["reason"].as_str(),
            out_of_stock["available_qty"].as_i64()
        ),
        (Some("out_of_stock"), Some(0))
    );

    let cart_id = result["cart_id"].as_str().unwrap();
    let (s, cart) = sandbox(
        &app,
        Method::GET,
        &format!("/orders/v1/carts/{cart_id}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{cart}");
    assert_eq!(cart["customer_id"], order.customer_id.as_str());
    assert_eq!(
        cart["lines"].as_array().unwrap().len(),
        result["lines"].as_array().unwrap().len()
    );
    assert_eq!(cart["subtotal_minor"], result["subtotal_minor"]);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "cart.create").await,
        1
    );

    let (s, req) = app
        .get(
            &format!("/v1/customer/requests/{request_id}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        (s, req["kind"].as_str(), req["status"].as_str()),
        (200, Some("reorder"), Some("succeeded")),
        "{req}"
    );
    assert_eq!(req["job"]["result"]["cart_id"], cart_id);
}

#[tokio::test]
async fn reorder_replays_a_key_and_validates_lines() {
    let app = helpers::spawn().await;
    let order = app
        .orders
        .iter()
        .find(|o| o.lines.len() >= 2)
        .unwrap()
        .clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let p = path(&order);
    let (s1, h1, b1) = post(&app, &token, TENANT, &p, Some("k-r"), None, &json!({})).await;
    let (s2, h2, b2) = post(&app, &token, TENANT, &p, Some("k-r"), None, &json!({})).await;
    assert_eq!((s1, s2), (202, 202), "{b1}");
    assert_eq!(b1, b2);
    assert!(h1.get("idempotent-replayed").is_none());
    assert_eq!(h2["idempotent-replayed"], "true");
    let other_body = json!({"lines": [order.lines[0].id]});
    let (s3, _, b3) = post(&app, &token, TENANT, &p, Some("k-r"), None, &other_body).await;
    assert_eq!(
        (s3, b3["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
    let job = app.wait_job(b1["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "cart.create").await,
        1,
        "one cart for one key"
    );

    // once the first reorder ended, another (of one line) may start
    let (s, _, b) = post(
        &app,
        &token,
        TENANT,
        &p,
        Some("k-r2"),
        Some("wait=20"),
        &other_body,
    )
    .await;
    assert_eq!(
        (s, b["job"]["status"].as_str()),
        (200, Some("succeeded")),
        "{b}"
    );
    let added = b["job"]["result"]["lines"].as_array().unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["line_id"], order.lines[0].id.as_str());

    let l0 = order.lines[0].id.as_str();
    for (body, fields) in [
        (json!({"lines": []}), vec!["lines"]),
        (
            json!({"lines": ["nope", l0, l0]}),
            vec!["lines[0]", "lines[2]"],
        ),
        (json!({"lines": "all"}), vec!["lines"]),
        (json!({"cart": true}), vec!["body"]),
    ] {
        let (s, _, b) = post(&app, &token, TENANT, &p, Some("k-bad"), None, &body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (422, Some("validation.failed")),
            "{body}: {b}"
        );
        let got: Vec<_> = b["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect();
        if fields != ["body"] {
            assert_eq!(got, fields, "{b}");
        }
    }
}

#[tokio::test]
async fn too_many_line_ids_are_refused_at_once_with_one_error() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.orders[0].clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    // within the 256 KiB body limit: 37,000 distinct ids of 3 characters, or one repeated
    let digit = |n: usize| char::from_digit((n % 36) as u32, 36).unwrap();
    let distinct: Vec<Value> = (0..37_000)
        .map(|i| json!(format!("{}{}{}", digit(i / 1296), digit(i / 36), digit(i))))
        .collect();
    for lines in [distinct, vec![json!("a"); 37_000]] {
        let body = json!({ "dry_run": true, "lines": lines });
        let (s, _, b) = post(&app, &token, TENANT, &path(&order), None, None, &body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (422, Some("validation.failed")),
            "{b}"
        );
        let errors = b["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "one error, not one per id");
        assert_eq!(errors[0]["field"], "lines");
        assert!(b.to_string().len() < 1_000, "{} bytes", b.to_string().len());
    }
}

#[tokio::test]
async fn nothing_available_ends_the_job_with_every_reason() {
    let app = helpers::spawn().await;
    let order = app.order_in("delivered").clone();
    for sku in distinct_skus(&order) {
        let body = json!({"currency": order.currency, "discontinued": true});
        sandbox(
            &app,
            Method::PUT,
            &format!("/sandbox/catalog/{sku}"),
            Some(&body),
        )
        .await;
    }
    let token = app.customer_token(TENANT, &order.customer_id);
    let (s, _, b) = post(
        &app,
        &token,
        TENANT,
        &path(&order),
        None,
        Some("wait=20"),
        &json!({}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let job = &b["job"];
    assert_eq!(job["status"], "compensated", "{b}");
    assert_eq!(job["error"]["code"], "reorder.nothing_available");
    assert_eq!(
        job["error"]["unavailable"].as_array().unwrap().len(),
        order.lines.len()
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "cart.create").await,
        0
    );
}

#[tokio::test]
async fn reorder_is_refused_to_strangers_and_when_disabled() {
    let settings = TenantSettings {
        capabilities: orderdesk::domain::settings::Capabilities {
            reorder_enabled: false,
            ..Default::default()
        },
        ..orderdesk::seed::demo_settings()
    };
    let app = helpers::spawn_with(Options {
        workers: 0,
        settings,
        ..Default::default()
    })
    .await;
    let order = app.order_in("delivered").clone();
    let (s, b) = post_anonymous(&app, &path(&order), &json!({})).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("auth.missing_token")));
    let other = app.customer_token(TENANT, stranger(&app, &order));
    let (s, _, b) = post(
        &app,
        &other,
        TENANT,
        &path(&order),
        Some("k"),
        None,
        &json!({}),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("order.not_found")));
    let foreign = app.customer_token(OTHER_TENANT, &order.customer_id);
    let (s, _, _) = post(
        &app,
        &foreign,
        OTHER_TENANT,
        &path(&order),
        Some("k"),
        None,
        &json!({}),
    )
    .await;
    assert_eq!(s, 404);
    let token = app.customer_token(TENANT, &order.customer_id);
    for body in [json!({}), json!({"dry_run": true})] {
        let (s, _, b) = post(&app, &token, TENANT, &path(&order), None, None, &body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (409, Some("reorder.disabled")),
            "{b}"
        );
    }
    assert_eq!(count(&app, "runs").await, 0);
}
