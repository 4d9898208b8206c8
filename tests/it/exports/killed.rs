//! A worker process killed (SIGKILL) in the middle of a many-part export: another worker
//! finishes it once, resuming after the parts 1, 2, … closed before the kill without
//! rewriting them (those the second of its two COPYs closed past a gap are written again),
//! and the file's sha256 is that of a clean export of the same filter.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::{PATH, closed_parts, download, wait_in};
use crate::helpers::{self, TestApp};

/// A tenant of its own, seeded with COPY (read model only): enough orders for hundreds of
/// small parts, so the kill lands between the first part and the last.
const BULK: &str = "killx";
const ORDERS: usize = 8_000;
const PART_ROWS: usize = 20;

/// A worker process whose database sessions carry `name` (`application_name`).
fn worker(app: &TestApp, store: &str, name: &str) -> Child {
    let url = format!("{}?application_name={name}", app.config.database_url);
    app.command(&["worker", "--concurrency", "2"])
        .env("DATABASE_URL", url)
        .env("ORDERDESK_EXPORTS_STORE", store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the orderdesk binary runs")
}

/// Each closed part's file identity (inode, mtime): a rewritten part changes it.
fn identities(dir: &Path, parts: &[i32]) -> Vec<(u64, i64)> {
    parts
        .iter()
        .map(|n| {
            let m = std::fs::metadata(dir.join(format!("part-{n:05}.csv"))).unwrap();
            (m.ino(), m.mtime_nsec())
        })
        .collect()
}

/// Waits until PostgreSQL has ended every session named `name`: a statement a killed
/// process had sent (a part's close) has then committed or rolled back for good.
async fn sessions_gone(app: &TestApp, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(name)
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        if n == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} sessions of {name} linger"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start(app: &TestApp, token: &str) -> Value {
    let body =
        json!({"format": "csv", "filter": {"status": {"in": ["delivered", "closed", "shipped"]}}});
    let (status, accepted) = app.post_as(token, BULK, PATH, None, None, body).await;
    assert_eq!(status, 202, "{accepted}");
    accepted
}

#[tokio::test]
async fn a_worker_killed_mid_export_leaves_an_export_that_completes_once_with_the_same_checksum() {
    let dir = std::env::temp_dir().join(format!("od-exports-{}", uuid::Uuid::new_v4().simple()));
    let store = format!("file://{}", dir.display());
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        extra_env: vec![
            ("ORDERDESK_EXPORTS_STORE".into(), store.clone()),
            ("ORDERDESK_EXPORTS_PART_ROWS".into(), PART_ROWS.to_string()),
        ],
        ..Default::default()
    })
    .await;
    let seeded = app
        .command(&["seed", "--tenant", BULK, "--orders", &ORDERS.to_string()])
        .args(["--customers", "100", "--read-model-only"])
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let token = app.agent_token(BULK, "agt_fin", &["finance"]);

    let name = format!("od_killed_{}", &app.db_name[5..15]);
    let mut first = worker(&app, &store, &name);
    let accepted = start(&app, &token).await;
    let export_id = accepted["export_id"].as_str().unwrap().to_string();
    let job_id = accepted["job"]["id"].as_str().unwrap().to_string();
    // kill it without warning once parts 1 and 2 closed, while more are to come
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, shown) = app
            .get(
                &format!("/v1/admin/exports/{export_id}"),
                app.auth(&token, BULK),
            )
            .await;
        if closed_parts(&app, &export_id).await.starts_with(&[1, 2]) {
            break;
        }
        assert!(
            shown["finished_at"].is_null(),
            "finished before the kill: {shown}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "no part closed: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    sessions_gone(&app, &name).await;
    let closed_at_kill = closed_parts(&app, &export_id).await;
    let in_order = closed_at_kill
        .iter()
        .zip(1..)
        .take_while(|(p, n)| *p == n)
        .count();
    let at_kill = closed_at_kill[..in_order].to_vec();
    let export_dir = dir.join(BULK).join(&export_id);
    let before = identities(&export_dir, &at_kill);

    let mut second = worker(&app, &store, "od_second_worker");
    let job = wait_in(&app, BULK, &token, &job_id, 180).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    // counted beside the parts' COPY: known for sure once the export is done
    let total_rows: i64 = sqlx::query_scalar("SELECT total_rows FROM exports WHERE id = $1::uuid")
        .bind(&export_id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let parts_total = (total_rows as usize).div_ceil(PART_ROWS);
    assert!(
        !at_kill.is_empty() && at_kill.len() < parts_total,
        "killed between the first part and the last: {} of {parts_total}",
        at_kill.len()
    );
    println!(
        "killed with parts 1–{} of {parts_total} closed, {} in all",
        at_kill.len(),
        closed_at_kill.len()
    );
    let result = &job["result"];
    assert_eq!(result["row_count"], total_rows);
    assert_eq!(result["parts"].as_array().unwrap().len(), parts_total);
    assert_eq!(
        identities(&export_dir, &at_kill),
        before,
        "the parts closed before the kill were not rewritten"
    );
    let resumed: Value = sqlx::query_scalar(
        "SELECT jsonb_build_object('output', s -> 'output', 'attempts', s -> 'attempts',
                                  'last_error', s -> 'last_error')
           FROM runs, jsonb_array_elements(steps) s
           WHERE id = $1::uuid AND s ->> 'name' = 'write_parts'",
    )
    .bind(&job_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    println!("write_parts: {resumed}");
    assert_eq!(
        resumed["output"]["resumed_at_part"],
        at_kill.len() + 1,
        "{resumed}"
    );
    let (finished, parts): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM exports WHERE id = $1::uuid AND finished_at IS NOT NULL),
                (SELECT count(*) FROM export_parts WHERE export_id = $1::uuid)",
    )
    .bind(&export_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        (finished, parts),
        (1, parts_total as i64),
        "finished once, each part once"
    );

    // every matching order once, in id order, as PostgreSQL lists them
    let text = String::from_utf8(download(&app, result).await).unwrap();
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let want: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM order_views WHERE tenant_id = $1
            AND status IN ('delivered', 'closed', 'shipped') ORDER BY id",
    )
    .bind(BULK)
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(ids, want);

    // a clean export of the same filter, uninterrupted: the same bytes
    let clean = start(&app, &token).await;
    let job = wait_in(
        &app,
        BULK,
        &token,
        clean["job"]["id"].as_str().unwrap(),
        180,
    )
    .await;
    second.kill().ok();
    second.wait().ok();
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["sha256"], result["sha256"]);
    assert_eq!(job["result"]["bytes"], result["bytes"]);
    let _ = std::fs::remove_dir_all(&dir);
}
