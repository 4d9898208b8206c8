//! Shipment updates reach the channels a customer subscribed to: the sandbox ships the order,
//! its signed event reaches ingest, and the `notify_shipment_update` workflow sends one
//! message per subscribed channel — none for redelivered events, ETA-only changes,
//! unsubscribed channels or orders nobody subscribed to, and still one per channel when the
//! Notifications service fails or loses answers.

use std::time::Duration;

use orderdesk::domain::ids::{OrderId, TenantId};
use orderdesk::events::signature;
use serde_json::{Value, json};

use super::{sandbox_notifications, send, with_key};
use crate::helpers::{self, TENANT, TestApp};

const SMS: &str = "+14155550123";

/// The `shipment_update` messages of `order_id`, once there are at least `n` (20 s at most).
async fn notices(app: &TestApp, order_id: impl AsRef<str>, n: usize) -> Vec<Value> {
    let order_id = order_id.as_ref();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<Value> = sandbox_notifications(app, order_id)
            .await
            .into_iter()
            .filter(|m| m["template"] == "shipment_update")
            .collect();
        if found.len() >= n || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn notice_runs(app: &TestApp, order_id: impl AsRef<str>) -> i64 {
    let order_id = order_id.as_ref();
    sqlx::query_scalar(
        "SELECT count(*) FROM runs WHERE kind = 'notify_shipment_update' AND subject_id = $1",
    )
    .bind(order_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

/// Sends the read model's order, changed by `change`, as a signed event `event_id`.
async fn ingest_change(
    app: &TestApp,
    order_id: &OrderId,
    event_id: &str,
    change: impl FnOnce(&mut orderdesk::domain::order::Order),
) -> Value {
    let mut conn = app.state.db.acquire().await.unwrap();
    let mut order = orderdesk::db::orders::get(&mut conn, &TenantId::new(TENANT), order_id, None)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    change(&mut order);
    order.version += 1;
    let event = json!({"id": event_id, "type": "shipment.updated", "tenant_id": TENANT,
        "occurred_at": chrono::Utc::now(), "order": order});
    let bytes = serde_json::to_vec(&event).unwrap();
    let sig = signature::sign(
        &app.config.events_secret,
        chrono::Utc::now().timestamp(),
        &bytes,
    );
    let res = app
        .http
        .post(format!("{}/v1/events/ingest", app.api))
        .header("content-type", "application/json")
        .header(signature::HEADER, sig)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn shipment_news_reaches_each_subscribed_channel_once() {
    let app = helpers::spawn().await;
    let confirmed: Vec<_> = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed" && o.shipments.is_empty())
        .take(2)
        .cloned()
        .collect();
    let (order, unsubscribed) = (&confirmed[0], &confirmed[1]);
    let token = app.customer_token(TENANT, &order.customer_id);
    let notify = format!("/v1/customer/orders/{}/notify", order.id);
    for (key, body) in [
        ("sub-email", json!({"channel": "email", "subscribe": true})),
        (
            "sub-sms",
            json!({"channel": "sms", "subscribe": true, "destination": SMS}),
        ),
    ] {
        let h = with_key(app.auth(&token, TENANT), key);
        let (status, _, answer) = send(&app, h, &notify, &body).await;
        assert_eq!(status, 200, "{answer}");
    }

    app.ship_at_sandbox(&order.id).await;
    app.ship_at_sandbox(&unsubscribed.id).await;
    let sent = notices(&app, &order.id, 2).await;
    assert_eq!(sent.len(), 2, "one per subscribed channel: {sent:?}");
    let mut to: Vec<_> = sent.iter().map(|m| m["to"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, [SMS, order.email.as_str()]);
    for m in &sent {
        let update = &m["data"]["updates"][0];
        assert_eq!(m["data"]["order_number"], order.number.as_str(), "{m}");
        assert_eq!(update["carrier"], "UPS", "{m}");
        assert!(
            update["tracking_number"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        assert!(update["title"].as_str().is_some(), "{m}");
    }

    // the customer turns SMS off; delivery is news for email only
    let off = json!({"channel": "sms", "subscribe": false});
    let h = with_key(app.auth(&token, TENANT), "unsub-sms");
    let (status, _, _) = send(&app, h, &notify, &off).await;
    assert_eq!(status, 200);
    let delivered = |o: &mut orderdesk::domain::order::Order| {
        o.shipments[0].status = "delivered".into();
        o.shipments[0].delivered_at = Some(chrono::Utc::now());
    };
    let answer = ingest_change(&app, &order.id, "evt_delivered", delivered).await;
    assert_eq!(answer["outcome"], "stored");
    let sent = notices(&app, &order.id, 3).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    let last = sent
        .iter()
        .find(|m| m["data"]["updates"][0]["status"] == "delivered");
    let last = last.expect("a delivery notice");
    assert_eq!(last["to"], order.email.as_str());
    assert_eq!(last["data"]["updates"][0]["title"], "Delivered");

    // no news: the same event again, then a changed ETA alone
    let answer = ingest_change(&app, &order.id, "evt_delivered", delivered).await;
    assert_eq!(answer["outcome"], "duplicate");
    let eta_only = |o: &mut orderdesk::domain::order::Order| {
        o.shipments[0].eta = Some(chrono::Utc::now() + chrono::Duration::days(1));
    };
    let answer = ingest_change(&app, &order.id, "evt_eta", eta_only).await;
    assert_eq!(answer["outcome"], "stored");
    assert_eq!(notice_runs(&app, &order.id).await, 2);
    assert_eq!(notices(&app, &order.id, 0).await.len(), 3);

    // nobody subscribed to the other order: its shipment (in the read model since
    // `ship_at_sandbox` returned) started no workflow
    assert_eq!(notice_runs(&app, &unsubscribed.id).await, 0);
    assert!(
        sandbox_notifications(&app, &unsubscribed.id)
            .await
            .iter()
            .all(|m| m["template"] != "shipment_update")
    );
}

#[tokio::test]
async fn a_flaky_notifications_service_still_gets_one_message_per_channel() {
    let app = helpers::spawn().await;
    let order = app
        .orders
        .iter()
        .find(|o| o.status.as_str() == "confirmed" && o.shipments.is_empty())
        .unwrap()
        .clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let notify = format!("/v1/customer/orders/{}/notify", order.id);
    let push_token = "ExponentPushToken:abcdefghijklmnop";
    for (i, body) in [
        json!({"channel": "email", "subscribe": true}),
        json!({"channel": "sms", "subscribe": true, "destination": SMS}),
        json!({"channel": "push", "subscribe": true, "destination": push_token}),
    ]
    .iter()
    .enumerate()
    {
        let h = with_key(app.auth(&token, TENANT), &format!("sub-{i}"));
        let (status, _, answer) = send(&app, h, &notify, body).await;
        assert_eq!(status, 200, "{answer}");
    }
    app.set_faults(
        json!({"service": "notifications", "error_rate": 0.3, "lost_response_rate": 0.2}),
    )
    .await;
    app.ship_at_sandbox(&order.id).await;
    let run_id: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM runs WHERE kind = 'notify_shipment_update' AND subject_id = $1",
    )
    .bind(&order.id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let job = app.wait_job(&run_id.to_string(), 90).await;
    app.clear_faults().await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let sent = notices(&app, &order.id, 3).await;
    let mut to: Vec<_> = sent.iter().map(|m| m["to"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(
        to,
        [SMS, push_token, order.email.as_str()],
        "each channel once, whatever was retried: {sent:?}"
    );
}
