//! Ids in paths are typed before the handler runs: a segment that cannot be an order,
//! request or job id is answered like an unknown one (404 with the resource's code), the
//! order reads keep their 422, and none of them is a 400 or a 500.

use serde_json::json;

use crate::helpers::{self, TENANT};

#[tokio::test]
async fn malformed_ids_in_paths_answer_like_unknown_ones() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let customer = app.auth(&app.customer_token(TENANT, &order.customer_id), TENANT);
    let admin = app.auth(&app.agent_token(TENANT, "agt_ids", &["admin"]), TENANT);
    let too_long = "9".repeat(101);

    for (path, code) in [
        (
            "/v1/customer/requests/not-a-uuid".to_string(),
            "request.not_found",
        ),
        (
            format!("/v1/customer/orders/{too_long}/messages"),
            "order.not_found",
        ),
        (
            "/v1/customer/orders/bad%20id%21/notify".into(),
            "order.not_found",
        ),
        ("/v1/admin/orders/bad%20id%21".into(), "order.not_found"),
        ("/v1/admin/jobs/not-a-uuid".into(), "job.not_found"),
    ] {
        let headers = if path.starts_with("/v1/admin") {
            admin.clone()
        } else {
            customer.clone()
        };
        let (status, body) = app.get(&path, headers).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some(code)),
            "{path}: {body}"
        );
    }

    // a mutation: the id is refused before the body is read or anything is written
    let mut headers = customer.clone();
    headers.insert("idempotency-key", "k-bad-id".parse().unwrap());
    let res = app
        .post(
            "/v1/customer/orders/bad%20id%21/cancel-request",
            headers,
            &json!({"reason": "changed my mind"}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "order.not_found", "{body}");

    // the order reads tell the caller the id is malformed, naming the parameter
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{too_long}/timeline"),
            customer,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed"))
    );
    assert_eq!(body["errors"][0]["field"], "order_id", "{body}");
}
