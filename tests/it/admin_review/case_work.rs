//! Agents working a case: assigning it (with an internal note) and closing it, which takes
//! it out of the `cases` queue until the customer writes again.

use serde_json::{Value, json};

use super::post;
use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

/// The `cases` queue's count.
async fn cases_queue(app: &TestApp, token: &str) -> i64 {
    let (_, q) = app.get("/v1/admin/queues", app.auth(token, TENANT)).await;
    q["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue_id"] == "cases")
        .unwrap()["count"]
        .as_i64()
        .unwrap()
}

/// The customer writes on their order's case; returns the case id.
async fn customer_writes(app: &TestApp, token: &str, order: &str, body: &str) -> String {
    let path = format!("/v1/customer/orders/{order}/messages");
    let (status, sent) = post(app, token, TENANT, &path, None, json!({ "body": body })).await;
    assert_eq!(status, 201, "{sent}");
    sent["case"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_agent_assigns_and_closes_a_case_and_the_customer_reopens_it() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let id = order.id.to_string();
    let customer = app.customer_token(TENANT, &order.customer_id);
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let before = cases_queue(&app, &agent).await;
    let case_id = customer_writes(&app, &customer, &id, "Where is my parcel?").await;
    assert_eq!(cases_queue(&app, &agent).await, before + 1);
    let base = format!("/v1/admin/orders/{id}/cases/{case_id}");
    let (assign, close) = (format!("{base}/assign"), format!("{base}/close"));

    // a dry run answers what would happen and writes nothing
    let (status, dry) = post(
        &app,
        &agent,
        TENANT,
        &assign,
        None,
        json!({"assignee": "agt_bob", "dry_run": true}),
    )
    .await;
    assert_eq!(
        (status, &dry["allowed"], &dry["case"]["assigned_agent"]),
        (200, &json!(true), &Value::Null),
        "{dry}"
    );

    // assigned to an agent, with an internal note; the same key replays the answer
    let body = json!({"assignee": "agt_bob", "note": "VIP customer, call first"});
    let (status, a) = post(&app, &agent, TENANT, &assign, Some("a-1"), body.clone()).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(
        (
            &a["case"]["assigned_agent"],
            &a["case"]["assigned_team"],
            &a["case"]["status"]
        ),
        (&json!("agt_bob"), &Value::Null, &json!("open"))
    );
    assert_eq!(
        (&a["note"]["internal"], &a["note"]["body"]),
        (&json!(true), &json!("VIP customer, call first"))
    );
    let (status, replay) = post(&app, &agent, TENANT, &assign, Some("a-1"), body).await;
    assert_eq!((status, &replay), (200, &a));
    let (_, seen) = app
        .get(
            &format!("/v1/customer/orders/{id}/messages"),
            app.auth(&customer, TENANT),
        )
        .await;
    assert!(
        !seen.to_string().contains("VIP"),
        "the note stays internal: {seen}"
    );
    // a team replaces the agent
    let (status, t) = post(
        &app,
        &agent,
        TENANT,
        &assign,
        None,
        json!({"assignee": "team:returns"}),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        (
            &t["case"]["assigned_agent"],
            &t["case"]["assigned_team"],
            &t["note"]
        ),
        (&Value::Null, &json!("returns"), &Value::Null)
    );
    assert_eq!(
        cases_queue(&app, &agent).await,
        before + 1,
        "an assigned case still waits"
    );

    // closed with a resolution: it leaves the queue; the same key replays
    let body = json!({"resolution": "Parcel found at the depot"});
    let (status, c) = post(&app, &agent, TENANT, &close, Some("c-1"), body.clone()).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        (
            &c["case"]["status"],
            &c["case"]["resolution"],
            &c["case"]["closed_by"]
        ),
        (
            &json!("closed"),
            &json!("Parcel found at the depot"),
            &json!("agt_ann")
        )
    );
    assert!(c["case"]["closed_at"].is_string(), "{c}");
    assert_eq!(cases_queue(&app, &agent).await, before);
    let (status, replay) = post(&app, &agent, TENANT, &close, Some("c-1"), body).await;
    assert_eq!((status, &replay), (200, &c));
    let (status, again) = post(
        &app,
        &agent,
        TENANT,
        &close,
        Some("c-2"),
        json!({"resolution": "again"}),
    )
    .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("case.blocked.already_closed")),
        "{again}"
    );
    let (status, closed) = post(
        &app,
        &agent,
        TENANT,
        &assign,
        None,
        json!({"assignee": "agt_bob"}),
    )
    .await;
    assert_eq!(
        (status, closed["code"].as_str()),
        (409, Some("case.blocked.closed"))
    );
    let (status, dry) = post(
        &app,
        &agent,
        TENANT,
        &close,
        None,
        json!({"resolution": "x", "dry_run": true}),
    )
    .await;
    assert_eq!(
        (status, &dry["allowed"], &dry["blocked_reasons"][0]["code"]),
        (200, &json!(false), &json!("case.blocked.already_closed"))
    );

    // the customer's next message reopens it, back in the queue, its closure cleared
    let again = customer_writes(&app, &customer, &id, "It never arrived").await;
    assert_eq!(again, case_id, "one case per order");
    let (_, case) = app
        .get(
            &format!("/v1/admin/orders/{id}/cases"),
            app.auth(&agent, TENANT),
        )
        .await;
    assert_eq!(
        (
            &case["case"]["status"],
            &case["case"]["resolution"],
            &case["case"]["closed_at"]
        ),
        (&json!("open"), &Value::Null, &Value::Null),
        "{case}"
    );
    assert_eq!(case["case"]["assigned_team"], "returns");
    assert_eq!(cases_queue(&app, &agent).await, before + 1);

    // both actions are in the order's audit trail
    let auditor = app.agent_token(TENANT, "agt_aud", &["auditor"]);
    let (_, audit) = app
        .get(
            &format!("/v1/admin/orders/{id}/audit"),
            app.auth(&auditor, TENANT),
        )
        .await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"case.assigned") && actions.contains(&"case.closed"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn case_work_is_validated_authorized_and_scoped_to_the_tenant() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let id = order.id.to_string();
    let customer = app.customer_token(TENANT, &order.customer_id);
    let case_id = customer_writes(&app, &customer, &id, "Hello").await;
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let base = format!("/v1/admin/orders/{id}/cases/{case_id}");
    let (assign, close) = (format!("{base}/assign"), format!("{base}/close"));
    for (path, bad) in [
        (&assign, json!({"assignee": "  "})),
        (&assign, json!({"assignee": "team:"})),
        (&assign, json!({"assignee": "x".repeat(101)})),
        (
            &assign,
            json!({"assignee": "agt_bob", "note": "n".repeat(501)}),
        ),
        (&assign, json!({"assignee": "agt_bob", "urgent": true})),
        (&assign, json!({})),
        (&close, json!({"resolution": "   "})),
        (&close, json!({"resolution": "r".repeat(501)})),
        (&close, json!({})),
    ] {
        let (status, body) = post(&app, &agent, TENANT, path, None, bad.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation.failed")),
            "{bad}: {body}"
        );
    }
    // no such case on this order
    let other = format!("/v1/admin/orders/{id}/cases/case_nope/close");
    let (status, body) = post(
        &app,
        &agent,
        TENANT,
        &other,
        None,
        json!({"resolution": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("case.not_found"))
    );
    let elsewhere = app
        .orders
        .iter()
        .find(|o| o.id != order.id)
        .unwrap()
        .id
        .to_string();
    let moved = format!("/v1/admin/orders/{elsewhere}/cases/{case_id}/assign");
    let (status, _) = post(
        &app,
        &agent,
        TENANT,
        &moved,
        None,
        json!({"assignee": "agt_bob"}),
    )
    .await;
    assert_eq!(status, 404, "a case is reached through its own order");

    let res = app
        .http
        .post(format!("{}{close}", app.api))
        .header("x-tenant-id", TENANT)
        .json(&json!({"resolution": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = app
        .http
        .post(format!("{}{assign}", app.api))
        .header("x-tenant-id", TENANT)
        .header("authorization", "Bearer not-a-token")
        .json(&json!({"assignee": "agt_bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let auditor = app.agent_token(TENANT, "agt_aud", &["auditor"]);
    let (status, body) = post(
        &app,
        &auditor,
        TENANT,
        &close,
        None,
        json!({"resolution": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["required_permission"].as_str()),
        (403, Some("orders.edit"))
    );
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    for (path, body) in [
        (&assign, json!({"assignee": "agt_bob"})),
        (&close, json!({"resolution": "x"})),
    ] {
        let (status, _) = post(&app, &foreign, OTHER_TENANT, path, None, body).await;
        assert_eq!(status, 404);
    }
    let (_, case) = app
        .get(
            &format!("/v1/admin/orders/{id}/cases"),
            app.auth(&agent, TENANT),
        )
        .await;
    assert_eq!(
        (&case["case"]["status"], &case["case"]["assigned_agent"]),
        (&json!("open"), &Value::Null),
        "nothing refused changed the case: {case}"
    );
}
