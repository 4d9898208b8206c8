//! A run that fails after two closed parts resumes at the third: the closed parts are not
//! rewritten and the finished file is whole.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use serde_json::json;

use super::{PATH, download, finance, seeded_ids, spawn};
use crate::helpers::TENANT;

#[tokio::test]
async fn a_failed_part_is_retried_and_the_export_resumes_at_the_first_part_not_closed() {
    let (mut app, dir) = spawn(0).await;
    let (status, accepted) = app
        .admin_post(&finance(&app), PATH, None, None, json!({"format": "csv"}))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let export_id = accepted["export_id"].as_str().unwrap();
    let job_id = accepted["job"]["id"].as_str().unwrap();
    // part 3 cannot be written: a directory stands where its file goes
    let export_dir = dir.join(TENANT).join(export_id);
    let blocker = export_dir.join("part-00003.csv");
    std::fs::create_dir_all(&blocker).unwrap();
    app.start_worker();

    let token = app.agent_token(TENANT, "agt_admin", &["admin"]);
    let path = format!("/v1/admin/exports/{export_id}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, shown) = app.get(&path, app.auth(&finance(&app), TENANT)).await;
        let (_, job) = app
            .get(
                &format!("/v1/admin/jobs/{job_id}"),
                app.auth(&token, TENANT),
            )
            .await;
        let write = job["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("no steps: {job}"))
            .iter()
            .find(|s| s["name"] == "write_parts")
            .unwrap_or_else(|| panic!("no write_parts step: {job}"))
            .clone();
        if shown["parts_closed"] == 2 && write["attempts"].as_i64().unwrap() >= 2 {
            assert_eq!(shown["rows_so_far"], 10);
            // running, or queued while its step waits for the next attempt
            assert!(
                ["running", "queued"].contains(&shown["status"].as_str().unwrap_or_default()),
                "{shown}"
            );
            assert_eq!(
                write["last_error"]["code"], "export.storage_failed",
                "{write}"
            );
            break;
        }
        assert!(job["status"] != "failed", "{job}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never stuck at part 3: {shown} {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before: Vec<(u64, i64)> = (1..=2)
        .map(|n| {
            let m = std::fs::metadata(export_dir.join(format!("part-0000{n}.csv"))).unwrap();
            (m.ino(), m.mtime_nsec())
        })
        .collect();
    std::fs::remove_dir(&blocker).unwrap();

    let job = app.wait_job(job_id, 60).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let after: Vec<(u64, i64)> = (1..=2)
        .map(|n| {
            let m = std::fs::metadata(export_dir.join(format!("part-0000{n}.csv"))).unwrap();
            (m.ino(), m.mtime_nsec())
        })
        .collect();
    assert_eq!(before, after, "closed parts were not rewritten");
    let result = &job["result"];
    assert_eq!(result["parts"].as_array().unwrap().len(), 5);
    let text = String::from_utf8(download(&app, result).await).unwrap();
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, seeded_ids(&app, |_| true), "every order once");
    let _ = std::fs::remove_dir_all(&dir);
}
