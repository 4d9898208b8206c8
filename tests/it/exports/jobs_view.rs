//! Who sees an orders export's link through the job views: only `orders.export` (as
//! `GET /v1/admin/exports/{id}` requires); a `jobs.read` caller without it sees the job,
//! the listing and the event stream with the link withheld.

use serde_json::{Value, json};

use super::{PATH, download, spawn};
use crate::gdpr_privacy::streamed;
use crate::helpers::{TENANT, TestApp};

fn assert_withheld(job: &Value, link_token: &str) {
    let result = &job["result"];
    assert_eq!(result["download_url"], Value::Null, "{job}");
    assert_eq!(result["expires_at"], Value::Null, "{job}");
    assert_eq!(result["download"], "requires orders.export", "{job}");
    assert!(
        result["row_count"].as_u64().unwrap() > 0,
        "the rest is shown: {job}"
    );
    assert!(
        !job.to_string().contains(link_token),
        "the link leaked: {job}"
    );
}

/// Starts an export as `token` and waits for its job: the job's id and result.
async fn export_as(app: &TestApp, token: &str) -> (String, Value) {
    let (status, accepted) = app
        .admin_post(token, PATH, None, None, json!({"format": "csv"}))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["job"]["id"].as_str().unwrap().to_string();
    let job = app.wait_job(&id, 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    (id, job["result"].clone())
}

#[tokio::test]
async fn an_orders_export_link_reaches_only_callers_with_orders_export() {
    let (app, dir) = spawn(1).await;
    let admin = app.agent_token(TENANT, "agt_admin", &["admin"]);
    let (job_id, result) = export_as(&app, &admin).await;
    let url = result["download_url"].as_str().unwrap().to_string();
    let link_token = url.rsplit_once('/').unwrap().1.to_string();
    let job_path = format!("/v1/admin/jobs/{job_id}");
    let jobs = "/v1/admin/jobs?kind=export_orders";

    // jobs.read without orders.export: the job, the listing and the stream hold no link
    let cs_agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, job) = app.get(&job_path, app.auth(&cs_agent, TENANT)).await;
    assert_eq!(status, 200, "{job}");
    assert_withheld(&job, &link_token);
    assert_eq!(job["result"]["export_id"], result["export_id"]);
    let (status, listed) = app.get(jobs, app.auth(&cs_agent, TENANT)).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    assert_withheld(&listed["data"][0], &link_token);
    let events = streamed(&app, &cs_agent, &job_id).await;
    assert!(!events.is_empty());
    for e in &events {
        assert_withheld(e, &link_token);
    }
    // nor does the export resource give it to them
    let export_path = format!(
        "/v1/admin/exports/{}",
        result["export_id"].as_str().unwrap()
    );
    let (status, got) = app.get(&export_path, app.auth(&cs_agent, TENANT)).await;
    assert_eq!(status, 403, "{got}");

    // the admin (orders.export) sees the link everywhere, and it downloads
    let (status, job) = app.get(&job_path, app.auth(&admin, TENANT)).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["result"]["download_url"], url.as_str());
    assert!(job["result"]["expires_at"].is_string(), "{job}");
    assert!(job["result"].get("download").is_none(), "{job}");
    let (_, listed) = app.get(jobs, app.auth(&admin, TENANT)).await;
    assert_eq!(listed["data"][0]["result"]["download_url"], url.as_str());
    let events = streamed(&app, &admin, &job_id).await;
    assert_eq!(
        events.last().unwrap()["result"]["download_url"],
        url.as_str()
    );
    download(&app, &job["result"]).await;
    let _ = std::fs::remove_dir_all(&dir);
}
