//! Exports are deleted — files, then record — once they are older than
//! `ORDERDESK_EXPORTS_RETENTION_DAYS` (30 by default), by every worker's janitor: a file of
//! e-mails must not outlive an erasure for good. One whose run is still going is left.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{export, finance, spawn};
use crate::helpers::{TENANT, TestApp};

const MONTH: Duration = Duration::from_secs(30 * 24 * 3600);

fn files_under(dir: &Path) -> usize {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter(|e| e.as_ref().unwrap().path().is_file())
            .count(),
        Err(_) => 0,
    }
}

async fn backdate(app: &TestApp, export_id: &str, days: i32) {
    sqlx::query(
        "UPDATE exports SET created_at = now() - make_interval(days => $2) WHERE id = $1::uuid",
    )
    .bind(export_id)
    .bind(days)
    .execute(&app.state.db)
    .await
    .unwrap();
}

async fn delete_old(app: &TestApp) -> usize {
    let mut conn = app.state.db.acquire().await.unwrap();
    orderdesk::workers::sweeper::delete_old_exports(&mut conn, &app.config.exports, MONTH)
        .await
        .unwrap()
}

#[tokio::test]
async fn exports_past_their_retention_lose_their_files_and_record_and_others_stay() {
    let (app, dir) = spawn(1).await;
    assert_eq!(app.config.exports.retention, Some(MONTH), "the default");
    let old = export(&app, json!({"format": "csv", "columns": ["id", "email"]})).await;
    let recent = export(&app, json!({"format": "ndjson"})).await;
    let still_running = export(&app, json!({"format": "csv"})).await;
    let id = |r: &serde_json::Value| r["export_id"].as_str().unwrap().to_string();
    let (old_id, recent_id, running_id) = (id(&old), id(&recent), id(&still_running));
    let files = |export: &str| files_under(&dir.join(TENANT).join(export));
    assert!(files(&old_id) > 1, "parts written");
    assert!(files(&recent_id) > 0 && files(&running_id) > 0);

    backdate(&app, &old_id, 31).await;
    backdate(&app, &recent_id, 29).await;
    backdate(&app, &running_id, 40).await;
    // an export whose run is still going is not deleted under it, however old
    sqlx::query(
        "UPDATE runs SET status = 'running' WHERE id = (SELECT run_id FROM exports WHERE id = $1::uuid)",
    )
    .bind(&running_id)
    .execute(&app.state.db)
    .await
    .unwrap();

    assert_eq!(delete_old(&app).await, 1);
    assert_eq!(files(&old_id), 0, "the old export's files are gone");
    assert!(files(&recent_id) > 0, "a recent export keeps its files");
    assert!(files(&running_id) > 0, "a running export keeps its files");
    let token = finance(&app);
    let shown = |export: String| {
        let (app, token) = (&app, &token);
        async move {
            app.get(
                &format!("/v1/admin/exports/{export}"),
                app.auth(token, TENANT),
            )
            .await
        }
    };
    let (status, problem) = shown(old_id.clone()).await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(shown(recent_id.clone()).await.0, 200);
    let parts_left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM export_parts WHERE export_id = $1::uuid")
            .bind(&old_id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(parts_left, 0, "its parts' records go with it");
    // its old link now finds nothing
    let res = app
        .http
        .get(format!(
            "{}{}",
            app.api,
            old["download_url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // a second pass finds nothing more to delete
    assert_eq!(delete_old(&app).await, 0);
    let listed = app
        .get("/v1/admin/exports?limit=10", app.auth(&token, TENANT))
        .await;
    assert!(!listed.1.to_string().contains(&old_id), "{}", listed.1);
}
