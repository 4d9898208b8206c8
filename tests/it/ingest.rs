//! The signed event ingest: signature and time window checked, one effect per event id,
//! older snapshots never overwrite newer ones.

use orderdesk::events::signature;
use serde_json::{Value, json};

use crate::helpers::{self, TENANT, TestApp};

async fn send(app: &TestApp, body: &Value, sig: Option<String>) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut req = app
        .http
        .post(format!("{}/v1/events/ingest", app.api))
        .header("content-type", "application/json")
        .body(bytes.clone());
    if let Some(s) = sig {
        req = req.header(signature::HEADER, s);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn signed(app: &TestApp, body: &Value, at: i64) -> String {
    signature::sign(
        &app.config.events_secret,
        at,
        &serde_json::to_vec(body).unwrap(),
    )
}

#[tokio::test]
async fn signed_events_update_the_read_model_once() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let mut order = app.order_in("confirmed").clone();
    order.status = orderdesk::domain::order::OrderStatus::OnHold;
    order.version += 5;
    let event = json!({"id": "evt_test_1", "type": "order.held", "tenant_id": TENANT, "occurred_at": chrono::Utc::now(), "order": order});
    let now = chrono::Utc::now().timestamp();

    let (status, body) = send(&app, &event, Some(signed(&app, &event, now))).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("stored")),
        "{body}"
    );
    let token = app.customer_token(TENANT, &order.customer_id);
    let (_, view) = app
        .get(
            &format!("/v1/customer/orders/{}", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(view["status"], "on_hold");

    let (status, body) = send(&app, &event, Some(signed(&app, &event, now))).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("duplicate")));
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_events WHERE event_id = 'evt_test_1'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(events, 1);

    // an older snapshot arriving late does not roll the view back
    let mut stale = order.clone();
    stale.status = orderdesk::domain::order::OrderStatus::Confirmed;
    stale.version -= 1;
    let late = json!({"id": "evt_test_0", "type": "order.released", "tenant_id": TENANT, "occurred_at": chrono::Utc::now(), "order": stale});
    let (status, _) = send(&app, &late, Some(signed(&app, &late, now))).await;
    assert_eq!(status, 200);
    let (_, view) = app
        .get(
            &format!("/v1/customer/orders/{}", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(view["status"], "on_hold");
}

#[tokio::test]
async fn bad_signatures_and_bodies_are_refused() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.orders[0].clone();
    let event = json!({"id": "evt_x", "type": "order.updated", "tenant_id": TENANT, "occurred_at": chrono::Utc::now(), "order": order});
    let now = chrono::Utc::now().timestamp();

    let (status, body) = send(&app, &event, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("events.signature_missing"))
    );
    let forged = signature::sign(
        b"not-the-secret-at-all",
        now,
        &serde_json::to_vec(&event).unwrap(),
    );
    let (status, body) = send(&app, &event, Some(forged)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("events.signature_invalid"))
    );
    let (status, body) = send(&app, &event, Some(signed(&app, &event, now - 3600))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("events.signature_stale")),
        "a replay an hour later"
    );
    // signed for one body, sent with another
    let mut tampered = event.clone();
    tampered["order"]["status"] = json!("cancelled");
    let (status, _) = send(&app, &tampered, Some(signed(&app, &event, now))).await;
    assert_eq!(status, 401);

    let garbage = json!({"id": "evt_y", "type": "order.updated"});
    let (status, body) = send(&app, &garbage, Some(signed(&app, &garbage, now))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed"))
    );
    let mut elsewhere = event.clone();
    elsewhere["tenant_id"] = json!("nobody");
    elsewhere["order"]["tenant_id"] = json!("nobody");
    let (status, body) = send(&app, &elsewhere, Some(signed(&app, &elsewhere, now))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("events.unknown_tenant"))
    );
}
