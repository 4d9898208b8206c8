//! A guest token reaches its one order through every per-order endpoint of the customer
//! surface, and no other order of the same customer through any of them.

use serde_json::{Value, json};

use super::{app_with, lookup, lookup_path, token_of, two_orders_of_one_customer};
use crate::helpers::TENANT;

const GET_PATHS: [&str; 9] = [
    "",
    "/timeline",
    "/shipments",
    "/faq",
    "/messages",
    "/notify",
    "/invoice",
    "/documents",
    "/label/shp_x",
];

fn post_calls() -> [(&'static str, Value); 8] {
    [
        ("/cancel-request", json!({"dry_run": true})),
        (
            "/return-request",
            json!({"lines": [{"line_id": "l1", "qty": 1, "reason": "damaged"}],
                "preferred_refund": "card", "method": "dropoff", "dry_run": true}),
        ),
        (
            "/replace-request",
            json!({"lines": [{"line_id": "l1", "qty": 1, "reason": "damaged"}], "dry_run": true}),
        ),
        ("/reorder", json!({"dry_run": true})),
        (
            "/update-address",
            json!({"address": {"name": "Ada", "line1": "1 Main St", "city": "Berlin",
                "postal_code": "10115", "country": "DE"}, "dry_run": true}),
        ),
        ("/apply-coupon", json!({"code": "WELCOME10"})),
        ("/messages", json!({"body": "hello"})),
        ("/notify", json!({"channel": "email", "subscribe": true})),
    ]
}

#[tokio::test]
async fn a_guest_token_reaches_no_other_order_through_any_endpoint() {
    let app = app_with(|_| {}, &[]).await;
    let (order, sibling) = two_orders_of_one_customer(&app);
    let path = lookup_path(&order.email, &order.number, &token_of(&app, TENANT, &order));
    let (status, _, body) = lookup(&app, TENANT, "10.9.9.9", &path).await;
    assert_eq!(status, 200, "{body}");
    let guest = body["guest_token"].as_str().unwrap().to_string();

    for (i, (suffix, body)) in post_calls().into_iter().enumerate() {
        for (target, mine) in [(&sibling, false), (&order, true)] {
            let mut h = app.auth(&guest, TENANT);
            h.insert("idempotency-key", format!("g-{i}-{mine}").parse().unwrap());
            let url = format!("/v1/customer/orders/{}{suffix}", target.id);
            let res = app.post(&url, h, &body).await;
            let status = res.status().as_u16();
            let answer: Value = res.json().await.unwrap_or(Value::Null);
            if mine {
                assert!(
                    ![401, 403, 404].contains(&status),
                    "POST {suffix} on the guest's own order: {status} {answer}"
                );
            } else {
                assert_eq!(
                    (status, answer["code"].as_str()),
                    (404, Some("order.not_found")),
                    "POST {suffix} on another order: {answer}"
                );
            }
        }
    }
    for suffix in GET_PATHS {
        let url = format!("/v1/customer/orders/{}{suffix}", sibling.id);
        let (status, answer) = app.get(&url, app.auth(&guest, TENANT)).await;
        assert_eq!(status, 404, "GET {suffix} on another order: {answer}");
    }
    for suffix in GET_PATHS.into_iter().filter(|s| !s.starts_with("/label")) {
        let url = format!("/v1/customer/orders/{}{suffix}", order.id);
        let (status, answer) = app.get(&url, app.auth(&guest, TENANT)).await;
        assert_eq!(
            status, 200,
            "GET {suffix} on the guest's own order: {answer}"
        );
    }

    // customer-wide reads are narrowed to the one order
    let (status, metrics) = app
        .get("/v1/customer/orders/metrics", app.auth(&guest, TENANT))
        .await;
    assert_eq!(status, 200, "{metrics}");
    let counted: i64 = metrics["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["orders_count"].as_i64().unwrap())
        .sum();
    assert!(
        counted <= 1,
        "a guest sees the spend of one order: {metrics}"
    );
    // and what acts on the whole account needs the account
    let mut h = app.auth(&guest, TENANT);
    h.insert("idempotency-key", "g-erase".parse().unwrap());
    let res = app
        .post("/v1/customer/gdpr/erase-request", h, &json!({}))
        .await;
    assert_eq!(res.status(), 403);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["code"], "gdpr.account_required");
}
