//! Return requests that must be refused or change nothing: bad input, no token, other
//! customers and tenants, dry runs, and the tenant's window and store-credit settings.

use orderdesk::auth::mint::{MintRequest, mint};
use orderdesk::domain::ids::TenantId;
use serde_json::{Value, json};

use super::{ask_return, count, delivered, post, return_body, settings, spawn};
use crate::helpers::{self, OTHER_TENANT, Options, TENANT, seed_both_sides};

#[tokio::test]
async fn bad_input_is_refused_per_field_and_per_line() {
    let app = spawn(0).await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    let line = &order.lines[0].id;
    let invalid = |lines: Value, refund: &str, method: &str| json!({"lines": lines, "preferred_refund": refund, "method": method});
    let too_many: Vec<Value> = (0..51)
        .map(|i| json!({"line_id": format!("l{i}"), "qty": 1, "reason": "other"}))
        .collect();
    let cases = [
        (
            invalid(
                json!([{"line_id": line, "qty": 0, "reason": "damaged"}]),
                "card",
                "dropoff",
            ),
            "lines[0].qty",
        ),
        (
            invalid(
                json!([{"line_id": line, "qty": 1, "reason": "meh"}]),
                "card",
                "dropoff",
            ),
            "lines[0].reason",
        ),
        (
            invalid(
                json!([{"line_id": line, "qty": 1, "reason": "other", "comment": "x".repeat(501)}]),
                "card",
                "dropoff",
            ),
            "lines[0].comment",
        ),
        (invalid(json!(too_many), "card", "dropoff"), "lines"),
        (invalid(json!([]), "card", "dropoff"), "lines"),
        (
            invalid(
                json!([{"line_id": line, "qty": 1, "reason": "other"}, {"line_id": line, "qty": 1, "reason": "other"}]),
                "card",
                "dropoff",
            ),
            "lines[1].line_id",
        ),
        (
            invalid(
                json!([{"line_id": line, "qty": 1, "reason": "other"}]),
                "cash",
                "dropoff",
            ),
            "preferred_refund",
        ),
        (
            invalid(
                json!([{"line_id": line, "qty": 1, "reason": "other"}]),
                "card",
                "teleport",
            ),
            "method",
        ),
    ];
    for (i, (body, field)) in cases.iter().enumerate() {
        let key = format!("k-bad-{i}");
        let (status, _, p) = post(
            &app,
            &token,
            TENANT,
            "return-request",
            &order.id,
            Some(&key),
            body,
        )
        .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (422, Some("validation.failed")),
            "{field}: {p}"
        );
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == *field),
            "{field}: {p}"
        );
    }
    let mut unknown = return_body(&order, 1);
    unknown["gift_wrap"] = json!(true);
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        Some("k-u"),
        &unknown,
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("validation.failed")),
        "{p}"
    );

    let too_much = return_body(&order, order.lines[0].qty + 1);
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        Some("k-much"),
        &too_much,
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("return.not_eligible")),
        "{p}"
    );
    assert_eq!(p["line_errors"][0]["line_id"], line.as_str());
    assert_eq!(p["line_errors"][0]["code"], "return.qty_exceeds_returnable");

    // an order delivered in part: its second line never shipped
    let mut partial = order.clone();
    partial.id = "ord_partial".into();
    partial.number = "990001".into();
    let unshipped = partial.lines[1].id.clone();
    partial.shipments[0]
        .lines
        .retain(|l| l.line_id != unshipped);
    seed_both_sides(
        &app.state.db,
        TENANT,
        &settings(3650),
        std::slice::from_ref(&partial),
    )
    .await;
    let body = json!({
        "lines": [{"line_id": partial.lines[0].id, "qty": 1, "reason": "damaged"},
                  {"line_id": unshipped, "qty": 1, "reason": "damaged"}],
        "preferred_refund": "card", "method": "pickup",
    });
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &partial.id,
        Some("k-part"),
        &body,
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("return.not_eligible")),
        "{p}"
    );
    let errs = p["line_errors"].as_array().unwrap();
    assert_eq!(errs.len(), 1, "only the undelivered line is refused: {p}");
    assert_eq!(
        (errs[0]["line_id"].as_str(), errs[0]["code"].as_str()),
        (Some(unshipped.as_str()), Some("return.line_not_delivered"))
    );

    let open = app.order_in("confirmed").clone();
    let t2 = app.customer_token(TENANT, &open.customer_id);
    let (status, _, p) = ask_return(&app, &t2, &open, "k-open").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("return.not_eligible")),
        "{p}"
    );
    assert!(!p["blocked_reasons"].as_array().unwrap().is_empty(), "{p}");
    assert_eq!(
        (count(&app, "returns").await, count(&app, "requests").await),
        (0, 0)
    );
}

#[tokio::test]
async fn no_token_is_401() {
    let app = spawn(0).await;
    let order = delivered(&app);
    let res = app
        .http
        .post(format!(
            "{}/v1/customer/orders/{}/return-request",
            app.api, order.id
        ))
        .header("x-tenant-id", TENANT)
        .header("idempotency-key", "k")
        .json(&return_body(&order, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .post(format!(
            "{}/v1/customer/orders/{}/replace-request",
            app.api, order.id
        ))
        .json(&json!({"lines": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .get(format!("{}/v1/customer/returns/rma_x", app.api))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn other_customers_guests_and_tenants_get_404() {
    let app = spawn(0).await;
    let order = delivered(&app);
    let owner = app.customer_token(TENANT, &order.customer_id);
    let stranger_id = app
        .orders
        .iter()
        .map(|o| o.customer_id.clone())
        .find(|c| *c != order.customer_id)
        .unwrap();
    let stranger = app.customer_token(TENANT, &stranger_id);
    let foreign = app.customer_token(OTHER_TENANT, &order.customer_id);
    let body = return_body(&order, 1);
    for action in ["return-request", "replace-request"] {
        let body = if action == "return-request" {
            body.clone()
        } else {
            json!({"lines": body["lines"]})
        };
        let (status, _, p) = post(
            &app,
            &stranger,
            TENANT,
            action,
            &order.id,
            Some("k-s"),
            &body,
        )
        .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (404, Some("order.not_found")),
            "{action}: {p}"
        );
        let (status, _, _) = post(
            &app,
            &foreign,
            OTHER_TENANT,
            action,
            &order.id,
            Some("k-f"),
            &body,
        )
        .await;
        assert_eq!(status, 404, "{action}");
    }

    let (status, _, accepted) = post(
        &app,
        &owner,
        TENANT,
        "return-request",
        &order.id,
        Some("k-o"),
        &body,
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let path = format!(
        "/v1/customer/returns/{}",
        accepted["rma_id"].as_str().unwrap()
    );
    assert_eq!(app.get(&path, app.auth(&owner, TENANT)).await.0, 200);
    let (status, p) = app.get(&path, app.auth(&stranger, TENANT)).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("return.not_found"))
    );
    assert_eq!(
        app.get(&path, app.auth(&foreign, OTHER_TENANT)).await.0,
        404
    );
    let other_order = app
        .orders
        .iter()
        .find(|o| o.customer_id == order.customer_id && o.id != order.id)
        .unwrap();
    let guest = mint(
        &app.config,
        &MintRequest::customer(&TenantId::new(TENANT), &order.customer_id).order(&other_order.id),
    )
    .unwrap();
    assert_eq!(
        app.get(&path, app.auth(&guest, TENANT)).await.0,
        404,
        "a guest of another order"
    );
    assert_eq!(
        app.get("/v1/customer/returns/rma_nope", app.auth(&owner, TENANT))
            .await
            .0,
        404
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.create")
            .await,
        0
    );
}

#[tokio::test]
async fn dry_run_plans_and_changes_nothing() {
    let app = spawn(0).await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    let mut body = return_body(&order, 1);
    body["dry_run"] = json!(true);
    let (status, _, plan) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        None,
        &body,
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(
        plan["expected_refund"]["amount_minor"],
        json!(order.lines[0].unit_price_minor)
    );
    assert_eq!(plan["expected_refund"]["currency"], order.currency.as_str());
    assert_eq!(
        plan["steps"],
        json!(["check_eligibility", "create_rma", "notify_customer"])
    );
    assert!(plan["instructions"].as_str().unwrap().contains("drop"));
    let mut ex = json!({"lines": body["lines"], "dry_run": true});
    ex["lines"][0]["replacement_sku"] = json!(order.lines[1].sku);
    let (status, _, plan) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        None,
        &ex,
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["replacement_stock"][&order.lines[1].sku], 1);
    assert!(plan.get("expected_refund").is_none());
    for table in ["runs", "requests", "returns", "idempotency_keys"] {
        assert_eq!(count(&app, table).await, 0, "{table}");
    }
    assert!(app.effects(TENANT, &order.id).await.is_empty());
}

#[tokio::test]
async fn window_and_store_credit_follow_the_tenant_settings() {
    let mut s = settings(1);
    s.capabilities.store_credit = false;
    let app = helpers::spawn_with(Options {
        workers: 0,
        settings: s,
        ..Default::default()
    })
    .await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, _, p) = ask_return(&app, &token, &order, "k-w").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("return.not_eligible")),
        "{p}"
    );
    assert!(
        p["blocked_reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("window"),
        "{p}"
    );

    let mut wide = settings(3650);
    wide.capabilities.store_credit = false;
    orderdesk::db::tenants::upsert(
        &mut app.state.db.acquire().await.unwrap(),
        &TenantId::new(TENANT),
        TENANT,
        &wide,
    )
    .await
    .unwrap();
    let mut body = return_body(&order, 1);
    body["preferred_refund"] = json!("store_credit");
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        Some("k-sc"),
        &body,
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("return.not_eligible")),
        "{p}"
    );
    assert_eq!(
        p["blocked_reasons"][0]["code"],
        "return.store_credit_unavailable"
    );
    assert_eq!(count(&app, "returns").await, 0);
}
