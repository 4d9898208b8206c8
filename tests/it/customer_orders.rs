//! Customer reads: list with filters and cursor, detail with expand, isolation.

use serde_json::Value;

use crate::helpers::{self, OTHER_TENANT, TENANT};

#[tokio::test]
async fn lists_own_orders_newest_first_with_cursor() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = app.customer_token(TENANT, "cus_0001");
    let own: Vec<_> = app
        .orders
        .iter()
        .filter(|o| o.customer_id == "cus_0001")
        .collect();
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/customer/orders?limit=2&cursor={c}"),
            None => "/v1/customer/orders?limit=2".into(),
        };
        let (status, body) = app.get(&q, app.auth(&token, TENANT)).await;
        assert_eq!(status, 200, "{body}");
        for o in body["data"].as_array().unwrap() {
            seen.push(o["id"].as_str().unwrap().to_string());
            assert!(o.get("lines").is_none(), "lines only with expand");
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut expected: Vec<_> = own
        .iter()
        .map(|o| (o.placed_at, o.id.to_string()))
        .collect();
    expected.sort();
    expected.reverse();
    assert_eq!(seen, expected.into_iter().map(|e| e.1).collect::<Vec<_>>());
}

#[tokio::test]
async fn filters_and_bad_input() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = app.customer_token(TENANT, "cus_0002");
    let (status, body) = app
        .get(
            "/v1/customer/orders?status=delivered",
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200);
    let data = body["data"].as_array().unwrap();
    assert!(data.iter().all(|o| o["status"] == "delivered"));
    let expected = app
        .orders
        .iter()
        .filter(|o| o.customer_id == "cus_0002" && o.status.as_str() == "delivered")
        .count();
    assert_eq!(data.len(), expected);

    for (q, code) in [
        ("status=lost", "validation.failed"),
        ("limit=0", "validation.failed"),
        ("limit=1000", "validation.failed"),
        ("from=yesterday", "request.invalid_query"),
        ("cursor=%21%21", "request.invalid_cursor"),
        // a time chrono reads but PostgreSQL cannot hold
        ("from=-5000-01-01T00:00:00Z", "validation.out_of_range_time"),
        ("to=-5000-01-01T00:00:00Z", "validation.out_of_range_time"),
    ] {
        let (status, body) = app
            .get(
                &format!("/v1/customer/orders?{q}"),
                app.auth(&token, TENANT),
            )
            .await;
        assert!(status == 400 || status == 422, "{q}: {status} {body}");
        assert_eq!(body["code"], code, "{q}: {body}");
        assert!(body["request_id"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn detail_expands_and_hides_others_orders() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let shipped = app.order_in("shipped").clone();
    let token = app.customer_token(TENANT, &shipped.customer_id);
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}?expand=lines,shipments", shipped.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["lines"].as_array().unwrap().len(), shipped.lines.len());
    assert_eq!(
        body["shipments"][0]["tracking_number"],
        Value::String(shipped.shipments[0].tracking_number.clone())
    );
    assert!(
        body.get("customer_id").is_none() && body.get("payments").is_none(),
        "no internals: {body}"
    );

    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}?expand=secrets", shipped.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed"))
    );

    // another customer of the same tenant: 404, not 403
    let other = app.customer_token(TENANT, "cus_0003");
    assert_ne!(shipped.customer_id, "cus_0003");
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}", shipped.id),
            app.auth(&other, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("order.not_found"))
    );

    // the same customer id in another tenant: 404
    let foreign = app.customer_token(OTHER_TENANT, &shipped.customer_id);
    let (status, _) = app
        .get(
            &format!("/v1/customer/orders/{}", shipped.id),
            app.auth(&foreign, OTHER_TENANT),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn auth_is_required_and_surfaces_are_separate() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let (status, body) = app.get("/v1/customer/orders", Default::default()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.missing_token"))
    );
    let customer = app.customer_token(TENANT, "cus_0001");
    let (status, _) = app
        .get(
            &format!("/v1/admin/orders/{}", app.orders[0].id),
            app.auth(&customer, TENANT),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .get("/v1/customer/orders", app.auth(&customer, OTHER_TENANT))
        .await;
    assert_eq!(status, 403, "X-Tenant-ID must equal the token's tenant");
}

#[tokio::test]
async fn health_and_openapi() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let (status, body) = app.get("/v1/customer/health", Default::default()).await;
    assert_eq!(
        (status, body["postgres"].as_str(), body["redis"].as_str()),
        (200, Some("ok"), Some("ok"))
    );
    let (status, doc) = app.get("/openapi.json", Default::default()).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/customer/orders",
        "/v1/customer/orders/{order_id}",
        "/v1/customer/orders/{order_id}/cancel-request",
        "/v1/customer/requests/{request_id}",
        "/v1/admin/orders/{order_id}",
        "/v1/admin/orders/{order_id}/approve-cancel",
        "/v1/admin/orders/{order_id}/force-cancel",
        "/v1/admin/orders/{order_id}/audit",
        "/v1/admin/jobs",
        "/v1/admin/jobs/{job_id}",
        "/v1/customer/health",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    let res = app
        .http
        .get(format!("{}/docs/", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text().await.unwrap().contains("swagger"),
        "the UI page is served"
    );
}
