//! Agents editing orders by quote: a quote prices staged JSON Patch operations; applying it
//! runs `edit_order` across Orders, Billing, Payments and Inventory (checked at the sandbox),
//! undone in reverse when a later step fails; the version, If-Match, expiry, auth, tenancy,
//! idempotency and dry-run rules; and the erasure reaching staged addresses.

use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};
use orderdesk::domain::order::Order;

fn quote_path(order_id: &str) -> String {
    format!("/v1/admin/orders/{order_id}/quote")
}

fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A confirmed order with at least two lines and nothing shipped.
fn editable_order(app: &TestApp) -> Order {
    app.orders
        .iter()
        .find(|o| o.status.as_str() == "confirmed" && o.lines.len() >= 2 && o.shipments.is_empty())
        .expect("a confirmed order with two lines")
        .clone()
}

/// A cs_lead (orders.edit and refunds) and their sudo token.
fn lead(app: &TestApp) -> (String, String) {
    (
        app.agent_token(TENANT, "agt_lead", &["cs_lead"]),
        app.sudo_token(TENANT, "agt_lead", &["cs_lead"]),
    )
}

/// The headers of an apply that moves money.
fn money<'a>(key: &'a str, tag: &'a str, sudo: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("idempotency-key", key),
        ("if-match", tag),
        ("x-admin-auth-sudo", sudo),
    ]
}

/// A request with `method`, as `token` of `tenant`, with the headers given.
async fn send(
    app: &TestApp,
    (method, path): (reqwest::Method, &str),
    (token, tenant): (&str, &str),
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.api))
        .headers(app.auth(token, tenant));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn post(
    app: &TestApp,
    token: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Value) {
    send(
        app,
        (reqwest::Method::POST, path),
        (token, TENANT),
        headers,
        Some(body),
    )
    .await
}

/// Quotes `changes` on `order` (201 asserted): the quote.
async fn quote(app: &TestApp, token: &str, order: &Order, changes: Value) -> Value {
    let (status, q) = post(
        app,
        token,
        &quote_path(order.id.as_str()),
        &[],
        json!({ "changes": changes }),
    )
    .await;
    assert_eq!(status, 201, "{q}");
    q
}

fn apply_path(q: &Value) -> String {
    format!("/v1/admin/quotes/{}/apply", q["quote_id"].as_str().unwrap())
}

async fn invoice_total(app: &TestApp, order: &Order) -> i64 {
    let v = app
        .sandbox_get(&format!("/billing/v1/invoices?order_id={}", order.id))
        .await;
    v["data"][0]["total_minor"].as_i64().unwrap()
}

async fn on_hand(app: &TestApp, sku: &str) -> i64 {
    app.sandbox_get(&format!("/sandbox/inventory/{sku}")).await["on_hand"]
        .as_i64()
        .unwrap()
}

/// The kinds of the sandbox's effects on `order` from `from` on, oldest first.
async fn effect_kinds(app: &TestApp, order: &Order, from: usize) -> Vec<String> {
    app.effects(TENANT, &order.id)
        .await
        .iter()
        .skip(from)
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_quote_applied_edits_the_order_charges_and_reserves_everywhere() {
    let app = helpers::spawn().await;
    let (token, sudo) = lead(&app);
    let order = editable_order(&app);
    let line = &order.lines[0];
    let (sku, qty) = (line.sku.clone(), line.qty);
    let stock_before = on_hand(&app, &sku).await;
    let effects_before = app.effects(TENANT, &order.id).await.len();
    let changes = json!([
        {"op": "replace", "path": "/lines/0/quantity", "value": qty + 1},
        {"op": "replace", "path": "/shipping_method", "value": "express"},
    ]);
    let q = quote(&app, &token, &order, changes).await;
    assert_eq!(q["status"], "open");
    assert_eq!(q["order_version"], json!(order.version));
    assert!(q["quote_id"].as_str().unwrap().starts_with("qt_"));
    let new_total = q["order"]["totals"]["total_minor"].as_i64().unwrap();
    let charge = new_total - order.totals.total_minor;
    assert!(charge > 0, "{q}");
    assert_eq!(q["delta"]["settle"], "charge");
    assert_eq!(q["delta"]["amount_minor"], json!(charge));
    assert_eq!(q["delta"]["reserve"], json!([{"sku": sku, "qty": 1}]));
    assert_eq!(q["order"]["totals"]["shipping_minor"], 1299);

    // money moves: If-Match, then a sudo token, then a key
    let tag = etag(order.version);
    let path = apply_path(&q);
    let body = json!({"reason": "customer asked for one more, express"});
    let (status, b) = post(
        &app,
        &token,
        &path,
        &[("idempotency-key", "a-1")],
        body.clone(),
    )
    .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (428, Some("order.if_match_required")),
        "{b}"
    );
    let (status, b) = post(
        &app,
        &token,
        &path,
        &[("idempotency-key", "a-1"), ("if-match", &tag)],
        body.clone(),
    )
    .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (403, Some("auth.sudo_required")),
        "{b}"
    );
    let (status, b) = post(
        &app,
        &token,
        &path,
        &[("if-match", &tag), ("x-admin-auth-sudo", &sudo)],
        body.clone(),
    )
    .await;
    assert_eq!(status, 400, "{b}");

    let headers = [
        ("idempotency-key", "a-1"),
        ("if-match", tag.as_str()),
        ("x-admin-auth-sudo", sudo.as_str()),
    ];
    let (status, applied) = post(&app, &token, &path, &headers, body.clone()).await;
    assert_eq!(status, 202, "{applied}");
    // accepted, not yet done: the quote is applying until its job succeeds
    assert_eq!(applied["quote"]["status"], "applying");
    let job = app
        .wait_job(applied["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");

    // the same key replays the acceptance; nothing is done twice
    let (status, again) = post(&app, &token, &path, &headers, body.clone()).await;
    assert_eq!((status, &again["job"]["id"]), (202, &applied["job"]["id"]));

    // read back at each service
    let canon = app
        .sandbox_get(&format!("/sandbox/orders/{}", order.id))
        .await;
    assert_eq!(canon["lines"][0]["qty"], json!(qty + 1));
    assert_eq!(canon["totals"]["total_minor"], json!(new_total));
    assert_eq!(canon["shipping_method"], "express");
    assert_eq!(invoice_total(&app, &order).await, new_total);
    let payments = canon["payments"].as_array().unwrap();
    assert_eq!(payments.len(), order.payments.len() + 1);
    let extra = payments.last().unwrap();
    assert_eq!(
        (extra["status"].as_str(), extra["amount_minor"].as_i64()),
        (Some("captured"), Some(charge))
    );
    assert_eq!(on_hand(&app, &sku).await, stock_before - 1);
    let kinds = effect_kinds(&app, &order, effects_before).await;
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    assert_eq!(
        kinds,
        [
            "order.edit",
            "invoice.adjust",
            "inventory.reservation",
            "payment.charge",
            "notification.send"
        ]
    );

    // the quote is closed; the read model moved on
    let (status, read) = send(
        &app,
        (
            reqwest::Method::GET,
            &format!("/v1/admin/quotes/{}", q["quote_id"].as_str().unwrap()),
        ),
        (&token, TENANT),
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status, read["status"].as_str()),
        (200, Some("applied")),
        "{read}"
    );
    assert_eq!(read["job_id"], applied["job"]["id"]);
    let view = app.admin_view(order.id.as_str()).await;
    assert_eq!(
        view["order"]["totals"]["total_minor"],
        json!(new_total),
        "{view}"
    );
}

#[tokio::test]
async fn a_smaller_order_is_refunded_and_its_stock_released() {
    let app = helpers::spawn().await;
    let (token, sudo) = lead(&app);
    let order = editable_order(&app);
    let removed = order.lines[1].clone();
    let stock_before = on_hand(&app, &removed.sku).await;
    let q = quote(
        &app,
        &token,
        &order,
        json!([{"op": "remove", "path": "/lines/1"}]),
    )
    .await;
    assert_eq!(q["delta"]["settle"], "refund", "{q}");
    let refund = q["delta"]["amount_minor"].as_i64().unwrap();
    assert_eq!(q["delta"]["payment_id"], json!(order.payments[0].id));
    let tag = etag(order.version);
    let headers = [
        ("idempotency-key", "r-1"),
        ("if-match", tag.as_str()),
        ("x-admin-auth-sudo", sudo.as_str()),
    ];
    let (status, applied) = post(
        &app,
        &token,
        &apply_path(&q),
        &headers,
        json!({"reason": "line out of stock"}),
    )
    .await;
    assert_eq!(status, 202, "{applied}");
    let job = app
        .wait_job(applied["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let payment = app
        .sandbox_get(&format!("/sandbox/payments/{}", order.payments[0].id))
        .await;
    assert_eq!(
        payment["refunded_minor"],
        json!(order.payments[0].refunded_minor + refund),
        "{payment}"
    );
    assert_eq!(
        on_hand(&app, &removed.sku).await,
        stock_before + i64::from(removed.qty)
    );
    let canon = app
        .sandbox_get(&format!("/sandbox/orders/{}", order.id))
        .await;
    assert_eq!(
        canon["lines"].as_array().unwrap().len(),
        order.lines.len() - 1
    );
    assert_eq!(
        invoice_total(&app, &order).await,
        order.totals.total_minor - refund
    );
}

#[tokio::test]
async fn a_failing_step_undoes_the_earlier_ones_in_reverse() {
    let app = helpers::spawn().await;
    let (token, sudo) = lead(&app);
    let order = editable_order(&app);
    let invoice_before = invoice_total(&app, &order).await;
    let stock_before = on_hand(&app, &order.lines[0].sku).await;
    let effects_before = app.effects(TENANT, &order.id).await.len();
    let changes =
        json!([{"op": "replace", "path": "/lines/0/quantity", "value": order.lines[0].qty + 2}]);
    let q = quote(&app, &token, &order, changes).await;
    assert_eq!(q["delta"]["settle"], "charge");
    // Payments refuses for good: the charge step fails after the edit, the invoice and the stock
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    let tag = etag(order.version);
    let headers = [
        ("idempotency-key", "f-1"),
        ("if-match", tag.as_str()),
        ("x-admin-auth-sudo", sudo.as_str()),
    ];
    let (status, applied) = post(
        &app,
        &token,
        &apply_path(&q),
        &headers,
        json!({"reason": "more units"}),
    )
    .await;
    assert_eq!(status, 202, "{applied}");
    let job = app
        .wait_job(applied["job"]["id"].as_str().unwrap(), 30)
        .await;
    app.clear_faults().await;
    assert_eq!(job["status"], "compensated", "{job}");
    let (status, read) = send(
        &app,
        (
            reqwest::Method::GET,
            &format!("/v1/admin/quotes/{}", q["quote_id"].as_str().unwrap()),
        ),
        (&token, TENANT),
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status, read["status"].as_str()),
        (200, Some("apply_failed")),
        "{read}"
    );

    let kinds = effect_kinds(&app, &order, effects_before).await;
    assert_eq!(
        kinds,
        [
            "order.edit",
            "invoice.adjust",
            "inventory.reservation",
            "inventory.release",
            "invoice.restore",
            "order.edit_revert"
        ],
        "{job}"
    );
    let canon = app
        .sandbox_get(&format!("/sandbox/orders/{}", order.id))
        .await;
    assert_eq!(canon["lines"][0]["qty"], json!(order.lines[0].qty));
    assert_eq!(
        canon["totals"]["total_minor"],
        json!(order.totals.total_minor)
    );
    assert_eq!(
        canon["payments"].as_array().unwrap().len(),
        order.payments.len()
    );
    assert_eq!(invoice_total(&app, &order).await, invoice_before);
    assert_eq!(on_hand(&app, &order.lines[0].sku).await, stock_before);
}

#[tokio::test]
async fn a_quote_on_a_stale_version_an_expired_or_closed_one_is_refused() {
    let app = helpers::spawn().await;
    let (token, sudo) = lead(&app);
    let order = editable_order(&app);
    let method = |m: &str| json!([{"op": "replace", "path": "/shipping_method", "value": m}]);
    let first = quote(&app, &token, &order, method("overnight")).await;
    let second = quote(&app, &token, &order, method("express")).await;
    let tag = etag(order.version);
    let reason = json!({"reason": "faster shipping"});
    let headers = money("s-1", &tag, &sudo);
    let (status, applied) = post(&app, &token, &apply_path(&first), &headers, reason.clone()).await;
    assert_eq!(status, 202, "{applied}");
    let job = app
        .wait_job(applied["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");

    // the order moved on: the second quote's version is stale (409 with the order)
    let now = app.admin_view(order.id.as_str()).await["order"]["version"]
        .as_i64()
        .unwrap();
    assert!(now > order.version);
    let current = etag(now);
    let headers = money("s-2", &current, &sudo);
    let (status, b) = post(&app, &token, &apply_path(&second), &headers, reason.clone()).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("order.version_mismatch")),
        "{b}"
    );
    assert_eq!(b["order"]["version"], json!(now));
    // a stale If-Match is 412
    let headers = money("s-3", &tag, &sudo);
    let (status, _) = post(&app, &token, &apply_path(&second), &headers, reason.clone()).await;
    assert_eq!(status, 412);

    // an expired quote
    let third = quote(&app, &token, &order, method("standard")).await;
    sqlx::query("UPDATE quotes SET expires_at = now() - interval '1 minute' WHERE id = $1")
        .bind(third["quote_id"].as_str().unwrap())
        .execute(&app.state.db)
        .await
        .unwrap();
    let headers = money("s-4", &current, &sudo);
    let (status, b) = post(&app, &token, &apply_path(&third), &headers, reason.clone()).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("quote.expired")),
        "{b}"
    );
    let path = format!("/v1/admin/quotes/{}", third["quote_id"].as_str().unwrap());
    let (_, read) = send(
        &app,
        (reqwest::Method::GET, &path),
        (&token, TENANT),
        &[],
        None,
    )
    .await;
    assert_eq!(read["status"], "expired");

    // abort: If-Match required, then closed; applying a closed quote is 409 quote.not_open
    let abort = format!("{path}/abort");
    let (status, b) = post(&app, &token, &abort, &[], json!({"reason": "not wanted"})).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (428, Some("order.if_match_required"))
    );
    let (status, b) = post(
        &app,
        &token,
        &abort,
        &[("if-match", &current), ("idempotency-key", "ab-1")],
        json!({"reason": "not wanted"}),
    )
    .await;
    assert_eq!(
        (status, b["status"].as_str()),
        (200, Some("aborted")),
        "{b}"
    );
    let (status, again) = post(
        &app,
        &token,
        &abort,
        &[("if-match", &current), ("idempotency-key", "ab-1")],
        json!({"reason": "not wanted"}),
    )
    .await;
    assert_eq!((status, again), (200, b));
    let (status, b) = post(
        &app,
        &token,
        &abort,
        &[("if-match", &current)],
        json!({"reason": "again"}),
    )
    .await;
    assert_eq!((status, b["code"].as_str()), (409, Some("quote.not_open")));
    let headers = money("s-5", &current, &sudo);
    let (status, b) = post(&app, &token, &apply_path(&third), &headers, reason).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("quote.not_open")),
        "{b}"
    );
}

#[tokio::test]
async fn a_patch_reprices_and_dry_runs_change_nothing() {
    let app = helpers::spawn().await;
    let (token, _) = lead(&app);
    let order = editable_order(&app);
    // a new SKU priced from the catalog
    let res = app
        .http
        .put(format!("{}/sandbox/catalog/NEW-MUG", app.sandbox))
        .header("x-tenant-id", TENANT)
        .json(&json!({"currency": order.currency, "name": "Mug", "price_minor": 1250}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let add =
        json!([{"op": "add", "path": "/lines/-", "value": {"sku": "NEW-MUG", "quantity": 2}}]);
    let (status, dry) = post(
        &app,
        &token,
        &quote_path(order.id.as_str()),
        &[],
        json!({"changes": add, "dry_run": true}),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        dry["order"]["lines"].as_array().unwrap().last().unwrap()["total_minor"],
        2500
    );
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM quotes")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 0);

    let q = quote(&app, &token, &order, add).await;
    let path = format!("/v1/admin/quotes/{}", q["quote_id"].as_str().unwrap());
    let fewer = json!({"changes": [{"op": "replace", "path": "/lines/0/quantity", "value": 1}]});
    let (status, patched) = send(
        &app,
        (reqwest::Method::PATCH, &path),
        (&token, TENANT),
        &[("idempotency-key", "p-1")],
        Some(fewer.clone()),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["quote_id"], q["quote_id"]);
    assert_ne!(patched["delta"], q["delta"]);
    assert_eq!(
        patched["order"]["lines"].as_array().unwrap().len(),
        order.lines.len()
    );
    let (status, again) = send(
        &app,
        (reqwest::Method::PATCH, &path),
        (&token, TENANT),
        &[("idempotency-key", "p-1")],
        Some(fewer),
    )
    .await;
    assert_eq!((status, &again), (200, &patched));

    // the apply's dry run: the steps and what it needs, nothing applied
    let (status, plan) = post(
        &app,
        &token,
        &format!("{path}/apply"),
        &[],
        json!({"reason": "check", "dry_run": true}),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["allowed"], true, "{plan}");
    assert_eq!(plan["steps"][0], "apply_at_orders");
    assert_eq!(
        plan["sudo_required"],
        json!(patched["delta"]["settle"] != "none")
    );
    let (_, read) = send(
        &app,
        (reqwest::Method::GET, &path),
        (&token, TENANT),
        &[],
        None,
    )
    .await;
    assert_eq!(read["status"], "open");

    // each mutation and each read is in the order's audit trail
    let actions: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_log WHERE subject_id = $1 AND action LIKE 'order.quote%' ORDER BY id",
    )
    .bind(order.id.as_str())
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["order.quote", "order.quote_update", "order.quote_viewed"]
    );
}

#[tokio::test]
async fn bad_patches_callers_and_tenants_are_refused() {
    let app = helpers::spawn().await;
    let (token, _) = lead(&app);
    let order = editable_order(&app);
    let path = quote_path(order.id.as_str());
    let bad = json!({"changes": [
        {"op": "replace", "path": "/lines/0/unit_price_minor", "value": 1},
        {"op": "replace", "path": "/lines/0/quantity", "value": 0},
        {"op": "remove", "path": "/lines/99"},
    ]});
    let (status, b) = post(&app, &token, &path, &[], bad).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("validation.failed")),
        "{b}"
    );
    let fields: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["changes[0]", "changes[1]"]);
    assert!(
        b["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("remove /lines/{i}"),
        "{b}"
    );
    let (status, b) = post(
        &app,
        &token,
        &path,
        &[],
        json!({"changes": [{"op": "remove", "path": "/lines/99"}]}),
    )
    .await;
    assert_eq!(
        (status, b["errors"][0]["field"].as_str()),
        (422, Some("changes[0]")),
        "{b}"
    );
    let (status, _) = post(&app, &token, &path, &[], json!({"changes": [], "extra": 1})).await;
    assert!(status == 422 || status == 400);

    let changes =
        json!({"changes": [{"op": "replace", "path": "/shipping_method", "value": "express"}]});
    let res = app.post(&path, Default::default(), &changes).await;
    assert_eq!(res.status(), 401);
    let billing = app.agent_token(TENANT, "agt_bill", &["billing"]);
    let (status, b) = post(&app, &billing, &path, &[], changes.clone()).await;
    assert_eq!(
        (status, b["required_permission"].as_str()),
        (403, Some("orders.edit"))
    );

    // an Idempotency-Key replays the quote
    let (status, q) = post(
        &app,
        &token,
        &path,
        &[("idempotency-key", "q-1")],
        changes.clone(),
    )
    .await;
    assert_eq!(status, 201, "{q}");
    let (status, again) = post(
        &app,
        &token,
        &path,
        &[("idempotency-key", "q-1")],
        changes.clone(),
    )
    .await;
    assert_eq!((status, &again["quote_id"]), (201, &q["quote_id"]));

    // another tenant's order and quote are not found
    let globex = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (status, _) = send(
        &app,
        (reqwest::Method::POST, &path),
        (&globex, OTHER_TENANT),
        &[],
        Some(changes.clone()),
    )
    .await;
    assert_eq!(status, 404);
    let qpath = format!("/v1/admin/quotes/{}", q["quote_id"].as_str().unwrap());
    for (method, p, body) in [
        (reqwest::Method::GET, qpath.clone(), None),
        (reqwest::Method::PATCH, qpath.clone(), Some(changes.clone())),
        (
            reqwest::Method::POST,
            format!("{qpath}/apply"),
            Some(json!({"reason": "x"})),
        ),
        (
            reqwest::Method::POST,
            format!("{qpath}/abort"),
            Some(json!({"reason": "x"})),
        ),
    ] {
        let headers = [("if-match", "\"1\""), ("idempotency-key", "g-1")];
        let (status, b) = send(&app, (method, &p), (&globex, OTHER_TENANT), &headers, body).await;
        assert_eq!(
            (status, b["code"].as_str()),
            (404, Some("quote.not_found")),
            "{p}"
        );
    }
    // a shipped order cannot be edited
    let shipped = app.order_in("shipped").clone();
    let (status, b) = post(&app, &token, &quote_path(shipped.id.as_str()), &[], changes).await;
    assert_eq!(
        (status, b["code"].as_str()),
        (409, Some("order.not_editable"))
    );
}

#[tokio::test]
async fn the_erasure_reaches_addresses_staged_in_quotes() {
    let app = helpers::spawn().await;
    let (token, _) = lead(&app);
    let order = editable_order(&app);
    let address = json!({"name": "Erika Mustermann", "line1": "Hauptstr. 5", "city": "Berlin",
                         "postal_code": "10115", "country": "DE"});
    // made with a key: the saved answer (kept for replays) holds the address too
    let (status, q) = post(
        &app,
        &token,
        &quote_path(order.id.as_str()),
        &[("idempotency-key", "q-erase")],
        json!({ "changes": [{"op": "replace", "path": "/shipping_address", "value": address}] }),
    )
    .await;
    assert_eq!(status, 201, "{q}");
    assert_eq!(q["order"]["shipping_address"]["name"], "Erika Mustermann");
    let saved_answers_naming = |name: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM idempotency_keys
             WHERE position(convert_to($1, 'UTF8') in response_body) > 0",
        )
        .bind(name)
        .fetch_one(&app.state.db)
    };
    assert_eq!(saved_answers_naming("Mustermann").await.unwrap(), 1);

    let customer = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&customer, TENANT);
    h.insert("idempotency-key", "erase-1".parse().unwrap());
    let res = app
        .post("/v1/customer/gdpr/erase-request", h, &json!({}))
        .await;
    let body: Value = res.json().await.unwrap();
    let job = app.wait_job(body["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let (changes, preview): (Value, Value) =
        sqlx::query_as("SELECT changes, preview FROM quotes WHERE id = $1")
            .bind(q["quote_id"].as_str().unwrap())
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(!changes.to_string().contains("Mustermann"), "{changes}");
    assert!(!preview.to_string().contains("Mustermann"), "{preview}");
    assert!(!changes.to_string().contains("Hauptstr"), "{changes}");
    assert_eq!(changes[0]["value"]["country"], "DE");
    assert_eq!(changes[0]["path"], "/shipping_address");
    assert_eq!(saved_answers_naming("Mustermann").await.unwrap(), 0);
}
