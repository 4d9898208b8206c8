//! `GET /v1/admin/orders/fraud`: assessed orders, riskiest first.

use serde_json::{Value, json};

use super::{access_records, get_as, refuses_without_a_valid_token, spawn};
use crate::helpers::{self, OTHER_TENANT, TENANT};

fn scores(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["risk_score"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn lists_assessed_orders_by_score_with_ranges_rules_and_cursor() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        orders: 120,
        ..Default::default()
    })
    .await;
    let mut expected: Vec<(i64, String)> = app
        .orders
        .iter()
        .filter_map(|o| o.risk.as_ref().map(|r| (r.score as i64, o.id.to_string())))
        .collect();
    expected.sort();
    expected.reverse();
    assert!(expected.len() >= 5, "the demo assesses some orders");

    let (mut seen, mut cursor) = (vec![], None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/orders/fraud?limit=3&cursor={c}"),
            None => "/v1/admin/orders/fraud?limit=3".into(),
        };
        let (status, body) = get_as(&app, &["fraud"], &path).await;
        assert_eq!(status, 200, "{body}");
        for r in body["data"].as_array().unwrap() {
            seen.push((
                r["risk_score"].as_i64().unwrap(),
                r["id"].as_str().unwrap().to_string(),
            ));
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, expected);

    let (_, body) = get_as(
        &app,
        &["fraud"],
        "/v1/admin/orders/fraud?risk_score_min=40&risk_score_max=60",
    )
    .await;
    let got = scores(&body);
    assert!(
        !got.is_empty() && got.iter().all(|s| (40..=60).contains(s)),
        "{got:?}"
    );
    let (_, body) = get_as(
        &app,
        &["fraud"],
        "/v1/admin/orders/fraud?rule_trigger=many_units",
    )
    .await;
    let rows = body["data"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| {
        r["risk_rules"]
            .as_array()
            .unwrap()
            .contains(&json!("many_units"))
    }));
    let (_, body) = get_as(
        &app,
        &["fraud"],
        "/v1/admin/orders/fraud?rule_trigger=no_such_rule",
    )
    .await;
    assert_eq!(body["data"], json!([]));

    let shown = access_records(&app, "orders.fraud_listed").await;
    assert!(
        shown
            .iter()
            .any(|s| s["order_ids"].as_array().is_some_and(|a| !a.is_empty()))
    );
}

#[tokio::test]
async fn is_not_taken_for_an_order_id() {
    let app = spawn().await;
    // cs_agent may read orders but not review fraud: a 403 naming fraud.review proves the
    // fraud route answered, not the order view's (which would be a 404 for order "fraud")
    let (status, body) = get_as(&app, &["cs_agent"], "/v1/admin/orders/fraud").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["required_permission"], "fraud.review");
    let (status, body) = get_as(&app, &["fraud"], "/v1/admin/orders/fraud").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"].is_array() && body.get("order").is_none(),
        "{body}"
    );
}

#[tokio::test]
async fn bad_ranges_are_422() {
    let app = spawn().await;
    for (q, field) in [
        ("risk_score_min=70&risk_score_max=20", "risk_score_min"),
        ("risk_score_min=-1", "risk_score_min"),
        ("risk_score_max=101", "risk_score_max"),
        ("rule_trigger=DROP%20TABLE", "rule_trigger"),
        ("limit=0", "limit"),
    ] {
        let (status, body) = get_as(&app, &["fraud"], &format!("/v1/admin/orders/fraud?{q}")).await;
        assert_eq!(status, 422, "{q}: {body}");
        assert_eq!(body["code"], "validation.failed");
        assert_eq!(body["errors"][0]["field"], field, "{q}: {body}");
    }
    let (status, body) = get_as(&app, &["fraud"], "/v1/admin/orders/fraud?cursor=%21").await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("request.invalid_cursor"))
    );
}

#[tokio::test]
async fn tokens_and_other_tenants() {
    let app = spawn().await;
    refuses_without_a_valid_token(&app, "/v1/admin/orders/fraud").await;
    // another tenant's agent sees only their own tenant's assessed orders
    let ours: Vec<String> = app
        .orders
        .iter()
        .filter(|o| o.risk.is_some())
        .map(|o| o.id.to_string())
        .collect();
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["fraud"]);
    let (status, body) = app
        .get(
            "/v1/admin/orders/fraud?limit=200",
            app.auth(&foreign, OTHER_TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for r in body["data"].as_array().unwrap() {
        assert!(
            !ours.contains(&r["id"].as_str().unwrap().to_string()),
            "{r}"
        );
        assert!(r["id"].as_str().unwrap().ends_with("_g"));
    }
    let _ = TENANT;
}
