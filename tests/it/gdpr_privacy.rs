//! Who reaches a subject archive: its link only through `gdpr.export` (the job views of a
//! `jobs.read` caller withhold it: the job, the listing, the event stream), and
//! `GET /v1/admin/gdpr/exports/{id}` with a fresh link, access-logged; and the customer's
//! erasure deleting their archives (store object gone, links 410) and nobody else's.

use std::time::Duration;

use orderdesk::domain::ids::{SubjectExportId, TenantId};
use serde_json::{Value, json};

use crate::exports::spawn;
use crate::gdpr_export::{export, open, problem};
use crate::helpers::{OTHER_TENANT, TENANT, TestApp};

fn admin(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_dpo", &["admin"])
}

/// A role with `jobs.read` and without `gdpr.export`.
fn lead(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_lead", &["cs_lead"])
}

/// The `job` events of a finished job's stream (it sends the job, then `end`, and closes).
pub(crate) async fn streamed(app: &TestApp, token: &str, job: &str) -> Vec<Value> {
    let res = app
        .http
        .get(format!("{}/v1/admin/jobs/{job}/events", app.api))
        .headers(app.auth(token, TENANT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(10), res.text())
        .await
        .expect("the stream of an ended job closes")
        .unwrap();
    body.split("\n\n")
        .filter(|e| e.contains("event: job"))
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn assert_withheld(job: &Value, token: &str) {
    let result = &job["result"];
    assert_eq!(result["download_url"], Value::Null, "{job}");
    assert_eq!(result["expires_at"], Value::Null, "{job}");
    assert_eq!(result["download"], "requires gdpr.export", "{job}");
    assert!(
        result["bytes"].as_u64().unwrap() > 0,
        "the rest is shown: {job}"
    );
    assert!(!job.to_string().contains(token), "the link leaked: {job}");
}

#[tokio::test]
async fn the_archive_link_reaches_only_callers_with_gdpr_export() {
    let (app, dir) = spawn(1).await;
    let result = export(&app, "cus_0001").await;
    let url = result["download_url"].as_str().unwrap().to_string();
    let link_token = url.rsplit_once('/').unwrap().1.to_string();
    let jobs = "/v1/admin/jobs?kind=export_subject";
    let (status, listed) = app.get(jobs, app.auth(&admin(&app), TENANT)).await;
    assert_eq!(status, 200, "{listed}");
    let job_id = listed["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(listed["data"][0]["result"]["download_url"], url.as_str());
    let job_path = format!("/v1/admin/jobs/{job_id}");

    // jobs.read without gdpr.export: the job, the listing and the stream hold no link
    let lead = lead(&app);
    let (status, job) = app.get(&job_path, app.auth(&lead, TENANT)).await;
    assert_eq!(status, 200, "{job}");
    assert_withheld(&job, &link_token);
    assert_eq!(job["result"]["export_id"], result["export_id"]);
    let (status, listed) = app.get(jobs, app.auth(&lead, TENANT)).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_withheld(&listed["data"][0], &link_token);
    let events = streamed(&app, &lead, &job_id).await;
    assert!(!events.is_empty());
    for e in &events {
        assert_withheld(e, &link_token);
    }

    // the admin (gdpr.export) sees the link everywhere, and it downloads
    let admin = admin(&app);
    let (_, job) = app.get(&job_path, app.auth(&admin, TENANT)).await;
    assert_eq!(job["result"]["download_url"], url.as_str());
    assert!(job["result"]["expires_at"].is_string(), "{job}");
    assert!(job["result"].get("download").is_none(), "{job}");
    let events = streamed(&app, &admin, &job_id).await;
    assert_eq!(
        events.last().unwrap()["result"]["download_url"],
        url.as_str()
    );
    open(&app, &job["result"]).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_archive_is_shown_with_a_fresh_link_to_gdpr_export_only() {
    let (app, dir) = spawn(1).await;
    let result = export(&app, "cus_0002").await;
    let id = result["export_id"].as_str().unwrap();
    let path = format!("/v1/admin/gdpr/exports/{id}");
    let (status, got) = app.get(&path, app.auth(&admin(&app), TENANT)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["export_id"], id);
    assert_eq!(got["customer_id"], "cus_0002");
    assert_eq!(got["status"], "succeeded");
    assert_eq!(got["counts"], result["counts"]);
    assert_eq!(got["bytes"], result["bytes"]);
    assert_eq!(got["sha256"], result["sha256"]);
    assert_eq!(got["requested_by"], "agent:agt_dpo");
    assert_eq!(got["erased_at"], Value::Null);
    assert!(got["expires_at"].is_string(), "{got}");
    // the link signed now opens the same archive
    assert!(
        got["download_url"]
            .as_str()
            .unwrap()
            .starts_with("/v1/gdpr/exports/download/")
    );
    open(&app, &got).await;
    // the read is in the access log, about the customer
    let viewed: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT actor_id, subject_id, after FROM audit_log WHERE action = 'gdpr.export_viewed'",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(viewed.len(), 1, "{viewed:?}");
    assert_eq!(
        (viewed[0].0.as_str(), viewed[0].1.as_str()),
        ("agt_dpo", "cus_0002")
    );
    assert_eq!(viewed[0].2["export_id"], id);

    let (status, _) = app.get(&path, Default::default()).await;
    assert_eq!(status, 401);
    let (status, p) = app.get(&path, app.auth(&lead(&app), TENANT)).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("auth.forbidden")),
        "{p}"
    );
    assert_eq!(p["required_permission"], "gdpr.export");
    // another tenant's admin: no such archive there; nor an unknown id here
    let theirs = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (status, p) = app.get(&path, app.auth(&theirs, OTHER_TENANT)).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("export.not_found")),
        "{p}"
    );
    let unknown = format!("/v1/admin/gdpr/exports/{}", SubjectExportId::now_v7());
    let (status, _) = app.get(&unknown, app.auth(&admin(&app), TENANT)).await;
    assert_eq!(status, 404);
    let (status, p) = app
        .get(
            "/v1/admin/gdpr/exports/not-a-uuid",
            app.auth(&admin(&app), TENANT),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("validation.failed")),
        "{p}"
    );
    assert_eq!(p["errors"][0]["field"], "export_id", "{p}");
    let logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'gdpr.export_viewed'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(logged, 1, "refused reads are not logged as reads");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Exports `customer` of `tenant` as that tenant's admin: the finished job's result.
async fn export_in(app: &TestApp, tenant: &str, customer: &str) -> Value {
    let token = app.agent_token(tenant, "agt_dpo", &["admin"]);
    let body = json!({"customer_id": customer, "reason": "SAR-11"});
    let mut h = app.auth(&token, tenant);
    h.insert("prefer", "wait=20".parse().unwrap());
    let res = app.post("/v1/admin/gdpr/export", h, &body).await;
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["job"]["status"], "succeeded", "{answer}");
    answer["job"]["result"].clone()
}

/// Erases `customer` of the test tenant at their own request: the finished job.
pub(crate) async fn erase(app: &TestApp, customer: &str) -> Value {
    let token = app.customer_token(TENANT, customer);
    let mut h = app.auth(&token, TENANT);
    h.insert(
        "idempotency-key",
        format!("erase-{customer}").parse().unwrap(),
    );
    let res = app
        .post("/v1/customer/gdpr/erase-request", h, &json!({}))
        .await;
    let body: Value = res.json().await.unwrap();
    let job = app.wait_job(body["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    job
}

fn stored(dir: &std::path::Path, tenant: &str, result: &Value) -> std::path::PathBuf {
    let id = SubjectExportId::parse(result["export_id"].as_str().unwrap()).unwrap();
    dir.join(orderdesk::exports::store::subject_key(
        &TenantId::new(tenant),
        id,
    ))
}

#[tokio::test]
async fn erasing_a_customer_deletes_their_archives_and_nobody_elses() {
    let (app, dir) = spawn(1).await;
    let first = export(&app, "cus_0001").await;
    let second = export(&app, "cus_0001").await;
    let neighbour = export(&app, "cus_0002").await;
    let namesake = export_in(&app, OTHER_TENANT, "cus_0001").await;
    for r in [&first, &second, &neighbour] {
        assert!(stored(&dir, TENANT, r).exists());
    }
    assert!(stored(&dir, OTHER_TENANT, &namesake).exists());

    // the dry run counts the customer's two archives, not the neighbour's or the namesake's
    let token = app.customer_token(TENANT, "cus_0001");
    let res = app
        .post(
            "/v1/customer/gdpr/erase-request",
            app.auth(&token, TENANT),
            &json!({"dry_run": true}),
        )
        .await;
    let plan: Value = res.json().await.unwrap();
    assert_eq!(plan["would_erase"]["subject_archives"], 2, "{plan}");

    let job = erase(&app, "cus_0001").await;
    assert_eq!(job["result"]["subject_archives_deleted"], 2, "{job}");
    assert!(
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "delete_subject_archives" && s["status"] == "done"),
        "{job}"
    );
    for r in [&first, &second] {
        assert!(!stored(&dir, TENANT, r).exists(), "the object is gone");
        let url = r["download_url"].as_str().unwrap();
        assert_eq!(problem(&app, url).await, (410, "export.erased".into()));
        let path = format!(
            "/v1/admin/gdpr/exports/{}",
            r["export_id"].as_str().unwrap()
        );
        let (status, got) = app.get(&path, app.auth(&admin(&app), TENANT)).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["status"], "erased");
        assert!(got["erased_at"].is_string(), "{got}");
        assert_eq!(got["download_url"], Value::Null);
    }
    // another customer's archive, and the same customer id's in another tenant, still open
    assert!(stored(&dir, TENANT, &neighbour).exists());
    open(&app, &neighbour).await;
    assert!(stored(&dir, OTHER_TENANT, &namesake).exists());
    open(&app, &namesake).await;
    let kept: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM subject_exports WHERE erased_at IS NULL AND object_key IS NOT NULL",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(kept, 2, "the neighbour's and the other tenant's");

    // an archive made after the erasure holds what remains, and stays
    let after = export(&app, "cus_0001").await;
    assert_eq!(after["erased"], true);
    open(&app, &after).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// An archive still being made when the erasure ran deletes its own object once it is
/// stored, and its job ends with `export.erased`.
#[tokio::test]
async fn an_archive_overtaken_by_the_erasure_deletes_itself() {
    let (mut app, dir) = spawn(0).await;
    let body = json!({"customer_id": "cus_0001", "reason": "SAR-12"});
    let (status, accepted) = app
        .admin_post(&admin(&app), "/v1/admin/gdpr/export", None, None, body)
        .await;
    assert_eq!(status, 202, "{accepted}");
    let mut conn = app.state.db.acquire().await.unwrap();
    let customer = orderdesk::domain::ids::CustomerId::new("cus_0001");
    let tenant = TenantId::new(TENANT);
    let left = orderdesk::db::subject_exports::erase_of_customer(&mut conn, &tenant, &customer)
        .await
        .unwrap();
    assert!(left.is_empty(), "nothing stored yet: {left:?}");
    app.start_worker();
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "compensated", "{job}");
    assert_eq!(job["error"]["code"], "export.erased", "{job}");
    let id = &accepted["export_id"];
    assert!(!stored(&dir, TENANT, &json!({ "export_id": id })).exists());
    let path = format!("/v1/admin/gdpr/exports/{}", id.as_str().unwrap());
    let (_, got) = app.get(&path, app.auth(&admin(&app), TENANT)).await;
    assert_eq!(got["status"], "erased", "{got}");
    assert_eq!(got["download_url"], Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
}
