//! All of orderdesk's SQL, one file per table family. Every function takes the connection
//! (or transaction) and the tenant, so tenant scoping is in every signature. Queries are
//! checked at compile time (`sqlx::query!` and friends) against the offline data in
//! `.sqlx/`; `scripts/sqlx-prepare` regenerates it after a query or migration changes.
//!
//! The hot lookups of a request or run by its id write the tenant as
//! `(tenant_id = $1) IS TRUE`: a filter, never an index condition. Connections plan
//! generically (`plan_cache_mode`, below), and on a table not yet analyzed (a new deployment,
//! a truncated table) the planner rates `tenant_id = $1` as selective as the primary key and
//! may pick an index that starts with the tenant: then one update walks every request of the
//! tenant (4.8 ms per cancel-request of the front-door benchmark instead of 0.13 ms).

pub mod adjustments;
pub mod api_keys;
pub mod approvals;
pub mod audit;
pub mod cases;
pub mod console_sessions;
pub mod events;
pub mod exports;
pub mod fraud;
pub mod fulfillments;
pub mod holds;
pub mod idempotency;
pub mod kpis;
pub mod orders;
pub mod orders_copy;
pub mod outbox;
pub mod payments;
pub mod queues;
pub mod quotes;
pub mod raw_events;
pub mod reads;
pub mod reconciliation;
pub mod requests;
pub mod returns;
pub mod reviews;
pub mod run_kpis;
pub mod runs;
pub mod search;
pub mod subject_exports;
pub mod tenants;
pub mod webhooks;
pub mod worker_processes;
// support messages, subscriptions, GDPR erasure (issue 4)
pub mod gdpr;
pub mod subscriptions;
pub mod support;
pub mod tasks;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01), from which its binary
/// `timestamptz` counts (binary COPY in and out).
pub const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections idle longer than this are pinged before use (see [`connect`]).
const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a caller waits for a connection. sqlx's default (30 s, retrying a refused
/// connection all along) held requests that long while PostgreSQL was down; after this
/// they are answered 503 `database.unavailable` and a run's step is retried.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connects, creating the database first when it does not exist.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    use anyhow::Context;
    use sqlx::ConnectOptions;
    use sqlx::postgres::PgConnectOptions;
    let opts: PgConnectOptions = url.parse().context("DATABASE_URL cannot be parsed")?;
    // Postgres re-plans a prepared statement on every execution while it guesses that a
    // custom plan beats the generic one; for orderdesk's statements (keyed lookups and
    // CTEs over `= ANY($n)`) it guesses wrong: planning was the largest part of its CPU per
    // workflow run. Generic plans: about a fifth more runs/s in bench (a).
    let opts = opts
        .log_statements(tracing::log::LevelFilter::Trace)
        .options([("plan_cache_mode", "force_generic_plan")]);
    let db_name = opts.get_database().unwrap_or("postgres").to_string();
    let pool = pool_options(max_connections)
        .connect_with(opts.clone())
        .await;
    match pool {
        Ok(p) => Ok(p),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone().database("postgres"))
                .await
                .context("cannot reach PostgreSQL to create the database")?;
            // The one statement not checked at compile time: a database's name is an
            // identifier, which no statement takes as a parameter.
            let sql = format!("CREATE DATABASE \"{}\"", db_name.replace('"', ""));
            if let Err(e) = sqlx::query(&sql).execute(&admin).await {
                // another process may have created it at the same moment
                if !e.to_string().contains("already exists") {
                    return Err(e).context("cannot create the database");
                }
            }
            admin.close().await;
            Ok(pool_options(max_connections).connect_with(opts).await?)
        }
        Err(e) => Err(e).with_context(|| format!("cannot connect to PostgreSQL at {url}")),
    }
}

/// A small pool beside `pool` (same server and settings) whose connections plan for keyed
/// lookups only: sequential scans, bitmap scans, hash joins and merge joins are off. For
/// statements that join a parameter array with a table's key (`db::runs::claim_many`,
/// `end_many`) or read a partial index in key order up to a limit (the relay's
/// `db::outbox::claim_unsent`): with generic plans, the plan made at a statement's first
/// execution stays until the table's statistics change, and one made while a table was
/// small (a new database, a burst right after a truncate) reads the whole table on every
/// execution — measured in bench (a): a third of the throughput, the batch statements on
/// CPU all the time; in bench (d): the relay's claim 50 ms a pass (a bitmap scan of every
/// unsent trigger, sorted, for the first 500) where an index scan in key order takes 2.
/// Bitmap scans also visit rows in table order, not key order, so two batches over the
/// same runs would lock them in different orders and deadlock. Every table those
/// statements touch has the index they need, so this only removes the wrong choices.
pub fn keyed_lookup_pool(pool: &PgPool, max_connections: u32) -> PgPool {
    let opts = (*pool.connect_options()).clone().options([
        ("enable_seqscan", "off"),
        ("enable_bitmapscan", "off"),
        ("enable_hashjoin", "off"),
        ("enable_mergejoin", "off"),
    ]);
    pool_options(max_connections).connect_lazy_with(opts)
}

/// The pool settings of every pool of the process.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // sqlx pings every idle connection before handing it out: one extra round trip per
        // query or transaction (15 % of the api's CPU on the order read). Only connections
        // idle for a while are pinged (a Postgres restart in a quiet period is then
        // invisible); one that died under load fails its statement, is dropped by the pool,
        // and the caller's error path covers it (503 `database.unavailable`, a step retry).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE_FOR {
                    use sqlx::Connection;
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Whether PostgreSQL answers a trivial statement (the health endpoints).
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query_scalar!("SELECT 1").fetch_one(pool).await?;
    Ok(())
}

/// Applies the migrations, then rebuilds the read model's indexes a bulk load deferred and
/// did not live to build, and the indexes a migration built concurrently and left invalid
/// (`orderdesk migrate`, `seed` and `dev` run this at their start).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    rebuild_indexes_left_deferred(pool).await?;
    rebuild_invalid_concurrent_indexes(pool).await?;
    Ok(())
}

/// The indexes migrations build `CONCURRENTLY` (each in a file of its own, outside a
/// transaction).
const BUILT_CONCURRENTLY: &[&str] = &["outbox_triggers_unsent_by_queue"];

/// A concurrent build that fails (cancelled, a timeout, a crash) leaves its index invalid:
/// never used by a plan, still written by every insert. Its migration, run again, skips it
/// (`IF NOT EXISTS`, which a crash between the build and sqlx's record of it needs) and is
/// recorded as applied, so the invalid index would stay for good; it is rebuilt here instead.
async fn rebuild_invalid_concurrent_indexes(pool: &PgPool) -> anyhow::Result<()> {
    for name in BUILT_CONCURRENTLY {
        let invalid: Option<bool> = sqlx::query_scalar(
            "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
        )
        .bind(name)
        .fetch_optional(pool)
        .await?;
        if invalid == Some(true) {
            tracing::warn!(
                index = name,
                "index left invalid by a failed build: rebuilding it"
            );
            sqlx::query(&format!("REINDEX INDEX CONCURRENTLY {name}"))
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// Rebuilds the indexes recorded in `deferred_indexes` when no load holds the bulk-load
/// lock: the records of a load that died. A load still running rebuilds its own, so this
/// does not wait for it.
async fn rebuild_indexes_left_deferred(pool: &PgPool) -> anyhow::Result<()> {
    if !orders_copy::any_deferred(&mut *pool.acquire().await?).await? {
        return Ok(());
    }
    let Some(mut lock) = orders_copy::BulkLoadLock::try_acquire(pool).await? else {
        tracing::info!(
            "order_views has deferred indexes and a bulk load is running: it rebuilds them"
        );
        return Ok(());
    };
    // a load may have rebuilt them and ended since the first look
    if !orders_copy::any_deferred(lock.conn()).await? {
        return lock.release().await.map_err(Into::into);
    }
    tracing::warn!(
        "order_views has indexes a bulk load deferred and did not rebuild: rebuilding them"
    );
    let started = std::time::Instant::now();
    let built = orders_copy::restore_indexes(pool, &mut lock).await?;
    lock.release().await?;
    tracing::info!(
        indexes = ?built,
        secs = started.elapsed().as_secs_f64(),
        "deferred indexes of order_views rebuilt"
    );
    Ok(())
}
