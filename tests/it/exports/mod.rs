//! Exports for finance: CSV, NDJSON (gzip) and Parquet files downloaded through their signed
//! links and checked row by row against the seeded orders; the filter; refusals, auth and
//! tenancy; idempotent replay; tampered and expired links; and a run that fails after two
//! closed parts and resumes at the third without rewriting them; a worker process killed
//! mid-export (`killed`); the link withheld from job views without `orders.export` (`jobs_view`).

mod cli;
mod files;
mod jobs_view;
mod killed;
mod measure;
mod neutralised;
mod refusals;
mod resume;
mod retention;

use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{self, TENANT, TestApp};

pub const PATH: &str = "/v1/admin/orders/exports";
/// Parts of 5 rows: the 24 seeded orders make five parts.
pub const PART_ROWS: usize = 5;

/// A test app whose exports go to a directory of its own, in parts of [`PART_ROWS`].
pub async fn spawn(workers: usize) -> (TestApp, PathBuf) {
    let dir = std::env::temp_dir().join(format!("od-exports-{}", uuid::Uuid::new_v4().simple()));
    let app = helpers::spawn_with(helpers::Options {
        workers,
        extra_env: vec![
            (
                "ORDERDESK_EXPORTS_STORE".into(),
                format!("file://{}", dir.display()),
            ),
            ("ORDERDESK_EXPORTS_PART_ROWS".into(), PART_ROWS.to_string()),
        ],
        ..Default::default()
    })
    .await;
    (app, dir)
}

/// The numbers of the export's closed parts, in order.
pub async fn closed_parts(app: &TestApp, export_id: &str) -> Vec<i32> {
    sqlx::query_scalar("SELECT n FROM export_parts WHERE export_id = $1::uuid ORDER BY n")
        .bind(export_id)
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

pub fn finance(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_finance", &["finance"])
}

/// Starts an export as finance and waits for its job to succeed: the job's result.
pub async fn export(app: &TestApp, body: Value) -> Value {
    let (status, accepted) = app.admin_post(&finance(app), PATH, None, None, body).await;
    assert_eq!(status, 202, "{accepted}");
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["export_id"], accepted["export_id"]);
    // the job's progress counts rows written, not steps
    let progress = &job["progress"];
    assert_eq!(progress["unit"], "rows", "{job}");
    assert_eq!(progress["done"], job["result"]["row_count"], "{job}");
    assert_eq!(progress["total"], job["result"]["row_count"], "{job}");
    job["result"].clone()
}

/// Downloads `result`'s link with no token: the bytes, checked against the manifest's size
/// and sha256 and the `Repr-Digest` header.
pub async fn download(app: &TestApp, result: &Value) -> Vec<u8> {
    let url = format!("{}{}", app.api, result["download_url"].as_str().unwrap());
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("repr-digest"));
    let bytes = res.bytes().await.unwrap().to_vec();
    assert_eq!(bytes.len() as u64, result["bytes"].as_u64().unwrap());
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        result["sha256"].as_str().unwrap()
    );
    let parts = result["parts"].as_array().unwrap();
    let rows: u64 = parts.iter().map(|p| p["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, result["row_count"].as_u64().unwrap());
    bytes
}

/// Polls a job of `tenant` until it ends (or panics after `secs`).
pub async fn wait_in(app: &TestApp, tenant: &str, token: &str, job: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let (_, j) = app
            .get(&format!("/v1/admin/jobs/{job}"), app.auth(token, tenant))
            .await;
        if !matches!(j["status"].as_str(), Some("queued" | "running")) {
            return j;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never finished: {j}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The seeded order ids of the test tenant that `keep` selects, in id order.
pub fn seeded_ids(
    app: &TestApp,
    keep: impl Fn(&orderdesk::domain::order::Order) -> bool,
) -> Vec<String> {
    let mut ids: Vec<String> = app
        .orders
        .iter()
        .filter(|o| keep(o))
        .map(|o| o.id.to_string())
        .collect();
    ids.sort();
    ids
}
