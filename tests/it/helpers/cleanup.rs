//! Removing what a test made: its database and its Redis keys, so that test runs do not
//! pile up databases and keys on a developer's machine.

use std::time::Duration;

use super::ADMIN_DB;

/// What to remove after a test.
#[derive(Debug, Clone)]
pub struct TestData {
    pub db_name: String,
    pub redis_url: String,
    /// Every key of the test starts with `{prefix}:`.
    pub redis_prefix: String,
    /// apalis registers each queue's workers set in a global sorted set.
    pub apalis_workers_sets: Vec<String>,
}

/// Deletes the test's Redis keys and drops its database (terminating connections still
/// open). Best effort: a service that is down (a test stopped it) is skipped.
pub async fn remove(data: &TestData) {
    let redis = async {
        let client = redis::Client::open(data.redis_url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", data.redis_prefix))
            .query_async(&mut conn)
            .await
            .ok()?;
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
        }
        let _: Result<i64, _> = redis::cmd("ZREM")
            .arg("core:apalis:queues:list")
            .arg(&data.apalis_workers_sets)
            .query_async(&mut conn)
            .await;
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), redis).await;
    let postgres = async {
        let admin = sqlx::PgPool::connect(ADMIN_DB).await.ok()?;
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", data.db_name);
        let _ = sqlx::query(&sql).execute(&admin).await;
        admin.close().await;
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), postgres).await;
}

/// [`remove`] from a synchronous `Drop`: on a thread with a runtime of its own, because the
/// test's runtime may be the one being dropped.
pub fn remove_blocking(data: TestData) {
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(remove(&data));
        }
    })
    .join();
}
