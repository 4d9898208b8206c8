//! Agents changing an order's status: holds (placed, replayed, released, expired), confirm,
//! close, reopen, legal holds, and the `order.blocked.*` answers of each.

use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

/// POSTs `body` to `/v1/admin/orders/{order}/{action}` as `token`, with `key` and `sudo`.
async fn act(
    app: &TestApp,
    token: &str,
    order: &str,
    action: &str,
    key: Option<&str>,
    sudo: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let path = format!("/v1/admin/orders/{order}/{action}");
    app.admin_post(token, &path, key, sudo, body).await
}

fn allowed(v: &Value) -> Vec<&str> {
    v["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_hold_is_an_object_placed_once_and_released_with_a_resolution() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").id.to_string();
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let hold = json!({"reason": "address check", "duration_minutes": 60});

    let (status, body) = act(&app, &agent, &order, "hold", None, None, hold.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );
    for bad in [
        json!({"reason": "  "}),
        json!({"reason": "x", "duration_minutes": 0}),
        json!({"reason": "x", "duration_minutes": 525_601}),
        json!({"reason": "x", "until": "tomorrow"}),
        json!({"reason": "r".repeat(501)}),
        json!({"reason": "nul \u{0} inside"}),
    ] {
        let (status, body) = act(&app, &agent, &order, "hold", Some("h-bad"), None, bad).await;
        assert_eq!(status, 422, "{body}");
    }

    let placed = app
        .job_succeeded(
            act(
                &app,
                &agent,
                &order,
                "hold",
                Some("h-1"),
                None,
                hold.clone(),
            )
            .await,
        )
        .await;
    let hold_id = placed["hold"]["id"].as_str().unwrap().to_string();
    assert_eq!(placed["hold"]["placed_by"], "agent:agt_ann");
    assert!(placed["hold"]["expires_at"].is_string());
    assert_eq!(placed["action"], "hold");
    let v = app.admin_view(&order).await;
    assert_eq!(v["order"]["status"], "on_hold");
    assert_eq!(v["holds"][0]["id"], hold_id.as_str());
    assert!(v["holds"][0]["released_at"].is_null());
    assert!(
        allowed(&v).contains(&"release") && !allowed(&v).contains(&"hold"),
        "{v}"
    );

    // the same key replays the first answer; another key is refused
    let (status, replay) = act(
        &app,
        &agent,
        &order,
        "hold",
        Some("h-1"),
        None,
        hold.clone(),
    )
    .await;
    assert_eq!(
        (status, &replay["hold"]["id"]),
        (202, &placed["hold"]["id"])
    );
    let (status, again) = act(&app, &agent, &order, "hold", Some("h-2"), None, hold).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("order.blocked.already_on_hold"))
    );
    assert_eq!(
        again["blocked_reasons"][0]["code"],
        "order.blocked.already_on_hold"
    );
    let (status, confirm) = act(
        &app,
        &agent,
        &order,
        "confirm",
        Some("c-1"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, confirm["code"].as_str()),
        (409, Some("order.blocked.on_hold"))
    );

    let (status, body) = act(
        &app,
        &agent,
        &order,
        "release",
        Some("r-bad"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let release = json!({"resolution": "customer verified"});
    app.job_succeeded(
        act(
            &app,
            &agent,
            &order,
            "release",
            Some("r-1"),
            None,
            release.clone(),
        )
        .await,
    )
    .await;
    let v = app.admin_view(&order).await;
    assert_eq!(v["order"]["status"], "confirmed");
    assert_eq!(v["holds"][0]["released_by"], "agent:agt_ann");
    assert_eq!(v["holds"][0]["resolution"], "customer verified");
    assert!(allowed(&v).contains(&"hold"));
    let (status, body) = act(&app, &agent, &order, "release", Some("r-2"), None, release).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.not_on_hold"))
    );

    // both changes are in the order's audit trail, by the agent
    let auditor = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let (_, audit) = app
        .get(
            &format!("/v1/admin/orders/{order}/audit"),
            app.auth(&auditor, TENANT),
        )
        .await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"order.hold") && actions.contains(&"order.release"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn two_agents_holding_at_once_place_one_hold() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").id.to_string();
    let ann = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let bob = app.agent_token(TENANT, "agt_bob", &["cs_lead"]);
    let body = json!({"reason": "check"});
    let (a, b) = tokio::join!(
        act(
            &app,
            &ann,
            &order,
            "hold",
            Some("k-ann"),
            None,
            body.clone()
        ),
        act(
            &app,
            &bob,
            &order,
            "hold",
            Some("k-bob"),
            None,
            body.clone()
        ),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [202, 409], "{a:?} {b:?}");
}

#[tokio::test]
async fn an_expired_hold_is_released_by_a_scheduled_run() {
    let app = helpers::spawn().await;
    let order = app.order_in("pending").id.to_string();
    let agent = app.agent_token(TENANT, "agt_ann", &["fulfillment"]);
    let hold = json!({"reason": "stock count", "duration_minutes": 1});
    let placed = app
        .job_succeeded(act(&app, &agent, &order, "hold", Some("h-1"), None, hold).await)
        .await;
    let hold_id = uuid::Uuid::parse_str(placed["hold"]["id"].as_str().unwrap()).unwrap();
    let ctx = app.state.worker_ctx();
    assert_eq!(
        orderdesk::workers::scheduler::release_expired_holds(&ctx)
            .await
            .unwrap(),
        0,
        "not expired yet"
    );
    sqlx::query("UPDATE order_holds SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(hold_id)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        orderdesk::workers::scheduler::release_expired_holds(&ctx)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        orderdesk::workers::scheduler::release_expired_holds(&ctx)
            .await
            .unwrap(),
        0,
        "a hold is released once"
    );
    // the release is a job of its own: the hold names it
    let run = app.admin_view(&order).await["holds"][0]["release_run_id"].clone();
    let job = app.wait_job(run.as_str().expect("a release run"), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let v = app.admin_view(&order).await;
    assert_eq!(v["holds"][0]["released_by"], "system:hold-expiry");
    assert_eq!(v["holds"][0]["resolution"], "expired");
    assert_eq!(
        v["order"]["status"], "pending",
        "back to what it was before the hold"
    );
}

#[tokio::test]
async fn confirm_close_and_reopen_follow_the_order_state() {
    let app = helpers::spawn().await;
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let pending = app.order_in("pending").id.to_string();
    app.job_succeeded(
        act(
            &app,
            &agent,
            &pending,
            "confirm",
            Some("c-1"),
            None,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        app.admin_view(&pending).await["order"]["status"],
        "confirmed"
    );
    let (status, body) = act(
        &app,
        &agent,
        &pending,
        "confirm",
        Some("c-2"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.already_confirmed"))
    );
    let (status, body) = act(
        &app,
        &agent,
        &pending,
        "close",
        Some("x-1"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.not_finished"))
    );

    // a dry run answers what would happen and starts nothing
    let delivered = app.order_in("delivered").id.to_string();
    let (status, dry) = act(
        &app,
        &agent,
        &delivered,
        "close",
        None,
        None,
        json!({"dry_run": true}),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        (
            dry["allowed"].as_bool(),
            dry["steps"].as_array().map(Vec::len)
        ),
        (Some(true), Some(2))
    );
    assert_eq!(
        app.admin_view(&delivered).await["order"]["status"],
        "delivered"
    );

    let note = json!({"reason": "all settled"});
    let closed = app
        .job_succeeded(
            act(
                &app,
                &agent,
                &delivered,
                "close",
                Some("x-2"),
                None,
                note.clone(),
            )
            .await,
        )
        .await;
    // a retry under the same key answers the same job, and starts no other
    let (status, replay) = act(&app, &agent, &delivered, "close", Some("x-2"), None, note).await;
    assert_eq!((status, &replay["job"]["id"]), (202, &closed["job"]["id"]));
    let v = app.admin_view(&delivered).await;
    assert_eq!(v["order"]["status"], "closed");
    assert_eq!(allowed(&v), ["reopen", "legal_hold"]);
    let (status, dry) = act(
        &app,
        &agent,
        &delivered,
        "close",
        None,
        None,
        json!({"dry_run": true}),
    )
    .await;
    assert_eq!((status, dry["allowed"].as_bool()), (200, Some(false)));
    assert_eq!(dry["blocked_reasons"][0]["code"], "order.blocked.closed");
    app.job_succeeded(
        act(
            &app,
            &agent,
            &delivered,
            "reopen",
            Some("o-1"),
            None,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        app.admin_view(&delivered).await["order"]["status"],
        "delivered"
    );
    let (status, body) = act(
        &app,
        &agent,
        &delivered,
        "reopen",
        Some("o-2"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.not_closed"))
    );
    let (status, body) = act(
        &app,
        &agent,
        &delivered,
        "reopen",
        Some("o-3"),
        None,
        json!({"note": 1}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn a_legal_hold_blocks_every_destructive_action_until_removed_with_sudo() {
    let app = helpers::spawn().await;
    let order = app
        .orders
        .iter()
        .find(|o| o.status.as_str() == "confirmed")
        .unwrap()
        .clone();
    let id = order.id.to_string();
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let why = json!({"reason": "litigation 2026-114"});

    let (status, body) = act(&app, &cs, &id, "legal-hold", Some("l-0"), None, why.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("auth.forbidden"))
    );
    let (status, placed) = act(
        &app,
        &lead,
        &id,
        "legal-hold",
        Some("l-1"),
        None,
        why.clone(),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    let (status, replay) = act(
        &app,
        &lead,
        &id,
        "legal-hold",
        Some("l-1"),
        None,
        why.clone(),
    )
    .await;
    assert_eq!(
        (status, &replay["legal_hold"]["id"]),
        (201, &placed["legal_hold"]["id"])
    );
    let (status, body) = act(
        &app,
        &lead,
        &id,
        "legal-hold",
        Some("l-2"),
        None,
        why.clone(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.already_legal_hold"))
    );
    let v = app.admin_view(&id).await;
    assert_eq!(v["legal_hold"]["placed_by"], "agent:agt_lead");
    assert!(!allowed(&v).contains(&"cancel"), "{v}");

    // the customer's cancel, the agent's forced cancel: refused with the same code
    let customer = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&customer, TENANT);
    h.insert("idempotency-key", "cust-1".parse().unwrap());
    let res = app
        .post(
            &format!("/v1/customer/orders/{id}/cancel-request"),
            h,
            &json!({"reason": "changed my mind"}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "order.blocked.legal_hold");
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let force = json!({"refund": true, "restock": true, "reason": "fraud"});
    let (status, body) = act(
        &app,
        &lead,
        &id,
        "force-cancel",
        Some("f-1"),
        Some(&sudo),
        force.clone(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.legal_hold"))
    );
    // closing a finished order under a legal hold is refused too
    let delivered = app.order_in("delivered").id.to_string();
    let (status, _) = act(
        &app,
        &lead,
        &delivered,
        "legal-hold",
        Some("l-3"),
        None,
        why.clone(),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = act(
        &app,
        &lead,
        &delivered,
        "close",
        Some("x-1"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.legal_hold"))
    );

    // removal needs a sudo token and a reason
    let (status, body) = act(
        &app,
        &lead,
        &id,
        "legal-hold/remove",
        Some("u-1"),
        None,
        why.clone(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = act(
        &app,
        &lead,
        &id,
        "legal-hold/remove",
        Some("u-1"),
        Some(&sudo),
        json!({}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let done_why = json!({"reason": "case settled"});
    let (status, removed) = act(
        &app,
        &lead,
        &id,
        "legal-hold/remove",
        Some("u-2"),
        Some(&sudo),
        done_why.clone(),
    )
    .await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["legal_hold"]["released_by"], "agent:agt_lead");
    let (status, body) = act(
        &app,
        &lead,
        &id,
        "legal-hold/remove",
        Some("u-3"),
        Some(&sudo),
        done_why,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.no_legal_hold"))
    );
    app.job_succeeded(
        act(
            &app,
            &lead,
            &id,
            "force-cancel",
            Some("f-2"),
            Some(&sudo),
            force,
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn status_changes_need_a_token_and_an_order_of_the_tenant() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").id.to_string();
    let body = json!({"reason": "check"});
    let res = app
        .post(
            &format!("/v1/admin/orders/{order}/hold"),
            Default::default(),
            &body,
        )
        .await;
    assert_eq!(res.status(), 401);
    let (status, _) = act(
        &app,
        "not-a-token",
        &order,
        "hold",
        Some("k"),
        None,
        body.clone(),
    )
    .await;
    assert_eq!(status, 401);
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let mut h = app.auth(&foreign, OTHER_TENANT);
    h.insert("idempotency-key", "k-f".parse().unwrap());
    let res = app
        .post(&format!("/v1/admin/orders/{order}/hold"), h, &body)
        .await;
    assert_eq!(res.status(), 404);
    assert!(
        app.admin_view(&order).await["holds"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
