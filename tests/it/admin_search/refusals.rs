//! What is refused: unknown names and oversized searches (422), missing or wrong tokens and
//! roles (401/403); and another tenant's orders, never found.

use serde_json::json;

use super::{PATH, admin, ids_of, refused, search, search_as, spawn};
use crate::helpers::{OTHER_TENANT, TENANT};

#[tokio::test]
async fn unknown_names_and_oversized_searches_are_422_naming_what_is_wrong() {
    let app = spawn().await;
    let out = refused(
        &app,
        json!({"filter": {"and": [{"colour": {"eq": "red"}}]}}),
    )
    .await;
    assert_eq!(out["code"], "search.unknown_field");
    assert_eq!(out["errors"][0]["field"], "filter.and[0].colour");
    assert!(out["detail"].as_str().unwrap().contains("`colour`"));
    let allowed: Vec<&str> = out["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        allowed.contains(&"tracking_number") && allowed.contains(&"not"),
        "{allowed:?}"
    );

    let out = refused(
        &app,
        json!({"filter": {"total_minor": {"between": [1, 2]}}}),
    )
    .await;
    assert_eq!(out["code"], "search.unknown_operator");
    assert_eq!(out["allowed"], json!(["eq", "gte", "lte", "gt", "lt"]));
    let out = refused(&app, json!({"aggregations": {"x": {"avg": "total_minor"}}})).await;
    assert_eq!(
        (&out["code"], &out["allowed"]),
        (
            &json!("search.unknown_aggregation"),
            &json!(["terms", "sum", "histogram"])
        )
    );
    let out = refused(&app, json!({"sort": [{"field": "email"}]})).await;
    assert_eq!(
        out["allowed"],
        json!(["placed_at", "updated_at", "total_minor"])
    );
    let out = refused(&app, json!({"filter": {"status": {"eq": "lost"}}})).await;
    assert_eq!(out["code"], "search.invalid_value");
    assert!(
        out["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("on_hold"))
    );
    // a member the request does not have is refused by its type, naming the members
    let out = refused(&app, json!({"filtr": {}})).await;
    let detail = out["detail"].as_str().unwrap();
    assert!(
        detail.contains("filtr") && detail.contains("aggregations"),
        "{detail}"
    );

    let mut deep = json!({"status": {"eq": "confirmed"}});
    for _ in 0..8 {
        deep = json!({ "not": deep });
    }
    let many = (0..101)
        .map(|i| json!({"number": {"eq": i.to_string()}}))
        .collect::<Vec<_>>();
    let values = (0..501).map(|i| format!("ord_{i}")).collect::<Vec<_>>();
    for body in [
        json!({"filter": deep}),
        json!({"filter": {"or": many}}),
        json!({"filter": {"id": {"in": values}}}),
        json!({"text": "x".repeat(201)}),
    ] {
        assert_eq!(refused(&app, body).await["code"], "search.too_complex");
    }
    for limit in [0, 201] {
        let out = refused(&app, json!({ "limit": limit })).await;
        assert_eq!(out["errors"][0]["field"], "limit");
    }
}

#[tokio::test]
async fn tokens_roles_and_tenants_are_enforced() {
    let app = spawn().await;
    let body = json!({"limit": 200, "aggregations": {"n": {"terms": "currency"}}});
    let res = app
        .http
        .post(format!("{}{PATH}", app.api))
        .header("x-tenant-id", TENANT)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(search_as(&app, "not-a-jwt", TENANT, &body).await.0, 401);
    let customer = app.customer_token(TENANT, &app.orders[0].customer_id);
    assert_eq!(search_as(&app, &customer, TENANT, &body).await.0, 403);
    let auditor = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let (status, out) = search_as(&app, &auditor, TENANT, &body).await;
    assert_eq!(
        (status, &out["required_permission"]),
        (403, &json!("orders.search"))
    );
    let foreign = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    assert_eq!(
        search_as(&app, &foreign, TENANT, &body).await.0,
        403,
        "tenant mismatch"
    );

    // each tenant sees its own orders only, in pages and in aggregations
    let (_, mine) = search_as(&app, &admin(&app), TENANT, &body).await;
    let (status, theirs) = search_as(&app, &foreign, OTHER_TENANT, &body).await;
    assert_eq!(status, 200);
    let mine_ids = ids_of(&mine);
    assert_eq!(mine_ids.len(), app.orders.len());
    assert!(mine_ids.iter().all(|id| !id.ends_with("_g")));
    assert!(!ids_of(&theirs).is_empty() && ids_of(&theirs).iter().all(|id| id.ends_with("_g")));
    let total: i64 = mine["aggregations"]["n"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, app.orders.len() as i64);
    let theirs_by_id = json!({"filter": {"id": {"in": [ids_of(&theirs)[0]]}}, "text": "Customer"});
    assert!(ids_of(&search(&app, theirs_by_id).await).is_empty());
}

#[tokio::test]
async fn malformed_searches_are_problems_never_500() {
    let app = spawn().await;
    let token = admin(&app);
    for body in [
        json!({"limit": "ten"}),
        json!({"limit": 1e20}),
        json!({"sort": "placed_at"}),
        json!({"sort": [{"field": "placed_at", "dir": "up"}]}),
        json!({"sort": [{"field": "placed_at", "order": "desc"}]}),
        json!({"filter": []}),
        json!({"filter": "status = 'confirmed'"}),
        json!({"filter": {"status": {"in": "confirmed"}}}),
        json!({"filter": {"total_minor": {"gte": 1e30}}}),
        json!({"filter": {"placed_at": {"gte": "2026-13-45T00:00:00Z"}}}),
        json!({"filter": {"email": {"contains": "ab"}}}),
        json!({"text": 5}),
        json!({"aggregations": []}),
        json!({"aggregations": {"x": "terms"}}),
        json!({"aggregations": {"x": {"terms": "status", "size": -1}}}),
        json!({"cursor": 5}),
        json!([]),
    ] {
        let res = app.post(PATH, app.auth(&token, TENANT), &body).await;
        assert_eq!(res.status(), 422, "{body}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{body}"
        );
        let out: serde_json::Value = res.json().await.unwrap();
        assert!(
            out["code"].is_string() && out["errors"][0]["field"].is_string(),
            "{body}: {out}"
        );
    }
    let res = app
        .http
        .post(format!("{}{PATH}", app.api))
        .headers(app.auth(&token, TENANT))
        .header("content-type", "application/json")
        .body("{\"filter\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}
