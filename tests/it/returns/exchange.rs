//! Exchanges: stock checked at the sandbox before acceptance, replacement units reserved by
//! the `exchange_order` workflow, one exchange RMA, and a clean failure when stock runs out.

use serde_json::{Value, json};

use super::{count, delivered, post, spawn};
use crate::helpers::{TENANT, TestApp};

async fn on_hand(app: &TestApp, sku: &str) -> i64 {
    sqlx::query_scalar("SELECT on_hand FROM sandbox.stock WHERE tenant_id = $1 AND sku = $2")
        .bind(TENANT)
        .bind(sku)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn set_on_hand(app: &TestApp, sku: &str, n: i64) {
    sqlx::query("UPDATE sandbox.stock SET on_hand = $3 WHERE tenant_id = $1 AND sku = $2")
        .bind(TENANT)
        .bind(sku)
        .bind(n)
        .execute(&app.state.db)
        .await
        .unwrap();
}

fn swap(line_id: &str, sku: &str) -> Value {
    json!({"lines": [{"line_id": line_id, "qty": 1, "replacement_sku": sku, "reason": "wrong_item"}]})
}

#[tokio::test]
async fn exchange_reserves_the_replacement_and_makes_one_rma() {
    let app = spawn(1).await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    let sku = order.lines[1].sku.clone();
    let before = on_hand(&app, &sku).await;
    let body = swap(&order.lines[0].id, &sku);
    let (status, _, accepted) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-ex"),
        &body,
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["kind"], "exchange");
    assert_eq!(accepted["job"]["kind"], "exchange_order");
    assert!(accepted.get("expected_refund").is_none());
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let rma_id = accepted["rma_id"].as_str().unwrap();
    let (status, ret) = app
        .get(
            &format!("/v1/customer/returns/{rma_id}"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{ret}");
    assert_eq!(
        (ret["kind"].as_str(), ret["status"].as_str()),
        (Some("exchange"), Some("requested"))
    );
    assert_eq!(ret["refund"]["status"], "not_applicable");
    assert_eq!(ret["lines"][0]["replacement_sku"], sku.as_str());
    assert!(ret["label_url"].is_string());
    assert_eq!(on_hand(&app, &sku).await, before - 1);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "inventory.reservation")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.create")
            .await,
        1
    );

    let (status, headers, replay) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-ex"),
        &body,
    )
    .await;
    assert_eq!((status, &replay["rma_id"]), (202, &accepted["rma_id"]));
    assert_eq!(headers["idempotent-replayed"], "true");
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-ex"),
        &swap(&order.lines[0].id, &order.lines[0].sku),
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("idempotency.key_reused"))
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "inventory.reservation")
            .await,
        1
    );
}

#[tokio::test]
async fn out_of_stock_or_unknown_replacements_are_refused_before_anything_happens() {
    let app = spawn(0).await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    let sku = order.lines[1].sku.clone();
    set_on_hand(&app, &sku, 0).await;
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-oos"),
        &swap(&order.lines[0].id, &sku),
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("replace.out_of_stock")),
        "{p}"
    );
    assert_eq!(p["skus"][0]["sku"], sku.as_str());
    assert!(p["detail"].as_str().unwrap().contains(&sku), "{p}");

    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-unk"),
        &swap(&order.lines[0].id, "SKU-NOPE"),
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("replace.not_eligible")),
        "{p}"
    );
    assert_eq!(p["line_errors"][0]["code"], "replace.unknown_sku");

    let bad = json!({"lines": [{"line_id": order.lines[0].id, "qty": 1, "replacement_sku": "no spaces", "reason": "other"}]});
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-bad"),
        &bad,
    )
    .await;
    assert_eq!(
        (status, p["errors"][0]["field"].as_str()),
        (422, Some("lines[0].replacement_sku")),
        "{p}"
    );

    // quantities whose sum per SKU would overflow: refused by their bound, never summed
    let huge = json!({"lines": [
        {"line_id": order.lines[0].id, "qty": i32::MAX, "replacement_sku": sku, "reason": "other"},
        {"line_id": order.lines[1].id, "qty": 1, "replacement_sku": sku, "reason": "other"},
    ]});
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-huge"),
        &huge,
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str(), p["errors"][0]["field"].as_str()),
        (422, Some("validation.failed"), Some("lines[0].qty")),
        "{p}"
    );
    assert_eq!(p["errors"].as_array().unwrap().len(), 1, "{p}");

    let too_much = json!({"lines": [{"line_id": order.lines[0].id, "qty": order.lines[0].qty + 1, "reason": "damaged"}]});
    let (status, _, p) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-much"),
        &too_much,
    )
    .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("replace.not_eligible")),
        "{p}"
    );
    assert_eq!(
        p["line_errors"][0]["code"],
        "replace.qty_exceeds_returnable"
    );
    assert_eq!(
        (count(&app, "returns").await, count(&app, "runs").await),
        (0, 0)
    );
    assert!(app.effects(TENANT, &order.id).await.is_empty());
}

#[tokio::test]
async fn stock_gone_before_the_reservation_fails_cleanly_and_frees_the_units() {
    let mut app = spawn(0).await;
    let order = delivered(&app);
    let token = app.customer_token(TENANT, &order.customer_id);
    let sku = order.lines[0].sku.clone();
    let all = json!({"lines": [{"line_id": order.lines[0].id, "qty": order.lines[0].qty, "reason": "damaged"}]});
    let (status, _, accepted) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-race"),
        &all,
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    // sold out between acceptance and the workflow's reservation
    set_on_hand(&app, &sku, 0).await;
    app.start_worker();
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "compensated", "{job}");
    assert_eq!(job["error"]["code"], "inventory.insufficient_stock");
    let (_, ret) = app
        .get(
            &format!(
                "/v1/customer/returns/{}",
                accepted["rma_id"].as_str().unwrap()
            ),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(ret["status"], "failed", "{ret}");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "return.create")
            .await,
        0
    );

    // the failed exchange holds no units and leaves no open request: the same exchange,
    // restocked, goes through; after it, the units cannot also be returned
    set_on_hand(&app, &sku, 5).await;
    let (status, _, second) = post(
        &app,
        &token,
        TENANT,
        "replace-request",
        &order.id,
        Some("k-again"),
        &all,
    )
    .await;
    assert_eq!(status, 202, "{second}");
    let job = app
        .wait_job(second["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let body = json!({"lines": all["lines"], "preferred_refund": "card", "method": "dropoff"});
    let (status, _, third) = post(
        &app,
        &token,
        TENANT,
        "return-request",
        &order.id,
        Some("k-ret"),
        &body,
    )
    .await;
    assert_eq!(
        (status, third["code"].as_str()),
        (409, Some("return.not_eligible")),
        "{third}"
    );
}
