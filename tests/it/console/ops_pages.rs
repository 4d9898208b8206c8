//! The console's operations pages — queues, workers, exports and imports — and the engine
//! API behind the first two (`GET /v1/admin/engine/queues`, `/v1/admin/engine/workers`):
//! counts of the tenant's own runs only, the worker registry's heartbeat and clean exit,
//! an export's download link and sha256 as the page shows them, and the permissions.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::browser::Browser;
use super::session::{cookie_of, get_page, sign_in};
use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};
use crate::resilience::request_cancel;

const QUEUES: &str = "/v1/admin/engine/queues";
const WORKERS: &str = "/v1/admin/engine/workers";

async fn engine_get(app: &TestApp, path: &str, tenant: &str, roles: &[&str]) -> (u16, Value) {
    let token = app.agent_token(tenant, "agt_ops", roles);
    app.get(path, app.auth(&token, tenant)).await
}

fn queue<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == name)
        .unwrap_or_else(|| panic!("no queue {name} in {list}"))
}

/// Polls `check` for up to 20 s.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never: {what}");
}

#[tokio::test]
async fn engine_queues_count_the_tenants_runs_and_name_every_queue() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let name = ended["queue"].as_str().unwrap().to_string();

    let (status, mine) = engine_get(&app, QUEUES, TENANT, &["cs_agent"]).await;
    assert_eq!(status, 200, "{mine}");
    let q = queue(&mine, &name);
    assert!(q["finished"].as_i64().unwrap() >= 1, "{q}");
    assert_eq!(q["failed"], 0, "{q}");
    assert_eq!(q["queued"], 0, "{q}");
    assert_eq!(q["window_minutes"], 15, "{q}");
    assert!(q["throughput_per_minute"].as_f64().unwrap() > 0.0, "{q}");
    // every queue the workflows name is listed, idle ones with zeros
    for other in ["bulk", "exports"] {
        assert_eq!(queue(&mine, other)["finished"], 0, "{mine}");
    }

    // the other tenant sees its own (idle) figures, never this tenant's
    let (status, theirs) = engine_get(&app, QUEUES, OTHER_TENANT, &["admin"]).await;
    assert_eq!(status, 200);
    let q = queue(&theirs, &name);
    assert_eq!(
        (q["finished"].as_i64(), q["running"].as_i64()),
        (Some(0), Some(0)),
        "{q}"
    );
}

#[tokio::test]
async fn engine_api_needs_a_token_and_jobs_read() {
    let app = helpers::spawn().await;
    for path in [QUEUES, WORKERS] {
        let (status, body) = app.get(path, Default::default()).await;
        assert_eq!(status, 401, "{path}: {body}");
        let (status, body) = engine_get(&app, path, TENANT, &["auditor"]).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["code"], "auth.forbidden", "{path}: {body}");
        let (status, _) = engine_get(&app, path, TENANT, &["fulfillment"]).await;
        assert_eq!(status, 200, "{path}");
    }
    // a customer's token is not an agent's
    let token = app.customer_token(TENANT, &app.orders[0].customer_id);
    let (status, _) = app.get(QUEUES, app.auth(&token, TENANT)).await;
    assert!(matches!(status, 401 | 403), "{status}");
}

#[tokio::test]
async fn workers_register_beat_show_only_the_tenants_runs_and_leave_on_shutdown() {
    let mut app = helpers::spawn().await;
    // the worker registers as it starts
    until("the worker registered", || async {
        let (_, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
        list["data"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    let (status, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
    assert_eq!(status, 200, "{list}");
    let workers = list["data"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{list}");
    let w = &workers[0];
    assert!(w["name"].as_str().unwrap().starts_with("test-"), "{w}");
    assert_eq!(w["pid"], std::process::id(), "{w}");
    assert_eq!(w["concurrency"], 8, "{w}");
    assert_eq!(w["stale"], false, "{w}");
    assert!(w["heartbeat_age_secs"].as_i64().unwrap() < 30, "{w}");
    assert!(
        w["queues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q == "interactive"),
        "{w}"
    );
    assert_eq!(w["runs_in_flight"], 0, "{w}");

    // a slow upstream keeps a run of this tenant in flight on the worker
    app.set_faults(json!({"service": "*", "latency_ms": 1500}))
        .await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    until("the worker shows the tenant's run in flight", || async {
        let (_, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
        list["data"][0]["runs_in_flight"] == 1
    })
    .await;
    let (_, theirs) = engine_get(&app, WORKERS, OTHER_TENANT, &["admin"]).await;
    assert_eq!(theirs["data"][0]["runs_in_flight"], 0, "{theirs}");
    app.clear_faults().await;
    app.wait_job(&job, 30).await;

    // a heartbeat moves heartbeat_at on
    let first = w["heartbeat_at"].clone();
    until("a heartbeat", || async {
        let (_, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
        list["data"][0]["heartbeat_at"] != first
    })
    .await;

    // a clean shutdown deletes the row
    app.stop_worker(0);
    until("the stopped worker is gone", || async {
        let (_, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
        list["data"].as_array().unwrap().is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_silent_worker_shows_stale_on_the_workers_page() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    sqlx::query(
        "INSERT INTO worker_processes (name, host, pid, queues, concurrency, started_at, heartbeat_at)
         VALUES ('worker-gone-host-1-abcd1234', 'gone-host', 1, '{interactive}', 4,
                 now() - interval '2 hours', now() - interval '5 minutes')",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    let session = sign_in(&app, &app.agent_token(TENANT, "agt_ops", &["admin"])).await;
    let (status, page) = get_page(&app, "/console/workers", Some(&session.cookie)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("worker-gone-host-1-abcd1234"), "{page}");
    assert!(page.contains("data-field=\"stale\""), "{page}");
    let (_, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
    assert_eq!(list["data"][0]["stale"], true, "{list}");
}

#[tokio::test]
async fn the_pages_refuse_agents_without_the_permission() {
    let app = helpers::spawn().await;
    let auditor = cookie_of(&app, &app.agent_token(TENANT, "agt_audit", &["auditor"])).await;
    for path in ["/console/queues", "/console/workers", "/console/exports"] {
        let (status, page) = get_page(&app, path, Some(&auditor)).await;
        assert_eq!(status, 403, "{path}: {page}");
        assert!(page.contains("auth.forbidden"), "{path}: {page}");
    }
    // reading jobs is not exporting orders
    let agent = sign_in(&app, &app.agent_token(TENANT, "agt_cs", &["cs_agent"])).await;
    let (status, _) = get_page(&app, "/console/exports", Some(&agent.cookie)).await;
    assert_eq!(status, 403);
    let (status, _) = get_page(&app, "/console/queues", Some(&agent.cookie)).await;
    assert_eq!(status, 200);
    // and no session is the sign-in page
    let (status, location) = get_page(&app, "/console/exports", None).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/console/sign-in"), "{location}");
}

/// An export started through the API shows on the exports page until it finishes; the
/// page's link downloads a file whose sha256 is the one shown. The queues and workers
/// pages show the export's queue and the test's worker; another tenant sees none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exports_page_links_a_download_whose_sha256_it_shows() {
    let (app, _dir) = crate::exports::spawn(1).await;
    let finance = crate::exports::finance(&app);
    let (status, accepted) = app
        .admin_post(
            &finance,
            crate::exports::PATH,
            None,
            None,
            json!({"format": "csv"}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let export_id = accepted["export_id"].as_str().unwrap().to_string();
    let export_queue = accepted["job"]["queue"]
        .as_str()
        .unwrap_or("exports")
        .to_string();

    let browser = Browser::start(&app).await;
    browser.sign_in(&finance).await;
    browser.goto("/console/exports").await;
    let row = format!("tr[data-export='{export_id}']");
    browser.wait_for_css(&row).await;
    browser
        .eventually("the export finished", || async {
            browser
                .try_text(&format!("{row} [data-field=status]"))
                .await
                .as_deref()
                == Some("succeeded")
                && browser
                    .try_text(&format!("{row} [data-field=sha256]"))
                    .await
                    .is_some_and(|h| h.len() == 64)
        })
        .await;
    browser.screenshot("exports").await;
    let sha256 = browser.text_of(&format!("{row} [data-field=sha256]")).await;
    let href = browser
        .client
        .find(Locator::Css(&format!("{row} a[data-field=download]")))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("a download link");
    let url = if href.starts_with("http") {
        href
    } else {
        format!("{}{href}", app.api)
    };
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), sha256);
    let rows = browser.text_of(&format!("{row} [data-field=rows]")).await;
    assert_eq!(rows, app.orders.len().to_string());

    browser.goto("/console/queues").await;
    let queue_row = format!("tr[data-queue='{export_queue}']");
    browser.wait_for_css(&queue_row).await;
    let finished: i64 = browser
        .text_of(&format!("{queue_row} [data-field=finished]"))
        .await
        .parse()
        .unwrap();
    assert!(finished >= 1, "{finished}");
    browser.screenshot("queues").await;

    browser.goto("/console/workers").await;
    let worker_row = browser.wait_for_css("tr[data-worker^='test-']").await;
    let heartbeat = worker_row
        .find(Locator::Css("[data-field=heartbeat]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        heartbeat.ends_with(" s ago") && !heartbeat.contains("stale"),
        "{heartbeat}"
    );
    browser.screenshot("workers").await;
    browser.close().await;

    // another tenant's finance agent sees none of this tenant's exports
    let theirs = sign_in(
        &app,
        &app.agent_token(OTHER_TENANT, "agt_fin", &["finance"]),
    )
    .await;
    let (status, page) = get_page(&app, "/console/exports", Some(&theirs.cookie)).await;
    assert_eq!(status, 200);
    assert!(!page.contains(&export_id), "{page}");
    assert!(!page.contains(&sha256), "{page}");
    assert!(page.contains("No exports yet."), "{page}");
}

/// `orderdesk worker` registers with its queues and concurrency, and deregisters on SIGTERM.
#[tokio::test]
async fn the_worker_command_registers_and_leaves_on_sigterm() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let mut child = app
        .command(&["worker", "--queues", "exports", "--concurrency", "3"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until("the worker process registered", || async {
        let (_, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
        list["data"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    let (_, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
    let w = &list["data"][0];
    assert!(w["name"].as_str().unwrap().starts_with("worker-"), "{w}");
    assert_eq!(
        (&w["queues"], &w["concurrency"]),
        (&json!(["exports"]), &json!(3)),
        "{w}"
    );
    assert_eq!(w["pid"], child.id(), "{w}");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    until("the stopped process is gone", || async {
        let (_, list) = engine_get(&app, WORKERS, TENANT, &["admin"]).await;
        list["data"].as_array().unwrap().is_empty()
    })
    .await;
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// With no worker, an accepted run waits: the queue's depth and its oldest run's age.
#[tokio::test]
async fn a_waiting_run_is_the_queues_depth_with_its_age() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    request_cancel(&app, &order.id, &order.customer_id).await;
    let (status, list) = engine_get(&app, QUEUES, TENANT, &["admin"]).await;
    assert_eq!(status, 200, "{list}");
    let q = queue(&list, "interactive");
    assert_eq!(
        (q["queued"].as_i64(), q["running"].as_i64()),
        (Some(1), Some(0)),
        "{q}"
    );
    assert!(q["oldest_queued_at"].is_string(), "{q}");
    assert!(q["oldest_queued_age_secs"].as_i64().unwrap() >= 0, "{q}");
    let (_, theirs) = engine_get(&app, QUEUES, OTHER_TENANT, &["admin"]).await;
    let q = queue(&theirs, "interactive");
    assert_eq!(
        (q["queued"].as_i64(), &q["oldest_queued_at"]),
        (Some(0), &Value::Null),
        "{q}"
    );

    let session = sign_in(&app, &app.agent_token(TENANT, "agt_ops", &["admin"])).await;
    let (status, page) = get_page(&app, "/console/queues", Some(&session.cookie)).await;
    assert_eq!(status, 200);
    let row = page
        .split("data-queue=\"interactive\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("the interactive queue's row");
    assert!(row.contains("status=queued\">1</a>"), "{row}");
}

/// An NDJSON import shows on the exports and imports page with its lines and failures.
#[tokio::test]
async fn an_import_shows_with_its_lines_and_failures() {
    let app = helpers::spawn().await;
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let ids: Vec<String> = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .take(2)
        .map(|o| o.id.to_string())
        .collect();
    let body: Vec<String> = ids
        .iter()
        .map(|id| json!({"order_id": id, "action": "hold", "reason": "recount"}).to_string())
        .collect();
    let mut h = app.auth(&token, TENANT);
    h.insert("content-type", "application/x-ndjson".parse().unwrap());
    let res = app
        .http
        .post(format!("{}/v1/admin/orders/import", app.api))
        .headers(h)
        .body(body.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let job = accepted["id"]
        .as_str()
        .or(accepted["job"]["id"].as_str())
        .unwrap_or_else(|| panic!("{accepted}"))
        .to_string();
    app.wait_job(&job, 30).await;

    let session = sign_in(&app, &token).await;
    let (status, page) = get_page(&app, "/console/exports", Some(&session.cookie)).await;
    assert_eq!(status, 200);
    let row = page
        .split(&format!("data-import=\"{job}\""))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("no row of import {job}: {page}"));
    assert!(row.contains("data-field=\"lines\">2<"), "{row}");
    assert!(row.contains("data-field=\"failures\">0<"), "{row}");
    // another tenant's lead sees none of it
    let theirs = sign_in(
        &app,
        &app.agent_token(OTHER_TENANT, "agt_lead", &["cs_lead"]),
    )
    .await;
    let (_, page) = get_page(&app, "/console/exports", Some(&theirs.cookie)).await;
    assert!(
        !page.contains(&job) && page.contains("No imports yet."),
        "{page}"
    );
}
