//! The order's case as agents see it: the customer's messages, agents' replies and notes
//! (internal or seen by the customer), attachments sniffed as customers' are.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::post;
use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

/// The customer's view of their messages on `order`.
async fn customer_view(app: &TestApp, token: &str, order: &str) -> Value {
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{order}/messages"),
            app.auth(token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn cases_queue(app: &TestApp, token: &str) -> i64 {
    let (_, q) = app.get("/v1/admin/queues", app.auth(token, TENANT)).await;
    q["data"][2]["count"].as_i64().unwrap()
}

#[tokio::test]
async fn the_customers_messages_are_in_the_case_with_agents_replies_and_notes() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let id = order.id.to_string();
    let customer = app.customer_token(TENANT, &order.customer_id);
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let cases = format!("/v1/admin/orders/{id}/cases");
    let notes = format!("/v1/admin/orders/{id}/notes");

    let (status, empty) = app.get(&cases, app.auth(&agent, TENANT)).await;
    assert_eq!(
        (
            status,
            &empty["case"],
            empty["data"].as_array().map(Vec::len)
        ),
        (200, &Value::Null, Some(0))
    );
    let before = cases_queue(&app, &agent).await;
    let (status, dry) = post(
        &app,
        &agent,
        TENANT,
        &notes,
        None,
        json!({"body": "x", "dry_run": true}),
    )
    .await;
    assert_eq!(
        (status, &dry["opens_case"], &dry["internal"]),
        (200, &json!(true), &json!(true)),
        "{dry}"
    );
    let (_, still) = app.get(&cases, app.auth(&agent, TENANT)).await;
    assert!(still["case"].is_null(), "a dry run writes nothing: {still}");

    // the customer writes through the customer API
    let (status, sent) = post(
        &app,
        &customer,
        TENANT,
        &format!("/v1/customer/orders/{id}/messages"),
        None,
        json!({"body": "Where is my parcel?"}),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let (_, case) = app.get(&cases, app.auth(&agent, TENANT)).await;
    assert_eq!(case["case"]["status"], "open");
    assert_eq!(case["data"][0]["author_kind"], "customer");
    assert_eq!(case["data"][0]["body"], "Where is my parcel?");
    assert_eq!(
        cases_queue(&app, &agent).await,
        before + 1,
        "the case waits for an agent"
    );

    // an internal note with a picture: agents see it, the customer does not
    let note = json!({"body": "Carrier says it is in Lyon",
                      "attachment": {"filename": "scan.png", "content_base64": STANDARD.encode(PNG)}});
    let (status, n) = post(&app, &agent, TENANT, &notes, Some("n-1"), note.clone()).await;
    assert_eq!(status, 201, "{n}");
    assert_eq!(
        (
            n["message"]["internal"].as_bool(),
            n["message"]["author_id"].as_str()
        ),
        (Some(true), Some("agt_ann"))
    );
    assert_eq!(n["message"]["attachment"]["content_type"], "image/png");
    let (status, replay) = post(&app, &agent, TENANT, &notes, Some("n-1"), note).await;
    assert_eq!((status, &replay), (201, &n));
    assert_eq!(
        customer_view(&app, &customer, &id).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        cases_queue(&app, &agent).await,
        before + 1,
        "a note is no answer"
    );

    // a reply: the customer reads it from `support`, and the case waits for them
    let (status, r) = post(
        &app,
        &agent,
        TENANT,
        &cases,
        Some("r-1"),
        json!({"body": "It arrives tomorrow."}),
    )
    .await;
    assert_eq!(
        (status, r["case"]["status"].as_str()),
        (201, Some("pending")),
        "{r}"
    );
    let (status, v) = post(
        &app,
        &agent,
        TENANT,
        &notes,
        None,
        json!({"body": "Sorry for the wait!", "visibility": "customer"}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let seen = customer_view(&app, &customer, &id).await;
    let bodies: Vec<(&str, &str)> = seen["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["author"].as_str().unwrap(), m["body"].as_str().unwrap()))
        .collect();
    assert_eq!(
        bodies,
        [
            ("customer", "Where is my parcel?"),
            ("support", "It arrives tomorrow."),
            ("support", "Sorry for the wait!")
        ]
    );
    assert!(
        !seen.to_string().contains("agt_ann"),
        "agent ids stay internal: {seen}"
    );
    assert_eq!(cases_queue(&app, &agent).await, before);
    let (_, all) = app
        .get(&format!("{cases}?limit=2"), app.auth(&agent, TENANT))
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert!(all["next_cursor"].is_string());
    assert_eq!(all["case"]["message_count"], 4);
}

#[tokio::test]
async fn notes_are_checked_like_customer_uploads_and_scoped_to_the_tenant() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let id = app.order_in("confirmed").id.to_string();
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let notes = format!("/v1/admin/orders/{id}/notes");
    for (bad, code) in [
        (json!({"body": "  "}), "validation.failed"),
        (json!({"body": "x".repeat(5001)}), "validation.failed"),
        (
            json!({"body": "x", "visibility": "everyone"}),
            "validation.failed",
        ),
        (
            json!({"body": "x", "attachment": {"filename": "a.txt", "content_base64": "%%%"}}),
            "validation.failed",
        ),
        (
            json!({"body": "x", "attachment": {"filename": "cat.png",
                "content_base64": STANDARD.encode(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0")}}),
            "message.attachment_type",
        ),
    ] {
        let (status, body) = post(&app, &agent, TENANT, &notes, None, bad).await;
        assert_eq!((status, body["code"].as_str()), (422, Some(code)), "{body}");
    }
    let cases = format!("/v1/admin/orders/{id}/cases");
    let (status, body) = post(
        &app,
        &agent,
        TENANT,
        &cases,
        None,
        json!({"body": "x", "subject": "s".repeat(201)}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    // an attachment as large as a customer's is taken (outside the default body limit)
    let big = json!({"body": "log", "attachment": {"filename": "log.txt", "content_base64": STANDARD.encode(vec![b'a'; 1024 * 1024])}});
    let (status, body) = post(&app, &agent, TENANT, &notes, None, big).await;
    assert_eq!(status, 201, "{body}");

    let auditor = app.agent_token(TENANT, "agt_aud", &["auditor"]);
    let (status, _) = post(&app, &auditor, TENANT, &notes, None, json!({"body": "x"})).await;
    assert_eq!(status, 403);
    let res = app
        .http
        .post(format!("{}{notes}", app.api))
        .header("x-tenant-id", TENANT)
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = app
        .http
        .get(format!("{}{cases}", app.api))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let (status, _) = post(
        &app,
        &foreign,
        OTHER_TENANT,
        &notes,
        None,
        json!({"body": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&cases, app.auth(&foreign, OTHER_TENANT)).await;
    assert_eq!(status, 404);
}
