//! Migrations that move data: what a database held before them reads the same after.

use std::path::Path;

use chrono::{DateTime, Utc};
use orderdesk::db;
use orderdesk::db::runs::{self, StepStatus};
use orderdesk::domain::ids::{RunId, TenantId};
use serde_json::json;
use sqlx::migrate::Migrator;

use crate::helpers::{self, cleanup};

/// Drops the test's database at the end, pass or fail.
struct Dropped(String);

impl Drop for Dropped {
    fn drop(&mut self) {
        cleanup::remove_blocking(cleanup::TestData {
            db_name: self.0.clone(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_prefix: self.0.clone(),
            apalis_workers_sets: vec![],
        });
    }
}

/// The migrations of `migrations/` older than `version`, applied to `pool`.
async fn migrate_before(pool: &sqlx::PgPool, version: u32) {
    let dir = std::env::temp_dir().join(format!("od-migrations-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let number: u32 = name.split('_').next().unwrap().parse().unwrap();
        if number < version {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
    let migrator = Migrator::new(dir.as_path()).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    migrator.run(pool).await.unwrap();
}

/// A database of its own (dropped with the guard) with the migrations older than `version`.
async fn database_before(version: u32) -> (Dropped, sqlx::PgPool) {
    let (name, url) = helpers::create_database().await;
    let dropped = Dropped(name);
    let pool = db::connect(&url, 2).await.unwrap();
    migrate_before(&pool, version).await;
    (dropped, pool)
}

#[tokio::test]
async fn steps_written_as_rows_of_their_own_move_into_their_run() {
    let (_dropped, pool) = database_before(44).await;
    let run = RunId::now_v7();
    sqlx::query(
        "INSERT INTO runs (id, tenant_id, kind, requested_by, input, progress_total)
         VALUES ($1, 'acme', 'cancel_order', 'cus_1', '{}', 2)",
    )
    .bind(run.as_uuid())
    .execute(&pool)
    .await
    .unwrap();
    let finished: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO run_steps (run_id, idx, name, status, attempts, output, last_error,
                                started_at, finished_at, duration_ms)
         VALUES ($1, 0, 'cancel_upstream', 'done', 2, '{\"result\": {\"email\": \"a@b.c\"}}',
                 NULL, now() - interval '3 ms', now(), 3),
                ($1, 1, 'refund', 'pending', 1, NULL, '{\"code\": \"upstream.timeout\"}',
                 NULL, NULL, NULL)
         RETURNING finished_at",
    )
    .bind(run.as_uuid())
    .fetch_one(&pool)
    .await
    .unwrap();

    db::migrate(&pool).await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let steps = runs::steps(&mut conn, &TenantId::new("acme"), run)
        .await
        .unwrap();
    assert_eq!(steps.len(), 2);
    let (done, pending) = (&steps[0], &steps[1]);
    assert_eq!((done.idx, done.name.as_str()), (0, "cancel_upstream"));
    assert_eq!((done.status, done.attempts), (StepStatus::Done, 2));
    assert_eq!(done.output, Some(json!({"result": {"email": "a@b.c"}})));
    assert_eq!(
        (done.finished_at, done.duration_ms),
        (Some(finished), Some(3))
    );
    assert!(done.started_at.is_some() && done.last_error.is_none());
    assert_eq!((pending.idx, pending.name.as_str()), (1, "refund"));
    assert_eq!((pending.status, pending.attempts), (StepStatus::Pending, 1));
    assert_eq!(
        pending.last_error,
        Some(json!({"code": "upstream.timeout"}))
    );
    assert!(pending.output.is_none() && pending.finished_at.is_none());
    let other_tenant = runs::steps(&mut conn, &TenantId::new("globex"), run)
        .await
        .unwrap();
    assert!(other_tenant.is_empty(), "another tenant reads no steps");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'run_steps'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(tables, 0, "run_steps is gone");
    drop(conn);
    pool.close().await;
}

#[tokio::test]
async fn an_ended_run_without_its_end_time_takes_its_last_update_and_keeps_it() {
    let (_dropped, pool) = database_before(46).await;
    let insert = "INSERT INTO runs (id, tenant_id, kind, requested_by, input, progress_total,
                                    status, updated_at)
                  VALUES ($1, 'acme', 'cancel_order', 'cus_1', '{}', 1, $2,
                          now() - interval '2 days')
                  RETURNING updated_at";
    let (ended, running) = (RunId::now_v7(), RunId::now_v7());
    let updated: DateTime<Utc> = sqlx::query_scalar(insert)
        .bind(ended.as_uuid())
        .bind("cancelled")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(insert)
        .bind(running.as_uuid())
        .bind("running")
        .execute(&pool)
        .await
        .unwrap();

    db::migrate(&pool).await.unwrap();

    let finished_at = |id: RunId| {
        sqlx::query_scalar::<_, Option<DateTime<Utc>>>("SELECT finished_at FROM runs WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_one(&pool)
    };
    assert_eq!(finished_at(ended).await.unwrap(), Some(updated));
    assert_eq!(
        finished_at(running).await.unwrap(),
        None,
        "a run going on has none"
    );
    let refused = sqlx::query("UPDATE runs SET status = 'failed' WHERE id = $1")
        .bind(running.as_uuid())
        .execute(&pool)
        .await
        .unwrap_err();
    let refused = refused
        .as_database_error()
        .and_then(|e| e.constraint().map(String::from));
    assert_eq!(
        refused.as_deref(),
        Some("runs_ended_at"),
        "an end needs its time"
    );
    pool.close().await;
}

/// Migration 0049 rewrites `orderdesk_steps_patched` without a query per call: every patch
/// of a step the run has gives the array it gave before; a patch of a step it has not is
/// an error (it made the array NULL, which the column refused).
#[tokio::test]
async fn steps_are_patched_as_before_without_a_query_per_call() {
    let (_dropped, pool) = database_before(49).await;
    let step = |name: &str| {
        json!({"name": name, "status": "pending", "attempts": 0, "output": null,
               "last_error": null, "started_at": null, "finished_at": null, "duration_ms": null})
    };
    let three = json!([step("a"), step("b"), step("c")]);
    let done = |idx: i32| {
        json!({"idx": idx, "status": "done", "attempts": 1, "output": {"n": idx},
               "started_at": "2026-12-03T20:00:00.000001Z", "duration_ms": 0})
    };
    let cases = [
        (three.clone(), json!([])),
        (json!([]), json!([])),
        (three.clone(), json!([done(1)])),
        (three.clone(), json!([done(0), done(1), done(2)])),
        (three.clone(), json!([done(2), done(0)])),
        // a step patched twice takes both, in order
        (
            three.clone(),
            json!([done(1), {"idx": 1, "status": "failed", "extra": true}]),
        ),
    ];
    let patched = |steps: serde_json::Value, patches: serde_json::Value| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, serde_json::Value>("SELECT orderdesk_steps_patched($1, $2)")
                .bind(steps)
                .bind(patches)
                .fetch_one(&pool)
                .await
        }
    };
    let mut before = Vec::new();
    for (steps, patches) in &cases {
        before.push(patched(steps.clone(), patches.clone()).await.unwrap());
    }
    assert_eq!(before[2][1]["status"], "done");
    assert_eq!(before[5][1]["status"], "failed");
    assert_eq!(before[5][1]["output"], json!({"n": 1}));

    db::migrate(&pool).await.unwrap();

    for ((steps, patches), was) in cases.iter().zip(&before) {
        let now = patched(steps.clone(), patches.clone()).await.unwrap();
        assert_eq!(&now, was, "{patches}");
    }
    for bad in [
        json!([done(3)]),
        json!([done(-1)]),
        json!([{"status": "done"}]),
    ] {
        let err = patched(three.clone(), bad.clone()).await.unwrap_err();
        assert!(err.to_string().contains("no step"), "{bad}: {err}");
    }
    pool.close().await;
}

/// Triggers written before the outbox knew their queue (and, after it, by an api of an
/// earlier release in a rolling upgrade) are still claimed for their run's queue, and only
/// while that queue has room; the migration that builds the index by queue runs outside a
/// transaction (`CREATE INDEX CONCURRENTLY`) and leaves it valid, and a migrate after a
/// build that failed makes it valid again.
#[tokio::test]
async fn triggers_written_without_their_queue_are_claimed_through_their_run() {
    let (_dropped, pool) = database_before(50).await;
    let (bulk, interactive) = (RunId::now_v7(), RunId::now_v7());
    for (run, queue) in [(bulk, "bulk"), (interactive, "interactive")] {
        sqlx::query(
            "WITH o AS (INSERT INTO outbox (kind, run_id) VALUES ('trigger', $1))
             INSERT INTO runs (id, tenant_id, kind, requested_by, input, progress_total, queue)
             VALUES ($1, 'acme', 'cancel_order', 'cus_1', '{}', 1, $2)",
        )
        .bind(run.as_uuid())
        .bind(queue)
        .execute(&pool)
        .await
        .unwrap();
    }

    db::migrate(&pool).await.unwrap();

    let valid: bool = sqlx::query_scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'outbox_triggers_unsent_by_queue'::regclass",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(valid);
    // as a failed concurrent build leaves it: the next migrate builds it again
    let is_valid = "SELECT indisvalid FROM pg_index
                    WHERE indexrelid = 'outbox_triggers_unsent_by_queue'::regclass";
    sqlx::query(
        "UPDATE pg_index SET indisvalid = false
         WHERE indexrelid = 'outbox_triggers_unsent_by_queue'::regclass",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert!(
        !sqlx::query_scalar::<_, bool>(is_valid)
            .fetch_one(&pool)
            .await
            .unwrap()
    );
    db::migrate(&pool).await.unwrap();
    assert!(
        sqlx::query_scalar::<_, bool>(is_valid)
            .fetch_one(&pool)
            .await
            .unwrap()
    );
    let mut tx = pool.begin().await.unwrap();
    let bulk_full = [("interactive".to_string(), 10)];
    let claimed = db::outbox::claim_unsent(&mut tx, &bulk_full).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|r| (r.run_id, r.queue.as_deref()))
            .collect::<Vec<_>>(),
        [(interactive, Some("interactive"))],
        "the full queue's trigger stays"
    );
    tx.rollback().await.unwrap();
    pool.close().await;
}
