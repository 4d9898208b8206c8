//! `POST /v1/admin/orders/bulk/update-status` and the job's items.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, TENANT, TestApp, spawn};

fn count(app: &TestApp, status: &str) -> usize {
    app.orders
        .iter()
        .filter(|o| o.status.as_str() == status)
        .count()
}

fn hold_body(dry_run: bool) -> Value {
    json!({
        "filter": {"status": {"in": ["confirmed", "shipped"]}},
        "action": "hold",
        "reason": "warehouse audit",
        "duration_minutes": 120,
        "dry_run": dry_run,
    })
}

/// A bulk hold of the confirmed and shipped orders: the dry run says how many match and
/// that the shipped ones would be skipped; the job holds each confirmed order through its
/// own run and audit record, skips the shipped ones with their code, and lists every item
/// (also as CSV). Its replay answers the same job; another tenant's orders are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_hold_changes_each_matching_order_and_skips_the_blocked() {
    let app = spawn().await;
    let (confirmed, shipped) = (count(&app, "confirmed"), count(&app, "shipped"));
    assert!(confirmed >= 2 && shipped >= 1, "the seed has both");
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let path = "/v1/admin/orders/bulk/update-status";
    let (status, dry) = app
        .admin_post(&token, path, None, None, hold_body(true))
        .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["matched"], confirmed + shipped, "{dry}");
    assert_eq!(dry["allowed"], confirmed, "{dry}");
    assert_eq!(
        dry["blocked"]["order.blocked.already_shipped"], shipped,
        "{dry}"
    );
    assert!(!dry["sample"].as_array().unwrap().is_empty());

    let (status, job) = app
        .admin_post(&token, path, Some("bulk-hold-1"), None, hold_body(false))
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["queue"], "bulk");
    let id = job["id"].as_str().unwrap().to_string();
    let ended = app.wait_job(&id, 60).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(ended["progress"]["unit"], "items", "{ended}");
    assert_eq!(ended["progress"]["done"], confirmed + shipped, "{ended}");
    assert_eq!(ended["progress"]["total"], confirmed + shipped, "{ended}");
    let outcome = &ended["result"]["items"];
    assert_eq!(outcome["succeeded"], confirmed, "{ended}");
    assert_eq!(outcome["skipped"], shipped, "{ended}");
    assert_eq!(outcome["failed"], 0, "{ended}");

    // the listing by queue: the bulk job and its items' runs, no interactive one
    let (status, listed) = app
        .get(
            "/v1/admin/jobs?queue=bulk&limit=100",
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["data"].as_array().unwrap().clone();
    assert!(
        listed.iter().any(|j| j["id"] == job["id"]),
        "the bulk job is listed"
    );
    assert!(
        listed.iter().all(|j| j["queue"] == "bulk"),
        "only the bulk queue"
    );
    assert_eq!(
        listed.len(),
        1 + confirmed,
        "the job and one run per held order"
    );
    let (status, _) = app
        .get("/v1/admin/jobs?queue=Not-A-Queue", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 422);
    let (again, replay) = app
        .admin_post(&token, path, Some("bulk-hold-1"), None, hold_body(false))
        .await;
    assert_eq!((again, &replay["id"]), (202, &job["id"]));

    // every item with its outcome, and the held orders as the single endpoint leaves them
    let (status, items) = app
        .get(
            &format!("/v1/admin/jobs/{id}/items"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{items}");
    let items = items["data"].as_array().unwrap().clone();
    assert_eq!(items.len(), confirmed + shipped);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        *by_status
            .entry(item["status"].as_str().unwrap().into())
            .or_default() += 1;
        assert!(
            !item["subject_id"].as_str().unwrap().ends_with("_g"),
            "another tenant's order"
        );
        if item["status"] == "succeeded" {
            let view = app.admin_view(item["subject_id"].as_str().unwrap()).await;
            assert_eq!(view["order"]["status"], "on_hold", "{view}");
            assert_eq!(view["holds"][0]["reason"], "warehouse audit", "{view}");
        } else {
            assert_eq!(item["code"], "order.blocked.already_shipped", "{item}");
        }
    }
    assert_eq!(
        by_status,
        BTreeMap::from([("skipped".into(), shipped), ("succeeded".into(), confirmed)])
    );
    let res = app
        .http
        .get(format!("{}/v1/admin/jobs/{id}/items?format=csv", app.api))
        .headers(app.auth(&token, TENANT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let csv = res.text().await.unwrap();
    assert!(
        csv.starts_with("idx,order_id,status,code,detail,child_job_id\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + confirmed + shipped);

    let mut conn = app.state.db.acquire().await.unwrap();
    let audited: i64 = sqlx::query_scalar(
        // (the record's personal part, `after` included, is sealed under the customer's key)
        "SELECT count(*) FROM audit_log WHERE action = 'order.hold' AND actor_id = 'agt_lead'
         AND actor_kind = 'agent'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(audited as usize, confirmed);
    let (_, theirs) = app
        .get(
            &format!("/v1/admin/jobs/{id}/items"),
            app.auth(
                &app.agent_token(OTHER_TENANT, "agt_g", &["admin"]),
                OTHER_TENANT,
            ),
        )
        .await;
    assert_eq!(theirs["code"], "job.not_found", "{theirs}");
}

/// Bad input names what is wrong; a role without `orders.bulk`, or without the action's own
/// permission, is refused; no token is a 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_change_refuses_bad_input_and_missing_permissions() {
    let app = spawn().await;
    let path = "/v1/admin/orders/bulk/update-status";
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let cases = [
        (
            json!({"action": "legal_hold", "reason": "x"}),
            "bulk.unsupported_action",
        ),
        (
            json!({"action": "explode", "reason": "x"}),
            "validation.failed",
        ),
        (json!({"action": "hold"}), "validation.failed"),
        (
            json!({"action": "confirm", "reason": "x", "duration_minutes": 5}),
            "validation.failed",
        ),
        (
            json!({"action": "hold", "reason": "x", "filter": {"colour": {"eq": "red"}}}),
            "search.unknown_field",
        ),
        (
            json!({"action": "hold", "reason": "x", "filter": {"email": {"eq": "x' OR 1=1 --"}}}),
            "",
        ),
    ];
    for (body, code) in cases {
        let (status, p) = app.admin_post(&lead, path, None, None, body.clone()).await;
        if code.is_empty() {
            // an injection attempt is a value like any other: it matches nothing
            assert_eq!(status, 202, "{body}: {p}");
            let job = app.wait_job(p["id"].as_str().unwrap(), 30).await;
            assert_eq!(job["progress"]["total"], 0, "{job}");
            continue;
        }
        assert_eq!(
            (status, p["code"].as_str()),
            (422, Some(code)),
            "{body}: {p}"
        );
    }
    let ok = json!({"action": "hold", "reason": "x", "dry_run": true});
    for role in ["cs_agent", "fulfillment"] {
        let token = app.agent_token(TENANT, "agt_x", &[role]);
        let (status, p) = app.admin_post(&token, path, None, None, ok.clone()).await;
        assert_eq!(status, 403, "{role}: {p}");
    }
    let res = app.post(path, Default::default(), &ok).await;
    assert_eq!(res.status(), 401);
}

/// The step that selects a bulk job's items, run again after a crash, may find another list
/// (an order that matches the filter now sorts ahead of the others): the items chosen the
/// first time stay as they were, none added, none moved, and the count is theirs.
#[tokio::test]
async fn a_job_keeps_the_items_it_chose_first() {
    use orderdesk::db::runs::items;
    use orderdesk::domain::ids::{RunId, TenantId};

    let app = crate::helpers::spawn_with(crate::helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let path = "/v1/admin/orders/bulk/update-status";
    let (status, job) = app
        .admin_post(&token, path, Some("bulk-keep-1"), None, hold_body(false))
        .await;
    assert_eq!(status, 202, "{job}");
    let run = RunId::parse(job["id"].as_str().unwrap()).unwrap();
    let tenant = TenantId::new(TENANT);
    let list = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut conn = app.state.db.acquire().await.unwrap();
    let n = items::insert(&mut conn, run, &tenant, &list(&["A", "B", "C"]), &[])
        .await
        .unwrap();
    assert_eq!(n, 3);
    let n = items::insert(&mut conn, run, &tenant, &list(&["X", "A", "B", "C"]), &[])
        .await
        .unwrap();
    assert_eq!(n, 3, "the items of the first time");
    let kept: Vec<(i32, String)> =
        sqlx::query_as("SELECT idx, subject_id FROM run_items WHERE run_id = $1 ORDER BY idx")
            .bind(run.as_uuid())
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert_eq!(
        kept,
        [(0, "A".into()), (1, "B".into()), (2, "C".into())],
        "neither X added nor C repeated"
    );
    let total: Option<i32> = sqlx::query_scalar("SELECT progress_total FROM runs WHERE id = $1")
        .bind(run.as_uuid())
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(total, Some(3));
}
