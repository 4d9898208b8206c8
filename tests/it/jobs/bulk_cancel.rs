//! `cancel` as a bulk and import action: each order's force-cancel (its refund at the
//! sandbox's Payments service, its request, its audit record), with force-cancel's
//! permission, sudo token and required `Idempotency-Key`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, TENANT, TestApp, spawn};

const PATH: &str = "/v1/admin/orders/bulk/update-status";

fn of_status<'a>(app: &'a TestApp, statuses: &[&str]) -> Vec<&'a orderdesk::domain::order::Order> {
    app.orders
        .iter()
        .filter(|o| statuses.contains(&o.status.as_str()))
        .collect()
}

fn cancel_body(dry_run: bool) -> Value {
    json!({
        "filter": {"status": {"in": ["confirmed", "shipped", "cancelled"]}},
        "action": "cancel",
        "reason": "supplier recall",
        "refund": true,
        "restock": true,
        "dry_run": dry_run,
    })
}

/// How many effects of `kind` the sandbox recorded per order of `tenant`.
async fn effects_by_order(app: &TestApp, tenant: &str, kind: &str) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT order_id, count(*) FROM sandbox.effects WHERE tenant_id = $1 AND kind = $2
         GROUP BY order_id",
    )
    .bind(tenant)
    .bind(kind)
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// A bulk cancel with refund of the confirmed, shipped and cancelled orders: the dry run
/// judges each as force-cancel would and sums the refunds; the job cancels each confirmed
/// order through its own `cancel_order` run (refunded once at the sandbox's Payments
/// service, stock released, request opened and audited as a forced cancellation) and skips
/// the others with their codes. The replay answers the same job; the other tenant's orders
/// are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_cancel_refunds_each_cancellable_order_once_and_skips_the_blocked() {
    let app = spawn().await;
    let confirmed = of_status(&app, &["confirmed"]);
    let (shipped, cancelled) = (
        of_status(&app, &["shipped"]).len(),
        of_status(&app, &["cancelled"]).len(),
    );
    assert!(
        confirmed.len() >= 2 && shipped >= 1 && cancelled >= 1,
        "the seed has each"
    );
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let theirs = cancelled_of(&app, OTHER_TENANT).await;

    let (status, dry) = app
        .admin_post(&lead, PATH, None, Some(&sudo), cancel_body(true))
        .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        dry["matched"],
        confirmed.len() + shipped + cancelled,
        "{dry}"
    );
    assert_eq!(dry["allowed"], confirmed.len(), "{dry}");
    assert_eq!(
        dry["blocked"]["order.blocked.already_shipped"], shipped,
        "{dry}"
    );
    assert_eq!(
        dry["blocked"]["order.blocked.already_cancelled"], cancelled,
        "{dry}"
    );
    let mut refunds: BTreeMap<String, i64> = BTreeMap::new();
    for o in &confirmed {
        *refunds.entry(o.currency.clone()).or_default() += o.refundable_minor();
    }
    assert_eq!(dry["refunds_minor"], json!(refunds), "{dry}");

    // money moves: the key is required
    let (status, p) = app
        .admin_post(&lead, PATH, None, Some(&sudo), cancel_body(false))
        .await;
    assert_eq!(status, 400, "{p}");
    let (status, job) = app
        .admin_post(&lead, PATH, Some("bc-1"), Some(&sudo), cancel_body(false))
        .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let ended = app.wait_job(&id, 90).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let outcome = &ended["result"]["items"];
    assert_eq!(outcome["succeeded"], confirmed.len(), "{ended}");
    assert_eq!(outcome["skipped"], shipped + cancelled, "{ended}");
    assert_eq!(outcome["failed"], 0, "{ended}");
    let (again, replay) = app
        .admin_post(&lead, PATH, Some("bc-1"), Some(&sudo), cancel_body(false))
        .await;
    assert_eq!((again, &replay["id"]), (202, &job["id"]));

    let (status, items) = app
        .get(
            &format!("/v1/admin/jobs/{id}/items?limit=100"),
            app.auth(&lead, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{items}");
    for item in items["data"].as_array().unwrap() {
        let order = app
            .orders
            .iter()
            .find(|o| o.id.as_str() == item["subject_id"])
            .unwrap();
        let expected = match order.status.as_str() {
            "confirmed" => ("succeeded", Value::Null),
            "shipped" => ("skipped", json!("order.blocked.already_shipped")),
            _ => ("skipped", json!("order.blocked.already_cancelled")),
        };
        assert_eq!(
            (item["status"].as_str().unwrap(), &item["code"]),
            (expected.0, &expected.1),
            "{item}"
        );
    }
    let refunded = effects_by_order(&app, TENANT, "payment.refund").await;
    let cancelled_at = effects_by_order(&app, TENANT, "order.cancel").await;
    let released = effects_by_order(&app, TENANT, "inventory.release").await;
    for o in &confirmed {
        let id = o.id.as_str();
        assert_eq!(cancelled_at.get(id), Some(&1), "{id} cancelled once");
        assert_eq!(released.get(id), Some(&1), "{id} restocked once");
        let refunds = i64::from(o.refundable_minor() > 0);
        assert_eq!(
            refunded.get(id).copied().unwrap_or(0),
            refunds,
            "{id} refunded once"
        );
        let view = app.admin_view(id).await;
        assert_eq!(view["order"]["status"], "cancelled", "{view}");
    }
    assert_eq!(
        cancelled_at.len(),
        confirmed.len(),
        "no other order was cancelled"
    );
    assert!(
        refunded.len() <= confirmed.len(),
        "no other order was refunded"
    );
    assert!(refunded.values().sum::<i64>() > 0, "some refund was made");
    assert!(
        effects_by_order(&app, OTHER_TENANT, "order.cancel")
            .await
            .is_empty()
    );

    // each cancellation is the order's forced one: its request, its audit record
    let db = &app.state.db;
    let requests: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM requests WHERE tenant_id = $1 AND kind = 'cancel'
         AND status = 'succeeded' AND decided_by = 'agent:agt_lead'",
    )
    .bind(TENANT)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(requests as usize, confirmed.len());
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'order.force_cancelled'
         AND actor_id = 'agt_lead' AND actor_kind = 'agent'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(audited as usize, confirmed.len());
    assert_eq!(
        cancelled_of(&app, OTHER_TENANT).await,
        theirs,
        "the other tenant's orders"
    );
}

async fn cancelled_of(app: &TestApp, tenant: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM order_views WHERE tenant_id = $1 AND status = 'cancelled'",
    )
    .bind(tenant)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

/// A cancel without its choices, a choice on another action, a caller without
/// `orders.cancel.force` (an API key that may bulk-hold), without a sudo token or with
/// another agent's, and no token at all: each refused, nothing started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_cancel_refuses_bad_choices_and_missing_authority() {
    let app = spawn().await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let cases = [
        (
            json!({"action": "cancel", "reason": "x", "restock": true}),
            "refund",
        ),
        (
            json!({"action": "cancel", "reason": "x", "refund": true}),
            "restock",
        ),
        (
            json!({"action": "hold", "reason": "x", "refund": true}),
            "refund",
        ),
        (
            json!({"action": "close", "reason": "x", "restock": false}),
            "restock",
        ),
    ];
    for (body, field) in cases {
        let (status, p) = app
            .admin_post(&lead, PATH, None, Some(&sudo), body.clone())
            .await;
        assert_eq!(
            (status, p["code"].as_str()),
            (422, Some("validation.failed")),
            "{body}: {p}"
        );
        assert!(p["detail"].as_str().unwrap().contains(field), "{body}: {p}");
    }
    let dry = cancel_body(true);
    // an API key that may bulk-hold but not force a cancellation
    let admin = app.agent_token(TENANT, "agt_admin", &["admin"]);
    let (status, made) = app
        .admin_post(
            &admin,
            "/v1/admin/keys",
            Some("key-bulk"),
            None,
            json!({"name": "bulk holds", "scopes": ["orders.bulk", "orders.hold", "orders.search"]}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap();
    let (status, p) = app.admin_post(key, PATH, None, None, dry.clone()).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("auth.forbidden")),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("orders.cancel.force"),
        "{p}"
    );
    let hold = json!({"action": "hold", "reason": "x", "dry_run": true});
    let (status, p) = app.admin_post(key, PATH, None, None, hold).await;
    assert_eq!(status, 200, "the key may bulk-hold: {p}");

    let (status, p) = app.admin_post(&lead, PATH, None, None, dry.clone()).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("auth.sudo_required")),
        "{p}"
    );
    let theirs = app.sudo_token(TENANT, "agt_other", &["cs_lead"]);
    let (status, p) = app
        .admin_post(&lead, PATH, Some("bc-x"), Some(&theirs), cancel_body(false))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("auth.sudo_required")),
        "{p}"
    );
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let cs_sudo = app.sudo_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, _) = app
        .admin_post(&cs, PATH, None, Some(&cs_sudo), dry.clone())
        .await;
    assert_eq!(status, 403);
    let res = app.post(PATH, Default::default(), &dry).await;
    assert_eq!(res.status(), 401);
    let started: i64 = sqlx::query_scalar("SELECT count(*) FROM runs")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(started, 0, "nothing was started");
}

async fn import_as(
    app: &TestApp,
    token: &str,
    sudo: Option<&str>,
    query: &str,
    key: Option<&str>,
    body: String,
) -> (u16, Value) {
    super::import::import_with_sudo(app, token, TENANT, sudo, query, key, body).await
}

/// Cancel lines in an import: refused per line without a sudo token or without their
/// choices; with them, each is the order's force-cancel (refunded once, restocked only when
/// asked), a blocked one skipped with its code, and the replay answers the same job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_cancels_with_refund_under_sudo() {
    let app = spawn().await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let confirmed = of_status(&app, &["confirmed"]);
    let (a, b) = (confirmed[0].id.to_string(), confirmed[1].id.to_string());
    let shipped = app.order_in("shipped").id.to_string();
    let cancel = |order: &str| {
        json!({"order_id": order, "action": "cancel", "reason": "fraud ring",
               "refund": true, "restock": false})
        .to_string()
    };
    let body = [
        cancel(&a),
        cancel(&shipped),
        json!({"order_id": b, "action": "hold", "reason": "check"}).to_string(),
    ]
    .join("\n");
    let (status, out) = import_as(&app, &lead, None, "?dry_run=true", None, body.clone()).await;
    assert_eq!(status, 200, "{out}");
    let codes: Vec<(u64, &str)> = out["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [(1, "auth.sudo_required"), (2, "auth.sudo_required")],
        "{out}"
    );
    let bad = [
        json!({"order_id": a, "action": "cancel", "reason": "x", "restock": false}).to_string(),
        json!({"order_id": b, "action": "hold", "reason": "x", "refund": true}).to_string(),
    ]
    .join("\n");
    let (status, out) = import_as(&app, &lead, Some(&sudo), "?dry_run=true", None, bad).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["error_count"], 2, "{out}");
    assert_eq!(out["errors"][0]["code"], "validation.failed", "{out}");
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, _) = import_as(&app, &cs, None, "?dry_run=true", None, body.clone()).await;
    assert_eq!(status, 403, "no orders.bulk");

    let (status, p) = import_as(&app, &lead, Some(&sudo), "", None, body.clone()).await;
    assert_eq!(status, 400, "a cancel line makes the key required: {p}");
    let (status, job) = import_as(&app, &lead, Some(&sudo), "", Some("imp-c"), body.clone()).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap();
    let ended = app.wait_job(id, 60).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let outcome = &ended["result"]["items"];
    assert_eq!(
        (outcome["succeeded"].as_u64(), outcome["skipped"].as_u64()),
        (Some(2), Some(1)),
        "{ended}"
    );
    let (_, skipped) = app
        .get(
            &format!("/v1/admin/jobs/{id}/items?status=skipped"),
            app.auth(&lead, TENANT),
        )
        .await;
    assert_eq!(
        skipped["data"][0]["subject_id"],
        shipped.as_str(),
        "{skipped}"
    );
    assert_eq!(
        skipped["data"][0]["code"], "order.blocked.already_shipped",
        "{skipped}"
    );
    assert_eq!(app.effects_of_kind(TENANT, &a, "order.cancel").await, 1);
    let refunds = usize::from(confirmed[0].refundable_minor() > 0);
    assert_eq!(
        app.effects_of_kind(TENANT, &a, "payment.refund").await,
        refunds
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &a, "inventory.release").await,
        0,
        "restock: false"
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &shipped, "order.cancel").await,
        0
    );
    assert_eq!(app.admin_view(&b).await["order"]["status"], "on_hold");
    let (again, replay) = import_as(&app, &lead, Some(&sudo), "", Some("imp-c"), body).await;
    assert_eq!((again, &replay["id"]), (202, &job["id"]));
    assert_eq!(
        app.effects_of_kind(TENANT, &a, "order.cancel").await,
        1,
        "not again"
    );
}

/// The proof at scale: a bulk cancel with refund of 1,000 orders while the Orders
/// and Payments services fail and lose answers, its worker process SIGKILLed mid-job and
/// another started. Every order is one item with one outcome (succeeded + failed + skipped
/// = 1,000), the blocked ones skipped with their codes, at most one `cancel_order` run per
/// order, and at the sandbox exactly one cancel and one refund per cancelled order that
/// had money to refund — nothing applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_cancel_of_1000_orders_survives_faults_and_a_killed_worker() {
    const ORDERS: usize = 1000;
    let app = crate::helpers::spawn_with(crate::helpers::Options {
        workers: 0,
        customers: 50,
        orders: ORDERS,
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    for service in ["orders", "payments"] {
        app.set_faults(json!({"service": service, "error_rate": 0.1, "lost_response_rate": 0.1}))
            .await;
    }
    let mut worker = crate::resilience::worker_process_with(&app, 24);
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let body = json!({"action": "cancel", "reason": "store closing", "refund": true,
                      "restock": true});
    let (status, job) = app
        .admin_post(&lead, PATH, Some("bc-1000"), Some(&sudo), body)
        .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let job_uuid: uuid::Uuid = id.parse().unwrap();

    // kill the worker without warning once a good part of the items ended, while items'
    // cancel runs are under way
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let done_at_kill = loop {
        let (done, running): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status NOT IN ('pending', 'running')),
                    count(*) FILTER (WHERE status = 'running')
             FROM run_items WHERE run_id = $1",
        )
        .bind(job_uuid)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        if done >= 300 && running > 0 {
            break done;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} items ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    worker.kill().unwrap();
    worker.wait().unwrap();
    let mut second = crate::resilience::worker_process_with(&app, 24);
    let ended = app.wait_job(&id, 300).await;
    second.kill().ok();
    second.wait().ok();
    let took = started.elapsed();
    assert!(
        done_at_kill < ORDERS as i64,
        "killed mid-job ({done_at_kill} done)"
    );
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let outcome = &ended["result"]["items"];
    let n = |k: &str| outcome[k].as_u64().unwrap() as usize;
    assert_eq!(
        n("succeeded") + n("failed") + n("skipped"),
        ORDERS,
        "{ended}"
    );
    assert_eq!(n("cancelled"), 0, "{ended}");
    println!(
        "1,000-order bulk cancel: {took:?}; {done_at_kill} items ended before the kill; {outcome}"
    );

    // each order one item, with the outcome its seeded status allows
    let items: Vec<(String, String, Option<String>, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT subject_id, status, code, child_run_id FROM run_items WHERE run_id = $1",
    )
    .bind(job_uuid)
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let orders: std::collections::BTreeSet<&str> = items.iter().map(|i| i.0.as_str()).collect();
    assert_eq!(
        (items.len(), orders.len()),
        (ORDERS, ORDERS),
        "one item per order"
    );
    let runs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT subject_id, count(*) FROM runs WHERE kind = 'cancel_order' GROUP BY subject_id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let runs: BTreeMap<String, i64> = runs.into_iter().collect();
    let cancels = effects_by_order(&app, TENANT, "order.cancel").await;
    let refunds = effects_by_order(&app, TENANT, "payment.refund").await;
    let (mut skipped, mut cancellable) = (0, 0);
    for (order_id, status, code, child) in &items {
        let order = app
            .orders
            .iter()
            .find(|o| o.id.as_str() == order_id)
            .unwrap();
        let ran = runs.get(order_id).copied().unwrap_or(0);
        let cancelled = cancels.get(order_id).copied().unwrap_or(0);
        let refunded = refunds.get(order_id).copied().unwrap_or(0);
        match order.status.as_str() {
            "pending" | "confirmed" | "on_hold" => {
                cancellable += 1;
                assert_eq!(ran, 1, "{order_id}: one cancel run");
                assert!(child.is_some(), "{order_id}");
                if status == "succeeded" {
                    assert_eq!(cancelled, 1, "{order_id} cancelled exactly once");
                    let expected = i64::from(order.refundable_minor() > 0);
                    assert_eq!(refunded, expected, "{order_id} refunded exactly once");
                } else {
                    assert_eq!(status, "failed", "{order_id}");
                    assert!(code.is_some(), "{order_id}: a failure has its code");
                    assert!(cancelled <= 1 && refunded <= 1, "{order_id}");
                }
            }
            other => {
                skipped += 1;
                assert_eq!(status, "skipped", "{order_id} ({other})");
                assert!(
                    code.as_deref()
                        .is_some_and(|c| c.starts_with("order.blocked.")),
                    "{order_id}: {code:?}"
                );
                assert_eq!(
                    (ran, cancelled, refunded),
                    (0, 0, 0),
                    "{order_id} untouched"
                );
            }
        }
    }
    assert_eq!(n("skipped"), skipped);
    assert_eq!(n("succeeded") + n("failed"), cancellable);
    assert!(n("succeeded") > 0);
    // the faults were real, and the job was taken over by the second worker
    let retried: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM runs r, jsonb_array_elements(r.steps) s
         WHERE r.kind = 'cancel_order' AND (s ->> 'attempts')::int > 1",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(retried > 0, "some step met a fault and was retried");
    let claims: i32 = sqlx::query_scalar("SELECT attempts FROM runs WHERE id = $1")
        .bind(job_uuid)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(
        claims >= 2,
        "the bulk job was claimed again after the kill ({claims})"
    );
}

/// A customer's cancellation waiting for review is taken over by the bulk item, as
/// force-cancel takes it over: the same request runs (no second one is opened) and ends
/// with the run; the order is cancelled and refunded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_cancel_takes_over_a_request_waiting_for_review() {
    let settings = orderdesk::domain::settings::TenantSettings {
        cancel_requires_review: true,
        ..orderdesk::seed::demo_settings()
    };
    let app = crate::helpers::spawn_with(crate::helpers::Options {
        settings,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let customer = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&customer, TENANT);
    h.insert("idempotency-key", "k-review".parse().unwrap());
    let path = format!("/v1/customer/orders/{}/cancel-request", order.id);
    let res = app.post(&path, h, &json!({"reason": "too slow"})).await;
    assert_eq!(res.status(), 202);
    let asked: Value = res.json().await.unwrap();
    assert_eq!(asked["status"], "pending_review", "{asked}");
    let request_id = asked["request_id"].as_str().unwrap();

    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let body = json!({"filter": {"id": {"eq": order.id.as_str()}}, "action": "cancel",
                      "reason": "customer asked", "refund": true, "restock": true});
    let (status, job) = app
        .admin_post(&lead, PATH, Some("bc-review"), Some(&sudo), body)
        .await;
    assert_eq!(status, 202, "{job}");
    let ended = app.wait_job(job["id"].as_str().unwrap(), 60).await;
    assert_eq!(ended["result"]["items"]["succeeded"], 1, "{ended}");
    let (_, req) = app
        .get(
            &format!("/v1/customer/requests/{request_id}"),
            app.auth(&customer, TENANT),
        )
        .await;
    assert_eq!(req["status"], "succeeded", "{req}");
    let requests: i64 =
        sqlx::query_scalar("SELECT count(*) FROM requests WHERE order_id = $1 AND kind = 'cancel'")
            .bind(order.id.as_str())
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        requests, 1,
        "the customer's request was taken over, not doubled"
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "order.cancel").await,
        1
    );
    let refunds = usize::from(order.refundable_minor() > 0);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        refunds
    );
}

/// The dry run judges an order whose forced cancellation is already under way as the job's
/// item would: blocked with `request.already_open`, and nothing counted as refunded for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_cancel_dry_run_counts_a_cancellation_already_under_way() {
    // no worker: the force-cancel's run stays queued, its request open
    let app = crate::helpers::spawn_with(crate::helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let confirmed = of_status(&app, &["confirmed"]);
    assert!(confirmed.len() >= 2, "the seed has two");
    let (started, other) = (confirmed[0], confirmed[1]);
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let force = format!("/v1/admin/orders/{}/force-cancel", started.id);
    let body = json!({"refund": true, "restock": true, "reason": "fraud ring"});
    let (status, forced) = app
        .admin_post(&lead, &force, Some("fc-open"), Some(&sudo), body.clone())
        .await;
    assert_eq!(status, 202, "{forced}");
    // the single force-cancel judges a second one so too
    let (status, p) = app
        .admin_post(&lead, &force, Some("fc-again"), Some(&sudo), body)
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("request.already_open")),
        "{p}"
    );

    let ids = [started.id.as_str(), other.id.as_str()];
    let body = json!({"filter": {"id": {"in": ids}}, "action": "cancel",
                      "reason": "supplier recall", "refund": true, "restock": true,
                      "dry_run": true});
    let (status, dry) = app.admin_post(&lead, PATH, None, Some(&sudo), body).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        (dry["matched"].as_u64(), dry["allowed"].as_u64()),
        (Some(2), Some(1)),
        "{dry}"
    );
    assert_eq!(dry["blocked"], json!({"request.already_open": 1}), "{dry}");
    let sample = dry["sample"].as_array().unwrap();
    let judged = sample
        .iter()
        .find(|s| s["order_id"] == started.id.as_str())
        .unwrap();
    assert_eq!(judged["blocked_code"], "request.already_open", "{dry}");
    let refunds = json!({ other.currency.clone(): other.refundable_minor() });
    assert_eq!(dry["refunds_minor"], refunds, "{dry}");
}
