//! Tasks: created on an order (or none), listed with filters and pages, closed once.

use serde_json::json;

use super::post;
use crate::helpers::{self, OTHER_TENANT, TENANT};

#[tokio::test]
async fn tasks_are_created_listed_by_filter_and_closed_once() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("shipped").clone();
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let call = json!({"kind": "call_customer", "title": "Call about the late parcel",
                      "order_id": order.id.to_string(), "assignee": "agt_bob",
                      "due_at": "2030-01-01T10:00:00Z", "notes": "prefers mornings"});
    for bad in [
        json!({"kind": "fax", "title": "x"}),
        json!({"kind": "pickup", "title": "  "}),
        json!({"kind": "pickup", "title": "t".repeat(201)}),
        json!({"kind": "pickup", "title": "x", "assignee": ""}),
        json!({"kind": "pickup", "title": "x", "due_at": "soon"}),
        json!({"kind": "pickup", "title": "x", "order_id": "not an id!"}),
        json!({"kind": "pickup", "title": "x", "colour": "red"}),
    ] {
        let (status, body) = post(&app, &agent, TENANT, "/v1/admin/tasks", None, bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation.failed")),
            "{body}"
        );
    }
    // a time chrono reads but PostgreSQL cannot hold: a 422, not a 500
    let (status, body) = post(
        &app,
        &agent,
        TENANT,
        "/v1/admin/tasks",
        None,
        json!({"kind": "pickup", "title": "x", "due_at": "-5000-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.out_of_range_time")),
        "{body}"
    );
    assert!(!body.to_string().contains("out of range\""), "{body}");
    let (status, dry) = post(
        &app,
        &agent,
        TENANT,
        "/v1/admin/tasks",
        None,
        json!({"kind": "pickup", "title": "x", "dry_run": true}),
    )
    .await;
    assert_eq!((status, &dry["dry_run"]), (200, &json!(true)), "{dry}");

    let (status, task) = post(
        &app,
        &agent,
        TENANT,
        "/v1/admin/tasks",
        Some("t-1"),
        call.clone(),
    )
    .await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(
        (task["kind"].as_str(), task["status"].as_str()),
        (Some("call_customer"), Some("open"))
    );
    assert_eq!(task["order_id"], order.id.to_string());
    assert_eq!(task["created_by"], "agent:agt_ann");
    let (status, replay) = post(&app, &agent, TENANT, "/v1/admin/tasks", Some("t-1"), call).await;
    assert_eq!((status, &replay), (201, &task));
    let (status, _) = post(
        &app,
        &agent,
        TENANT,
        "/v1/admin/tasks",
        None,
        json!({"kind": "escalate", "title": "Supplier issue"}),
    )
    .await;
    assert_eq!(status, 201);

    // another tenant's order is not found; nor are its tasks
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let on_ours = json!({"kind": "pickup", "title": "x", "order_id": order.id.to_string()});
    let (status, body) = post(
        &app,
        &foreign,
        OTHER_TENANT,
        "/v1/admin/tasks",
        None,
        on_ours,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("order.not_found"))
    );
    let (status, body) = app
        .get("/v1/admin/tasks", app.auth(&foreign, OTHER_TENANT))
        .await;
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{body}"
    );

    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let list = |q: String| {
        let (app, lead) = (&app, &lead);
        async move {
            app.get(&format!("/v1/admin/tasks{q}"), app.auth(lead, TENANT))
                .await
        }
    };
    let (_, all) = list("".to_string()).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let (_, bob) = list("?assignee=agt_bob&status=open".to_string()).await;
    assert_eq!(bob["data"][0]["id"], task["id"]);
    assert_eq!(bob["data"].as_array().unwrap().len(), 1);
    let (_, page) = list("?limit=1".to_string()).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, next) = list(format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(next["data"].as_array().unwrap().len(), 1);
    assert_ne!(next["data"][0]["id"], page["data"][0]["id"]);
    assert!(next["next_cursor"].is_null());
    for q in ["?status=late", "?limit=0", "?limit=101"] {
        let (status, body) = list(q.to_string()).await;
        assert_eq!(status, 422, "{q}: {body}");
    }
    let (status, _) = list("?cursor=zzz".to_string()).await;
    assert_eq!(status, 400);

    // closing
    let id = task["id"].as_str().unwrap();
    let path = format!("/v1/admin/tasks/{id}/complete");
    let (status, body) = post(&app, &agent, TENANT, &path, None, json!({"status": "lost"})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = post(&app, &foreign, OTHER_TENANT, &path, None, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("task.not_found"))
    );
    let (status, body) = post(
        &app,
        &agent,
        TENANT,
        "/v1/admin/tasks/nope/complete",
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("task.not_found"))
    );
    let (status, dry) = post(&app, &agent, TENANT, &path, None, json!({"dry_run": true})).await;
    assert_eq!(
        (status, &dry["task"]["status"]),
        (200, &json!("open")),
        "{dry}"
    );
    let done = json!({"note": "reached, parcel rerouted"});
    let (status, closed) = post(&app, &agent, TENANT, &path, Some("c-1"), done.clone()).await;
    assert_eq!(
        (status, closed["status"].as_str()),
        (200, Some("done")),
        "{closed}"
    );
    assert_eq!(closed["closed_by"], "agent:agt_ann");
    assert_eq!(
        closed["notes"],
        "prefers mornings\nreached, parcel rerouted"
    );
    let (status, replay) = post(&app, &agent, TENANT, &path, Some("c-1"), done.clone()).await;
    assert_eq!((status, &replay), (200, &closed));
    let (status, body) = post(&app, &agent, TENANT, &path, Some("c-2"), done).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("task.closed")));
    let (status, body) = post(&app, &agent, TENANT, &path, None, json!({"dry_run": true})).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("task.closed")));
    let (_, open) = list("?status=open".to_string()).await;
    assert_eq!(open["data"].as_array().unwrap().len(), 1);
    // the open one is the `tasks` queue's item
    let (_, queues) = app.get("/v1/admin/queues", app.auth(&lead, TENANT)).await;
    assert_eq!(queues["data"][3]["queue_id"], "tasks");
    assert_eq!(queues["data"][3]["count"], 1);
}

#[tokio::test]
async fn tasks_need_a_token_and_the_permission() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let body = json!({"kind": "pickup", "title": "x"});
    let res = app
        .http
        .post(format!("{}/v1/admin/tasks", app.api))
        .header("x-tenant-id", TENANT)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = app
        .http
        .get(format!("{}/v1/admin/tasks", app.api))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let billing = app.agent_token(TENANT, "agt_bill", &["billing"]);
    let (status, res) = post(&app, &billing, TENANT, "/v1/admin/tasks", None, body).await;
    assert_eq!(
        (status, res["code"].as_str()),
        (403, Some("auth.forbidden"))
    );
}
