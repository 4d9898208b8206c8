//! Flag for fraud review, assign the review, unflag (cleared or confirmed).

use serde_json::json;

use super::act;
use crate::helpers::{self, OTHER_TENANT, TENANT};

#[tokio::test]
async fn an_order_is_flagged_assigned_and_cleared_at_the_orders_service() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").id.to_string();
    let fraud = app.agent_token(TENANT, "agt_fay", &["fraud"]);
    let flag = json!({"reason": "card testing pattern"});

    let (status, body) = act(&app, &fraud, &order, "flag-fraud", None, flag.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );
    for bad in [
        json!({"reason": " "}),
        json!({}),
        json!({"reason": "x", "why": "extra"}),
        json!({"reason": "r".repeat(501)}),
    ] {
        let (status, body) = act(&app, &fraud, &order, "flag-fraud", Some("f-bad"), bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation.failed")),
            "{body}"
        );
    }
    let (status, dry) = act(
        &app,
        &fraud,
        &order,
        "flag-fraud",
        None,
        json!({"reason": "x", "dry_run": true}),
    )
    .await;
    assert_eq!(
        (status, dry["allowed"].as_bool()),
        (200, Some(true)),
        "{dry}"
    );
    assert_eq!(dry["steps"], json!(["check", "flag_at_orders"]));

    let flagged = app
        .job_succeeded(
            act(
                &app,
                &fraud,
                &order,
                "flag-fraud",
                Some("f-1"),
                flag.clone(),
            )
            .await,
        )
        .await;
    assert_eq!(flagged["fraud_state"], "review");
    assert_eq!(
        app.admin_view(&order).await["order"]["fraud_state"],
        "review"
    );
    let (status, replay) = act(
        &app,
        &fraud,
        &order,
        "flag-fraud",
        Some("f-1"),
        flag.clone(),
    )
    .await;
    assert_eq!((status, &replay["job"]["id"]), (202, &flagged["job"]["id"]));
    let (status, again) = act(&app, &fraud, &order, "flag-fraud", Some("f-2"), flag).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("order.blocked.already_flagged"))
    );

    // the review goes to an agent, then to a team; the last assignment counts
    for bad in [
        json!({"assignee": ""}),
        json!({"assignee": "team:"}),
        json!({"assignee": "a".repeat(101)}),
    ] {
        let (status, body) = act(&app, &fraud, &order, "assign-review", Some("a-bad"), bad).await;
        assert_eq!(status, 422, "{body}");
    }
    let dry = json!({"assignee": "agt_rev", "dry_run": true});
    let (status, d) = act(&app, &fraud, &order, "assign-review", None, dry).await;
    assert_eq!(
        (status, &d["allowed"], &d["steps"]),
        (200, &json!(true), &json!([])),
        "{d}"
    );
    let assign = json!({"assignee": "agt_rev", "notes": "check the billing address"});
    let (status, a) = act(
        &app,
        &fraud,
        &order,
        "assign-review",
        Some("a-1"),
        assign.clone(),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["assignment"]["agent_id"], "agt_rev");
    assert_eq!(a["assignment"]["assigned_by"], "agent:agt_fay");
    let (status, replay) = act(&app, &fraud, &order, "assign-review", Some("a-1"), assign).await;
    assert_eq!((status, &replay), (200, &a));
    let (status, a) = act(
        &app,
        &fraud,
        &order,
        "assign-review",
        Some("a-2"),
        json!({"assignee": "team:risk-eu"}),
    )
    .await;
    assert_eq!(
        (
            status,
            &a["assignment"]["team"],
            &a["assignment"]["agent_id"]
        ),
        (200, &json!("risk-eu"), &json!(null)),
        "{a}"
    );

    let unflag = json!({"reason": "customer verified by phone"});
    let (status, body) = act(
        &app,
        &fraud,
        &order,
        "unflag",
        Some("u-bad"),
        json!({"reason": "x", "outcome": "maybe"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let cleared = app
        .job_succeeded(act(&app, &fraud, &order, "unflag", Some("u-1"), unflag.clone()).await)
        .await;
    assert_eq!(cleared["fraud_state"], "cleared");
    let v = app.admin_view(&order).await;
    assert_eq!(v["order"]["fraud_state"], "cleared");
    assert_eq!(
        v["order"]["status"], "confirmed",
        "the status is left alone"
    );
    let (status, body) = act(&app, &fraud, &order, "unflag", Some("u-2"), unflag).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.not_flagged"))
    );
    let (status, body) = act(
        &app,
        &fraud,
        &order,
        "assign-review",
        Some("a-3"),
        json!({"assignee": "agt_rev"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("order.blocked.not_flagged"))
    );

    // flagged again, then confirmed as fraud
    app.job_succeeded(
        act(
            &app,
            &fraud,
            &order,
            "flag-fraud",
            Some("f-3"),
            json!({"reason": "chargeback"}),
        )
        .await,
    )
    .await;
    let confirmed = json!({"reason": "chargeback confirmed", "outcome": "confirmed"});
    app.job_succeeded(act(&app, &fraud, &order, "unflag", Some("u-3"), confirmed).await)
        .await;
    assert_eq!(
        app.admin_view(&order).await["order"]["fraud_state"],
        "confirmed"
    );

    // the audit trail names every decision
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
    for a in [
        "order.flag_fraud",
        "order.assign_review",
        "order.unflag_fraud",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn fraud_actions_need_the_permission_a_token_and_the_tenants_order() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").id.to_string();
    let body = json!({"reason": "x"});
    let agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, res) = act(&app, &agent, &order, "flag-fraud", Some("k"), body.clone()).await;
    assert_eq!(
        (status, res["code"].as_str()),
        (403, Some("auth.forbidden"))
    );
    for action in ["flag-fraud", "unflag", "assign-review"] {
        let res = app
            .http
            .post(format!("{}/v1/admin/orders/{order}/{action}", app.api))
            .header("x-tenant-id", TENANT)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401, "{action}");
    }
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["fraud"]);
    let path = format!("/v1/admin/orders/{order}/flag-fraud");
    let mut h = app.auth(&foreign, OTHER_TENANT);
    h.insert("idempotency-key", "k-foreign".parse().unwrap());
    let res = app.post(&path, h, &body).await;
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test]
async fn what_agents_wrote_is_redacted_when_the_customer_is_erased() {
    use orderdesk::domain::ids::{RunId, TenantId};
    let app = helpers::spawn().await;
    let order = app.order_in("pending").clone();
    let fraud = app.agent_token(TENANT, "agt_fay", &["fraud"]);
    let id = order.id.to_string();
    let flag = json!({"reason": "velocity"});
    app.job_succeeded(act(&app, &fraud, &id, "flag-fraud", Some("f-1"), flag).await)
        .await;
    let assign = json!({"assignee": "agt_rev", "notes": "Ms Example called twice"});
    let (status, _) = act(&app, &fraud, &id, "assign-review", Some("a-1"), assign).await;
    assert_eq!(status, 200);
    let task = json!({"kind": "call_customer", "title": "Call Ms Example", "order_id": id,
                      "notes": "+49 30 1234567"});
    let mut h = app.auth(&app.agent_token(TENANT, "agt_ann", &["cs_agent"]), TENANT);
    h.insert("idempotency-key", "t-1".parse().unwrap());
    assert_eq!(
        app.post("/v1/admin/tasks", h, &task)
            .await
            .status()
            .as_u16(),
        201
    );

    let mut conn = app.state.db.acquire().await.unwrap();
    let (tenant, nil) = (TenantId::new(TENANT), RunId::from_uuid(uuid::Uuid::nil()));
    orderdesk::db::gdpr::anonymise_customer(&mut conn, &tenant, &order.customer_id, nil, None)
        .await
        .unwrap();
    let notes: Option<String> = sqlx::query_scalar(
        "SELECT notes FROM review_assignments WHERE tenant_id = $1 AND order_id = $2",
    )
    .bind(TENANT)
    .bind(&id)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(notes.as_deref(), Some("[redacted]"));
    let (title, notes): (String, Option<String>) =
        sqlx::query_as("SELECT title, notes FROM tasks WHERE tenant_id = $1 AND order_id = $2")
            .bind(TENANT)
            .bind(&id)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(
        (title.as_str(), notes.as_deref()),
        ("[redacted]", Some("[redacted]"))
    );
}

#[tokio::test]
async fn two_concurrent_flags_of_one_order_start_one_job() {
    let mut app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let fraud = app.agent_token(TENANT, "agt_fay", &["fraud"]);
    let other = app.agent_token(TENANT, "agt_gus", &["fraud"]);
    let orders: Vec<String> = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .take(3)
        .map(|o| o.id.to_string())
        .collect();
    assert_eq!(orders.len(), 3);
    let flag = json!({"reason": "card testing pattern"});
    let mut accepted = Vec::new();
    for (i, order) in orders.iter().enumerate() {
        // two agents, two keys, at the same moment; no worker runs, so the first job waits
        let (ka, kb) = (format!("fa-{i}"), format!("fb-{i}"));
        let (a, b) = tokio::join!(
            act(&app, &fraud, order, "flag-fraud", Some(&ka), flag.clone()),
            act(&app, &other, order, "flag-fraud", Some(&kb), flag.clone()),
        );
        let mut answers = [a, b];
        answers.sort_by_key(|(status, _)| *status);
        let [(won, job), (lost, refused)] = answers;
        assert_eq!((won, lost), (202, 409), "{job} {refused}");
        assert_eq!(
            refused["code"], "order.blocked.fraud_change_in_progress",
            "{refused}"
        );
        assert_eq!(
            refused["blocked_reasons"][0]["code"],
            "order.blocked.fraud_change_in_progress"
        );
        let runs: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM runs WHERE tenant_id = $1 AND subject_id = $2 AND kind = 'flag_fraud'",
        )
        .bind(TENANT)
        .bind(order)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(runs, 1, "one job for {order}");
        accepted.push(job["job"]["id"].as_str().unwrap().to_string());
    }
    // a dry run says so too, and the refused key was not spent: its retry is decided anew
    let order = &orders[0];
    let (status, dry) = act(
        &app,
        &fraud,
        order,
        "flag-fraud",
        None,
        json!({"reason": "x", "dry_run": true}),
    )
    .await;
    assert_eq!((status, &dry["allowed"]), (200, &json!(false)), "{dry}");
    assert_eq!(
        dry["blocked_reasons"][0]["code"],
        "order.blocked.fraud_change_in_progress"
    );

    // once the job ended the order is in review: a flag is refused for that reason
    app.start_worker();
    for job in &accepted {
        let job = app.wait_job(job, 20).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    let (status, again) = act(&app, &fraud, order, "flag-fraud", Some("fa-0-again"), flag).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("order.blocked.already_flagged"))
    );
}
