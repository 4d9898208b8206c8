//! `GET /v1/customer/orders`: summaries with `channel` and `primary_shipment_status`, the
//! `channel` filter, and `page` paging beside `cursor`.

use serde_json::Value;

use super::spawn;
use crate::helpers::{OTHER_TENANT, TENANT};

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn summaries_carry_channel_and_primary_shipment_status_and_filter_by_channel() {
    let app = spawn().await;
    let customer = "cus_0001";
    let token = app.customer_token(TENANT, customer);
    let (status, body) = app
        .get("/v1/customer/orders?limit=100", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{body}");
    for o in body["data"].as_array().unwrap() {
        let seeded = app
            .orders
            .iter()
            .find(|s| s.id.as_str() == o["id"])
            .unwrap();
        assert_eq!(o["channel"].as_str(), seeded.channel.as_deref());
        let expected = seeded
            .shipments
            .iter()
            .map(|s| s.status.as_str())
            .min_by_key(|s| {
                [
                    "label_created",
                    "in_transit",
                    "out_for_delivery",
                    "delivered",
                ]
                .iter()
                .position(|p| p == s)
            });
        assert_eq!(o["primary_shipment_status"].as_str(), expected, "{o}");
        for detail_only in [
            "lines",
            "shipments",
            "allowed_actions",
            "payments",
            "customer_id",
        ] {
            assert!(o.get(detail_only).is_none(), "a summary: {o}");
        }
        assert!(
            o["totals"].is_object() && o["item_count"].is_number(),
            "kept fields: {o}"
        );
    }
    let channel = app
        .orders
        .iter()
        .find(|o| o.customer_id == customer)
        .unwrap();
    let channel = channel.channel.clone().unwrap();
    let path = format!("/v1/customer/orders?limit=100&channel={channel}");
    let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    let expected = app
        .orders
        .iter()
        .filter(|o| o.customer_id == customer && o.channel.as_deref() == Some(&channel))
        .count();
    assert!(expected > 0);
    assert_eq!(ids(&body).len(), expected);
}

#[tokio::test]
async fn pages_by_number_as_by_cursor_but_not_both() {
    let app = spawn().await;
    let token = app.customer_token(TENANT, "cus_0002");
    let (_, all) = app
        .get("/v1/customer/orders?limit=100", app.auth(&token, TENANT))
        .await;
    let all = ids(&all);
    assert!(all.len() >= 4);
    let mut by_page = vec![];
    let mut page = Some(1);
    while let Some(p) = page {
        let path = format!("/v1/customer/orders?limit=2&page={p}");
        let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
        assert_eq!(status, 200, "{body}");
        by_page.extend(ids(&body));
        page = body["next_page"].as_i64();
    }
    assert_eq!(by_page, all);

    for q in ["page=1&cursor=abc", "page=0", "page=1001", "channel="] {
        let path = format!("/v1/customer/orders?{q}");
        let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
        assert_eq!(status, 422, "{q}: {body}");
        assert_eq!(body["code"], "validation.failed", "{q}");
    }
}

#[tokio::test]
async fn tokens_and_other_customers() {
    let app = spawn().await;
    let (status, _) = app
        .get("/v1/customer/orders?channel=web", Default::default())
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .get("/v1/customer/orders?channel=web", app.auth("nope", TENANT))
        .await;
    assert_eq!(status, 401);
    // another tenant's customer with the same id sees none of this tenant's orders
    let token = app.customer_token(OTHER_TENANT, "cus_0001");
    let (status, body) = app
        .get(
            "/v1/customer/orders?limit=100&page=1",
            app.auth(&token, OTHER_TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(ids(&body).iter().all(|id| id.ends_with("_g")), "{body}");
}
