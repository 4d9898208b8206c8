//! Agents: approving a pending request, forcing a cancellation, RBAC, sudo, audit, jobs.

use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT};
use orderdesk::domain::settings::TenantSettings;

#[tokio::test]
async fn pending_review_then_cs_agent_approves() {
    let settings = TenantSettings {
        cancel_requires_review: true,
        ..orderdesk::seed::demo_settings()
    };
    let app = helpers::spawn_with(helpers::Options {
        settings,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let customer = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&customer, TENANT);
    h.insert("idempotency-key", "k-review".parse().unwrap());
    let res = app
        .post(
            &format!("/v1/customer/orders/{}/cancel-request", order.id),
            h,
            &json!({"reason": "too slow"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "pending_review");
    assert!(body.get("job").is_none());
    let request_id = body["request_id"].as_str().unwrap().to_string();
    let (_, req) = app
        .get(
            &format!("/v1/customer/requests/{request_id}"),
            app.auth(&customer, TENANT),
        )
        .await;
    assert_eq!(req["status"], "pending_review");
    assert!(
        app.effects(TENANT, &order.id).await.is_empty(),
        "nothing happens before review"
    );

    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    let path = format!("/v1/admin/orders/{}/approve-cancel", order.id);
    let (status, body) = app.admin_post(&agent, &path, None, None, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );
    let (status, body) = app
        .admin_post(&agent, &path, Some("a-1"), None, json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["request_id"], request_id.as_str());
    let job = app.wait_job(body["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let (status, replay) = app
        .admin_post(&agent, &path, Some("a-1"), None, json!({}))
        .await;
    assert_eq!((status, &replay["request_id"]), (202, &body["request_id"]));
    let (status, again) = app
        .admin_post(&agent, &path, Some("a-2"), None, json!({}))
        .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("request.none_pending"))
    );
    let (_, req) = app
        .get(
            &format!("/v1/customer/requests/{request_id}"),
            app.auth(&customer, TENANT),
        )
        .await;
    assert_eq!(req["status"], "succeeded");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
}

#[tokio::test]
async fn force_cancel_needs_permission_sudo_and_reason() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let path = format!("/v1/admin/orders/{}/force-cancel", order.id);
    let body = json!({"refund": true, "restock": false, "reason": "fraud suspected"});

    let cs_agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let cs_sudo = app.sudo_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, b) = app
        .admin_post(&cs_agent, &path, Some("f-1"), Some(&cs_sudo), body.clone())
        .await;
    assert_eq!((status, b["code"].as_str()), (403, Some("auth.forbidden")));

    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let (status, b) = app
        .admin_post(&lead, &path, Some("f-1"), None, body.clone())
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (403, Some("auth.sudo_required"))
    );
    let someone_elses_sudo = app.sudo_token(TENANT, "agt_other", &["cs_lead"]);
    let (status, _) = app
        .admin_post(
            &lead,
            &path,
            Some("f-1"),
            Some(&someone_elses_sudo),
            body.clone(),
        )
        .await;
    assert_eq!(status, 403);

    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let (status, b) = app
        .admin_post(
            &lead,
            &path,
            Some("f-1"),
            Some(&sudo),
            json!({"refund": true, "restock": false, "reason": "  "}),
        )
        .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (422, Some("validation.failed"))
    );
    let (status, b) = app
        .admin_post(
            &lead,
            &path,
            Some("f-1"),
            Some(&sudo),
            json!({"refund": true}),
        )
        .await;
    assert_eq!(status, 422, "missing fields: {b}");

    let (status, plan) = app
        .admin_post(
            &lead,
            &path,
            None,
            Some(&sudo),
            json!({"refund": true, "restock": false, "reason": "x", "dry_run": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        !plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "release_inventory"),
        "{plan}"
    );

    let (status, b) = app
        .admin_post(&lead, &path, Some("f-1"), Some(&sudo), body.clone())
        .await;
    assert_eq!(status, 202, "{b}");
    let job = app.wait_job(b["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "inventory.release")
            .await,
        0,
        "restock: false"
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );

    let auditor = app.agent_token(TENANT, "agt_aud", &["auditor"]);
    let (_, audit) = app
        .get(
            &format!("/v1/admin/orders/{}/audit", order.id),
            app.auth(&auditor, TENANT),
        )
        .await;
    let forced = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "order.force_cancelled")
        .expect("audited");
    assert_eq!(forced["actor_id"], "agt_lead");
    assert_eq!(forced["reason"], "fraud suspected");
}

#[tokio::test]
async fn admin_reads_are_tenant_scoped_and_role_checked() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.orders[0].clone();
    let admin = app.agent_token(TENANT, "agt_a", &["admin"]);
    let (status, body) = app
        .get(
            &format!("/v1/admin/orders/{}", order.id),
            app.auth(&admin, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order"]["customer_id"], order.customer_id.as_str());

    let foreign = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (status, _) = app
        .get(
            &format!("/v1/admin/orders/{}", order.id),
            app.auth(&foreign, OTHER_TENANT),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get(
            &format!("/v1/admin/orders/{}/audit", order.id),
            app.auth(&foreign, OTHER_TENANT),
        )
        .await;
    assert_eq!(status, 404);

    let fulfil = app.agent_token(TENANT, "agt_f", &["fulfillment"]);
    let (status, body) = app
        .get(
            &format!("/v1/admin/orders/{}/audit", order.id),
            app.auth(&fulfil, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("auth.forbidden"))
    );

    let (status, body) = app
        .get("/v1/admin/jobs?status=bogus", app.auth(&admin, TENANT))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed"))
    );
    let (status, _) = app
        .get("/v1/admin/jobs/not-a-uuid", app.auth(&admin, TENANT))
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .get("/v1/admin/jobs?kind=cancel_order", app.auth(&admin, TENANT))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 0);

    // the order view read is itself audited
    let (_, audit) = app
        .get(
            &format!("/v1/admin/orders/{}/audit", order.id),
            app.auth(&admin, TENANT),
        )
        .await;
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "order.viewed")
    );
}

#[tokio::test]
async fn jobs_are_listed_and_isolated_by_tenant() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let (status, b) = app
        .admin_post(
            &lead,
            &format!("/v1/admin/orders/{}/force-cancel", order.id),
            Some("j-1"),
            Some(&sudo),
            json!({"refund": false, "restock": true, "reason": "ops"}),
        )
        .await;
    assert_eq!(status, 202, "{b}");
    let job_id = b["job"]["id"].as_str().unwrap().to_string();
    app.wait_job(&job_id, 20).await;
    let (status, list) = app
        .get(
            "/v1/admin/jobs?kind=cancel_order&status=succeeded",
            app.auth(&lead, TENANT),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"][0]["id"], job_id.as_str());
    let foreign = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (status, _) = app
        .get(
            &format!("/v1/admin/jobs/{job_id}"),
            app.auth(&foreign, OTHER_TENANT),
        )
        .await;
    assert_eq!(status, 404);
    let (status, list) = app
        .get("/v1/admin/jobs", app.auth(&foreign, OTHER_TENANT))
        .await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 0));
}
