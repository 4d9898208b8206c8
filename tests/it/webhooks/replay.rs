//! Replaying an order's recorded events to a webhook or the stream.

use serde_json::{Value, json};

use super::receiver::{Received, Receiver};
use super::{admin, cancel_as_customer, create, spawn, stream_entries};
use crate::helpers::{OTHER_TENANT, TENANT};

#[tokio::test]
async fn an_orders_events_are_replayed_in_order_marked_as_replay() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let token = admin(&app);
    // the live subscription records the order's history as it happens
    let (_, live) = create(&app, &token, "live", json!({"url": receiver.url("live")})).await;
    assert!(live["id"].is_string(), "{live}");
    let order_id = cancel_as_customer(&app).await;
    receiver.wait_for("live", 3, 30).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let history: Vec<Value> = receiver
        .received("live")
        .iter()
        .map(Received::json)
        .collect();
    assert!(history.len() >= 3, "{history:?}");
    // a subscription to nothing live, so it receives only the replay
    let body = json!({"url": receiver.url("replayed"), "event_types": ["none.none"]});
    let (_, target) = create(&app, &token, "target", body).await;
    let path = format!("/v1/admin/orders/{order_id}/replay-events");
    let ask = json!({"target": target["id"]});
    let (status, job) = app
        .admin_post(&token, &path, Some("rp-1"), None, ask.clone())
        .await;
    assert_eq!(status, 202, "{job}");
    let (_, again) = app.admin_post(&token, &path, Some("rp-1"), None, ask).await;
    assert_eq!(again["id"], job["id"]);
    let done = app.wait_job(job["id"].as_str().unwrap(), 20).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let ours: Vec<&Value> = history
        .iter()
        .filter(|e| e["data"]["order_id"] == order_id.as_str())
        .collect();
    let replayed = receiver.wait_for("replayed", ours.len(), 30).await;
    let replayed: Vec<Value> = replayed.iter().map(Received::json).collect();
    let ids = |v: &[&Value]| v.iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&replayed.iter().take(ours.len()).collect::<Vec<_>>()),
        ids(&ours)
    );
    assert!(replayed.iter().all(|e| e["replay"] == true), "{replayed:?}");
    assert!(history.iter().all(|e| e.get("replay").is_none()));

    // only some types, to the stream
    let ask = json!({"target": "stream", "types": ["customer.cancel_requested"]});
    let (status, job) = app.admin_post(&token, &path, None, None, ask).await;
    assert_eq!(status, 202, "{job}");
    let done = app.wait_job(job["id"].as_str().unwrap(), 20).await;
    assert_eq!(
        (done["status"].as_str(), done["result"]["events"].as_i64()),
        (Some("succeeded"), Some(1)),
        "{done}"
    );
    let entries = stream_entries(&app).await;
    let replays = entries
        .iter()
        .filter(|(_, f)| f.iter().any(|(k, v)| k == "replay" && v == "true"))
        .count();
    assert_eq!(replays, 1);

    // refusals
    let other = app.agent_token(OTHER_TENANT, "agt_o", &["admin"]);
    let (status, _) = app
        .post_as(
            &other,
            OTHER_TENANT,
            &path,
            None,
            None,
            json!({"target": "stream"}),
        )
        .await;
    assert_eq!(status, 404);
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let (status, _) = app
        .admin_post(&lead, &path, None, None, json!({"target": "stream"}))
        .await;
    assert_eq!(status, 403);
    for bad in [
        json!({"target": "nowhere"}),
        json!({"target": "stream", "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
        json!({"target": uuid::Uuid::new_v4()}),
    ] {
        let (status, body) = app.admin_post(&token, &path, None, None, bad).await;
        assert_eq!(status, 422, "{body}");
    }
}

#[tokio::test]
async fn a_retried_replay_step_queues_its_deliveries_once() {
    let receiver = Receiver::start().await;
    let app = spawn(&receiver).await;
    let token = admin(&app);
    let body = json!({"url": receiver.url("once"), "event_types": ["none.none"]});
    let (_, hook) = create(&app, &token, "once", body).await;
    let hook_id: uuid::Uuid = hook["id"].as_str().unwrap().parse().unwrap();
    let tenant = orderdesk::domain::ids::TenantId::new(TENANT);
    let events: Vec<Value> = (0..3)
        .map(|i| json!({"id": format!("evt_{i}"), "type": "order.updated", "replay": true}))
        .collect();
    let queue = |job: orderdesk::domain::ids::RunId| {
        let events: Vec<Value> = events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e["replay_job_id"] = json!(job);
                e
            })
            .collect();
        let db = app.state.db.clone();
        let tenant = tenant.clone();
        async move {
            let mut conn = db.acquire().await.unwrap();
            orderdesk::db::webhooks::enqueue_replay(&mut conn, &tenant, hook_id, job, &events)
                .await
                .unwrap()
        }
    };
    let job = orderdesk::domain::ids::RunId::now_v7();
    assert_eq!(queue(job).await, 3);
    // the step's first attempt queued them, then lost its checkpoint: the retry adds none
    assert_eq!(queue(job).await, 0);
    // another replay job of the same events is a replay of its own
    assert_eq!(queue(orderdesk::domain::ids::RunId::now_v7()).await, 3);
}
